"""Reliability of ``maskproof train`` as real processes: no flag abbreviations, one writer per run
folder (the ``LOCK`` file), SIGINT and SIGTERM stop a run resumably with one line saying how to
resume, and default run folders of runs started in the same second do not collide."""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from maskproof.bridge.cli import build_parser, main
from maskproof.runtime.checkpoint import CHECKPOINT_NAME, load_checkpoint
from maskproof.runtime.errors import RunStopped, StepCheckFailed, UserError
from maskproof.runtime.runlock import LOCK_NAME, RunLock
from maskproof.runtime.train import COMPLETE_NAME, LiveStep, claim_default_run_dir, train
from tests.runtime.train_helpers import (
    ROOT,
    assert_same_tensors,
    cli_env,
    flags,
    load_state,
    maskproof_command,
    run_maskproof,
    small_config,
    write_images,
)

pytestmark = pytest.mark.usefixtures("one_thread")

#: A vector-mae run of a few ms per step: long enough to be stopped mid-run, quick to resume.
LONG = {"batch_size": 8, "hidden_dim": 16, "checkpoint_every": 20, "log_every": 10,
        "device": "cpu"}


def _one_line(stderr: str) -> str:
    assert "Traceback" not in stderr, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    return lines[0]


def _losses(run: Path) -> list[tuple[int, float]]:
    records = map(json.loads, (run / "metrics.jsonl").read_text().splitlines())
    return [(record["step"], record["last_loss"]) for record in records]


def _step(path: Path) -> int:
    try:
        return int(load_checkpoint(path)["step"])
    except Exception:  # not written yet
        return -1


