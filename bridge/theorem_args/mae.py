"""Argument strategies for ``spec.theorems.mae``.

Patches and predictions live in finite types ``Fin p`` and ``Fin q`` (``p, q ≤ 4``) so the loss
``patchLoss`` is a ``p × q`` table; ``p = 0`` or ``q = 0`` is reachable whenever ``n = 0``.
"""

from __future__ import annotations

from hypothesis import strategies as st

from maskproof.bridge.theorem_args import Arguments, ArgumentStrategy, arguments_for
from maskproof.bridge.theorem_args.common import fin_lists, nat_tables, pixels, sizes

#: Largest finite patch, prediction, context or representation type the strategies draw.
MAX_TYPE = 4


def type_sizes(n: int) -> st.SearchStrategy[int]:
    """Size of a finite value type indexed by ``Fin n``: empty only when nothing indexes it."""
    return st.integers(min_value=1 if n > 0 else 0, max_value=MAX_TYPE)


def fin_tables(length: int, bound: int) -> st.SearchStrategy[list[int]]:
    """A ``Fin length → Fin bound`` table (``bound ≥ 1`` whenever ``length ≥ 1``)."""
    if length == 0:
        return st.just([])
    return st.lists(st.integers(0, bound - 1), min_size=length, max_size=length)


def nat_matrices(rows: int, cols: int) -> st.SearchStrategy[list[list[int]]]:
    """A ``Fin rows → Fin cols → Nat`` table, zeros frequent."""
    return st.lists(nat_tables(cols), min_size=rows, max_size=rows)


@st.composite
def mae_arguments(draw: st.DrawFn, lists: tuple[str, ...] = ("idxs",)) -> Arguments:
    """``n``, index lists named ``lists``, ``target``, ``pred`` and the ``patch_loss`` table."""
    n = draw(sizes)
    p, q = draw(type_sizes(n)), draw(type_sizes(n))
    args: Arguments = {"n": n, "target": draw(fin_tables(n, p)), "pred": draw(fin_tables(n, q)),
                       "patch_loss": draw(nat_matrices(p, q))}
    for name in lists:
        args[name] = draw(fin_lists(n))
    return args


@arguments_for("maeLoss_nil")
def _nil() -> ArgumentStrategy:
    return mae_arguments(())


@arguments_for("maeLoss_append")
def _append() -> ArgumentStrategy:
    return mae_arguments(("xs", "ys"))


@arguments_for("maeLoss_reverse")
def _reverse() -> ArgumentStrategy:
    return mae_arguments()


@arguments_for("maeLoss_eq_zero_of_patch_losses_zero")
def _eq_zero() -> ArgumentStrategy:
    def zero_on_listed(args: Arguments) -> Arguments:
        table = [list(row) for row in args["patch_loss"]]
        for i in args["idxs"]:
            table[args["target"][i]][args["pred"][i]] = 0
        return {**args, "patch_loss": table}
    return mae_arguments().map(zero_on_listed)


@arguments_for("exactReconstruction_identity")
def _identity() -> ArgumentStrategy:
    @st.composite
    def build(draw: st.DrawFn) -> Arguments:
        n = draw(sizes)
        return {"n": n, "x": draw(st.lists(pixels, min_size=n, max_size=n))}
    return build()
