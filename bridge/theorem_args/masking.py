"""Argument strategies for ``spec.theorems.masking``."""

from __future__ import annotations

from hypothesis import strategies as st

from maskproof.bridge.theorem_args import Arguments, ArgumentStrategy, arguments_for
from maskproof.bridge.theorem_args.common import MAX_SIZE, fin_lists, nat_tables, sizes

positive_sizes = st.integers(min_value=1, max_value=MAX_SIZE)


@st.composite
def _size_and_index(draw: st.DrawFn) -> Arguments:
    n = draw(positive_sizes)
    return {"n": n, "i": draw(st.integers(min_value=0, max_value=n - 1))}


@arguments_for("allMask_selected")
def _all_mask() -> ArgumentStrategy:
    return _size_and_index()


@arguments_for("emptyMask_not_selected")
def _empty_mask() -> ArgumentStrategy:
    return _size_and_index()


@arguments_for("complement_selected_iff")
def _complement() -> ArgumentStrategy:
    @st.composite
    def build(draw: st.DrawFn) -> Arguments:
        base = draw(_size_and_index())
        base["m"] = draw(st.lists(st.booleans(), min_size=base["n"], max_size=base["n"]))
        return base
    return build()


@st.composite
def _losses(draw: st.DrawFn, lists: int) -> Arguments:
    n = draw(sizes)
    args: Arguments = {"n": n, "losses": draw(nat_tables(n))}
    for name in ("idxs", "xs", "ys")[:lists]:
        args[name] = draw(fin_lists(n))
    return args


@arguments_for("maskedLoss_nil")
def _nil() -> ArgumentStrategy:
    return _losses(0)


@arguments_for("maskedLoss_cons")
def _cons() -> ArgumentStrategy:
    @st.composite
    def build(draw: st.DrawFn) -> Arguments:
        n = draw(positive_sizes)
        return {"n": n, "i": draw(st.integers(0, n - 1)), "idxs": draw(fin_lists(n)),
                "losses": draw(nat_tables(n))}
    return build()


@arguments_for("maskedLoss_append")
def _append() -> ArgumentStrategy:
    return _losses(3).map(lambda a: {k: v for k, v in a.items() if k != "idxs"})


@arguments_for("maskedLoss_reverse")
def _reverse() -> ArgumentStrategy:
    return _losses(1)


@arguments_for("maskedLoss_eq_zero_of_all_zero")
def _eq_zero() -> ArgumentStrategy:
    def zero_on_idxs(args: Arguments) -> Arguments:
        losses = list(args["losses"])
        for i in args["idxs"]:
            losses[i] = 0
        return {**args, "losses": losses}
    return _losses(1).map(zero_on_idxs)
