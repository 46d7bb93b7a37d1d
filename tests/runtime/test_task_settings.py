"""Task settings reach the model: ``--no-norm-pix-loss`` for MAE, ``--ema-start`` for I-JEPA."""

from __future__ import annotations

import pytest
import torch

from maskproof.runtime.cli import main
from maskproof.runtime.config import resolve_config
from maskproof.runtime.errors import UserError
from maskproof.runtime.tasks import JEPATask, MAETask


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


def test_jepa_defaults_and_ema_start_range() -> None:
    config = resolve_config("jepa", {}, {})
    assert (config.lr, config.ema_start) == (3e-4, 0.9995)
    with pytest.raises(UserError, match=r"--ema-start 1.5: expected a number in \[0, 1\]"):
        resolve_config("jepa", {}, {"ema_start": 1.5})


def test_jepa_first_ema_step_uses_ema_start() -> None:
    task = JEPATask(resolve_config("jepa", {}, {"ema_start": 0.5}), (1, 16, 16))
    model = task.build_model()
    with torch.no_grad():
        for param in model.context_encoder.parameters():
            param.add_(1.0)
    before = {n: p.clone() for n, p in model.target_encoder.named_parameters()}
    online = dict(model.context_encoder.named_parameters())
    task.after_step(model, 0, 10)
    for name, param in model.target_encoder.named_parameters():
        expected = 0.5 * before[name] + 0.5 * online[name]
        assert torch.allclose(param, expected, rtol=0, atol=1e-6), name
