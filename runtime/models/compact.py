"""The compact TorchLean objectives (``NN.API.ssl``) as small trainable models.

* :class:`VectorMAE` — input ``vectorMaeMask`` of a ``[B, data_dim]`` batch, target the batch
  itself, loss = mean squared error over the hidden coordinates only (the
  ``vectorMaeSelectedIdxs`` list, ascending) in every row.
* :class:`ImagePatchMAE` — input ``imagePatchMask`` of an NCHW batch, target the first
  ``recon_dim`` row-major scalars of each sample (``flattenBatchPrefix``), loss = mean squared error
  over **every** target coordinate (``imageMaeReconstructionIdxs = finRange reconDim``). Unlike the
  paper MAE (:mod:`runtime.models.mae`), visible pixels are scored too.

An empty scored set (no hidden coordinate, or ``recon_dim = 0``) gives loss 0 with a zero
gradient instead of ``0 / 0``.
"""

from __future__ import annotations

import warnings

from torch import Tensor, nn

from maskproof.runtime.masks import (
    flatten_batch_prefix,
    image_patch_hidden,
    image_patch_mask,
    vector_mae_hidden_mask,
    vector_mae_mask,
)


def _require_positive(value: int, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return value


def mean_squared_error(pred: Tensor, target: Tensor) -> Tensor:
    """Mean of ``(pred - target)²`` over all entries; 0 (with zero gradient) when empty."""
    squared = (pred - target).pow(2)
    return squared.sum() / max(squared.numel(), 1)


class VectorMAE(nn.Module):
    """MLP autoencoder on ``vector_mae_mask(x, period, offset)``, scored on hidden coordinates."""

    def __init__(self, data_dim: int, hidden_dim: int, period: int, offset: int) -> None:
        super().__init__()
        self.data_dim = _require_positive(data_dim, "data_dim")
        _require_positive(hidden_dim, "hidden_dim")
        self.period = period
        self.offset = offset
        hidden = vector_mae_hidden_mask(data_dim, period, offset)  # validates period, offset
        self.selected_idxs: Tensor
        self.register_buffer("selected_idxs", hidden.nonzero().flatten(), persistent=False)
        self.encoder = nn.Sequential(nn.Linear(data_dim, hidden_dim), nn.GELU())
        self.decoder = nn.Linear(hidden_dim, data_dim)

    def _check_input(self, x: Tensor) -> None:
        if x.dim() != 2 or x.shape[1] != self.data_dim:
            raise ValueError(f"expected x of shape [B, {self.data_dim}], got {list(x.shape)}")

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Return ``(loss, prediction [B, data_dim])``."""
        self._check_input(x)
        prediction: Tensor = self.decoder(self.encoder(vector_mae_mask(x, self.period,
                                                                       self.offset)))
        loss = mean_squared_error(
            prediction.index_select(1, self.selected_idxs), x.index_select(1, self.selected_idxs)
        )
        return loss, prediction

    def forward_features(self, x: Tensor) -> Tensor:
        """Hidden representation ``[B, hidden_dim]`` of the unmasked input."""
        self._check_input(x)
        out: Tensor = self.encoder(x)
        return out


class ImagePatchMAE(nn.Module):
    """MLP encoder over the patch-masked image, Linear head to ``recon_dim`` target values."""

    def __init__(
        self,
        c: int,
        h: int,
        w: int,
        patch_h: int,
        patch_w: int,
        period: int,
        offset: int,
        recon_dim: int,
        hidden_dim: int,
    ) -> None:
        super().__init__()
        self.sample_shape = (
            _require_positive(c, "c"), _require_positive(h, "h"), _require_positive(w, "w")
        )
        _require_positive(hidden_dim, "hidden_dim")
        sample_size = c * h * w
        if isinstance(recon_dim, bool) or not isinstance(recon_dim, int) or not (
            0 <= recon_dim <= sample_size
        ):
            raise ValueError(f"recon_dim must be an int in [0, c*h*w = {sample_size}], "
                             f"got {recon_dim!r}")
        image_patch_hidden(h, w, patch_h, patch_w, period, offset)  # validates the mask args
        self.patch_h, self.patch_w = patch_h, patch_w
        self.period, self.offset = period, offset
        self.recon_dim = recon_dim
        self.encoder = nn.Sequential(
            nn.Flatten(), nn.Linear(sample_size, hidden_dim), nn.GELU(),
            nn.Linear(hidden_dim, hidden_dim), nn.GELU(),
        )
        with warnings.catch_warnings():
            # reconDim = 0 is a legal Lean argument; its empty head has nothing to initialise.
            warnings.filterwarnings("ignore", "Initializing zero-element tensors")
            self.head = nn.Linear(hidden_dim, recon_dim)

    def _check_input(self, x: Tensor) -> None:
        if x.dim() != 4 or tuple(x.shape[1:]) != self.sample_shape:
            c, h, w = self.sample_shape
            raise ValueError(f"expected x of shape [B, {c}, {h}, {w}], got {list(x.shape)}")

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Return ``(loss, prediction [B, recon_dim])``."""
        self._check_input(x)
        masked = image_patch_mask(x, self.patch_h, self.patch_w, self.period, self.offset)
        prediction: Tensor = self.head(self.encoder(masked))
        loss = mean_squared_error(prediction, flatten_batch_prefix(x, self.recon_dim))
        return loss, prediction

    def forward_features(self, x: Tensor) -> Tensor:
        """Hidden representation ``[B, hidden_dim]`` of the unmasked image."""
        self._check_input(x)
        out: Tensor = self.encoder(x)
        return out
