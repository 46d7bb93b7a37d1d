"""Per-step cost of ``maskproof train … --check-every K``, side by side in one process.

For each task, the same run (same config, seed and data) is trained twice in this process: once
plain, once with the live runtime-vs-spec check on steps 0, K, 2K, ... Printed per task: the plain
and checked time per step, their ratio, the mean time of one check, and the overhead that check
cost implies at ``K`` (``check time / (K × plain step time)``), which is less noisy than the
difference of two wall-clock runs on a shared machine.

    python bench/check_overhead.py                      # mae, default K, 2 x K steps
    python bench/check_overhead.py --task all --every 10 --steps 20 --threads 1

The checks are pure Python (exact integer and ``Fraction`` arithmetic), so their cost does not
shrink with more cores or a GPU while the step time does: measure on the machine you train on.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from maskproof.bridge.live_check import LiveSpecCheck
from maskproof.runtime.cli import DEFAULT_CHECK_EVERY
from maskproof.runtime.config import TASKS, resolve_config
from maskproof.runtime.train import LiveStep, train


@dataclass
class TimedCheck:
    """Wraps the live check and records how long each due call takes."""

    inner: LiveSpecCheck
    seconds: list[float] = field(default_factory=list)

    def due(self, step: int) -> bool:
        return self.inner.due(step)

    def __call__(self, live: LiveStep) -> str | None:
        started = time.perf_counter()
        result = self.inner(live)
        self.seconds.append(time.perf_counter() - started)
        return result

    def summary(self) -> str:
        return self.inner.summary()


def _seconds_per_step(task: str, steps: int, batch: int, checks: tuple[TimedCheck, ...]) -> float:
    config = resolve_config(task, {}, {"steps": steps, "batch_size": batch,
                                       "checkpoint_every": steps, "device": "cpu"})
    with tempfile.TemporaryDirectory() as folder:
        run = Path(folder) / "run"
        result = train(config, out=str(run), quiet=True, checks=checks)
        # The training loop's own time (no setup, no final plots), as summary.json records it.
        summary = json.loads((run / "summary.json").read_text())
        seconds = float(summary["train_seconds_this_invocation"])
    return seconds / result.final_step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="mae", choices=(*TASKS, "all"))
    parser.add_argument("--every", type=int, default=DEFAULT_CHECK_EVERY, help="K")
    parser.add_argument("--steps", type=int, default=None, help="steps per run (default 2K)")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads")
    args = parser.parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    steps = args.steps if args.steps is not None else 2 * args.every
    tasks = TASKS if args.task == "all" else (args.task,)
    print(f"K = {args.every}, {steps} steps per run, batch {args.batch_size}, "
          f"{torch.get_num_threads()} threads, torch {torch.__version__}")
    print(f"{'task':<11}{'plain s/step':>14}{'checked s/step':>16}{'ratio':>8}"
          f"{'checks':>8}{'s/check':>10}{'implied overhead':>18}")
    for task in tasks:
        plain = _seconds_per_step(task, steps, args.batch_size, ())
        timed = TimedCheck(LiveSpecCheck(args.every))
        checked = _seconds_per_step(task, steps, args.batch_size, (timed,))
        per_check = statistics.mean(timed.seconds) if timed.seconds else 0.0
        implied = per_check / (args.every * plain)
        print(f"{task:<11}{plain:>14.4f}{checked:>16.4f}{checked / plain:>8.3f}"
              f"{len(timed.seconds):>8}{per_check:>10.3f}{implied:>17.1%}")


if __name__ == "__main__":
    main()
