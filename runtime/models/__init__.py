"""Models: a plain ViT, the paper MAE, I-JEPA, and the compact TorchLean autoencoders."""

from runtime.models.compact import ImagePatchMAE, VectorMAE
from runtime.models.ijepa import IJEPA, IJEPA_PRESETS, IJEPAConfig, JEPAOutput, ema_momentum
from runtime.models.mae import MAE_PRESETS, MAEConfig, MAEOutput, MaskedAutoencoderViT
from runtime.models.pos_embed import sincos_2d
from runtime.models.vit import ViTEncoder

__all__ = [
    "IJEPA",
    "IJEPA_PRESETS",
    "IJEPAConfig",
    "ImagePatchMAE",
    "JEPAOutput",
    "MAEConfig",
    "MAEOutput",
    "MAE_PRESETS",
    "MaskedAutoencoderViT",
    "VectorMAE",
    "ViTEncoder",
    "ema_momentum",
    "sincos_2d",
]
