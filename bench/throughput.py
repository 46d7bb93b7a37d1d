"""MAE training throughput: maskproof's runtime against Hugging Face ``ViTMAEForPreTraining``.

Both models get the identical configuration (image, patch, widths, depths, heads, MLP ratio,
75% masking, norm-pix loss, LayerNorm eps) and the same training step: forward, masked-patch
loss, backward, AdamW step. They are timed side by side in one process, in alternating rounds so
that drift of the machine hits both alike; the median round counts, and the spread of the
per-round ratios is printed beside it. Achieved FLOP/s uses the
FLOPs that ``torch.utils.flop_counter`` counts for one step of each model, against a large
matmul measured in the same run.

    pip install transformers          # the peer; only this benchmark needs it (and torch >= 2.6,
                                      # for torch.compiler.set_stance)
    python bench/throughput.py        # CPU, float32
    python bench/throughput.py --preset tiny --batch 128   # what `maskproof train mae` trains
    python bench/throughput.py --device cuda --bf16   # CUDA with bf16 autocast

maskproof's step uses the fused AdamW of ``runtime.optim.build_adamw`` and, unless
``--no-compile``, ``torch.compile(model.forward_from_noise, fullgraph=True)``: the masking
noise is drawn eagerly and everything after it is one graph, forward and backward.
The peer runs as a user would pick it up: eager, default AdamW, SDPA attention.
With ``--preset``, a third row times the training loop's own step as ``maskproof train mae``
runs it (``runtime.train.loop_step``: the task's forward with the masking draw from the run's
generator, the gradient norm, the learning-rate schedule, ``--compile`` at the CLI default).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

import torch
from torch.utils.flop_counter import FlopCounterMode

from maskproof.runtime.masks import mae_keep_count, masking_noise
from maskproof.runtime.models.mae import MAE_PRESETS, MAEConfig, MaskedAutoencoderViT
from maskproof.runtime.optim import build_adamw

Step = Callable[[torch.Tensor], None]
PEER = "transformers ViTMAEForPreTraining"
#: The loop's own step at the CLI's defaults (``--preset`` runs only: the CLI trains presets).
CLI_ROW = "maskproof train, as the CLI runs it"


@dataclass(frozen=True)
class Shape:
    image: int
    channels: int
    patch: int
    width: int
    depth: int
    heads: int
    dec_width: int
    dec_depth: int
    dec_heads: int


def ours(shape: Shape, device: torch.device, compile_model: bool, bf16: bool) -> tuple[Step, int]:
    model = MaskedAutoencoderViT(MAEConfig(
        img_size=(shape.image, shape.image), patch_size=shape.patch, in_chans=shape.channels,
        embed_dim=shape.width, depth=shape.depth, num_heads=shape.heads,
        decoder_embed_dim=shape.dec_width, decoder_depth=shape.dec_depth,
        decoder_num_heads=shape.dec_heads, norm_pix_loss=True)).to(device)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = build_adamw([{"params": params, "weight_decay": 0.05}], 1e-4, device)
    generator = torch.Generator(device="cpu").manual_seed(0)
    patches, keep = model.cfg.num_patches, mae_keep_count(model.cfg.num_patches, "0.75")
    # The noise draw stays eager; everything after it is one graph (see forward_from_noise).
    core = (torch.compile(model.forward_from_noise, fullgraph=True) if compile_model
            else model.forward_from_noise)

    def step(images: torch.Tensor) -> None:
        noise = masking_noise(images.shape[0], patches, generator, device)
        with _autocast(device, bf16):
            loss = core(images, keep, noise).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    return step, sum(p.numel() for p in params)


def as_cli(preset: str, shape: Shape, batch: int, device: torch.device,
           bf16: bool) -> tuple[Step, int] | None:
    """The training loop's own step (``runtime.train.loop_step``), set up as ``maskproof train
    mae --model PRESET`` sets it up, with ``--compile`` at the CLI's default; ``None`` when the
    benchmark's shape is not the preset on digits (one channel) that the CLI would train."""
    from maskproof.runtime.config import COMPILE_PAYS, resolve_config
    from maskproof.runtime.train import loop_step

    cfg = MAE_PRESETS[preset]
    same = (shape.channels == 1 and shape.patch == cfg.patch_size and
            (shape.width, shape.depth, shape.heads, shape.dec_width, shape.dec_depth,
             shape.dec_heads) == (cfg.embed_dim, cfg.depth, cfg.num_heads,
                                  cfg.decoder_embed_dim, cfg.decoder_depth,
                                  cfg.decoder_num_heads))
    if not same:
        return None
    config = resolve_config("mae", {}, {
        "model": preset, "image_size": shape.image, "patch_size": shape.patch,
        "batch_size": batch, "steps": 10**6, "device": device.type,
        "compile": COMPILE_PAYS["mae"], "precision": "bf16" if bf16 else "fp32"})
    train_step, model = loop_step(config, device.type)

    def step(images: torch.Tensor) -> None:
        train_step(images)

    return step, sum(p.numel() for p in model.parameters() if p.requires_grad)


