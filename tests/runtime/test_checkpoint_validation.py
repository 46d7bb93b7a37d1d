"""Every checkpoint field ``--resume`` and ``probe`` read is validated before anything runs: a
tampered real checkpoint (``torch.save`` of a modified dict) is exit status 2, one stderr line
naming the field, no traceback, and the run folder is left exactly as it was. ``probe`` also
refuses a folder without ``COMPLETE`` unless ``--allow-incomplete``."""

from __future__ import annotations

import json
import math
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

from maskproof.bridge.cli import main
from maskproof.runtime.errors import RunStopped
from maskproof.runtime.train import COMPLETE_NAME, CONFIG_NAME, train
from tests.runtime.train_helpers import StopAt, run_maskproof, small_config, write_images

pytestmark = pytest.mark.usefixtures("one_thread")

Tamper = Callable[[dict[str, Any]], None]


@pytest.fixture(scope="module")
def base_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real vector-mae run stopped at step 4 of 6, its checkpoint at step 3: mid-epoch, so it
    holds a non-empty epoch order, AdamW moments and a generator state."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    folder = tmp_path_factory.mktemp("base")
    data, labels = write_images(folder)
    config = small_config("vector-mae", data, labels=str(labels), steps=6, checkpoint_every=3)
    run = folder / "run"
    try:
        with pytest.raises(RunStopped):
            train(config, out=str(run), quiet=True, checks=(StopAt(4),))
    finally:
        torch.set_num_threads(before)
    assert torch.load(run / "checkpoint.pt", weights_only=True)["step"] == 3
    return run


def _copy(base_run: Path, tmp_path: Path) -> Path:
    run = tmp_path / "run"
    shutil.copytree(base_run, run)
    return run


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(path.relative_to(folder)): path.read_bytes()
            for path in sorted(folder.rglob("*")) if path.is_file()}


def _first_float(state: dict[str, Any], key: str) -> str:
    return str(next(name for name, value in state[key].items() if value.is_floating_point()))


