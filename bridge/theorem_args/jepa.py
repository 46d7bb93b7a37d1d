"""Argument strategies for ``spec.theorems.jepa``.

``Context = Fin c`` (``c ≥ 1``, a context value must exist), ``Target = Fin t``, ``Pred = Fin q``.
"""

from __future__ import annotations

from hypothesis import strategies as st

from maskproof.bridge.theorem_args import Arguments, ArgumentStrategy, arguments_for
from maskproof.bridge.theorem_args.common import fin_lists, sizes
from maskproof.bridge.theorem_args.mae import MAX_TYPE, fin_tables, nat_matrices, type_sizes


@st.composite
def jepa_arguments(draw: st.DrawFn, lists: tuple[str, ...] = ("idxs",)) -> Arguments:
    """``n``, index lists, ``context``, ``target``, ``predict`` and ``rep_loss`` tables."""
    n = draw(sizes)
    c = draw(st.integers(1, MAX_TYPE))
    t, q = draw(type_sizes(n)), draw(type_sizes(n))
    args: Arguments = {
        "n": n, "context": draw(st.integers(0, c - 1)), "target": draw(fin_tables(n, t)),
        "predict": draw(st.lists(fin_tables(n, q), min_size=c, max_size=c)),
        "rep_loss": draw(nat_matrices(t, q)),
    }
    for name in lists:
        args[name] = draw(fin_lists(n))
    return args


@arguments_for("jepaLoss_nil")
def _nil() -> ArgumentStrategy:
    return jepa_arguments(())


@arguments_for("jepaLoss_append")
def _append() -> ArgumentStrategy:
    return jepa_arguments(("xs", "ys"))


@arguments_for("jepaLoss_reverse")
def _reverse() -> ArgumentStrategy:
    return jepa_arguments()


@arguments_for("jepaLoss_target_ext")
def _target_ext() -> ArgumentStrategy:
    @st.composite
    def build(draw: st.DrawFn) -> Arguments:
        args = draw(jepa_arguments())
        target1 = args.pop("target")
        # A second branch that may differ anywhere, then agrees on every listed index.
        target2 = list(draw(fin_tables(args["n"], len(args["rep_loss"]))))
        for i in args["idxs"]:
            target2[i] = target1[i]
        return {**args, "target1": target1, "target2": target2}
    return build()
