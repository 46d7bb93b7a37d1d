"""Executable checks of the theorems of ``NN.MLTheory.SelfSupervised.Masking``.

Each check takes the theorem's universally quantified variables, with ``perPatchLoss`` as a
length-``n`` table of naturals so that CrossHair can explore it, and returns whether the statement
holds. The binders' types appear as ``pre:`` conditions, and so do the hypotheses, each tagged with
its Lean binder and also tested by the check (``HypothesisNotMet``, see ``spec.registry``);
``post: __return__`` asks CrossHair to prove the statement for every input meeting them (within
its bounds).
"""

from __future__ import annotations

from maskproof.spec.masking import all_mask, complement, empty_mask, masked_loss, selected
from maskproof.spec.registry import require_hypothesis, theorem


@theorem("allMask_selected")
def allMask_selected(n: int, i: int) -> bool:
    """``selected (allMask n) i``.

    pre: 0 <= i < n
    post: __return__
    """
    return selected(n, all_mask(n), i)


@theorem("emptyMask_not_selected")
def emptyMask_not_selected(n: int, i: int) -> bool:
    """``¬ selected (emptyMask n) i``.

    pre: 0 <= i < n
    post: __return__
    """
    return not selected(n, empty_mask(n), i)


@theorem("complement_selected_iff")
def complement_selected_iff(n: int, m: list[bool], i: int) -> bool:
    """``selected (complement m) i ↔ ¬ selected m i``.

    pre: 0 <= i < n
    pre: len(m) == n
    post: __return__
    """
    return selected(n, complement(n, m), i) == (not selected(n, m, i))


@theorem("maskedLoss_nil")
def maskedLoss_nil(n: int, losses: list[int]) -> bool:
    """``maskedLoss [] perPatchLoss = 0``.

    pre: n >= 0
    pre: len(losses) == n and all(v >= 0 for v in losses)
    post: __return__
    """
    return masked_loss(n, [], losses) == 0


@theorem("maskedLoss_cons")
def maskedLoss_cons(n: int, i: int, idxs: list[int], losses: list[int]) -> bool:
    """``maskedLoss (i :: idxs) f = f i + maskedLoss idxs f``.

    pre: 0 <= i < n
    pre: all(0 <= j < n for j in idxs)
    pre: len(losses) == n and all(v >= 0 for v in losses)
    post: __return__
    """
    return masked_loss(n, [i, *idxs], losses) == losses[i] + masked_loss(n, idxs, losses)


@theorem("maskedLoss_append")
def maskedLoss_append(n: int, xs: list[int], ys: list[int], losses: list[int]) -> bool:
    """``maskedLoss (xs ++ ys) f = maskedLoss xs f + maskedLoss ys f``.

    pre: n >= 0
    pre: all(0 <= j < n for j in xs) and all(0 <= j < n for j in ys)
    pre: len(losses) == n and all(v >= 0 for v in losses)
    post: __return__
    """
    both = masked_loss(n, xs, losses) + masked_loss(n, ys, losses)
    return masked_loss(n, xs + ys, losses) == both


@theorem("maskedLoss_reverse")
def maskedLoss_reverse(n: int, idxs: list[int], losses: list[int]) -> bool:
    """``maskedLoss idxs.reverse f = maskedLoss idxs f``.

    pre: n >= 0
    pre: all(0 <= j < n for j in idxs)
    pre: len(losses) == n and all(v >= 0 for v in losses)
    post: __return__
    """
    return masked_loss(n, idxs[::-1], losses) == masked_loss(n, idxs, losses)


@theorem("maskedLoss_eq_zero_of_all_zero")
def maskedLoss_eq_zero_of_all_zero(n: int, idxs: list[int], losses: list[int]) -> bool:
    """``(∀ i ∈ idxs, f i = 0) → maskedLoss idxs f = 0``.

    pre: n >= 0
    pre: all(0 <= j < n for j in idxs)
    pre: len(losses) == n and all(v >= 0 for v in losses)
    pre: all(losses[j] == 0 for j in idxs)  # h : ∀ i ∈ idxs, perPatchLoss i = 0
    post: __return__
    """
    total = masked_loss(n, idxs, losses)  # checks n, idxs and losses before the hypothesis
    require_hypothesis(all(losses[j] == 0 for j in idxs), "maskedLoss_eq_zero_of_all_zero", "h",
                       "∀ i ∈ idxs, perPatchLoss i = 0", (idxs, losses))
    return total == 0