def _set(path: str, value: object) -> Tamper:
    def tamper(state: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target = state
        for part in parents:
            target = target[part]
        target[last] = value
    return tamper


def _nan_weight(state: dict[str, Any]) -> None:
    state["model"][_first_float(state, "model")].view(-1)[0] = math.nan


def _reshaped_weight(state: dict[str, Any]) -> None:
    name = _first_float(state, "model")
    state["model"][name] = state["model"][name].reshape(-1)[:-1].clone()


def _double_weight(state: dict[str, Any]) -> None:
    name = _first_float(state, "model")
    state["model"][name] = state["model"][name].double()


def _extra_weight(state: dict[str, Any]) -> None:
    state["model"]["head.extra"] = torch.zeros(2)


def _moment(state: dict[str, Any]) -> dict[str, Any]:
    first: dict[str, Any] = next(iter(state["optimizer"]["state"].values()))
    return first


def _nan_moment(state: dict[str, Any]) -> None:
    _moment(state)["exp_avg"].view(-1)[0] = math.inf


def _short_moment(state: dict[str, Any]) -> None:
    _moment(state)["exp_avg_sq"] = torch.zeros(1)


def _one_group(state: dict[str, Any]) -> None:
    state["optimizer"]["param_groups"] = state["optimizer"]["param_groups"][:1]


def _nan_lr(state: dict[str, Any]) -> None:
    state["optimizer"]["param_groups"][0]["lr"] = math.nan


def _foreign_param(state: dict[str, Any]) -> None:
    state["optimizer"]["state"][999] = _moment(state)


def _order(change: Callable[[torch.Tensor], torch.Tensor]) -> Tamper:
    def tamper(state: dict[str, Any]) -> None:
        state["epoch_order"] = change(state["epoch_order"])
    return tamper


def _out_of_range(order: torch.Tensor) -> torch.Tensor:
    order = order.clone()
    order[0] = 10 ** 6
    return order


def _repeated(order: torch.Tensor) -> torch.Tensor:
    order = order.clone()
    order[0] = order[1]
    return order


def _config_lr(state: dict[str, Any]) -> None:
    state["config"]["lr"] = 0.5


def _config_steps_float(state: dict[str, Any]) -> None:
    state["config"]["steps"] = 6.0


def _config_task(state: dict[str, Any]) -> None:
    state["config"]["task"] = "image-mae"


def _config_missing(state: dict[str, Any]) -> None:
    del state["config"]["seed"]


def _config_extra(state: dict[str, Any]) -> None:
    state["config"]["colour"] = "blue"


def _total_steps(state: dict[str, Any]) -> None:
    state["schedule"]["total_steps"] = 60


#: (name, tamper, text the one line must hold)
TAMPERS: list[tuple[str, Tamper, str]] = [
    ("config not a dict", _set("config", "vector-mae"), "`config` is a str, expected a dict"),
    ("config differs", _config_lr, "`config.lr` is 0.5 but config.json has 0.001"),
    ("config float steps", _config_steps_float, "`config.steps` is 6.0"),
    ("config other task", _config_task, "`config.task` is 'image-mae'"),
    ("config field missing", _config_missing, "`config.seed` is missing"),
    ("config extra field", _config_extra, "`config.colour` is not a setting"),
    ("model a tensor", _set("model", torch.zeros(3)), "`model` is a torch.float32 tensor"),
    ("model nan weight", _nan_weight, "holds NaN or infinite values"),
    ("model reshaped weight", _reshaped_weight, "expected a torch.float32 tensor of shape"),
    ("model float64 weight", _double_weight, "is a torch.float64 tensor"),
    ("model extra tensor", _extra_weight, "`model.head.extra` is not a tensor of this model"),
    ("optimizer a list", _set("optimizer", []), "`optimizer` is a list, expected a dict"),
    ("optimizer inf moment", _nan_moment, ".exp_avg` holds NaN or infinite values"),
    ("optimizer moment shape", _short_moment, ".exp_avg_sq` is a torch.float32 tensor of "
                                              "shape (1,)"),
    ("optimizer group count", _one_group, "`optimizer.param_groups` is a list"),
    ("optimizer nan lr", _nan_lr, "`optimizer.param_groups[0].lr` is nan"),
    ("optimizer foreign param", _foreign_param, "`optimizer.state[999]` names no parameter"),
    ("generator not a tensor", _set("generator", [1, 2, 3]), "`generator` is a list"),
    ("generator wrong size", _set("generator", torch.zeros(8, dtype=torch.uint8)),
     "`generator` is a torch.uint8 tensor of shape (8,)"),
    ("epoch order float", _order(lambda o: o.float()), "`epoch_order` is a torch.float32"),
    ("epoch order too short", _order(lambda o: o[:5]), "`epoch_order` has 5 entries, "
                                                       "expected 32"),
    ("epoch order out of range", _order(_out_of_range), "not a permutation of 0..31"),
    ("epoch order repeated", _order(_repeated), "not a permutation of 0..31"),
    ("epoch order 2-d", _order(lambda o: o.reshape(4, 8)), "expected a 1-D int64 tensor"),
    ("step float", _set("step", 3.0), "`step` is 3.0, expected an integer"),
    ("step bool", _set("step", True), "`step` is True, expected an integer"),
    ("step past the run", _set("step", 60), "`step` is 60, outside the run's 0..6 steps"),
    ("format bool", _set("format", True), "`format` is True; expected 1"),
    ("schedule not a dict", _set("schedule", 7), "`schedule` is a int"),
    ("schedule total", _total_steps, "`schedule.total_steps` is 60, expected 6"),
]

#: The ones ``probe`` reads (config, step, model) and must refuse as well.
PROBE_TAMPERS = {"config not a dict", "config differs", "config other task", "model a tensor",
                 "model nan weight", "model reshaped weight", "model extra tensor", "step float",
                 "step past the run"}


def _tampered(base_run: Path, tmp_path: Path, tamper: Tamper) -> tuple[Path, dict[str, bytes]]:
    run = _copy(base_run, tmp_path)
    state = torch.load(run / "checkpoint.pt", weights_only=True)
    tamper(state)
    torch.save(state, run / "checkpoint.pt")
    return run, _snapshot(run)


def _fails(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    try:
        status = main(argv)
    except SystemExit as exit_:
        status = exit_.code if isinstance(exit_.code, int) else 1
    err = capsys.readouterr().err
    assert status == 2, err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


@pytest.mark.parametrize(("tamper", "needle"), [(t, n) for _, t, n in TAMPERS],
                         ids=[name for name, _, _ in TAMPERS])
def test_resume_refuses_a_tampered_checkpoint_and_touches_nothing(
        base_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], tamper: Tamper,
        needle: str) -> None:
    run, before = _tampered(base_run, tmp_path, tamper)
    line = _fails(["train", "vector-mae", "--resume", str(run), "--quiet"], capsys)
    assert line.startswith(f"maskproof train: checkpoint {run / 'checkpoint.pt'}: "), line
    assert needle in line, line
    assert _snapshot(run) == before


@pytest.mark.parametrize(("tamper", "needle"),
                         [(t, n) for name, t, n in TAMPERS if name in PROBE_TAMPERS],
                         ids=[name for name, _, _ in TAMPERS if name in PROBE_TAMPERS])
def test_probe_refuses_a_tampered_checkpoint_and_touches_nothing(
        base_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], tamper: Tamper,
        needle: str) -> None:
    run, before = _tampered(base_run, tmp_path, tamper)
    line = _fails(["probe", str(run), "--allow-incomplete", "--device", "cpu"], capsys)
    assert line.startswith(f"maskproof probe: checkpoint {run / 'checkpoint.pt'}: "), line
    assert needle in line, line
    assert _snapshot(run) == before