def peer(shape: Shape, device: torch.device, bf16: bool) -> tuple[Step, int]:
    from transformers import ViTMAEConfig, ViTMAEForPreTraining

    config = ViTMAEConfig(
        image_size=shape.image, patch_size=shape.patch, num_channels=shape.channels,
        hidden_size=shape.width, num_hidden_layers=shape.depth,
        num_attention_heads=shape.heads, intermediate_size=4 * shape.width,
        decoder_hidden_size=shape.dec_width, decoder_num_hidden_layers=shape.dec_depth,
        decoder_num_attention_heads=shape.dec_heads, decoder_intermediate_size=4 * shape.dec_width,
        mask_ratio=0.75, norm_pix_loss=True, layer_norm_eps=1e-6, hidden_act="gelu",
        hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, qkv_bias=True)
    model = ViTMAEForPreTraining._from_config(config, attn_implementation="sdpa").to(device)
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=1e-4, weight_decay=0.05)

    def step(images: torch.Tensor) -> None:
        with _autocast(device, bf16):
            loss = model(pixel_values=images).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    return step, sum(p.numel() for p in params)


def _autocast(device: torch.device, bf16: bool) -> Any:
    return torch.autocast(device.type, dtype=torch.bfloat16) if bf16 else nullcontext()


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def time_steps(step: Step, images: torch.Tensor, steps: int, device: torch.device) -> float:
    """Seconds for ``steps`` training steps on ``images``."""
    _sync(device)
    started = time.perf_counter()
    for _ in range(steps):
        step(images)
    _sync(device)
    return time.perf_counter() - started


def step_flops(step: Step, images: torch.Tensor) -> int:
    """FLOPs of one step, counted with the step's compiled code run eagerly (same operations).

    Dynamo does not trace under ``FlopCounterMode`` (a dispatch mode): a ``fullgraph`` model
    raises, and a model compiled without it was measured slower for the rest of the process
    after one counted step."""
    counter = FlopCounterMode(display=False)
    with torch.compiler.set_stance("force_eager"), counter:
        step(images)
    return int(counter.get_total_flops())