def _start(args: list[str]) -> subprocess.Popen[str]:
    """A real ``maskproof`` process in its own session, with SIGINT at its default (a process
    started from a shell without job control inherits SIGINT ignored)."""
    return subprocess.Popen(
        maskproof_command(*args), cwd=ROOT, env=cli_env(), stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # noqa: PLW1509


def _wait_for_checkpoint(process: subprocess.Popen[str], run: Path, step: int) -> None:
    deadline = time.monotonic() + 240
    while _step(run / CHECKPOINT_NAME) < step:
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "no checkpoint in time"
        time.sleep(0.01)


# 1. Argument parsing -------------------------------------------------------------------------

@pytest.mark.slow
def test_an_abbreviated_flag_is_a_one_line_error(tmp_path: Path) -> None:
    out = tmp_path / "run"
    done = run_maskproof("train", "mae", "--epoch", "1", "--quiet", "--out", str(out))
    assert done.returncode == 2
    assert "--epoch 1" in _one_line(done.stderr)
    assert not out.exists()


def test_no_parser_or_subparser_takes_prefixes(capsys: pytest.CaptureFixture[str]) -> None:
    parser = build_parser()
    assert not parser.allow_abbrev
    (subparsers,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    for name, sub in subparsers.choices.items():
        assert type(sub) is type(parser) and not sub.allow_abbrev, name
    for argv in (["train", "vector-mae", "--ste", "2"], ["probe", "x", "--allow"],
                 ["check", "--examp", "3"]):
        with pytest.raises(SystemExit) as exit_:
            main(argv)
        assert exit_.value.code == 2
        assert "unrecognized arguments" in _one_line(capsys.readouterr().err)


# 2. The run-folder lock ----------------------------------------------------------------------

@pytest.mark.slow
def test_a_second_writer_is_refused_and_a_killed_writers_lock_is_taken_over(
        tmp_path: Path) -> None:
    data, _ = write_images(tmp_path)
    run = tmp_path / "run"
    holder = _start(["train", "vector-mae", *flags(LONG), "--steps", "1000000", "--data",
                     str(data), "--quiet", "--out", str(run)])
    try:
        _wait_for_checkpoint(holder, run, 20)
        lock = json.loads((run / LOCK_NAME).read_text())
        assert lock["pid"] == holder.pid and isinstance(lock["host"], str)
        # A new run on the same --out and a --resume of it, at the same time as the holder.
        others = [subprocess.Popen(maskproof_command(*args), cwd=ROOT, env=cli_env(),
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                  for args in (["train", "vector-mae", "--steps", "2", "--data", str(data),
                                "--quiet", "--out", str(run)],
                               ["train", "vector-mae", "--resume", str(run), "--quiet"])]
        for other in others:
            _, err = other.communicate(timeout=240)
            assert other.returncode == 2, err
            line = _one_line(err)
            assert str(run) in line and f"pid {holder.pid}" in line and "in use" in line
        assert holder.poll() is None  # the holder kept training
    finally:
        holder.kill()
        holder.communicate(timeout=60)
    stale = (run / LOCK_NAME).read_bytes()  # SIGKILL leaves the lock behind
    assert json.loads(stale)["pid"] == holder.pid

    # The killed process's lock, in a stopped run folder: --resume takes it over and finishes.
    stopped = tmp_path / "stopped"
    train(small_config("vector-mae", data, steps=4), out=str(stopped), quiet=True)
    (stopped / COMPLETE_NAME).unlink()
    (stopped / LOCK_NAME).write_bytes(stale)
    done = run_maskproof("train", "vector-mae", "--resume", str(stopped), "--quiet")
    assert done.returncode == 0, done.stderr
    line = _one_line(done.stderr)
    assert "stale lock" in line and f"pid {holder.pid}" in line and str(stopped) in line
    assert (stopped / COMPLETE_NAME).exists() and not (stopped / LOCK_NAME).exists()


@pytest.mark.slow
def test_two_runs_started_together_on_one_new_out_folder(tmp_path: Path) -> None:
    data, _ = write_images(tmp_path)
    run = tmp_path / "run"
    args = ["train", "vector-mae", *flags(LONG), "--steps", "1500", "--data", str(data),
            "--quiet", "--out", str(run)]
    processes = [_start(args) for _ in range(2)]
    results = [(p.wait(timeout=300), p.communicate()[1]) for p in processes]
    codes = sorted(code for code, _ in results)
    assert codes == [0, 2], results
    loser = next(err for code, err in results if code == 2)
    line = _one_line(loser)
    assert str(run) in line and ("in use" in line or "not empty" in line)
    assert (run / COMPLETE_NAME).exists() and not (run / LOCK_NAME).exists()
    assert load_checkpoint(run / CHECKPOINT_NAME)["step"] == 1500


class _Stop:
    """A step check that stops the run at one step with an exception or a failure."""

    def __init__(self, step: int, interrupt: bool) -> None:
        self.step, self.interrupt = step, interrupt

    def due(self, step: int) -> bool:
        return step == self.step

    def __call__(self, live: LiveStep) -> str | None:
        if self.interrupt:
            raise KeyboardInterrupt
        return "made-up disagreement"

    def summary(self) -> str:
        return ""


def test_the_lock_is_released_after_an_interrupt_and_after_an_error(tmp_path: Path) -> None:
    data, _ = write_images(tmp_path)
    config = small_config("vector-mae", data, steps=8, checkpoint_every=2)
    with pytest.raises(RunStopped) as stop:
        train(config, out=str(tmp_path / "a"), quiet=True, checks=(_Stop(3, True),))
    assert stop.value.run_dir == str(tmp_path / "a") and stop.value.step == 2
    assert stop.value.signal_name == "SIGINT"
    assert not (tmp_path / "a" / LOCK_NAME).exists()
    with pytest.raises(StepCheckFailed):
        train(config, out=str(tmp_path / "b"), quiet=True, checks=(_Stop(3, False),))
    assert not (tmp_path / "b" / LOCK_NAME).exists()
    with pytest.raises(StepCheckFailed):
        train(config, resume=str(tmp_path / "b"), quiet=True, checks=(_Stop(5, False),))
    assert not (tmp_path / "b" / LOCK_NAME).exists()
    assert train(config, resume=str(tmp_path / "b"), quiet=True).final_step == 8


def test_a_live_lock_refuses_and_a_foreign_hosts_lock_is_never_taken(tmp_path: Path) -> None:
    with RunLock(tmp_path, "--out"):
        with pytest.raises(UserError, match=f"pid {os.getpid()}"):
            RunLock(tmp_path, "--out").acquire()
    assert not (tmp_path / LOCK_NAME).exists()
    (tmp_path / LOCK_NAME).write_text(json.dumps({"pid": 1, "host": "elsewhere.invalid"}))
    with pytest.raises(UserError, match="pid 1 on elsewhere.invalid"):
        RunLock(tmp_path, "--resume").acquire()
    assert (tmp_path / LOCK_NAME).exists()


def test_default_run_folders_of_one_second_do_not_collide(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    names: list[Path] = []
    workers = [threading.Thread(target=lambda: names.append(
        claim_default_run_dir("mae", tmp_path / "runs", stamp="20260101-000000")))
        for _ in range(6)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert len(set(names)) == 6
    assert tmp_path / "runs" / "mae-20260101-000000" in names
    assert tmp_path / "runs" / "mae-20260101-000000-6" in names
    # Two real runs without --out, same second or not: two folders, both complete.
    data, _ = write_images(tmp_path)
    monkeypatch.chdir(tmp_path)
    config = small_config("vector-mae", data, steps=2)
    first, second = (train(config, quiet=True).run_dir for _ in range(2))
    assert first != second
    assert (first / COMPLETE_NAME).exists() and (second / COMPLETE_NAME).exists()


# 3. SIGINT and SIGTERM -----------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)],
                         ids=["SIGINT", "SIGTERM"])
def test_a_signal_stops_the_run_resumably_with_the_resume_command(
        tmp_path: Path, signum: signal.Signals, code: int) -> None:
    data, _ = write_images(tmp_path)
    run = tmp_path / "run"
    process = _start(["train", "vector-mae", *flags(LONG), "--steps", "3000", "--data",
                      str(data), "--quiet", "--out", str(run)])
    _wait_for_checkpoint(process, run, 40)
    process.send_signal(signum)
    _, err = process.communicate(timeout=120)
    assert process.returncode == code, err
    line = _one_line(err)
    assert f"stopped by {signum.name}" in line
    command = line.split("resumable: ", 1)[1]
    assert command == f"maskproof train vector-mae --resume {shlex.quote(str(run))}"
    stopped_at = load_checkpoint(run / CHECKPOINT_NAME)["step"]
    assert f"last checkpoint: step {stopped_at}" in line and 40 <= stopped_at < 3000, line
    assert not (run / COMPLETE_NAME).exists() and not (run / LOCK_NAME).exists()
    assert not list(run.glob(".*.tmp"))
    resumed = run_maskproof(*shlex.split(command)[1:], "--quiet")
    assert resumed.returncode == 0, resumed.stderr
    assert (run / COMPLETE_NAME).exists()
    assert load_checkpoint(run / CHECKPOINT_NAME)["step"] == 3000


def test_an_interrupt_before_the_folder_exists_says_nothing_is_resumable(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    from maskproof.runtime import train as train_module

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(train_module, "_prepare", interrupted)
    data, _ = write_images(tmp_path)
    status = main(["train", "vector-mae", "--data", str(data), "--quiet", "--out",
                   str(tmp_path / "run")])
    assert status == 130
    line = _one_line(capsys.readouterr().err)
    assert "stopped by SIGINT" in line and "nothing to resume" in line
    assert not (tmp_path / "run").exists()


# 5. A folder stopped before its first checkpoint; stale temporaries ------------------------

def test_a_folder_without_a_checkpoint_restarts_from_step_zero(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data, _ = write_images(tmp_path)
    config = small_config("vector-mae", data, steps=4)
    whole = train(config, out=str(tmp_path / "whole"), quiet=True)
    run = tmp_path / "run"
    shutil.copytree(whole.run_dir, run)
    # As a process killed right after writing config.json and opening metrics.jsonl leaves it,
    # plus a torn checkpoint temporary.
    for name in ("checkpoint.pt", "COMPLETE", "summary.json", "loss_curve.png"):
        (run / name).unlink(missing_ok=True)
    (run / "metrics.jsonl").write_text("")
    (run / ".checkpoint.pt.abc123.tmp").write_bytes(b"torn")
    status = main(["train", "vector-mae", "--resume", str(run), "--quiet"])
    assert status == 0
    line = _one_line(capsys.readouterr().err)
    assert "no checkpoint" in line and "from step 0" in line and str(run) in line
    assert not (run / ".checkpoint.pt.abc123.tmp").exists()
    assert (run / COMPLETE_NAME).exists()
    assert _losses(run) == _losses(whole.run_dir)  # the same run, from step 0
    assert_same_tensors(load_state(run)["model"], load_state(whole.run_dir)["model"])


def test_stale_temporaries_are_removed_when_a_run_resumes(tmp_path: Path) -> None:
    data, _ = write_images(tmp_path)
    config = small_config("vector-mae", data, steps=4)
    run = train(config, out=str(tmp_path / "run"), quiet=True).run_dir
    (run / COMPLETE_NAME).unlink()
    for name in (".checkpoint.pt.x1.tmp", ".metrics.jsonl.x2.tmp"):
        (run / name).write_bytes(b"left by a kill")
    (run / "notes.tmp").write_text("the user's")
    train(config, resume=str(run), quiet=True)
    assert not list(run.glob(".*.tmp"))
    assert (run / "notes.tmp").read_text() == "the user's"


def test_a_folder_whose_checkpoint_was_lost_after_training_is_not_restarted(
        tmp_path: Path) -> None:
    data, _ = write_images(tmp_path)
    config = small_config("vector-mae", data, steps=4)
    run = train(config, out=str(tmp_path / "run"), quiet=True).run_dir
    (run / COMPLETE_NAME).unlink()
    (run / CHECKPOINT_NAME).unlink()
    with pytest.raises(UserError, match="no such file"):
        train(config, resume=str(run), quiet=True)


def test_a_signal_during_a_checkpoint_write_acts_once_it_is_recorded() -> None:
    from maskproof.runtime.train import _signals_deferred

    reached = False
    with pytest.raises(KeyboardInterrupt):
        with _signals_deferred():
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.05)  # the handler would have run by now
            reached = True
    assert reached
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
