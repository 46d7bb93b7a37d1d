"""``--no-norm-pix-loss`` reaches the MAE model; the config file takes only booleans for it."""

from __future__ import annotations

import pytest

from runtime.cli import main
from runtime.config import resolve_config
from runtime.errors import UserError
from runtime.tasks import MAETask


@pytest.mark.parametrize(("flags", "expected"), [({}, True), ({"norm_pix_loss": False}, False)])
def test_norm_pix_setting_reaches_the_model(flags: dict[str, object], expected: bool) -> None:
    config = resolve_config("mae", {}, flags)
    assert config.norm_pix_loss is expected
    assert MAETask(config, (1, 16, 16)).model_config.norm_pix_loss is expected


def test_config_file_norm_pix_must_be_boolean() -> None:
    with pytest.raises(UserError, match="`norm_pix_loss` must be true or false, got 'no'"):
        resolve_config("mae", {"norm_pix_loss": "no"}, {})


def test_flag_parses_both_ways(tmp_path: object, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["train", "mae", "--norm-pix-loss=yes"])
    assert stopped.value.code == 2
    assert "--norm-pix-loss" in capsys.readouterr().err