def test_the_untampered_copy_resumes(base_run: Path, tmp_path: Path) -> None:
    run = _copy(base_run, tmp_path)
    assert main(["train", "vector-mae", "--resume", str(run), "--quiet"]) == 0
    assert (run / COMPLETE_NAME).exists()


@pytest.mark.slow
def test_a_real_process_names_the_nan_weight_in_one_line(base_run: Path,
                                                         tmp_path: Path) -> None:
    run, before = _tampered(base_run, tmp_path, _nan_weight)
    done = run_maskproof("train", "vector-mae", "--resume", str(run), "--quiet")
    assert done.returncode == 2
    assert "Traceback" not in done.stderr and done.stderr.count("\n") == 1, done.stderr
    assert "holds NaN or infinite values" in done.stderr and "`model." in done.stderr
    assert _snapshot(run) == before


# 4. probe on incomplete runs, and a config.json that disagrees with the checkpoint -----------

def test_probe_refuses_an_incomplete_run_unless_allowed(
        base_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = _copy(base_run, tmp_path)
    before = _snapshot(run)
    line = _fails(["probe", str(run), "--device", "cpu"], capsys)
    assert line == (f"maskproof probe: probe {run}: the run is not complete (no COMPLETE); "
                    "finish it with --resume, or pass --allow-incomplete to probe its last "
                    "checkpoint")
    assert _snapshot(run) == before
    assert main(["probe", str(run), "--allow-incomplete", "--device", "cpu", "--quiet"]) == 0
    report = json.loads((run / "probe.json").read_text())
    assert report["complete"] is False and report["checkpoint_step"] == 3


def test_probe_names_the_first_config_field_that_differs(
        base_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = _copy(base_run, tmp_path)
    (run / COMPLETE_NAME).write_bytes(b"")
    saved = json.loads((run / CONFIG_NAME).read_text())
    saved["config"]["hidden_dim"] = 17
    saved["config"]["seed"] = 5
    (run / CONFIG_NAME).write_text(json.dumps(saved))
    before = _snapshot(run)
    line = _fails(["probe", str(run), "--device", "cpu"], capsys)
    assert "`config.seed` is 0 but config.json has 5" in line, line  # seed precedes hidden_dim
    assert _snapshot(run) == before
