"""Models: a plain ViT, the paper MAE, I-JEPA, and the compact TorchLean autoencoders."""

from maskproof.runtime.models.compact import ImagePatchMAE, VectorMAE
from maskproof.runtime.models.ijepa import (
    IJEPA,
    IJEPA_PRESETS,
    IJEPAConfig,
    JEPAOutput,
    ema_momentum,
)
from maskproof.runtime.models.mae import MAE_PRESETS, MAEConfig, MAEOutput, MaskedAutoencoderViT
from maskproof.runtime.models.pos_embed import sincos_2d
from maskproof.runtime.models.vit import ViTEncoder

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
