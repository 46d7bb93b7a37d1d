"""Ready-made audit adapters for published MAE / I-JEPA implementations.

Each module wraps one implementation in the capabilities of :mod:`bridge.audit.protocols`
without changing what its code computes, and imports that implementation's package only when
the module itself is imported (``maskproof`` does not depend on it):

* :mod:`bridge.adapters.transformers_vitmae`: Hugging Face transformers' ``ViTMAEForPreTraining``
  (``pip install "maskproof[transformers]"``). ``maskproof audit
  maskproof.bridge.adapters.transformers_vitmae:TinyViTMAE`` audits a small random model;
  ``ViTMAEAdapter(model)`` / ``ViTMAEAdapter.from_pretrained(path)`` audit your own.
* :mod:`bridge.adapters.official_mae`: the official facebookresearch/mae ``models_mae.py``,
  imported from your own checkout (its CC-BY-NC licence keeps it out of maskproof; it needs
  timm, and timm a torchvision that loads beside your torch).
  ``MASKPROOF_MAE_CHECKOUT=/path/to/mae maskproof audit
  maskproof.bridge.adapters.official_mae:TinyOfficialMAE`` audits a small model;
  ``OfficialMAEAdapter(path, **model_kwargs)`` audits your own configuration.
* :mod:`bridge.adapters.official_ijepa`: the official facebookresearch/ijepa collator, models
  and train-step loss and EMA, imported from your checkout (torch and numpy only);
  ``TinyOfficialIJEPA`` reads ``MASKPROOF_IJEPA_CHECKOUT``.
* :mod:`bridge.adapters.lightly_ssl`: lightly's MAE pieces and I-JEPA mask collator
  (``pip install lightly timm``): ``maskproof audit
  maskproof.bridge.adapters.lightly_ssl:TinyLightlyMAE`` / ``:LightlyIJEPACollator``.
"""
