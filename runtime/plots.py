"""PNG figures of a run: the loss curve (with the learning rate), the grid of original / masked /
reconstruction, and I-JEPA's collapse metrics over the steps."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

from maskproof.runtime.checkpoint import write_bytes_atomic  # noqa: E402

if TYPE_CHECKING:
    from maskproof.runtime.tasks import Reconstructions

#: Hidden pixels: grey-scale images are drawn with a grey colormap, so no image pixel can be
#: magenta; a hidden pixel painted 0 would be indistinguishable from the digits' background.
HIDDEN_RGB = (1.0, 0.0, 1.0)


def _save(figure: Any, path: Path) -> None:
    import io

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    plt.close(figure)
    write_bytes_atomic(path, buffer.getvalue())


def per_step(metrics: Sequence[dict[str, Any]], series: str,
             fallback: str) -> tuple[list[int], list[float]]:
    """Every trained step's value of ``series`` (``step_losses``, ``step_lrs``: one entry per
    step of a line's window, the last at the line's step), as (steps, values).

    A line without the series (a run logged before it was recorded) contributes its
    ``fallback`` field at its own step.
    """
    steps: list[int] = []
    values: list[float] = []
    for record in metrics:
        window = record.get(series)
        if not isinstance(window, list) or not window:
            window = [record[fallback]]
        first = int(record["step"]) - len(window) + 1
        steps.extend(range(first, first + len(window)))
        values.extend(float(value) for value in window)
    return steps, values


def step_losses(metrics: Sequence[dict[str, Any]]) -> tuple[list[int], list[float]]:
    """Every trained step's loss, as (steps, losses)."""
    return per_step(metrics, "step_losses", "loss")


def plot_loss_curve(metrics: Sequence[dict[str, Any]], path: Path, title: str) -> None:
    """Every step's training loss, each logging window's mean over the steps it averages, and
    the learning rate each step's update used (``step_lrs``)."""
    figure, axis = plt.subplots(figsize=(7, 4.2))
    steps, losses = step_losses(metrics)
    axis.plot(steps, losses, color="tab:blue", linewidth=0.8, alpha=0.7,
              label="loss at each step")
    for number, record in enumerate(metrics):  # each mean drawn over the steps it averages
        width = len(record.get("step_losses") or [None])
        axis.hlines(record["loss"], record["step"] - width + 0.5, record["step"] + 0.5,
                    color="tab:red", linewidth=1.4,
                    label="logged mean over its window" if number == 0 else "_nolegend_")
    axis.set_xlabel("step")
    axis.set_ylabel("training loss")
    if losses and min(losses) > 0:
        axis.set_yscale("log")
    axis.grid(alpha=0.3)
    handles, labels = axis.get_legend_handles_labels()
    lr_steps, lrs = per_step(metrics, "step_lrs", "lr")
    if lrs:
        lr_axis = axis.twinx()
        lr_axis.plot(lr_steps, lrs, color="tab:orange", linewidth=1.0, label="learning rate")
        lr_axis.set_ylabel("learning rate", color="tab:orange")
        lr_axis.tick_params(axis="y", colors="tab:orange")
        lr_axis.ticklabel_format(axis="y", style="sci", scilimits=(-2, 2))
        more_handles, more_labels = lr_axis.get_legend_handles_labels()
        handles, labels = handles + more_handles, labels + more_labels
    axis.legend(handles, labels, fontsize=8, loc="upper right")
    axis.set_title(f"{title}: training loss ({len(losses)} steps) and learning rate",
                   fontsize=10)
    figure.tight_layout()
    _save(figure, path)


def _hidden_overlay(hidden: np.ndarray) -> np.ndarray:
    """An RGBA image: opaque :data:`HIDDEN_RGB` where ``hidden``, transparent elsewhere."""
    overlay = np.zeros((*hidden.shape, 4))
    overlay[hidden] = (*HIDDEN_RGB, 1.0)
    return overlay


def _show(axis: Any, image: np.ndarray, low: float, high: float) -> None:
    """``image`` ``[C, H, W]`` on the grey scale ``[low, high]`` (RGB for three channels or
    more; channels beyond the first three are not shown)."""
    if image.shape[0] >= 3:
        picture = np.clip((image[:3] - low) / max(high - low, 1e-12), 0, 1)
        axis.imshow(picture.transpose(1, 2, 0))
    else:
        axis.imshow(image[0], cmap="gray", vmin=low, vmax=high)