def matmul_flops_per_second(device: torch.device, bf16: bool, size: int = 2048) -> float:
    dtype = torch.bfloat16 if bf16 else torch.float32
    a = torch.randn(size, size, device=device, dtype=dtype)
    b = torch.randn(size, size, device=device, dtype=dtype)
    for _ in range(2):
        a @ b
    _sync(device)
    rounds = 10
    started = time.perf_counter()
    for _ in range(rounds):
        a @ b
    _sync(device)
    return 2 * size**3 * rounds / (time.perf_counter() - started)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", choices=sorted(MAE_PRESETS),
                        help="take the shape of a maskproof MAE preset (tiny: what `maskproof "
                             "train mae` trains on digits); shape flags given too override it")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    parser.add_argument("--bf16", action="store_true", help="bf16 autocast (CUDA)")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=10, help="steps per timed round")
    parser.add_argument("--rounds", type=int, default=10, help="alternating rounds per model")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps (and compilation)")
    parser.add_argument("--image", type=int, default=32)
    parser.add_argument("--channels", type=int, default=3)
    parser.add_argument("--patch", type=int, default=4)
    parser.add_argument("--width", type=int, default=192)
    parser.add_argument("--depth", type=int, default=6)
    parser.add_argument("--heads", type=int, default=3)
    parser.add_argument("--dec-width", type=int, default=128)
    parser.add_argument("--dec-depth", type=int, default=2)
    parser.add_argument("--dec-heads", type=int, default=4)
    parser.add_argument("--no-compile", dest="compile", action="store_false",
                        help="run maskproof's model eagerly too")
    preset = parser.parse_known_args(argv)[0].preset
    if preset is not None:
        cfg = MAE_PRESETS[preset]
        parser.set_defaults(
            image=cfg.img_size[0], channels=cfg.in_chans, patch=cfg.patch_size,
            width=cfg.embed_dim, depth=cfg.depth, heads=cfg.num_heads,
            dec_width=cfg.decoder_embed_dim, dec_depth=cfg.decoder_depth,
            dec_heads=cfg.decoder_num_heads)
    args = parser.parse_args(argv)
    device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available()
                          else "cpu" if args.device == "auto" else args.device)
    shape = Shape(args.image, args.channels, args.patch, args.width, args.depth, args.heads,
                  args.dec_width, args.dec_depth, args.dec_heads)
    torch.manual_seed(0)
    images = torch.randn(args.batch, args.channels, args.image, args.image, device=device)

    contenders = {
        "maskproof" + (" (compiled)" if args.compile else ""): ours(
            shape, device, args.compile, args.bf16),
    }
    cli = as_cli(args.preset, shape, args.batch, device, args.bf16) if args.preset else None
    if cli is not None:
        contenders[CLI_ROW] = cli
    contenders[PEER] = peer(shape, device, args.bf16)
    for step, _ in contenders.values():
        for _ in range(args.warmup):
            step(images)
    seconds: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(args.rounds):
        for name, (step, _) in contenders.items():
            seconds[name].append(time_steps(step, images, args.steps, device))
    flops = {name: step_flops(step, images) for name, (step, _) in contenders.items()}
    peak = matmul_flops_per_second(device, args.bf16)

    print(f"device {device}, {torch.get_num_threads()} threads, "
          f"{'bf16 autocast' if args.bf16 else 'float32'}, torch {torch.__version__}")
    print(f"config: {shape}, batch {args.batch}, mask ratio 0.75, norm-pix loss")
    print(f"matmul {2048}x{2048}: {peak / 1e9:.1f} GFLOP/s")
    print(f"{'implementation':<38}{'params':>11}{'images/s':>11}{'GFLOP/step':>12}"
          f"{'GFLOP/s':>9}{'of matmul':>11}")
    rates = {}
    for name, (_, count) in contenders.items():
        rate = args.batch * args.steps / statistics.median(seconds[name])
        rates[name] = rate
        achieved = flops[name] * rate / args.batch
        print(f"{name:<38}{count:>11,}{rate:>11.1f}{flops[name] / 1e9:>12.2f}"
              f"{achieved / 1e9:>9.1f}{achieved / peak:>11.1%}")
    for name in contenders:
        if name == PEER:
            continue
        label = "maskproof" if name != CLI_ROW else "maskproof train (CLI step)"
        print(f"ratio {label} / transformers: {rates[name] / rates[PEER]:.2f}x images/s")
        # Each round times the contenders back to back, so a round's ratio cancels slow drift
        # of a shared machine; its spread says how far to trust the ratio of medians above.
        paired = sorted(p / o for o, p in zip(seconds[name], seconds[PEER], strict=True))
        print(f"  per-round ratio over {len(paired)} rounds: median "
              f"{statistics.median(paired):.2f}x (min {paired[0]:.2f}x, max {paired[-1]:.2f}x)")
    if args.preset and cli is None:
        print("(no CLI row: the shape flags moved the model off the preset the CLI trains)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
