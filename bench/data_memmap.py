"""Training from a memory-mapped ``.npy`` larger than the memory it is allowed, against in-memory.

Two child processes each run ``maskproof train mae`` (the CLI's own entry, in-process in the
child) for ``--steps`` steps on 3 x 32 x 32 images, one thread, no workers:

* ``memmap``: a float32 ``.npy`` of ``--gigabytes`` on /tmp (written chunk by chunk, never
  held whole here either), opened by ``--data`` as a memory map: one streamed finiteness pass
  of ordinary reads, then each batch gathered from the map;
* ``in-memory``: a folder of ``--small`` PNG images of the same shape, read whole into one
  tensor, as the baseline.

Printed side by side: images per second (``summary.json``), the data-loading time before the
first step, and the child's peak resident memory.

The limit, and why this is a fair test. No cgroup memory limit can be set here (no writable
``memory.max``), and ``resource.setrlimit(RLIMIT_AS)`` is unusable with torch, which reserves
far more virtual address space than it ever touches. So the child's peak resident set
(``VmHWM`` of ``/proc/self/status``, read by the child itself after training) is measured
instead. It counts every page the process had resident, file-backed pages of the memory map
included: had the array been read whole, or gathered through a full copy, the peak would be at
least the file's size. A peak far below the file size is the same statement a cgroup limit of
that peak would enforce (the kernel can always drop clean mapped pages, and pages read by the
finiteness pass go through the page cache, which is not the process's memory). The in-memory
child's peak is printed too: the part of either peak that is torch and the model.

    python bench/data_memmap.py                   # 1.5 GB file, 40 steps, batch 64
    python bench/data_memmap.py --gigabytes 0.5 --steps 20

The file is deleted afterwards, also when a child fails.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

SHAPE = (3, 32, 32)
ROOT = Path(__file__).resolve().parents[1]


def write_large_npy(path: Path, gigabytes: float) -> int:
    """A float32 ``N x 3 x 32 x 32`` file of about ``gigabytes``, written in 64 MiB chunks."""
    per_image = int(np.prod(SHAPE)) * 4
    count = int(gigabytes * 1e9) // per_image
    array = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(count, *SHAPE))
    rng = np.random.default_rng(0)
    step = (64 * 2**20) // per_image
    for start in range(0, count, step):
        stop = min(count, start + step)
        array[start:stop] = rng.random((stop - start, *SHAPE), dtype=np.float32)
    array.flush()
    del array
    return count


def write_png_folder(folder: Path, count: int) -> None:
    from PIL import Image

    rng = np.random.default_rng(1)
    folder.mkdir(parents=True)
    for index in range(count):
        pixels = rng.integers(0, 256, (SHAPE[1], SHAPE[2], SHAPE[0]), dtype=np.uint8)
        Image.fromarray(pixels, "RGB").save(folder / f"{index:05d}.png")


def child(data: str, out: str, steps: int, batch: int) -> None:
    """Train through the CLI, then print one JSON line of what the parent reports."""
    import torch

    from maskproof.bridge.cli import main
    from maskproof.runtime.data import load_images

    torch.set_num_threads(1)
    started = time.perf_counter()
    load_images(data, None, 16)  # what the run does first: the memmap's streamed pass
    load_seconds = time.perf_counter() - started
    status = main(["train", "mae", "--data", data, "--out", out, "--steps", str(steps),
                   "--batch-size", str(batch), "--patch-size", "4", "--model", "tiny",
                   "--checkpoint-every", str(10 * steps), "--log-every", "10", "--device", "cpu",
                   "--quiet"])
    status_text = Path("/proc/self/status").read_text()
    peak_kib = next(int(line.split()[1]) for line in status_text.splitlines()
                    if line.startswith("VmHWM:"))
    summary = json.loads((Path(out) / "summary.json").read_text()) if status == 0 else {}
    print(json.dumps({"status": status, "load_seconds": load_seconds, "peak_rss_bytes":
                      peak_kib * 1024, "images_per_second": summary.get("images_per_second")}))


def run_child(data: Path, out: Path, steps: int, batch: int) -> dict[str, float]:
    env = {**os.environ, "OMP_NUM_THREADS": "1",
           "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    done = subprocess.run([sys.executable, __file__, "--child", str(data), str(out),
                           "--steps", str(steps), "--batch", str(batch)], env=env, cwd=ROOT,
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"child on {data} failed:\n{done.stderr[-2000:]}")
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gigabytes", type=float, default=1.5, help="memmap file size (GB)")
    parser.add_argument("--small", type=int, default=1024, help="in-memory images")
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--child", nargs=2, metavar=("DATA", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], args.child[1], args.steps, args.batch)
        return
    with tempfile.TemporaryDirectory(dir="/tmp", prefix="maskproof-memmap-") as scratch:
        root = Path(scratch)
        big = root / "large.npy"
        count = write_large_npy(big, args.gigabytes)
        size = big.stat().st_size
        write_png_folder(root / "small", args.small)
        mapped = run_child(big, root / "run-memmap", args.steps, args.batch)
        memory = run_child(root / "small", root / "run-memory", args.steps, args.batch)
    gib = 2**30
    print(f"mae tiny, {SHAPE[0]}x{SHAPE[1]}x{SHAPE[2]} images, batch {args.batch}, "
          f"{args.steps} steps, 1 thread, 0 workers; /tmp file removed")
    print(f"{'':24}{'memmap .npy':>18}{'in-memory':>18}")
    print(f"{'images':24}{count:>18,}{args.small:>18,}")
    print(f"{'data size':24}{size / gib:>17.2f}G{args.small * np.prod(SHAPE) * 4 / gib:>17.3f}G")
    print(f"{'images / second':24}{mapped['images_per_second']:>18.1f}"
          f"{memory['images_per_second']:>18.1f}")
    print(f"{'load before step 0 (s)':24}{mapped['load_seconds']:>18.2f}"
          f"{memory['load_seconds']:>18.2f}")
    print(f"{'peak RSS (VmHWM)':24}{mapped['peak_rss_bytes'] / gib:>17.3f}G"
          f"{memory['peak_rss_bytes'] / gib:>17.3f}G")
    print(f"memmap peak RSS is {mapped['peak_rss_bytes'] / size:.1%} of the file size")


if __name__ == "__main__":
    main()