def plot_reconstructions(grid: Reconstructions, path: Path) -> None:
    """Three rows of ``[K, C, H, W]`` images: original, masked input, reconstruction.

    Each image is drawn on its original's value range, so a reconstruction is judged on the same
    scale as its source. Hidden pixels are painted magenta in the masked row and outlined in the
    reconstruction row; the figure title says what the reconstruction shows (``grid.caption``).
    """
    count = grid.original.shape[0]
    colour = grid.original.shape[1] >= 3
    figure, axes = plt.subplots(3, count, figsize=(max(1.3 * count, 7.0), 5.2),
                                squeeze=False)
    labels = ("original", "masked input", "reconstruction")
    for col in range(count):
        original = grid.original[col].detach().float().cpu().numpy()
        hidden = grid.hidden[col, 0].detach().cpu().numpy().astype(bool)
        recon = grid.reconstruction[col].detach().float().cpu().numpy()
        low, high = float(original.min()), float(original.max())
        for row, image in enumerate((original, original, recon)):
            axis = axes[row][col]
            _show(axis, image, low, high)
            if row == 1:
                axis.imshow(_hidden_overlay(hidden))
            if row >= 1 and hidden.any() and not hidden.all():
                # The outline marks the hidden region even where magenta is a pixel value (RGB).
                axis.contour(hidden.astype(float), levels=[0.5], colors=[HIDDEN_RGB],
                             linewidths=0.8)
            axis.set_xticks([])
            axis.set_yticks([])
            if col == 0:
                axis.set_ylabel(labels[row], fontsize=8)
    where = "outlined in every row below the originals" if colour else \
        "(no grey-scale pixel is magenta); outlined in the reconstruction row"
    figure.legend(handles=[Patch(color=HIDDEN_RGB, label=f"hidden from the model: magenta "
                                                          f"{where}")],
                  loc="lower center", fontsize=8, frameon=False)
    figure.suptitle("\n".join(textwrap.wrap(f"reconstruction: {grid.caption}", 90)),
                    fontsize=9)
    figure.tight_layout(rect=(0, 0.05, 1, 1))
    _save(figure, path)


#: The collapse fields of a metric line (I-JEPA), see ``runtime.tasks.JEPATask.monitor``.
COLLAPSE_FIELDS = ("target_effective_rank", "target_std_mean", "target_std_min")


def plot_collapse(metrics: Sequence[dict[str, Any]], path: Path, title: str,
                  images: int) -> None:
    """Effective rank and per-dimension std of the target encoder's features over the steps,
    computed on the first ``images`` training images."""
    rows = [record for record in metrics if all(name in record for name in COLLAPSE_FIELDS)]
    steps = [record["step"] for record in rows]
    figure, rank_axis = plt.subplots(figsize=(7, 4.2))
    rank_axis.plot(steps, [r["target_effective_rank"] for r in rows], "o-", color="tab:purple",
                   markersize=3, label="effective rank, centred (Roy & Vetterli 2007)")
    if rows and "target_effective_rank_uncentred" in rows[-1]:
        rank_axis.plot(steps, [r["target_effective_rank_uncentred"] for r in rows], "o:",
                       color="tab:purple", markersize=2, alpha=0.6,
                       label="effective rank, uncentred")
    most = f" (at most min(N, D) = {int(rows[-1]['target_rank_max'])})" \
        if rows and "target_rank_max" in rows[-1] else ""
    rank_axis.set_xlabel("step")
    rank_axis.set_ylabel(f"effective rank{most}", color="tab:purple")
    rank_axis.set_ylim(bottom=0)
    rank_axis.grid(alpha=0.3)
    std_axis = rank_axis.twinx()
    std_axis.plot(steps, [r["target_std_mean"] for r in rows], "s-", color="tab:green",
                  markersize=3, label="per-dim std: mean (right axis)")
    std_axis.plot(steps, [r["target_std_min"] for r in rows], "^--", color="tab:green",
                  markersize=3, label="per-dim std: min (right axis)")
    if rows and "target_feature_rms" in rows[-1]:
        std_axis.plot(steps, [r["target_feature_rms"] for r in rows], "-.", color="tab:gray",
                      linewidth=1.0, label="feature RMS, the scale (right axis)")
    std_axis.set_ylabel("std across images", color="tab:green")
    if rows and min(r["target_std_min"] for r in rows) > 0:
        std_axis.set_yscale("log")
    handles, labels = rank_axis.get_legend_handles_labels()
    more_handles, more_labels = std_axis.get_legend_handles_labels()
    rank_axis.legend(handles + more_handles, labels + more_labels, fontsize=8, loc="best")
    rank_axis.set_title(f"{title}: collapse of the target encoder's mean-pooled features\n"
                        f"(the first {images} training images, eval mode)", fontsize=10)
    figure.tight_layout()
    _save(figure, path)
