"""``--grad-accum N`` and ``--precision`` (CPU).

Gradient accumulation. N micro-batches of ``batch_size / N`` draw exactly the masks of the one
batch (each micro-batch restarts from the step's generator state and keeps its rows of the
global draw), and the generator ends every step where the one-batch run leaves it: both are
asserted bit for bit. The losses and weights are not bit-identical, only close: the summed
micro-batch gradients add the rows in a different order than one reduction over the batch, a
few float32 ulps per step (``LOSS_RTOL``), which AdamW's ``1 / (sqrt(v) + eps)`` magnifies for
near-zero gradient entries (the same effect and tolerance as the two-process DDP test).

Precision. ``fp32`` is the loop as it was (no autocast on CPU, the ``auto`` choice there), so
it is bit-identical to ``auto``; ``bf16`` autocasts on CPU and ``fp16`` adds a GradScaler whose
state is checkpointed.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch

from maskproof.runtime.errors import UserError
from maskproof.runtime.tasks import build_model_seeded, make_task
from maskproof.runtime.train import METRICS_NAME, SUMMARY_NAME, LiveStep, train
from tests.runtime.train_helpers import (
    assert_same_tensors,
    load_state,
    optimizer_tensors,
    small_config,
    write_images,
)

pytestmark = pytest.mark.usefixtures("one_thread")

LOSS_RTOL = 1e-5
UPDATE_RTOL = 1e-2
#: The mask tensors each task's forward_step reports (see runtime.tasks.StepOutputs).
MASKS = {"mae": ("mask_removed", "ids_restore"),
         "jepa": ("context", "context_valid", "targets", "targets_valid")}


class _RecordMasks:
    """A step check that keeps every micro-batch's mask tensors, in the order they ran."""

    def __init__(self, names: tuple[str, ...]) -> None:
        self.names = names
        self.seen: list[tuple[int, dict[str, torch.Tensor]]] = []

    def due(self, step: int) -> bool:
        return True

    def __call__(self, live: LiveStep) -> str | None:
        self.seen.append((live.step, {name: live.outputs.tensors[name].clone()
                                      for name in self.names}))
        return None

    def summary(self) -> str:
        return ""

    def per_step(self) -> list[dict[str, torch.Tensor]]:
        """Each step's masks, micro-batches concatenated along the batch dimension."""
        steps = sorted({step for step, _ in self.seen})
        return [{name: torch.cat([t[name] for s, t in self.seen if s == step])
                 for name in self.names} for step in steps]


def _losses(run_dir: Path) -> list[float]:
    lines = (run_dir / METRICS_NAME).read_text().splitlines()
    return [json.loads(line)["last_loss"] for line in lines]


def _update_difference(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor],
                       start: dict[str, torch.Tensor]) -> float:
    num = sum(float(((a[k].double() - b[k].double()) ** 2).sum()) for k in b)
    den = sum(float(((b[k].double() - start[k].double()) ** 2).sum()) for k in b)
    return float((num / den) ** 0.5)


@pytest.mark.parametrize(("task", "extra"), [
    ("mae", {}),
    ("mae", {"crop_scale": 0.5}),  # crops drawn once per step, before the micro-batches
    ("jepa", {"patch_size": 2}),
])
def test_grad_accum_draws_the_large_batch_masks_and_matches_it(
        tmp_path: Path, task: str, extra: dict[str, object]) -> None:
    data, _ = write_images(tmp_path)
    runs = {}
    for parts in (1, 4):
        config = small_config(task, data, steps=5, batch_size=8, grad_accum=parts, **extra)
        record = _RecordMasks(MASKS[task])
        result = train(config, out=str(tmp_path / f"accum{parts}"), quiet=True, checks=(record,))
        runs[parts] = (config, result, record)
    (config, one, one_masks), (_, four, four_masks) = runs[1], runs[4]
    assert len(four_masks.seen) == 4 * len(one_masks.seen) == 4 * 5
    for step, (a, b) in enumerate(zip(one_masks.per_step(), four_masks.per_step(),
                                      strict=True)):
        for name in MASKS[task]:
            assert torch.equal(a[name], b[name]), f"step {step}: {name} differs"
    one_state, four_state = load_state(one.run_dir), load_state(four.run_dir)
    assert torch.equal(one_state["generator"], four_state["generator"])
    for step, (a, b) in enumerate(zip(_losses(one.run_dir), _losses(four.run_dir),
                                      strict=True)):
        assert abs(a - b) <= LOSS_RTOL * abs(b), f"step {step}: loss {a} vs {b}"
    start = build_model_seeded(make_task(config, (1, 8, 8)), config.seed).state_dict()
    assert _update_difference(four_state["model"], one_state["model"], start) <= UPDATE_RTOL
    assert json.loads((four.run_dir / "config.json").read_text())["config"]["grad_accum"] == 4


