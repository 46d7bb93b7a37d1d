"""False alarms found by auditing correct third-party code: each convention now HOLDS, and the
bug each contract guards against still FAILS.

* ``jepa.optimizer_coverage``: frozen (``requires_grad=False``) parameters are not required to
  be optimized or to move; a module frozen whole, or left out of the optimizer, still fails.
* ``fixed.documented_values``: a sin-cos table evaluated in float32 (a torch port) is within the
  tolerance derived from its dtype; a swapped or perturbed table still fails.
* ``jepa.ema_law``: a schedule that stops past the documented ``ema_horizon`` holds; a wrong
  horizon still fails.
* ``masking.keep_count``: the declared ``mask_floor`` convention is checked exactly; the float
  keep count of ``int(L * (1 - r))`` still fails under the default.
* loss bounds: a bf16 loss of float32 inputs is bounded by float32 operations plus one bf16
  rounding (a correct one holds, one off by 1e-2 fails), and near-constant patches are checked.

Runtime (2 cores): about 20 s.
"""

from __future__ import annotations

import math
from fractions import Fraction

import pytest
import torch
from torch import Tensor, nn

from maskproof.bridge.audit.contracts_fixed import sincos_2d_table, sincos_tolerance
from maskproof.bridge.audit.contracts_masking import RATIOS, expected_masked
from maskproof.bridge.audit.protocols import FixedTensor, SinCos2D
from maskproof.bridge.audit.reference import ReferenceAdapter, ReferenceJEPATrainer
from maskproof.bridge.audit.runner import FAILS, HOLDS, ContractResult, audit
from maskproof.bridge.audit.sizes import TOKEN_COUNTS
from maskproof.bridge.zoo import broken_jepa as J
from maskproof.bridge.zoo import broken_mae as M
from maskproof.runtime import masks as runtime_masks

EXAMPLES = 10


def run(adapter: object, contract: str, examples: int = EXAMPLES) -> ContractResult:
    (result,) = audit(adapter, "conventions", examples, 0, [contract]).results
    return result


def assert_holds(adapter: object, contract: str) -> None:
    result = run(adapter, contract)
    assert result.status == HOLDS, result.detail


def assert_fails(adapter: object, contract: str, needle: str = "") -> ContractResult:
    result = run(adapter, contract)
    assert result.status == FAILS, result.detail
    assert needle in result.detail, result.detail
    return result


# --- 1. jepa.optimizer_coverage: only trainable parameters ----------------------------------


def frozen_table(module: nn.Module, shape: tuple[int, ...]) -> None:
    """A fixed table registered as a frozen ``nn.Parameter`` (as many ports of MAE do)."""
    module.register_parameter("fixed_table", nn.Parameter(torch.ones(shape),
                                                          requires_grad=False))


class FrozenTableTrainer(ReferenceJEPATrainer):
    """Frozen parameters in the context encoder, its EMA copy and the predictor, and in the
    optimizer's groups (PyTorch's optimizers skip a parameter whose grad is None)."""

    frozen_in_optimizer = True

    def __init__(self, seed: int) -> None:
        super().__init__(seed)
        for module in (self.context_encoder, self.target_encoder, self.predictor):
            frozen_table(module, (1, 4, 16))
        self.optimizer = self.build_optimizer()

    def build_optimizer(self) -> torch.optim.Optimizer:
        if not self.frozen_in_optimizer:
            return super().build_optimizer()
        params = [*self.context_encoder.parameters(), *self.predictor.parameters()]
        return torch.optim.AdamW(params, lr=1e-3)


class FrozenTableOutsideTrainer(FrozenTableTrainer):
    frozen_in_optimizer = False


class FrozenTable(ReferenceAdapter):
    trainer_class = FrozenTableTrainer


class FrozenTableOutside(ReferenceAdapter):
    trainer_class = FrozenTableOutsideTrainer


class FrozenPredictorTrainer(ReferenceJEPATrainer):
    def __init__(self, seed: int) -> None:
        super().__init__(seed)
        self.predictor.requires_grad_(False)


class FrozenPredictor(ReferenceAdapter):
    """The predictor frozen whole: no longer 'not required' but the optimizer-coverage bug."""

    trainer_class = FrozenPredictorTrainer


@pytest.mark.parametrize("adapter", [FrozenTable, FrozenTableOutside])
def test_frozen_parameters_need_no_optimizer_step(adapter: type[ReferenceAdapter]) -> None:
    trainer = adapter().jepa_trainer(0)
    frozen = [n for n, p in trainer.context_encoder.named_parameters() if not p.requires_grad]
    assert frozen == ["fixed_table"]
    assert_holds(adapter(), "jepa.optimizer_coverage")


