"""Executable checks of the theorems of ``NN.MLTheory.SelfSupervised.JEPA``.

Finite instance for CrossHair: ``Context = Fin c``, ``Target = Fin t``, ``Pred = Fin q``.
``predict : Context → Fin n → Pred`` is a ``c × n`` table (``predict[context][i]``), ``repLoss`` a
``t × q`` table of naturals and ``target`` a length-``n`` table of ``Fin t``.
"""

from __future__ import annotations

from collections.abc import Callable

# columns, is_fin_table, is_nat_matrix: read by the docstrings' pre: conditions (CrossHair).
from maskproof.spec.finite_functions import (  # noqa: F401
    columns,
    is_fin_table,
    is_nat_matrix,
    table_function2,
)
from maskproof.spec.jepa import jepa_loss
from maskproof.spec.registry import require_hypothesis, theorem


def predictor_function(predict: list[list[int]]) -> Callable[[int, int], int]:
    """``predict : Fin c → Fin n → Fin q`` read from its table."""
    return table_function2(predict, "jepaLoss", "predict")


def rep_loss_function(rep_loss: list[list[int]]) -> Callable[[int, int], int]:
    """``repLoss : Fin t → Fin q → Nat`` read from its table."""
    return table_function2(rep_loss, "jepaLoss", "repLoss")


def is_predictor_table(predict: list[list[int]], context: int, n: int, q: int) -> bool:
    """Whether ``predict`` is a ``Fin c → Fin n → Fin q`` table and ``context`` a ``Fin c``."""
    return 0 <= context < len(predict) and all(is_fin_table(row, n, q) for row in predict)


@theorem("jepaLoss_nil")
def jepaLoss_nil(n: int, context: int, target: list[int], predict: list[list[int]],
                 rep_loss: list[list[int]]) -> bool:
    """``jepaLoss [] context target predict repLoss = 0``.

    pre: n >= 0
    pre: is_nat_matrix(rep_loss)
    pre: is_fin_table(target, n, len(rep_loss))
    pre: is_predictor_table(predict, context, n, columns(rep_loss))
    post: __return__
    """
    return jepa_loss(n, [], context, target, predictor_function(predict),
                     rep_loss_function(rep_loss)) == 0


@theorem("jepaLoss_append")
def jepaLoss_append(n: int, xs: list[int], ys: list[int], context: int, target: list[int],
                    predict: list[list[int]], rep_loss: list[list[int]]) -> bool:
    """``jepaLoss (xs ++ ys) … = jepaLoss xs … + jepaLoss ys …``.

    pre: n >= 0
    pre: all(0 <= i < n for i in xs) and all(0 <= i < n for i in ys)
    pre: is_nat_matrix(rep_loss)
    pre: is_fin_table(target, n, len(rep_loss))
    pre: is_predictor_table(predict, context, n, columns(rep_loss))
    post: __return__
    """
    p, r = predictor_function(predict), rep_loss_function(rep_loss)
    return (jepa_loss(n, xs + ys, context, target, p, r)
            == jepa_loss(n, xs, context, target, p, r) + jepa_loss(n, ys, context, target, p, r))


@theorem("jepaLoss_reverse")
def jepaLoss_reverse(n: int, idxs: list[int], context: int, target: list[int],
                     predict: list[list[int]], rep_loss: list[list[int]]) -> bool:
    """``jepaLoss idxs.reverse … = jepaLoss idxs …``.

    pre: n >= 0
    pre: all(0 <= i < n for i in idxs)
    pre: is_nat_matrix(rep_loss)
    pre: is_fin_table(target, n, len(rep_loss))
    pre: is_predictor_table(predict, context, n, columns(rep_loss))
    post: __return__
    """
    p, r = predictor_function(predict), rep_loss_function(rep_loss)
    return (jepa_loss(n, idxs[::-1], context, target, p, r)
            == jepa_loss(n, idxs, context, target, p, r))


@theorem("jepaLoss_target_ext")
def jepaLoss_target_ext(n: int, idxs: list[int], context: int, target1: list[int],
                        target2: list[int], predict: list[list[int]],
                        rep_loss: list[list[int]]) -> bool:
    """``(∀ i ∈ idxs, target₁ i = target₂ i) → jepaLoss … target₁ … = jepaLoss … target₂ …``.

    The two target branches may differ anywhere off the listed indices.

    pre: n >= 0
    pre: all(0 <= i < n for i in idxs)
    pre: is_nat_matrix(rep_loss)
    pre: is_fin_table(target1, n, len(rep_loss)) and is_fin_table(target2, n, len(rep_loss))
    pre: is_predictor_table(predict, context, n, columns(rep_loss))
    pre: all(target1[i] == target2[i] for i in idxs)  # h : ∀ i ∈ idxs, target₁ i = target₂ i
    post: __return__
    """
    p, r = predictor_function(predict), rep_loss_function(rep_loss)
    loss1 = jepa_loss(n, idxs, context, target1, p, r)  # checks the tables before the hypothesis
    loss2 = jepa_loss(n, idxs, context, target2, p, r)
    require_hypothesis(all(target1[i] == target2[i] for i in idxs), "jepaLoss_target_ext", "h",
                       "∀ i ∈ idxs, target₁ i = target₂ i", (idxs, target1, target2))
    return loss1 == loss2
