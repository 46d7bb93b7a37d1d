"""Contracts on the MAE encoder: what it may see, and that a sample is encoded on its own."""

from __future__ import annotations

import torch
from hypothesis import strategies as st

from maskproof.bridge.audit.contract import Contract, Draws, generator, randn, require
from maskproof.bridge.audit.protocols import EncoderCapability
from maskproof.runtime.models.mae import patchify, unpatchify

LEAKAGE = "mask never reaches the encoder / target leakage"


def _grid(adapter: EncoderCapability) -> tuple[int, int, int, int]:
    chans, height, width = adapter.encoder_image_shape
    p = adapter.patch_size
    return chans, height, width, (height // p) * (width // p)


def _mask(batch: int, patches: int, masked: int, seed: int) -> torch.Tensor:
    noise = torch.rand((batch, patches), generator=generator(seed))
    ranks = torch.argsort(torch.argsort(noise, dim=1), dim=1)
    return (ranks < masked).float()


def _example(adapter: EncoderCapability, draws: Draws, min_batch: int = 1
             ) -> tuple[torch.Tensor, torch.Tensor, int]:
    chans, height, width, patches = _grid(adapter)
    batch = draws.draw("batch", st.integers(min_batch, 4))  # the grid is the adapter's own
    masked = draws.draw("masked_per_sample", st.integers(1, max(1, patches - 1)))
    seed = draws.seed()
    images = randn((batch, chans, height, width), seed)
    draws.size = images.numel()
    return images, _mask(batch, patches, masked, seed + 1), seed


def _with_cells(images: torch.Tensor, patch: int, where: torch.Tensor,
                replacement: torch.Tensor) -> torch.Tensor:
    chans, height, width = images.shape[1:]
    rows = patchify(images, patch)
    rows = torch.where(where.unsqueeze(-1), replacement, rows)
    return unpatchify(rows, patch, (height // patch, width // patch), chans)


def check_hidden_unseen(adapter: EncoderCapability, draws: Draws) -> None:
    images, mask, seed = _example(adapter, draws)
    out = adapter.encode(images, mask).detach()
    rows = patchify(images, adapter.patch_size)
    images2 = _with_cells(images, adapter.patch_size, mask != 0,
                          randn(tuple(rows.shape), seed + 2, scale=10.0))
    out2 = adapter.encode(images2, mask).detach()
    require(torch.equal(out, out2),
            "replacing the hidden patches' pixels changed the encoder output "
            f"(max change {float((out - out2).abs().max()):.3e}; mask {mask.long().tolist()})")


def check_visible_reach(adapter: EncoderCapability, draws: Draws) -> None:
    images, mask, seed = _example(adapter, draws)
    out = adapter.encode(images, mask).detach()
    sample = draws.draw("sample", st.integers(0, images.shape[0] - 1))
    visible = (mask[sample] == 0).nonzero().reshape(-1).tolist()
    cell = visible[draws.draw("visible_choice", st.integers(0, len(visible) - 1))]
    where = torch.zeros_like(mask, dtype=torch.bool)
    where[sample, cell] = True
    rows = patchify(images, adapter.patch_size)
    images2 = _with_cells(images, adapter.patch_size, where,
                          randn(tuple(rows.shape), seed + 2, scale=10.0))
    out2 = adapter.encode(images2, mask).detach()
    require(not torch.equal(out[sample], out2[sample]),
            f"changing visible patch {cell} of sample {sample} left the encoder output unchanged")


def check_encoder_batch_independent(adapter: EncoderCapability, draws: Draws) -> None:
    images, mask, seed = _example(adapter, draws, min_batch=2)
    row = draws.draw("row", st.integers(0, images.shape[0] - 1))
    out = adapter.encode(images, mask).detach()
    chans, height, width, patches = _grid(adapter)
    others = randn(tuple(images.shape), seed + 3, scale=4.0) + 2.0
    others[row] = images[row]
    mask2 = _mask(images.shape[0], patches, int(mask[0].sum()), seed + 4)
    mask2[row] = mask[row]
    out2 = adapter.encode(others, mask2).detach()
    require(torch.equal(out[row], out2[row]),
            f"sample {row}'s encoding changed when the other samples (images and masks) changed "
            f"(max change {float((out[row] - out2[row]).abs().max()):.3e})")


CONTRACTS = (
    Contract("encoder.hidden_unseen",
             "replacing the pixels of masked patches leaves the encoder output bit-identical",
             (EncoderCapability,),
             "MAE paper: the encoder is applied only to visible, unmasked patches", LEAKAGE,
             check_hidden_unseen, weight=0.5),
    Contract("encoder.visible_reach",
             "changing one visible patch changes that sample's encoder output",
             (EncoderCapability,),
             "MAE paper: the encoder embeds every visible patch", "knobs that do nothing",
             check_visible_reach, weight=0.5),
    Contract("encoder.batch_independent",
             "a sample's encoding does not change when the other samples and their masks change",
             (EncoderCapability,),
             "per-sample semantics of matrixRowAsPatchBatch (NN.API.ssl): row bi reads row bi",
             "batch dependence", check_encoder_batch_independent, weight=0.5),
)