def test_optimizer_coverage_still_catches_missing_and_frozen_modules() -> None:
    assert_fails(J.PredictorNotOptimized(), "jepa.optimizer_coverage", "in no optimizer group")
    assert_fails(FrozenPredictor(), "jepa.optimizer_coverage", "predictor has no trainable")


# --- 2. fixed.documented_values: tolerance from the table's dtype ----------------------------


def float32_port(doc: SinCos2D, exp_form: bool) -> Tensor:
    """``get_2d_sincos_pos_embed`` ported to torch and evaluated in float32 throughout."""
    quarter = doc.dim // 4
    k = torch.arange(quarter, dtype=torch.float32) / quarter
    omega = torch.exp(-math.log(10000.0) * k) if exp_form else 1.0 / 10000**k
    rows, cols = torch.meshgrid(torch.arange(doc.grid_h, dtype=torch.float32),
                                torch.arange(doc.grid_w, dtype=torch.float32), indexing="ij")

    def half(pos: Tensor) -> Tensor:
        angles = pos.reshape(-1)[:, None] * omega[None]
        return torch.cat([angles.sin(), angles.cos()], dim=1)

    table = torch.cat([half(cols), half(rows)], dim=1)
    if doc.cls_token:
        table = torch.cat([torch.zeros(1, doc.dim), table])
    return table


PORT_TABLES = (SinCos2D(32, 2, 3, cls_token=True), SinCos2D(64, 14, 14), SinCos2D(768, 14, 14))


class Float32Port:
    """Sin-cos tables evaluated in float32 (both usual formulas for the frequencies)."""

    perturb = 0.0

    def fixed_tensors(self, seed: int) -> list[FixedTensor]:
        out = []
        for doc in PORT_TABLES:
            for exp_form in (False, True):
                table = float32_port(doc, exp_form)
                table[-1, 1] += self.perturb  # row (grid_h-1, grid_w-1), sin of pos·ω_1
                out.append(FixedTensor(f"table{doc.dim}x{doc.grid_h}:{exp_form}", table, doc))
        return out


class Float32PortPerturbed(Float32Port):
    perturb = 1e-4


def test_float32_sincos_tables_hold() -> None:
    # The constant tolerance 2^-24·|v| + 2^-40 rejected these tables (the false alarm).
    for fixed in Float32Port().fixed_tensors(0):
        assert isinstance(fixed.documented, SinCos2D)
        want = sincos_2d_table(fixed.documented)
        error = (fixed.value.double() - want).abs()
        assert bool((error > 2.0**-24 * want.abs() + 2.0**-40).any()), fixed.name
        tolerance = sincos_tolerance(fixed.documented, torch.float32, want)
        assert bool((error <= tolerance).all()), fixed.name
        # A few ulps at the magnitude of the angles: below 2^-17 everywhere on a 14x14 grid.
        assert float(tolerance.max()) < 2.0**-17
    assert_holds(Float32Port(), "fixed.documented_values")


def test_float64_and_official_tables_get_tighter_tolerances() -> None:
    doc = SinCos2D(64, 14, 14)
    want = sincos_2d_table(doc)
    f64, f32 = sincos_tolerance(doc, torch.float64, want), sincos_tolerance(doc, torch.float32,
                                                                            want)
    assert bool((f64 < f32 * 2.0**-20).all())
    official = want.float().double()  # float64 evaluation, one float32 rounding: well inside
    assert bool(((official - want).abs() <= f32 / 4).all())


def test_sincos_contract_still_catches_wrong_tables() -> None:
    assert_fails(Float32PortPerturbed(), "fixed.documented_values", "allowed difference")
    assert_fails(J.RowColumnSwapped(), "fixed.documented_values")
    assert_fails(J.TrainablePosEmbed(), "fixed.documented_values")


# --- 3. jepa.ema_law: steps within the documented horizon -----------------------------------


class StopsAtHorizonTrainer(ReferenceJEPATrainer):
    """A momentum scheduler that is exhausted after ``ema_horizon`` (the official I-JEPA
    generator yields ``horizon + 1`` values): stepping past it raises."""

    def update_target(self, step: int) -> None:
        if step > self.ema_horizon:
            raise StopIteration(f"momentum scheduler exhausted at step {step}")
        super().update_target(step)


class StopsAtHorizon(ReferenceAdapter):
    trainer_class = StopsAtHorizonTrainer


