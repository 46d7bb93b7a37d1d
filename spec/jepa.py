"""Mirror of ``NN.MLTheory.SelfSupervised.JEPA``: the joint-embedding predictive loss.

``Context``, ``Target`` and ``Pred`` are type parameters. ``predict : Context → Fin n → Pred`` and
``repLoss : Target → Pred → Nat`` are callables; ``target : Fin n → Target`` is a length-``n``
table or a callable, as in ``spec.masking``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from maskproof.spec.finite_functions import require_fin_function
from maskproof.spec.lean import (
    Exact,
    require_exact,
    require_fin_list,
    require_function,
    require_nat,
)
from maskproof.spec.masking import FinFunction, fin_value, masked_loss
from maskproof.spec.registry import mirrors

Context = TypeVar("Context")
Target = TypeVar("Target")
Pred = TypeVar("Pred")


@mirrors("jepaLoss")
def jepa_loss(n: int, target_idxs: Sequence[int], context: Context, target: FinFunction[Target],
              predict: Callable[[Context, int], Pred],
              rep_loss: Callable[[Target, Pred], Exact]) -> Exact:
    """Lean ``jepaLoss targetIdxs context target predict repLoss``.

    ``maskedLoss targetIdxs (fun i => repLoss (target i) (predict context i))``, summed through
    ``spec.masking.masked_loss``. The target branch enters only as values at the listed indices,
    which is the objective-level meaning of stop-gradient (``jepaLoss_target_ext``).
    """
    require_nat(n, "jepaLoss", "n")
    require_fin_list(target_idxs, n, "jepaLoss", "targetIdxs")
    require_fin_function(target, n, "jepaLoss", "target")
    require_function(predict, "jepaLoss", "predict")
    require_function(rep_loss, "jepaLoss", "repLoss")

    def per_index(i: int) -> Exact:
        loss = rep_loss(fin_value(target, i), predict(context, i))
        return require_exact(loss, "jepaLoss", "repLoss")

    return masked_loss(n, target_idxs, per_index)
