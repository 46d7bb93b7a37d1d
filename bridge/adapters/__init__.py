"""Ready-made audit adapters for published MAE / I-JEPA implementations.

Each module wraps one implementation in the capabilities of :mod:`bridge.audit.protocols`
without changing what its code computes, and imports that implementation's package only when
the module itself is imported (``maskproof`` does not depend on it):

* :mod:`bridge.adapters.transformers_vitmae`: Hugging Face transformers' ``ViTMAEForPreTraining``
  (``pip install "maskproof[transformers]"``). ``maskproof audit
  maskproof.bridge.adapters.transformers_vitmae:TinyViTMAE`` audits a small random model;
  ``ViTMAEAdapter(model)`` / ``ViTMAEAdapter.from_pretrained(path)`` audit your own.
"""
