"""Argument strategies for ``spec.theorems.block_mae``.

Data shapes of rank 0 to 3 (extents 0 to 4), one to three batch rows, reconstruction widths from 0
to the whole sample (both ends drawn on purpose), policies with ``None`` and ``some 0``, periods
with 0 and offsets past the period, and a bit-pattern-sensitive per-coordinate loss.
"""

from __future__ import annotations

from hypothesis import strategies as st

from maskproof.bridge.theorem_args import Arguments, ArgumentStrategy, arguments_for
from maskproof.bridge.theorem_args.block_mask import policies_one, shapes
from maskproof.bridge.theorem_args.common import offsets, periods
from maskproof.bridge.theorem_args.ssl import float_tensors, nat_losses
from maskproof.spec.tensor import shape_size


@arguments_for("BlockMAE.Proof.row_predictive_objective_eq_mae_loss")
def _row_objective() -> ArgumentStrategy:
    @st.composite
    def build(draw: st.DrawFn) -> Arguments:
        data_shape = draw(shapes())
        batch = draw(st.integers(min_value=1, max_value=3))
        size = shape_size(data_shape)
        width = draw(st.one_of(st.just(0), st.just(size), st.integers(0, size)))
        return {"data_shape": data_shape, "batch": batch, "reconstruction_width": width,
                "blocks": draw(st.lists(policies_one, min_size=len(data_shape),
                                        max_size=len(data_shape))),
                "period": draw(periods), "offset": draw(offsets),
                "x": draw(float_tensors((batch, *data_shape))),
                "prediction": draw(float_tensors((batch, width))),
                "row": draw(st.integers(min_value=0, max_value=batch - 1)),
                "loss": draw(nat_losses)}
    return build()
