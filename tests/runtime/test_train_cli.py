"""``maskproof train`` / ``probe`` on bad input: one line naming the value, a non-zero exit, no
traceback, and no run folder left behind (let alone one that looks complete)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

from maskproof.bridge.cli import main
from maskproof.runtime.train import COMPLETE_NAME, CONFIG_NAME, train
from tests.runtime.train_helpers import run_maskproof, small_config, write_images

pytestmark = pytest.mark.usefixtures("one_thread")


def _fails(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """Run the CLI in-process; return its single stderr line after checking the exit status."""
    try:
        status = main(argv)
    except SystemExit as exit_:  # argparse's own errors
        status = exit_.code if isinstance(exit_.code, int) else 1
    err = capsys.readouterr().err
    assert status == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def _npy(folder: Path, name: str, array: np.ndarray) -> str:
    path = folder / name
    np.save(path, array)
    return str(path)


BadArgs = Callable[[Path], list[str]]

BAD_TRAIN_ARGS: list[tuple[str, BadArgs, str]] = [
    ("ratio 1", lambda d: ["mae", "--mask-ratio", "1"], "--mask-ratio 1"),
    ("ratio negative", lambda d: ["mae", "--mask-ratio", "-0.1"], "[0, 1)"),
    ("ratio text", lambda d: ["mae", "--mask-ratio", "most"], "'most'"),
    ("ratio 1/0", lambda d: ["mae", "--mask-ratio", "1/0"], "'1/0'"),
    ("patch too large", lambda d: ["mae", "--patch-size", "32"], "larger than the 16x16"),
    ("patch does not tile", lambda d: ["mae", "--patch-size", "5"], "--patch-size 5"),
    ("jepa patch does not tile", lambda d: ["jepa", "--patch-size", "3"], "divisible"),
    ("image-mae patch too large", lambda d: ["image-mae", "--patch-size", "17"],
     "--patch-size 17"),
    ("empty data", lambda d: ["mae", "--data", _npy(d, "e.npy", np.zeros((0, 1, 8, 8), "f4"))],
     "empty"),
    ("nan data", lambda d: ["mae", "--data", _npy(d, "n.npy", np.full((4, 1, 8, 8), np.nan))],
     "non-finite"),
    ("rank 3 data", lambda d: ["mae", "--data", _npy(d, "r.npy", np.zeros((4, 8, 8), "f4"))],
     "rank 3"),
    ("int data", lambda d: ["mae", "--data", _npy(d, "i.npy", np.zeros((4, 1, 8, 8), "i4"))],
     "int32"),
    ("missing data", lambda d: ["mae", "--data", str(d / "nowhere.npy")], "no such file"),
    ("not npy", lambda d: ["mae", "--data", str(_text(d / "x.npy", "hello"))], "not a readable"),
    ("labels count", lambda d: ["mae", "--data", _npy(d, "a.npy", np.zeros((4, 1, 8, 8), "f4")),
                                "--labels", _npy(d, "l.npy", np.zeros(3, "i8"))], "3 labels"),
    ("unknown device", lambda d: ["mae", "--device", "tpu"], "'tpu'"),
    ("batch larger than data", lambda d: ["vector-mae", "--batch-size", "5000"], "5000"),
    ("zero steps", lambda d: ["mae", "--steps", "0"], "--steps 0"),
    ("unknown preset", lambda d: ["mae", "--model", "huge"], "'huge'"),
    ("non-integer flag", lambda d: ["mae", "--steps", "ten"], "'ten'"),
    ("config missing", lambda d: ["mae", "--config", str(d / "none.json")], "cannot read"),
    ("config bad json", lambda d: ["mae", "--config", str(_text(d / "c.json", "{steps: 1"))],
     "not valid JSON"),
    ("config not object", lambda d: ["mae", "--config", str(_text(d / "c.json", "[1]"))],
     "expected a JSON object"),
    ("config unknown key", lambda d: ["mae", "--config", str(_text(d / "c.json",
                                                                   '{"stepz": 3}'))], "'stepz'"),
    ("config wrong type", lambda d: ["mae", "--config", str(_text(d / "c.json",
                                                                  '{"steps": "3"}'))], "'3'"),
    ("config other task", lambda d: ["mae", "--config", str(_text(d / "c.json",
                                                                  '{"task": "jepa"}'))], "jepa"),
    ("check every zero", lambda d: ["vector-mae", "--check-every", "0"], "--check-every 0"),
]


def _text(path: Path, content: str) -> Path:
    path.write_text(content)
    return path


@pytest.mark.parametrize(("make_args", "needle"), [(a, n) for _, a, n in BAD_TRAIN_ARGS],
                         ids=[name for name, _, _ in BAD_TRAIN_ARGS])
def test_bad_train_input_is_one_line_and_leaves_no_run_folder(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], make_args: BadArgs,
        needle: str) -> None:
    out = tmp_path / "run"
    task, *rest = make_args(tmp_path)  # a later --steps in `rest` overrides the short default
    line = _fails(["train", task, "--steps", "2", *rest, "--quiet", "--out", str(out)], capsys)
    assert line.startswith("maskproof train: "), line
    assert needle in line, line
    assert not out.exists()


def _run_folder(tmp_path: Path) -> Path:
    data, _ = write_images(tmp_path)
    config = small_config("vector-mae", data, steps=4)
    folder = tmp_path / "run"
    train(config, out=str(folder), quiet=True)
    (folder / COMPLETE_NAME).unlink()  # an interrupted run, so --resume is allowed
    return folder


def test_resume_missing_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    line = _fails(["train", "mae", "--resume", str(tmp_path / "gone")], capsys)
    assert "no such directory" in line


def test_resume_missing_checkpoint(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = _run_folder(tmp_path)
    (folder / "checkpoint.pt").unlink()
    line = _fails(["train", "vector-mae", "--resume", str(folder), "--quiet"], capsys)
    assert "checkpoint" in line and "no such file" in line
    assert not (folder / COMPLETE_NAME).exists()


@pytest.mark.parametrize(("payload", "says"), [
    (b"", "not a torch checkpoint (starts with b''"),
    (b"not a checkpoint at all", "not a torch checkpoint (starts with b'not "),
    (b"PK\x03\x04garbage", "unreadable or corrupt"),  # a zip header, then no archive
])
def test_resume_corrupt_checkpoint(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                   payload: bytes, says: str) -> None:
    folder = _run_folder(tmp_path)
    (folder / "checkpoint.pt").write_bytes(payload)
    line = _fails(["train", "vector-mae", "--resume", str(folder), "--quiet"], capsys)
    assert says in line
    assert (folder / "checkpoint.pt").read_bytes() == payload  # nothing overwritten
    assert not (folder / COMPLETE_NAME).exists()


def test_resume_refuses_a_checkpoint_of_another_model(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    folder = _run_folder(tmp_path)
    state = torch.load(folder / "checkpoint.pt", weights_only=True)
    state["model"] = {"encoder.0.weight": torch.zeros(3, 3)}
    torch.save(state, folder / "checkpoint.pt")
    line = _fails(["train", "vector-mae", "--resume", str(folder), "--quiet"], capsys)
    assert "`model.encoder.0.bias` is missing" in line and "not a checkpoint of this run" in line


def test_resume_refuses_flags_that_change_the_run(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    folder = _run_folder(tmp_path)
    line = _fails(["train", "vector-mae", "--resume", str(folder), "--batch-size", "4"],
                  capsys)
    assert "--batch-size" in line and "--lr" in line  # names what a resume may change
    line = _fails(["train", "mae", "--resume", str(folder)], capsys)
    assert "a vector-mae run, not mae" in line


def test_out_folder_that_is_not_empty_is_refused(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "keep.txt").write_text("mine")
    line = _fails(["train", "vector-mae", "--out", str(tmp_path)], capsys)
    assert "not empty" in line
    assert (tmp_path / "keep.txt").read_text() == "mine"


def test_probe_on_a_folder_that_is_not_a_run(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    line = _fails(["probe", str(tmp_path)], capsys)
    assert line.startswith("maskproof probe: ") and CONFIG_NAME in line


def test_unknown_task_and_flag_are_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert "invalid choice: 'bert'" in _fails(["train", "bert"], capsys)
    assert "--learning-rate" in _fails(["train", "mae", "--learning-rate", "3"], capsys)


def test_help_on_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["--help"], ["train", "--help"], ["probe", "--help"]):
        with pytest.raises(SystemExit) as exit_:
            main(argv)
        assert exit_.value.code == 0
        assert "usage:" in capsys.readouterr().out
    main_help = run_maskproof("train", "--help")
    assert "--check-every" in main_help.stdout and "--resume" in main_help.stdout


@pytest.mark.slow
def test_a_real_process_prints_no_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.npy"
    np.save(bad, np.full((2, 1, 8, 8), np.inf, dtype=np.float32))
    done = run_maskproof("train", "mae", "--data", str(bad), "--out", str(tmp_path / "run"))
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert "non-finite" in done.stderr and str(bad) in done.stderr
    assert not (tmp_path / "run").exists()


def test_config_file_values_are_overridden_by_flags(tmp_path: Path) -> None:
    data, _ = write_images(tmp_path)
    config_file = _text(tmp_path / "c.json", json.dumps(
        {"steps": 3, "batch-size": 8, "hidden_dim": 8, "lr": 0.5, "data": str(data)}))
    assert main(["train", "vector-mae", "--config", str(config_file), "--lr", "0.01",
                 "--quiet", "--out", str(tmp_path / "run")]) == 0
    saved = json.loads((tmp_path / "run" / CONFIG_NAME).read_text())["config"]
    assert (saved["steps"], saved["batch_size"], saved["hidden_dim"]) == (3, 8, 8)
    assert saved["lr"] == 0.01


@pytest.mark.parametrize(("task", "flag", "value"), [
    ("mae", "--image-size", "1000000"),
    ("vector-mae", "--hidden-dim", "1000000000000"),
])
def test_sizes_beyond_memory_are_one_line_naming_them(tmp_path: Path, task: str, flag: str,
                                                      value: str) -> None:
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-m", "maskproof", "train", task, flag, value,
                             "--steps", "1", "--out", str(tmp_path / "run"), "--quiet"],
                            capture_output=True, text=True, check=False, timeout=300)
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("maskproof train: out of memory: an allocation of ")
    assert f"{flag} {value}" in line and "this machine has" in line