def test_schedule_that_stops_past_the_horizon_holds() -> None:
    assert_holds(StopsAtHorizon(), "jepa.ema_law")


def test_ema_law_still_catches_a_wrong_horizon_and_no_update() -> None:
    assert_fails(J.EMAHorizonWrong(), "jepa.ema_law", "documented m")
    assert_fails(J.EMANeverCalled(), "jepa.ema_law", "documented m")


# --- 4. masking.keep_count: declared convention, checked exactly ----------------------------


class MaskFloor(ReferenceAdapter):
    """``num_masked = int(masking_ratio * num_patches)`` (lucidrains/vit-pytorch's MAE)."""

    keep_count_convention = "mask_floor"

    def random_masking(self, x: Tensor, mask_ratio: float,
                       generator: torch.Generator) -> tuple[Tensor, Tensor, Tensor]:
        masked = int(mask_ratio * x.shape[1])
        out = runtime_masks.random_masking(x, x.shape[1] - masked, generator)
        return out.x_kept, out.mask_removed, out.ids_restore


class MaskFloorUndeclared(MaskFloor):
    keep_count_convention = "keep_floor"


class KeepFloorDeclaredMaskFloor(ReferenceAdapter):
    keep_count_convention = "mask_floor"


class UnknownConvention(ReferenceAdapter):
    keep_count_convention = "mask_round"


def test_expected_counts_of_both_conventions() -> None:
    # N = 25, r = 0.8: both conventions mask 20; N = 3, r = 0.75: 3 (keep_floor) vs 2.
    assert expected_masked(25, "0.8") == expected_masked(25, "0.8", "mask_floor") == 20
    assert (expected_masked(3, "0.75"), expected_masked(3, "0.75", "mask_floor")) == (3, 2)
    # r is read exactly as written: 0.6 is 3/5 (its binary64 value is below 3/5).
    assert Fraction(0.6) * 5 < 3 and expected_masked(5, 0.6, "mask_floor") == 3
    for ratio in RATIOS:
        for tokens in TOKEN_COUNTS:
            want = math.floor(tokens * Fraction(ratio))
            assert expected_masked(tokens, ratio, "mask_floor") == want


def test_declared_mask_floor_holds_and_is_checked_exactly() -> None:
    assert_holds(MaskFloor(), "masking.keep_count")
    assert_fails(MaskFloorUndeclared(), "masking.keep_count", "keep_floor")
    assert_fails(KeepFloorDeclaredMaskFloor(), "masking.keep_count", "floor(N r)")
    assert_fails(UnknownConvention(), "masking.keep_count", "unknown keep_count_convention")


def test_float_keep_count_still_fails_under_the_default() -> None:
    assert int(25 * (1 - 0.8)) == 4 and expected_masked(25, "0.8") == 20  # keep 5, not 4
    assert_fails(M.FloatKeepCount(), "masking.keep_count", "N - floor(N(1-r))")


# --- 5. a bf16 loss of float32 inputs -------------------------------------------------------


class Bf16Loss(ReferenceAdapter):
    """The reference loss computed at its inputs' float32 and returned in bf16."""

    factor = 1.0

    def loss(self, images: Tensor, pred: Tensor, mask: Tensor) -> Tensor:
        return (super().loss(images, pred, mask) * self.factor).to(torch.bfloat16)


class Bf16LossOffByOnePercent(Bf16Loss):
    factor = 1.01


class Bf16LossRaw(Bf16Loss):
    norm_pix_loss = False

    def loss(self, images: Tensor, pred: Tensor, mask: Tensor) -> Tensor:
        target = self.mae.patchify(images)
        per_patch = (pred - target).pow(2).mean(dim=-1)
        value = (per_patch * mask).sum() / mask.sum()
        return (value * self.factor).to(torch.bfloat16)


class Bf16LossRawOffByOnePercent(Bf16LossRaw):
    factor = 0.99


@pytest.mark.parametrize("contract", ["loss.equals_spec", "loss.norm_pix_convention",
                                      "loss.masked_order_invariant"])
def test_bf16_loss_of_float32_inputs_holds(contract: str) -> None:
    assert_holds(Bf16Loss(), contract)


def test_bf16_raw_loss_holds() -> None:
    assert_holds(Bf16LossRaw(), "loss.equals_spec")


@pytest.mark.parametrize("adapter", [Bf16LossOffByOnePercent, Bf16LossRawOffByOnePercent])
def test_bf16_loss_off_by_one_percent_fails(adapter: type[ReferenceAdapter]) -> None:
    assert_fails(adapter(), "loss.equals_spec", "OUTSIDE bound")
