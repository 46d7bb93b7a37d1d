"""AdamW with the MAE recipe: scaled learning rate, warmup + cosine, selective weight decay.

* peak lr = base lr x global batch / 256 (the linear scaling rule of MAE / I-JEPA);
* linear warmup over ``warmup_steps`` then half-cosine decay to ``min_lr`` at the last step; the
  schedule is a pure function of the step, so a resumed run needs only the step to continue it;
* weight decay on matrices only: biases, normalisation weights (every tensor of rank <= 1),
  positional embeddings and learned tokens (``cls_token``, ``mask_token``) get none, as in the
  official code; parameters that do not train (the EMA target encoder) are left out entirely.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

#: Batch size at which ``--lr`` is the peak learning rate.
LR_REFERENCE_BATCH = 256
#: AdamW betas of MAE pretraining.
ADAMW_BETAS = (0.9, 0.95)
#: Name fragments of parameters that must never be decayed even when they are matrices.
NO_DECAY_NAME_PARTS = ("pos_embed", "cls_token", "mask_token", "token")


def scaled_lr(base_lr: float, global_batch: int) -> float:
    """The linear scaling rule: ``base_lr * global_batch / 256``."""
    return base_lr * global_batch / LR_REFERENCE_BATCH


def default_warmup_steps(total_steps: int) -> int:
    """5% of training (MAE: 40 of 800 epochs), at least one step."""
    return max(1, round(0.05 * total_steps))


def lr_at(step: int, total_steps: int, warmup_steps: int, peak_lr: float, min_lr: float) -> float:
    """Learning rate for the update that takes the model from ``step`` to ``step + 1``.

    Warmup counts from ``1/warmup`` of the peak (not 0, so the first update is not wasted) up to
    the peak at ``step = warmup - 1``; the cosine then falls to ``min_lr`` at the last step.
    """
    if step < warmup_steps:
        return peak_lr * (step + 1) / warmup_steps
    decay_steps = total_steps - warmup_steps
    if decay_steps <= 1:
        return peak_lr
    progress = (step - warmup_steps) / (decay_steps - 1)
    return min_lr + (peak_lr - min_lr) * 0.5 * (1.0 + math.cos(math.pi * min(progress, 1.0)))


def is_no_decay(name: str, param: nn.Parameter) -> bool:
    """Biases, norm weights (rank <= 1), positional embeddings and tokens are not decayed."""
    return param.ndim <= 1 or any(part in name for part in NO_DECAY_NAME_PARTS)


def param_groups(model: nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """Two AdamW groups (decay / no decay) over the trainable parameters, names recorded."""
    decay: list[nn.Parameter] = []
    no_decay: list[nn.Parameter] = []
    decay_names: list[str] = []
    no_decay_names: list[str] = []
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        if is_no_decay(name, param):
            no_decay.append(param)
            no_decay_names.append(name)
        else:
            decay.append(param)
            decay_names.append(name)
    return [
        {"params": decay, "weight_decay": weight_decay, "param_names": decay_names},
        {"params": no_decay, "weight_decay": 0.0, "param_names": no_decay_names},
    ]


def build_adamw(groups: list[dict[str, Any]], lr: float, device: torch.device) -> torch.optim.AdamW:
    """AdamW, fused on CUDA and CPU (one kernel per step), else the multi-tensor foreach path."""
    fused = device.type in ("cuda", "cpu")
    try:
        return torch.optim.AdamW(groups, lr=lr, betas=ADAMW_BETAS, fused=fused,
                                 foreach=None if fused else True)
    except (RuntimeError, ValueError):  # a build without the fused kernel for this device
        return torch.optim.AdamW(groups, lr=lr, betas=ADAMW_BETAS, foreach=True)


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr
