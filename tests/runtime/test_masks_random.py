"""MAE random masking: exact keep counts, permutation invariants, polarity, seeding, no global RNG.
"""

from __future__ import annotations

import math
from fractions import Fraction

import pytest
import torch

from maskproof.runtime.masks import mae_keep_count, parse_mask_ratio, random_masking


def seeded(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# --- the keep count ------------------------------------------------------------------------


def test_float_arithmetic_keeps_19_of_100_but_the_exact_rule_keeps_20() -> None:
    assert int(100 * (1 - 0.8)) == 19  # 1 - 0.8 == 0.19999999999999996 in binary64
    assert mae_keep_count(100, 0.8) == 20
    assert mae_keep_count(100, "0.8") == 20
    assert mae_keep_count(100, Fraction(4, 5)) == 20


def test_paper_default_keeps_49_of_196() -> None:
    assert mae_keep_count(196, 0.75) == 49
    assert mae_keep_count(196, "3/4") == 49


@pytest.mark.parametrize("ratio_text", ["0", "0.1", "0.2", "0.3", "0.4", "0.5", "0.6", "0.7",
                                        "0.75", "0.8", "0.9", "0.95", "0.99", "1/3", "2/3"])
def test_keep_count_is_exact_floor_for_many_sizes(ratio_text: str) -> None:
    exact = Fraction(ratio_text)
    as_float = float(exact) if "/" not in ratio_text else None
    for n in range(0, 300):
        # floor(n * (1 - r)) via integer arithmetic on numerator and denominator.
        expected = (n * (exact.denominator - exact.numerator)) // exact.denominator
        assert mae_keep_count(n, ratio_text) == expected
        if as_float is not None:
            assert mae_keep_count(n, as_float) == expected


def test_float_rule_disagrees_somewhere_for_common_ratios() -> None:
    # Witnesses that the exact rule matters: the binary64 formula is one short on these.
    wrong = [(n, r) for r in (0.7, 0.8, 0.9) for n in range(1, 200)
             if int(n * (1 - r)) != mae_keep_count(n, r)]
    assert (100, 0.8) in wrong
    assert all(int(n * (1 - r)) == mae_keep_count(n, r) - 1 for n, r in wrong)


def test_parse_mask_ratio_reads_what_was_written() -> None:
    assert parse_mask_ratio(0.8) == Fraction(4, 5)
    assert parse_mask_ratio(" 0.75 ") == Fraction(3, 4)
    assert parse_mask_ratio("7/10") == Fraction(7, 10)
    assert parse_mask_ratio(0) == 0
    np = pytest.importorskip("numpy", reason="numpy is a project dependency; guard only")
    assert parse_mask_ratio(np.float64(0.8)) == Fraction(4, 5)


@pytest.mark.parametrize("bad", [1, 1.0, "1", -0.1, "-0.5", 1.5, float("nan"), float("inf"),
                                 "abc", "1/0", True, None, [0.5]])
def test_bad_ratios_are_rejected_naming_the_value(bad: object) -> None:
    with pytest.raises(ValueError) as info:
        parse_mask_ratio(bad)  # type: ignore[arg-type]
    assert "mask ratio" in str(info.value) and repr(bad) in str(info.value)
    assert "\n" not in str(info.value)


# --- the masking itself --------------------------------------------------------------------


@pytest.mark.parametrize(("n", "ratio"), [(100, "0.8"), (196, "0.75"), (7, "0.5"), (16, "0"),
                                          (1, "0.5"), (49, "0.9")])
def test_invariants(n: int, ratio: str) -> None:
    batch, dim = 6, 3
    keep = mae_keep_count(n, ratio)
    x = torch.randn(batch, n, dim, generator=seeded(1))
    out = random_masking(x, keep, seeded(2))
    assert out.x_kept.shape == (batch, keep, dim)
    assert out.mask_removed.shape == (batch, n) and out.ids_restore.shape == (batch, n)
    assert out.ids_keep.shape == (batch, keep)
    # ids_restore is a permutation; its inverse is the shuffle, whose prefix is ids_keep.
    ids_shuffle = torch.argsort(out.ids_restore, dim=1)
    assert torch.equal(torch.sort(out.ids_restore, dim=1).values,
                       torch.arange(n).expand(batch, n))
    assert torch.equal(torch.gather(ids_shuffle, 1, out.ids_restore),
                       torch.arange(n).expand(batch, n))
    assert torch.equal(ids_shuffle[:, :keep], out.ids_keep)
    # Kept tokens are the gathered inputs, bit for bit.
    for b in range(batch):
        assert torch.equal(out.x_kept[b], x[b, out.ids_keep[b]])
    # Polarity: exactly n - keep tokens removed per sample, and never a kept one.
    assert torch.equal(out.mask_removed.sum(dim=1), torch.full((batch,), float(n - keep)))
    kept_flags = torch.gather(out.mask_removed, 1, out.ids_keep)
    assert torch.equal(kept_flags, torch.zeros(batch, keep))
    assert set(out.mask_removed.flatten().tolist()) <= {0.0, 1.0}
    # Restoring a full shuffled sequence gives back x (the decoder's unshuffle).
    shuffled = torch.gather(x, 1, ids_shuffle.unsqueeze(-1).expand(batch, n, dim))
    restored = torch.gather(shuffled, 1, out.ids_restore.unsqueeze(-1).expand(batch, n, dim))
    assert torch.equal(restored, x)


def test_shuffle_is_the_stable_argsort_of_the_generator_noise() -> None:
    x = torch.zeros(3, 10, 2)
    out = random_masking(x, 4, seeded(7))
    noise = torch.rand(3, 10, generator=seeded(7))
    assert torch.equal(torch.argsort(out.ids_restore, dim=1),
                       torch.argsort(noise, dim=1, stable=True))


def test_same_seed_same_masks_and_different_seed_different_masks() -> None:
    x = torch.randn(8, 50, 4)
    first = random_masking(x, 12, seeded(3))
    second = random_masking(x, 12, seeded(3))
    other = random_masking(x, 12, seeded(4))
    assert torch.equal(first.mask_removed, second.mask_removed)
    assert torch.equal(first.ids_restore, second.ids_restore)
    assert not torch.equal(first.ids_restore, other.ids_restore)


def test_global_rng_state_is_untouched() -> None:
    x = torch.randn(4, 20, 3)
    before = torch.get_rng_state()
    random_masking(x, 5, seeded(0))
    random_masking(x, 5)  # no generator: a private OS-seeded one, not the global RNG
    assert torch.equal(torch.get_rng_state(), before)


def test_batch_of_many_equals_successive_batches_of_one() -> None:
    n, keep = 30, 9
    x = torch.randn(5, n, 2)
    together = random_masking(x, keep, seeded(11))
    rng = seeded(11)
    for b in range(5):
        alone = random_masking(x[b : b + 1], keep, rng)
        assert torch.equal(alone.ids_restore[0], together.ids_restore[b])
        assert torch.equal(alone.x_kept[0], together.x_kept[b])
    # A sample's mask does not depend on the other samples' contents.
    y = x.clone()
    y[1:] = torch.randn(4, n, 2)
    assert torch.equal(random_masking(y, keep, seeded(11)).mask_removed[0],
                       together.mask_removed[0])


def test_masks_are_independent_across_samples() -> None:
    # Over many samples, each token is removed with probability (n - keep) / n, and two samples'
    # masks agree on a token as often as independence predicts (not always, as with one mask).
    n, keep, batch = 20, 5, 4000
    out = random_masking(torch.zeros(batch, n, 1), keep, seeded(5))
    removed = out.mask_removed
    p = (n - keep) / n
    per_token = removed.mean(dim=0)
    assert torch.all((per_token - p).abs() < 5 * math.sqrt(p * (1 - p) / batch))
    agree = (removed[0::2] == removed[1::2]).float().mean().item()
    expected_agree = p * p + (1 - p) * (1 - p)
    assert abs(agree - expected_agree) < 0.02
    assert len({tuple(row.tolist()) for row in out.ids_keep}) > batch * 0.99


def test_mask_dtype_follows_floating_inputs() -> None:
    assert random_masking(torch.zeros(1, 4, 1, dtype=torch.float64), 2).mask_removed.dtype == \
        torch.float64
    assert random_masking(torch.zeros(1, 4, 1, dtype=torch.long), 2).mask_removed.dtype == \
        torch.float32


def test_keep_all_and_keep_none() -> None:
    x = torch.randn(2, 6, 3)
    everything = random_masking(x, 6, seeded(0))
    assert not everything.mask_removed.any()
    nothing = random_masking(x, 0, seeded(0))
    assert nothing.x_kept.shape == (2, 0, 3) and bool(nothing.mask_removed.all())


@pytest.mark.parametrize(
    ("x", "keep", "message"),
    [
        (torch.zeros(2, 5), 1, "3-D tensor [batch, tokens, dim]"),
        (torch.zeros(2, 5, 3), 6, "keep_count must be <= the number of tokens 5, got 6"),
        (torch.zeros(2, 5, 3), -1, "keep_count must be a non-negative int, got -1"),
    ],
)
def test_bad_arguments(x: torch.Tensor, keep: int, message: str) -> None:
    with pytest.raises(ValueError) as info:
        random_masking(x, keep, seeded(0))
    assert message in str(info.value)


def test_bad_generator_is_rejected() -> None:
    with pytest.raises(ValueError, match="generator must be a torch.Generator"):
        random_masking(torch.zeros(1, 3, 1), 1, 42)  # type: ignore[arg-type]


# --- the noise / mask split ----------------------------------------------------------------


def test_random_masking_is_the_mask_of_its_own_noise() -> None:
    from maskproof.runtime.masks import masking_noise, random_masking_from_noise

    x = torch.randn(5, 16, 3)
    drawn = random_masking(x, 4, seeded(21))
    given = random_masking_from_noise(x, 4, masking_noise(5, 16, seeded(21)))
    for a, b in zip(drawn, given, strict=True):
        assert torch.equal(a, b)


@pytest.mark.parametrize("shape", [(5, 15), (4, 16), (5,)])
def test_noise_of_the_wrong_shape_is_refused_naming_the_shape(shape: tuple[int, ...]) -> None:
    from maskproof.runtime.masks import random_masking_from_noise

    with pytest.raises(ValueError, match=r"noise must be a float tensor of shape \[5, 16\]"):
        random_masking_from_noise(torch.zeros(5, 16, 2), 4, torch.rand(shape))


def test_integer_noise_is_refused() -> None:
    from maskproof.runtime.masks import random_masking_from_noise

    with pytest.raises(ValueError, match="got torch.int64"):
        random_masking_from_noise(torch.zeros(2, 4, 1), 1, torch.zeros(2, 4, dtype=torch.long))


def test_a_refused_keep_count_draws_no_noise() -> None:
    generator = seeded(8)
    with pytest.raises(ValueError, match="keep_count must be <= the number of tokens 4, got 5"):
        random_masking(torch.zeros(2, 4, 1), 5, generator)
    assert torch.equal(torch.rand(3, generator=generator), torch.rand(3, generator=seeded(8)))
