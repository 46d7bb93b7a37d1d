"""PNG figures of a run: the loss curve and a grid of original / masked / reconstruction."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display

import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from maskproof.runtime.checkpoint import write_bytes_atomic  # noqa: E402


def _save(figure: Any, path: Path) -> None:
    import io

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    plt.close(figure)
    write_bytes_atomic(path, buffer.getvalue())


def plot_loss_curve(metrics: Sequence[dict[str, Any]], path: Path, title: str) -> None:
    """Training loss (mean over each logging window) against the step."""
    figure, axis = plt.subplots(figsize=(6, 4))
    steps = [record["step"] for record in metrics]
    axis.plot(steps, [record["loss"] for record in metrics], label="train loss")
    axis.set_xlabel("step")
    axis.set_ylabel("loss")
    axis.set_title(f"{title}: training loss")
    if metrics and min(record["loss"] for record in metrics) > 0:
        axis.set_yscale("log")
    axis.grid(alpha=0.3)
    axis.legend()
    figure.tight_layout()
    _save(figure, path)


def plot_reconstructions(grid: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
                         path: Path) -> None:
    """Three rows (original, masked input, reconstruction) of ``[K, C, H, W]`` images.

    Each image is shown with the original's value range, so a reconstruction is judged on the
    same grey scale as its source; channels beyond the first three are not shown.
    """
    rows = ("original", "masked", "reconstruction")
    count = grid[0].shape[0]
    figure, axes = plt.subplots(3, count, figsize=(1.3 * count, 4.2), squeeze=False)
    for row, (label, images) in enumerate(zip(rows, grid, strict=True)):
        for col in range(count):
            axis = axes[row][col]
            image = images[col].detach().float().cpu()
            low, high = float(grid[0][col].min()), float(grid[0][col].max())
            if image.shape[0] >= 3:
                picture = ((image[:3] - low) / max(high - low, 1e-12)).clamp(0, 1)
                axis.imshow(picture.permute(1, 2, 0).numpy())
            else:
                axis.imshow(image[0].numpy(), cmap="gray", vmin=low, vmax=high)
            axis.set_xticks([])
            axis.set_yticks([])
            if col == 0:
                axis.set_ylabel(label, fontsize=8)
    figure.tight_layout()
    _save(figure, path)
