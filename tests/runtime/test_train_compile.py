"""``--compile``: a compiled run resumes bit for bit, agrees with eager, and is the mae CLI default.

Compiled against eager. Inductor fuses elementwise work around the matmuls and picks SDPA's math
backend on CPU (``runtime.models.vit._compiled_cpu_backend``), so a compiled step rounds
differently from an eager one: the two runs are not bit-identical. What is exact is compiled
against compiled: a resumed compiled run recompiles the same graphs and replays the same
operations, so it ends with the uninterrupted compiled run's weights bit for bit (CPU, same
thread count). Against eager, each step's loss agrees to ``LOSS_RTOL``: a few float32 ulps per
operation, over a handful of steps, well inside 1e-4.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from maskproof.bridge.cli import main
from maskproof.runtime.train import COMPLETE_NAME, METRICS_NAME, SUMMARY_NAME, train
from tests.runtime.train_helpers import (
    StopAt,
    assert_same_tensors,
    load_state,
    optimizer_tensors,
    small_config,
    write_images,
)

pytestmark = pytest.mark.usefixtures("one_thread")

LOSS_RTOL = 1e-4


def _losses(run_dir: Path) -> list[float]:
    lines = (run_dir / METRICS_NAME).read_text().splitlines()
    return [json.loads(line)["last_loss"] for line in lines]


def test_compiled_mae_resumes_bit_for_bit_and_tracks_eager(tmp_path: Path) -> None:
    data, _ = write_images(tmp_path)
    config = small_config("mae", data, steps=7, checkpoint_every=3, compile=True)
    whole = train(config, out=str(tmp_path / "whole"), quiet=True)
    stopped = tmp_path / "stopped"
    with pytest.raises(KeyboardInterrupt):
        train(config, out=str(stopped), quiet=True, checks=(StopAt(5),))
    assert load_state(stopped)["step"] == 3
    assert not (stopped / COMPLETE_NAME).exists()
    resumed = train(config, resume=str(stopped), quiet=True)
    assert resumed.final_step == whole.final_step == 7
    end, expected = load_state(stopped), load_state(whole.run_dir)
    assert_same_tensors(end["model"], expected["model"])
    assert_same_tensors(optimizer_tensors(end), optimizer_tensors(expected))
    assert _losses(stopped) == _losses(whole.run_dir)

    summary = json.loads((whole.run_dir / SUMMARY_NAME).read_text())
    assert summary["compile"] is True and summary["compile_seconds"] > 0
    saved = json.loads((whole.run_dir / "config.json").read_text())["config"]
    assert saved["compile"] is True

    eager = train(small_config("mae", data, steps=7, checkpoint_every=3),
                  out=str(tmp_path / "eager"), quiet=True)
    for step, (a, b) in enumerate(zip(_losses(whole.run_dir), _losses(eager.run_dir),
                                      strict=True)):
        assert abs(a - b) <= LOSS_RTOL * abs(b), f"step {step}: compiled {a} vs eager {b}"
    eager_summary = json.loads((eager.run_dir / SUMMARY_NAME).read_text())
    assert eager_summary["compile"] is False and eager_summary["compile_seconds"] is None


@pytest.mark.parametrize(("task", "flag", "compiled"), [
    ("vector-mae", [], False),  # the CLI default for the compact MLPs: eager
    ("mae", ["--no-compile"], False),
    ("mae", [], True),  # the CLI default for mae: compiled
])
def test_cli_records_the_compile_choice(tmp_path: Path, task: str, flag: list[str],
                                        compiled: bool) -> None:
    data, _ = write_images(tmp_path)
    out = tmp_path / "run"
    status = main(["train", task, "--data", str(data), "--steps", "2", "--batch-size", "8",
                   "--device", "cpu", "--quiet", *flag, "--out", str(out)])
    assert status == 0
    assert json.loads((out / "config.json").read_text())["config"]["compile"] is compiled
    summary = json.loads((out / SUMMARY_NAME).read_text())
    assert summary["compile"] is compiled
    assert (summary["compile_seconds"] is not None) is compiled