def test_fp32_is_the_loop_as_it_was_and_bf16_trains_on_cpu(tmp_path: Path) -> None:
    data, _ = write_images(tmp_path)
    ends = {}
    for precision in ("auto", "fp32", "bf16"):
        config = small_config("mae", data, steps=4, precision=precision)
        result = train(config, out=str(tmp_path / precision), quiet=True)
        ends[precision] = load_state(result.run_dir)
        saved = json.loads((result.run_dir / "config.json").read_text())
        assert saved["config"]["precision"] == precision
        assert saved["precision_resolved"] == ("fp32" if precision == "auto" else precision)
        assert all(map(torch.isfinite, map(torch.tensor, _losses(result.run_dir))))
    assert_same_tensors(ends["fp32"]["model"], ends["auto"]["model"])
    assert_same_tensors(optimizer_tensors(ends["fp32"]), optimizer_tensors(ends["auto"]))
    # bf16 autocast really ran: its rounding moved the weights off the float32 run's.
    assert any(not torch.equal(ends["bf16"]["model"][name], ends["fp32"]["model"][name])
               for name in ends["fp32"]["model"])


def test_fp16_scales_the_loss_and_checkpoints_the_scaler(tmp_path: Path) -> None:
    data, _ = write_images(tmp_path)
    result = train(small_config("vector-mae", data, steps=4, precision="fp16"),
                   out=str(tmp_path / "fp16"), quiet=True)
    state = load_state(result.run_dir)
    assert state["grad_scaler"]["scale"] > 0
    assert json.loads((result.run_dir / SUMMARY_NAME).read_text())["precision"] == "fp16"
    assert all(map(torch.isfinite, map(torch.tensor, _losses(result.run_dir))))


def test_a_yaml_config_sets_what_the_json_one_does(tmp_path: Path) -> None:
    from maskproof.runtime.config import read_config_file

    (tmp_path / "c.yaml").write_text("steps: 3\nbatch-size: 8\nlr: 1.0e-3\nmask_ratio: '3/4'\n")
    (tmp_path / "c.json").write_text('{"steps": 3, "batch-size": 8, "lr": 1e-3, '
                                     '"mask_ratio": "3/4"}')
    assert read_config_file(str(tmp_path / "c.yaml")) == read_config_file(str(tmp_path / "c.json"))


@pytest.mark.parametrize(("text", "says"), [
    ("steps: 3\nsteps: 4\n", "'steps' is given twice"),
    ("steps: [1\n", "not valid YAML"),
    ("- 1\n- 2\n", "expected a JSON object (a YAML mapping), got list"),
    ("!!python/object:os.system {}\n", "not valid YAML"),  # the safe loader builds no objects
])
def test_a_bad_yaml_config_is_one_line(tmp_path: Path, text: str, says: str) -> None:
    from maskproof.runtime.config import read_config_file

    (tmp_path / "c.yml").write_text(text)
    with pytest.raises(UserError, match=re.escape(says)):
        read_config_file(str(tmp_path / "c.yml"))
