"""Every boundary of the spec refuses a non-Lean value with LeanContractError, never a Python error.

Each case calls one mirror with exactly one argument that the Lean type does not admit (a negative
Nat, a ``Fin`` equal to its bound or negative, a table of the wrong length, a width past a proof
argument's bound, a float where the sum must be exact) and checks the error's declaration, binder
and the bound named in the message. The property tests at the end throw arbitrary small integers at
the index arithmetic and accept only a result or a LeanContractError: an IndexError, a negative
index silently wrapping, or a ZeroDivisionError on ``period = 0`` would fail them.
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from maskproof.spec import (
    block_mae,
    block_mask,
    jepa,
    mae,
    masking,
    predictive_view,
    real_geometry,
    ssl,
    tensor,
    vicreg,
)
from maskproof.spec.errors import LeanContractError
from maskproof.spec.finite_functions import table_function2
from maskproof.spec.lean import require_nat

NAT = ">= 0"


def _contract(**changes: Any) -> predictive_view.PredictiveViewContract[int, int, int, int]:
    fields: dict[str, Any] = {
        "n": 2, "target_idxs": [0, 1], "context": 0, "target": [0, 0],
        "target_encoder": lambda i, t: t, "predict": lambda c, i: i,
        "distance": lambda r, p: r + p, "geometry_guard": 0}
    fields.update(changes)
    return predictive_view.PredictiveViewContract(**fields)


def _graph(n: int = 2, edges: Any = ((0, 1),)) -> predictive_view.SSLViewGraph:
    return predictive_view.SSLViewGraph(n, edges)


IMG = (((((1.0, 2.0), (3.0, 4.0)),),))  # batch 1, c 1, h 2, w 2
MAT = ((1.0, 2.0, 3.0),)  # batch 1, dataDim 3

#: (case id, call, Lean declaration, binder, text the message must contain: the bound).
CASES: list[tuple[str, Callable[[], object], str, str, str]] = [
    # Masking
    ("selected-n", lambda: masking.selected(-1, [], 0), "selected", "n", NAT),
    ("selected-i=n", lambda: masking.selected(2, [True, False], 2), "selected", "i",
     "[0, 2)"),
    ("selected-i<0", lambda: masking.selected(2, [True, False], -1), "selected", "i", "[0, 2)"),
    ("selected-mask-length", lambda: masking.selected(2, [True], 0), "selected", "m",
     "length 2"),
    ("selected-mask-bool", lambda: masking.selected(1, [1], 0), "selected", "m", "Bool"),
    ("allMask-n", lambda: masking.all_mask(-1), "allMask", "n", NAT),
    ("emptyMask-n", lambda: masking.empty_mask(-2), "emptyMask", "n", NAT),
    ("complement-n", lambda: masking.complement(-1, []), "complement", "n", NAT),
    ("complement-m", lambda: masking.complement(2, [True]), "complement", "m", "length 2"),
    ("maskedLoss-n", lambda: masking.masked_loss(-1, [], []), "maskedLoss", "n", NAT),
    ("maskedLoss-idx=n", lambda: masking.masked_loss(2, [0, 2], [1, 1]), "maskedLoss", "idxs",
     "[0, 2)"),
    ("maskedLoss-idx<0", lambda: masking.masked_loss(2, [-1], [1, 1]), "maskedLoss", "idxs",
     "[0, 2)"),
    ("maskedLoss-idxs-str", lambda: masking.masked_loss(2, "01", [1, 1]), "maskedLoss", "idxs",
     "List (Fin 2)"),
    ("maskedLoss-table", lambda: masking.masked_loss(2, [0], [1]), "maskedLoss", "perPatchLoss",
     "length 2"),
    ("maskedLoss-float", lambda: masking.masked_loss(1, [0], [0.5]), "maskedLoss",
     "perPatchLoss", "exact"),
    ("maskedLoss-callable-float", lambda: masking.masked_loss(1, [0], lambda i: 0.5),
     "maskedLoss", "perPatchLoss", "exact"),
    # Checked on entry: an empty index list never reads perPatchLoss, yet None is no Lean value.
    ("maskedLoss-empty-None", lambda: masking.masked_loss(2, [], None), "maskedLoss",
     "perPatchLoss", "length 2"),
    ("maskedLoss-empty-table", lambda: masking.masked_loss(2, [], [1]), "maskedLoss",
     "perPatchLoss", "length 2"),
    # MAE
    ("reconstruct-n", lambda: mae.reconstruct(-1, lambda i, p: p, []), "reconstruct", "n", NAT),
    ("reconstruct-pred", lambda: mae.reconstruct(2, lambda i, p: p, [1]), "reconstruct", "pred",
     "length 2"),
    ("ExactReconstruction-n", lambda: mae.exact_reconstruction(-1, [], []),
     "ExactReconstruction", "n", NAT),
    ("ExactReconstruction-x", lambda: mae.exact_reconstruction(2, [1], [1, 2]),
     "ExactReconstruction", "x", "length 2"),
    ("ExactReconstruction-y", lambda: mae.exact_reconstruction(2, [1, 2], [1, 2, 3]),
     "ExactReconstruction", "y", "length 2"),
    ("maeLoss-n", lambda: mae.mae_loss(-1, [], [], [], lambda t, p: 0), "maeLoss", "n", NAT),
    ("table2-None", lambda: table_function2(None, "maeLoss", "patchLoss"),
     "maeLoss", "patchLoss", "a table"),
    ("table2-flat", lambda: table_function2([1, 2], "maeLoss", "patchLoss"),
     "maeLoss", "patchLoss", "a table"),
    ("table2-str-row", lambda: table_function2([[1], "ab"], "maeLoss", "patchLoss"),
     "maeLoss", "patchLoss", "a table"),
    ("maeLoss-patchLoss", lambda: mae.mae_loss(2, [], [0, 0], [0, 0], None), "maeLoss",
     "patchLoss", "a function"),
    ("maeLoss-idx", lambda: mae.mae_loss(1, [1], [0], [0], lambda t, p: 0), "maeLoss",
     "maskedIdxs", "[0, 1)"),
    ("maeLoss-target", lambda: mae.mae_loss(2, [0], [0], [0, 0], lambda t, p: 0), "maeLoss",
     "target", "length 2"),
    ("maeLoss-pred", lambda: mae.mae_loss(2, [0], [0, 0], [0], lambda t, p: 0), "maeLoss",
     "pred", "length 2"),
    ("maeLoss-float", lambda: mae.mae_loss(1, [0], [0], [0], lambda t, p: 1.5), "maeLoss",
     "patchLoss", "exact"),
    # JEPA
    ("jepaLoss-n", lambda: jepa.jepa_loss(-1, [], 0, [], lambda c, i: 0, lambda t, p: 0),
     "jepaLoss", "n", NAT),
    ("jepaLoss-predict", lambda: jepa.jepa_loss(1, [], 0, [0], None, lambda t, p: 0),
     "jepaLoss", "predict", "a function"),
    ("jepaLoss-repLoss", lambda: jepa.jepa_loss(1, [], 0, [0], lambda c, i: 0, 3),
     "jepaLoss", "repLoss", "a function"),
    ("jepaLoss-idx", lambda: jepa.jepa_loss(1, [-1], 0, [0], lambda c, i: 0, lambda t, p: 0),
     "jepaLoss", "targetIdxs", "[0, 1)"),
    ("jepaLoss-target", lambda: jepa.jepa_loss(2, [0], 0, [0], lambda c, i: 0, lambda t, p: 0),
     "jepaLoss", "target", "length 2"),
    ("jepaLoss-float", lambda: jepa.jepa_loss(1, [0], 0, [0], lambda c, i: 0, lambda t, p: .1),
     "jepaLoss", "repLoss", "exact"),
    # PredictiveView
    ("contract-n", lambda: _contract(n=-1, target_idxs=[], target=[]),
     "PredictiveViewContract", "n", NAT),
    ("contract-idx", lambda: _contract(target_idxs=[2]), "PredictiveViewContract",
     "targetIdxs", "[0, 2)"),
    ("contract-target", lambda: _contract(target=[0]), "PredictiveViewContract", "target",
     "length 2"),
    ("contract-encoder", lambda: _contract(target_encoder=3), "PredictiveViewContract",
     "targetEncoder", "function"),
    ("contract-predict", lambda: _contract(predict=None), "PredictiveViewContract", "predict",
     "function"),
    ("contract-distance", lambda: _contract(distance=[0]), "PredictiveViewContract", "distance",
     "function"),
    ("contract-guard", lambda: _contract(geometry_guard=-1), "PredictiveViewContract",
     "geometryGuard", NAT),
    ("predictiveLoss-contract", lambda: predictive_view.predictive_loss(3),
     "predictiveLoss", "contract", "PredictiveViewContract"),
    ("predictiveLoss-float", lambda: predictive_view.predictive_loss(
        _contract(distance=lambda r, p: 0.25)), "predictiveLoss", "distance", "exact"),
    ("objective-contract", lambda: predictive_view.predictive_view_objective(
        None),
     "predictiveViewObjective", "contract", "PredictiveViewContract"),
    ("withGeometryGuard-contract", lambda: predictive_view.with_geometry_guard(
        (), 1),
     "withGeometryGuard", "contract", "PredictiveViewContract"),
    ("withGeometryGuard-guard", lambda: predictive_view.with_geometry_guard(_contract(), -1),
     "withGeometryGuard", "guard", NAT),
    ("maeAsContract-n", lambda: predictive_view.mae_as_predictive_view_contract(
        -1, [], [], [], lambda t, p: 0), "maeAsPredictiveViewContract", "n", NAT),
    ("maeAsContract-pred", lambda: predictive_view.mae_as_predictive_view_contract(
        2, [], [0, 0], [0], lambda t, p: 0), "maeAsPredictiveViewContract", "pred", "length 2"),
    ("jepaAsContract-n", lambda: predictive_view.jepa_as_predictive_view_contract(
        -1, [], 0, [], lambda c, i: 0, lambda t, p: 0), "jepaAsPredictiveViewContract", "n",
     NAT),
    ("encodedContract-n", lambda: predictive_view.encoded_target_predictive_view_contract(
        -1, [], 0, [], lambda i, t: t, lambda c, i: 0, lambda t, p: 0),
     "encodedTargetPredictiveViewContract", "n", NAT),
    ("encodedContract-guard", lambda: predictive_view.encoded_target_predictive_view_contract(
        0, [], 0, [], lambda i, t: t, lambda c, i: 0, lambda t, p: 0, -3),
     "encodedTargetPredictiveViewContract", "geometryGuard", NAT),
    *[(f"VICRegGuard-{binder}", (lambda k=k: predictive_view.VICRegGuard(
        *[-1 if j == k else 0 for j in range(6)])), "VICRegGuard", binder, NAT)
      for k, binder in enumerate(("lambda", "mu", "nu", "invariance", "variance",
                                  "covariance"))],
    ("BarlowGuard-lambda", lambda: predictive_view.BarlowGuard(-1, [], []), "BarlowGuard",
     "lambda", NAT),
    ("BarlowGuard-diag", lambda: predictive_view.BarlowGuard(0, [1, -1], []), "BarlowGuard",
     "diag", NAT),
    ("BarlowGuard-offDiag", lambda: predictive_view.BarlowGuard(0, [], [-1]), "BarlowGuard",
     "offDiag", NAT),
    ("BarlowGuard-diag-str", lambda: predictive_view.BarlowGuard(0, "1", []), "BarlowGuard",
     "diag", "List Nat"),
    ("graph-n", lambda: _graph(-1, ()), "SSLViewGraph", "n", NAT),
    ("graph-edge-fin", lambda: _graph(2, ((0, 2),)), "SSLViewGraph", "positiveEdges", "[0, 2)"),
    ("graph-edge-negative", lambda: _graph(2, ((-1, 0),)), "SSLViewGraph", "positiveEdges",
     "[0, 2)"),
    ("graph-edge-pair", lambda: _graph(2, ((0, 1, 1),)), "SSLViewGraph", "positiveEdges",
     "pairs"),
    ("graph-edges-str", lambda: _graph(2, "01"), "SSLViewGraph", "positiveEdges", "List"),
    ("viewGraphEnergy-graph", lambda: predictive_view.view_graph_energy(
        [(0, 1)], lambda a, b: 0),
     "viewGraphEnergy", "graph", "SSLViewGraph"),
    ("viewGraphEnergy-table", lambda: predictive_view.view_graph_energy(_graph(), [[0, 0]]),
     "viewGraphEnergy", "edgeLoss", "length 2"),
    ("viewGraphEnergy-row", lambda: predictive_view.view_graph_energy(_graph(), [[0], [0]]),
     "viewGraphEnergy", "edgeLoss", "length 2"),
    ("viewGraphEnergy-float", lambda: predictive_view.view_graph_energy(
        _graph(), lambda a, b: 1.0), "viewGraphEnergy", "edgeLoss", "exact"),
    # PredictiveView, real part (ℝ as Fraction)
    ("sqDist-d", lambda: real_geometry.sq_dist(-1, [], []), "sqDist", "d", NAT),
    ("sqDist-z", lambda: real_geometry.sq_dist(2, [1], [1, 2]), "sqDist", "z", "length 2"),
    ("sqDist-w-float", lambda: real_geometry.sq_dist(1, [1], [0.5]), "sqDist", "w", "exact"),
    ("alignment-graph", lambda: real_geometry.graph_alignment_energy(
        None, 1, [[0]]),
     "graphAlignmentEnergy", "graph", "SSLViewGraph"),
    ("alignment-d", lambda: real_geometry.graph_alignment_energy(_graph(), -1, [[], []]),
     "graphAlignmentEnergy", "d", NAT),
    ("alignment-rep", lambda: real_geometry.graph_alignment_energy(_graph(), 1, [[0]]),
     "graphAlignmentEnergy", "rep", "length 2"),
    ("CollapsedRep-n", lambda: real_geometry.collapsed_rep(-1, 1, []), "CollapsedRep", "n",
     NAT),
    ("CollapsedRep-d", lambda: real_geometry.collapsed_rep(1, -1, [[]]), "CollapsedRep", "d",
     NAT),
    ("CollapsedRep-row", lambda: real_geometry.collapsed_rep(2, 2, [[0, 0], [0]]),
     "CollapsedRep", "rep", "length 2"),
    ("spread-n", lambda: real_geometry.coordinate_spread(-1, 1, [], 0), "coordinateSpread", "n",
     NAT),
    ("spread-d", lambda: real_geometry.coordinate_spread(1, -1, [[]], 0), "coordinateSpread",
     "d", NAT),
    ("spread-j=d", lambda: real_geometry.coordinate_spread(1, 2, [[0, 0]], 2),
     "coordinateSpread", "j", "[0, 2)"),
    ("spread-j<0", lambda: real_geometry.coordinate_spread(1, 2, [[0, 0]], -1),
     "coordinateSpread", "j", "[0, 2)"),
    ("penalty-gamma", lambda: real_geometry.real_variance_floor_penalty(0.5, 0),
     "realVarianceFloorPenalty", "gamma", "exact"),
    ("penalty-spread", lambda: real_geometry.real_variance_floor_penalty(0, 0.5),
     "realVarianceFloorPenalty", "spread", "exact"),
    ("guard-d", lambda: real_geometry.real_variance_floor_guard(-1, 1, []),
     "realVarianceFloorGuard", "d", NAT),
    ("guard-gamma", lambda: real_geometry.real_variance_floor_guard(1, 1.0, [0]),
     "realVarianceFloorGuard", "gamma", "exact"),
    ("guard-spread", lambda: real_geometry.real_variance_floor_guard(2, 1, [0]),
     "realVarianceFloorGuard", "spread", "length 2"),
    ("graphSSL-graph", lambda: real_geometry.graph_ssl_objective(
        0, 1, [[0]], 1),
     "graphSSLObjective", "graph", "SSLViewGraph"),
    ("graphSSL-d", lambda: real_geometry.graph_ssl_objective(_graph(), -1, [[], []], 1),
     "graphSSLObjective", "d", NAT),
    ("graphSSL-gamma", lambda: real_geometry.graph_ssl_objective(_graph(), 1, [[0], [0]], 1.0),
     "graphSSLObjective", "gamma", "exact"),
    # VICReg
    ("varianceFloorPenalty-gamma", lambda: vicreg.variance_floor_penalty(-1, 0),
     "varianceFloorPenalty", "gamma", NAT),
    ("varianceFloorPenalty-variance", lambda: vicreg.variance_floor_penalty(0, -1),
     "varianceFloorPenalty", "variance", NAT),
    ("varianceTerm-gamma", lambda: vicreg.variance_term(-1, []), "varianceTerm", "gamma", NAT),
    ("varianceTerm-list", lambda: vicreg.variance_term(1, [0, -1]), "varianceTerm",
     "variances", NAT),
    ("varianceTerm-str", lambda: vicreg.variance_term(1, "0"), "varianceTerm", "variances",
     "List Nat"),
    *[(f"vicregObjective-{binder}", (lambda k=k: vicreg.vicreg_objective(
        *[-1 if j == k else 0 for j in range(6)])), "vicregObjective", binder, NAT)
      for k, binder in enumerate(("lambda", "mu", "nu", "invariance", "variance",
                                  "covariance"))],
    ("diagonal-c", lambda: vicreg.diagonal_redundancy_penalty(-1), "diagonalRedundancyPenalty",
     "c", NAT),
    ("offDiagonal-c", lambda: vicreg.off_diagonal_redundancy_penalty(-1),
     "offDiagonalRedundancyPenalty", "c", NAT),
    ("redundancy-lambda", lambda: vicreg.redundancy_reduction_objective(-1, [], []),
     "redundancyReductionObjective", "lambda", NAT),
    ("redundancy-diag", lambda: vicreg.redundancy_reduction_objective(0, [-1], []),
     "redundancyReductionObjective", "diag", NAT),
    ("redundancy-offDiag", lambda: vicreg.redundancy_reduction_objective(0, [], [-2]),
     "redundancyReductionObjective", "offDiag", NAT),
    # NN.API.tensor
    ("flatten-batch", lambda: tensor.flatten_batch_prefix(-1, 0, (1,), ()),
     "flattenBatchPrefix", "batch", NAT),
    ("flatten-takeDim", lambda: tensor.flatten_batch_prefix(1, -1, (1,), ((1.0,),)),
     "flattenBatchPrefix", "takeDim", NAT),
    ("flatten-hTake", lambda: tensor.flatten_batch_prefix(1, 3, (2,), ((1.0, 2.0),)),
     "flattenBatchPrefix", "hTake", "Shape.size source = 2"),
    ("flatten-source", lambda: tensor.flatten_batch_prefix(1, 0, (2, -1), ((),)),
     "flattenBatchPrefix", "source", NAT),
    ("flatten-source-str", lambda: tensor.flatten_batch_prefix(1, 0, "2", ((),)),
     "flattenBatchPrefix", "source", "Shape"),
    ("flatten-x-rows", lambda: tensor.flatten_batch_prefix(2, 1, (2,), ((1.0, 2.0),)),
     "flattenBatchPrefix", "x", "length 2"),
    ("flatten-x-leaf", lambda: tensor.flatten_batch_prefix(1, 1, (2,), ((1.0, 2),)),
     "flattenBatchPrefix", "x[0][1]", "Float"),
    # NN.API.ssl, vector mask
    ("vectorHiddenMask-dataDim", lambda: ssl.vector_mae_hidden_mask(-1, 2, 0),
     "vectorMaeHiddenMask", "dataDim", NAT),
    ("vectorHiddenMask-period", lambda: ssl.vector_mae_hidden_mask(3, -2, 0),
     "vectorMaeHiddenMask", "period", NAT),
    ("vectorHiddenMask-offset", lambda: ssl.vector_mae_hidden_mask(3, 2, -1),
     "vectorMaeHiddenMask", "offset", NAT),
    ("vectorMask-batch", lambda: ssl.vector_mae_mask(-1, 3, 2, 0, MAT), "vectorMaeMask",
     "batch", NAT),
    ("vectorMask-x", lambda: ssl.vector_mae_mask(1, 2, 2, 0, MAT), "vectorMaeMask", "x[0]",
     "length 2"),
    ("vectorSample-x-rows", lambda: ssl.vector_mae_sample(2, 3, 2, 0, MAT), "vectorMaeSample",
     "x", "length 2"),
    ("vectorSample-x-cols", lambda: ssl.vector_mae_sample(1, 2, 2, 0, MAT), "vectorMaeSample",
     "x[0]", "length 2"),
    *[(f"vectorSample-{binder}", (lambda k=k: ssl.vector_mae_sample(
        *[-1 if i == k else 1 for i in range(4)], MAT)), "vectorMaeSample", binder, NAT)
      for k, binder in enumerate(("batch", "dataDim", "period", "offset"))],
    ("selectedIdxs-period", lambda: ssl.vector_mae_selected_idxs(3, -1, 0),
     "vectorMaeHiddenMask", "period", NAT),
    ("rowAsPatch-bi=batch", lambda: ssl.matrix_row_as_patch_batch(1, 3, MAT, 1),
     "matrixRowAsPatchBatch", "bi", "[0, 1)"),
    ("rowAsPatch-bi<0", lambda: ssl.matrix_row_as_patch_batch(1, 3, MAT, -1),
     "matrixRowAsPatchBatch", "bi", "[0, 1)"),
    ("rowAsPatch-n", lambda: ssl.matrix_row_as_patch_batch(1, -3, MAT, 0),
     "matrixRowAsPatchBatch", "n", NAT),
    ("rowAsPatch-batch", lambda: ssl.matrix_row_as_patch_batch(-1, 3, MAT, 0),
     "matrixRowAsPatchBatch", "batch", NAT),
    ("rowAsPatch-x", lambda: ssl.matrix_row_as_patch_batch(1, 2, MAT, 0),
     "matrixRowAsPatchBatch", "x[0]", "length 2"),
    ("rowAsPrediction-bi", lambda: ssl.matrix_row_as_prediction(1, 3, MAT, 5),
     "matrixRowAsPrediction", "bi", "[0, 1)"),
    ("rowAsPrediction-yhat", lambda: ssl.matrix_row_as_prediction(1, 4, MAT, 0),
     "matrixRowAsPrediction", "yhat[0]", "length 4"),
    ("vectorRowContract-bi", lambda: ssl.vector_mae_row_predictive_contract(
        1, 3, 2, 0, MAT, MAT, 1, lambda t, p: 0), "matrixRowAsPatchBatch", "bi", "[0, 1)"),
    ("prefixSample-hData", lambda: ssl.tensor_prefix_mae_sample(1, 4, (3,), 2, 0, MAT),
     "flattenBatchPrefix", "hTake", "Shape.size source = 3"),
    # NN.API.ssl, image mask
    *[(f"imagePatchHidden-{binder}", (lambda k=k: ssl.image_patch_hidden(
        *[-1 if j == k else 2 for j in range(6)], 0, 0)), "imagePatchHidden", binder, NAT)
      for k, binder in enumerate(("height", "width", "patchH", "patchW", "period", "offset"))],
    ("imagePatchHidden-row", lambda: ssl.image_patch_hidden(2, 3, 1, 1, 2, 0, 2, 0),
     "imagePatchHidden", "row", "[0, 2)"),
    ("imagePatchHidden-col", lambda: ssl.image_patch_hidden(2, 3, 1, 1, 2, 0, 0, -1),
     "imagePatchHidden", "col", "[0, 3)"),
    ("imagePatchHidden-col-period0", lambda: ssl.image_patch_hidden(2, 3, 1, 1, 0, 0, 0, 3),
     "imagePatchHidden", "col", "[0, 3)"),
    ("imagePixel-bi", lambda: ssl.image_pixel(1, 1, 2, 2, IMG, 1, 0, 0, 0), "imagePixel", "bi",
     "[0, 1)"),
    ("imagePixel-ch", lambda: ssl.image_pixel(1, 1, 2, 2, IMG, 0, -1, 0, 0), "imagePixel", "ch",
     "[0, 1)"),
    ("imagePixel-row", lambda: ssl.image_pixel(1, 1, 2, 2, IMG, 0, 0, 2, 0), "imagePixel",
     "row", "[0, 2)"),
    ("imagePixel-col", lambda: ssl.image_pixel(1, 1, 2, 2, IMG, 0, 0, 0, -1), "imagePixel",
     "col", "[0, 2)"),
    ("imagePixel-width", lambda: ssl.image_pixel(1, 1, 2, -2, IMG, 0, 0, 0, 0), "imagePixel",
     "width", NAT),
    ("imagePixel-batch", lambda: ssl.image_pixel(-1, 1, 2, 2, IMG, 0, 0, 0, 0), "imagePixel",
     "batch", NAT),
    ("imagePixel-c", lambda: ssl.image_pixel(1, -1, 2, 2, IMG, 0, 0, 0, 0), "imagePixel", "c",
     NAT),
    ("imagePixel-height", lambda: ssl.image_pixel(1, 1, -2, 2, IMG, 0, 0, 0, 0), "imagePixel",
     "height", NAT),
    ("imagePixel-x", lambda: ssl.image_pixel(1, 1, 2, 3, IMG, 0, 0, 0, 0), "imagePixel",
     "x[0][0][0]", "length 3"),
    *[(f"imagePatchMask-{binder}", (lambda k=k: ssl.image_patch_mask(
        *[-1 if j == k else (1, 1, 2, 2, 1, 1, 2, 0)[j] for j in range(8)], IMG)),
       "imagePatchMask", binder, NAT)
      for k, binder in enumerate(("batch", "c", "h", "w", "patchH", "patchW", "period",
                                  "offset"))],
    ("imagePatchMask-x", lambda: ssl.image_patch_mask(1, 2, 2, 2, 1, 1, 2, 0, IMG),
     "imagePatchMask", "x[0]", "length 2"),
    ("imageSample-hRecon", lambda: ssl.image_patch_mae_sample(1, 1, 2, 2, 5, 1, 1, 2, 0, IMG),
     "imagePatchMaeSample", "hRecon", "c*h*w = 4"),
    ("imageSample-reconDim", lambda: ssl.image_patch_mae_sample(1, 1, 2, 2, -1, 1, 1, 2, 0,
                                                                IMG),
     "imagePatchMaeSample", "reconDim", NAT),
    ("reconstructionIdxs", lambda: ssl.image_mae_reconstruction_idxs(-4),
     "imageMaeReconstructionIdxs", "reconDim", NAT),
    ("imageRowContract-bi", lambda: ssl.image_patch_mae_row_predictive_contract(
        1, 1, 2, 2, 2, 1, 1, 2, 0, IMG, ((0.0, 0.0),), 1, lambda t, p: 0),
     "matrixRowAsPatchBatch", "bi", "[0, 1)"),
    ("imageRowContract-yhat", lambda: ssl.image_patch_mae_row_predictive_contract(
        1, 1, 2, 2, 2, 1, 1, 2, 0, IMG, ((0.0,),), 0, lambda t, p: 0),
     "matrixRowAsPrediction", "yhat[0]", "length 2"),
    # TorchLean.ssl.BlockMask
    ("blockIndex-shape", lambda: block_mask.block_index([2, -1], [1, 1], [0, 0], 0, False),
     "BlockMask.Internal.blockIndex", "shape", NAT),
    ("blockIndex-policies", lambda: block_mask.block_index([2], [-1], [0], 0, False),
     "BlockMask.Internal.blockIndex", "policies", NAT),
    ("blockIndex-policies-str", lambda: block_mask.block_index([2], "1", [0], 0, False),
     "BlockMask.Internal.blockIndex", "policies", "List (Option Nat)"),
    ("blockIndex-coordinates", lambda: block_mask.block_index([2], [1], [-1], 0, False),
     "BlockMask.Internal.blockIndex", "coordinates", NAT),
    ("blockIndex-coordinates-str", lambda: block_mask.block_index([2], [1], "0", 0, False),
     "BlockMask.Internal.blockIndex", "coordinates", "List Nat"),
    ("blockIndex-flatIndex", lambda: block_mask.block_index([2], [1], [0], -1, False),
     "BlockMask.Internal.blockIndex", "flatIndex", NAT),
    ("blockIndex-used", lambda: block_mask.block_index([2], [1], [0], 0, 1),
     "BlockMask.Internal.blockIndex", "used", "Bool"),
    ("blockHidden-period", lambda: block_mask.block_hidden([2], [1], -1, 0, [0]),
     "BlockMask.Internal.blockHidden", "period", NAT),
    ("blockHidden-offset", lambda: block_mask.block_hidden([2], [1], 2, -1, [0]),
     "BlockMask.Internal.blockHidden", "offset", NAT),
    ("blockHidden-coordinate", lambda: block_mask.block_hidden([2], [1], 2, 0, [-1]),
     "BlockMask.Internal.blockHidden", "coordinate", NAT),
    ("internalApply-prefix", lambda: block_mask.internal_apply([2], [1], 2, 0, [-1], [], 1.0),
     "BlockMask.Internal.apply", "coordinatePrefix", NAT),
    ("internalApply-remaining", lambda: block_mask.internal_apply([2], [1], 2, 0, [], [-1], ()),
     "BlockMask.Internal.apply", "remainingShape", NAT),
    ("internalApply-tensor", lambda: block_mask.internal_apply([2], [1], 2, 0, [], [2], (1.0,)),
     "BlockMask.Internal.apply", "tensor", "length 2"),
    ("internalApply-shape", lambda: block_mask.internal_apply([-1], [1], 2, 0, [], [], 1.0),
     "BlockMask.Internal.apply", "shape", NAT),
    ("internalApply-blocks", lambda: block_mask.internal_apply([2], [-1], 2, 0, [], [], 1.0),
     "BlockMask.Internal.apply", "blocks", NAT),
    ("internalApply-period", lambda: block_mask.internal_apply([2], [1], -2, 0, [], [], 1.0),
     "BlockMask.Internal.apply", "period", NAT),
    ("internalApply-offset", lambda: block_mask.internal_apply([2], [1], 2, -1, [], [], 1.0),
     "BlockMask.Internal.apply", "offset", NAT),
    ("blockHidden-shape", lambda: block_mask.block_hidden([-1], [1], 2, 0, [0]),
     "BlockMask.Internal.blockHidden", "shape", NAT),
    ("blockHidden-blocks", lambda: block_mask.block_hidden([2], [-1], 2, 0, [0]),
     "BlockMask.Internal.blockHidden", "blocks", NAT),
    ("index-blocks-nat", lambda: block_mask.index([2], [-1], [0]), "BlockMask.index", "blocks",
     NAT),
    ("hidden-coordinate-nat", lambda: block_mask.hidden([2], [1], 2, 0, [-1]),
     "BlockMask.hidden", "coordinate", NAT),
    ("apply-offset", lambda: block_mask.apply([2], (1.0, 2.0), [1], 2, -1), "BlockMask.apply",
     "offset", NAT),
    ("index-blocks-rank", lambda: block_mask.index([2, 2], [1], [0, 0]), "BlockMask.index",
     "blocks", "[2]"),
    ("index-coordinate-rank", lambda: block_mask.index([2, 2], [1, 1], [0]), "BlockMask.index",
     "coordinate", "[2]"),
    ("index-coordinate-nat", lambda: block_mask.index([2], [1], [-1]), "BlockMask.index",
     "coordinate", NAT),
    ("hidden-blocks-rank", lambda: block_mask.hidden([2], [], 2, 0, [0]), "BlockMask.hidden",
     "blocks", "[1]"),
    ("hidden-coordinate-rank", lambda: block_mask.hidden([2], [1], 2, 0, [0, 0]),
     "BlockMask.hidden", "coordinate", "[1]"),
    ("hidden-period", lambda: block_mask.hidden([2], [1], -2, 0, [0]), "BlockMask.hidden",
     "period", NAT),
    ("hidden-offset", lambda: block_mask.hidden([2], [1], 2, -1, [0]), "BlockMask.hidden",
     "offset", NAT),
    ("apply-blocks-rank", lambda: block_mask.apply([2], (1.0, 2.0), [1, 1], 2, 0),
     "BlockMask.apply", "blocks", "[1]"),
    ("apply-x", lambda: block_mask.apply([2], (1.0,), [1], 2, 0), "BlockMask.apply", "x",
     "length 2"),
    ("apply-period", lambda: block_mask.apply([2], (1.0, 2.0), [1], -1, 0), "BlockMask.apply",
     "period", NAT),
    ("apply-shape", lambda: block_mask.apply([-2], (), [1], 1, 0), "BlockMask.apply", "shape",
     NAT),
    # TorchLean.ssl.BlockMAE
    ("sample-width", lambda: block_mae.sample([1], [2], -1, [1], 2, 0, ((1.0, 2.0),)),
     "BlockMAE.sample", "reconstructionWidth", NAT),
    ("sample-dataShape", lambda: block_mae.sample([1], [-2], 0, [1], 2, 0, ((),)),
     "BlockMAE.sample", "dataShape", NAT),
    ("sample-blocks", lambda: block_mae.sample([1], [2], 1, [], 2, 0, ((1.0, 2.0),)),
     "BlockMAE.Internal.sample", "blocks", "[1]"),
    ("sample-batchShape", lambda: block_mae.sample([-1], [2], 1, [1], 2, 0, ()),
     "BlockMAE.Internal.sample", "batchShape", NAT),
    ("sample-x", lambda: block_mae.sample([2], [2], 1, [1], 2, 0, ((1.0, 2.0),)),
     "BlockMAE.Internal.sample", "x", "length 2"),
    ("sample-period", lambda: block_mae.sample([1], [2], 1, [1], -1, 0, ((1.0, 2.0),)),
     "BlockMAE.Internal.sample", "period", NAT),
    ("internalSample-hReconstruction", lambda: block_mae.internal_sample(
        [1], [2], 3, [1], 2, 0, ((1.0, 2.0),)), "BlockMAE.Internal.sample", "hReconstruction",
     "dataShape.size = 2"),
    ("hiddenRecon-width", lambda: block_mae.hidden_reconstruction_indices([2], -1, [1], 2, 0),
     "BlockMAE.hiddenReconstructionIndices", "reconstructionWidth", NAT),
    ("hiddenRecon-offset", lambda: block_mae.hidden_reconstruction_indices([2], 1, [1], 2, -1),
     "BlockMAE.Internal.hiddenReconstructionIndices", "offset", NAT),
    ("internalHiddenRecon-hReconstruction",
     lambda: block_mae.internal_hidden_reconstruction_indices([2, 2], 5, [1, 1], 2, 0),
     "BlockMAE.Internal.hiddenReconstructionIndices", "hReconstruction",
     "dataShape.size = 4"),
    ("hiddenMask-blocks", lambda: block_mae.hidden_mask([2], [1, None], 2, 0),
     "BlockMAE.hiddenMask", "blocks", "[1]"),
    ("hiddenMask-period", lambda: block_mae.hidden_mask([2], [1], -1, 0),
     "BlockMAE.hiddenMask", "period", NAT),
    ("weights-dataShape", lambda: block_mae.reconstruction_weights([-1], [1], 2, 0, Fraction),
     "BlockMAE.hiddenMask", "dataShape", NAT),
    ("hiddenIndices-dataShape", lambda: block_mae.hidden_indices([2, -1], [1, 1], 2, 0),
     "BlockMAE.hiddenIndices", "dataShape", NAT),
    ("rowContract-batch", lambda: block_mae.row_predictive_contract(
        [2], -1, 1, [1], 2, 0, (), (), 0, lambda t, p: 0),
     "BlockMAE.Proof.rowPredictiveContract", "batch", NAT),
    ("rowContract-hReconstruction", lambda: block_mae.row_predictive_contract(
        [2], 1, 3, [1], 2, 0, ((1.0, 2.0),), ((0.0, 0.0, 0.0),), 0, lambda t, p: 0),
     "BlockMAE.Internal.hiddenReconstructionIndices", "hReconstruction",
     "dataShape.size = 2"),
    ("rowContract-row", lambda: block_mae.row_predictive_contract(
        [2], 1, 2, [1], 2, 0, ((1.0, 2.0),), ((0.0, 0.0),), 1, lambda t, p: 0),
     "BlockMAE.Proof.rowPredictiveContract", "row", "[0, 1)"),
    ("rowContract-prediction", lambda: block_mae.row_predictive_contract(
        [2], 1, 2, [1], 2, 0, ((1.0, 2.0),), ((0.0,),), 0, lambda t, p: 0),
     "BlockMAE.Proof.rowPredictiveContract", "prediction[0]", "length 2"),
]


@pytest.mark.parametrize(("call", "declaration", "binder", "bound"),
                         [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_non_lean_value_is_a_contract_error(call: Callable[[], object], declaration: str,
                                            binder: str, bound: str) -> None:
    with pytest.raises(LeanContractError) as raised:
        call()
    error = raised.value
    assert isinstance(error, ValueError)
    assert (error.declaration, error.binder) == (declaration, binder), str(error)
    message = str(error)
    assert message.startswith(f"{declaration}: binder `{binder}` expects "), message
    assert bound in message, message
    assert len(message.splitlines()) == 1


def test_table_message_names_expectation_and_value() -> None:
    with pytest.raises(LeanContractError) as raised:
        table_function2([1, 2], "maeLoss", "patchLoss")
    assert str(raised.value) == ("maeLoss: binder `patchLoss` expects a table (a sequence of row "
                                 "sequences), got [1, 2]")
    assert raised.value.value == [1, 2]


def test_case_ids_are_unique() -> None:
    ids = [case[0] for case in CASES]
    assert len(ids) == len(set(ids))


def test_error_carries_the_offending_value() -> None:
    with pytest.raises(LeanContractError) as raised:
        masking.selected(3, [True, True, True], 7)
    assert raised.value.value == 7
    assert raised.value.expected == "a Fin 3 (an int in [0, 3))"
    assert str(raised.value) == "selected: binder `i` expects a Fin 3 (an int in [0, 3)), got 7"


@pytest.mark.parametrize("value", [True, False, 1.0, "1", None])
def test_nat_is_an_int_not_a_bool_float_or_string(value: object) -> None:
    with pytest.raises(LeanContractError):
        require_nat(value, "decl", "binder")


def test_block_mae_width_past_the_sample_is_lean_except_error_not_an_exception() -> None:
    # `BlockMAE.sample` returns `Except String`; the error text is Lean's, byte for byte.
    result = block_mae.sample([1], [2, 2], 5, [1, 1], 2, 0, (((1.0, 2.0), (3.0, 4.0)),))
    assert result == block_mae.ExceptError("BlockMAE reconstruction width 5 exceeds input width 4")
    indices = block_mae.hidden_reconstruction_indices([3], 4, [1], 2, 0)
    assert indices == block_mae.ExceptError("BlockMAE reconstruction width 4 exceeds input width 3")
    assert block_mae.hidden_reconstruction_indices([3], 3, [1], 2, 0) == block_mae.ExceptOk([0, 2])


def test_nothing_hidden_gives_zero_weights_without_dividing() -> None:
    for period in (0, 7):  # period 0, and a period no block index reaches with offset 5
        weights = block_mae.reconstruction_weights([2, 2], [1, 1], period, 5, Fraction)
        assert weights == (Fraction(0),) * 4
    assert block_mae.reconstruction_weights([4], [1], 2, 1, float) == (0.0, 0.5, 0.0, 0.5)


# --- arbitrary integers at the index arithmetic: a result or a contract error, nothing else ----

small_ints = st.integers(min_value=-3, max_value=7)


def _lean_or_contract_error(call: Callable[[], object]) -> object:
    try:
        return call()
    except LeanContractError:
        return None


@given(st.lists(small_ints, min_size=8, max_size=8))
def test_image_patch_hidden_never_raises_python_errors(args: list[int]) -> None:
    height, width, patch_h, patch_w, period, offset, row, col = args
    result = _lean_or_contract_error(lambda: ssl.image_patch_hidden(*args))
    lean_values = (min(height, width, patch_h, patch_w, period, offset) >= 0
                   and 0 <= row < height and 0 <= col < width)
    assert (result is not None) == lean_values
    if lean_values and 0 in (period, patch_h, patch_w):
        assert result is False


@given(small_ints, small_ints, small_ints, small_ints)
def test_vector_mask_never_raises_python_errors(data_dim: int, period: int, offset: int,
                                                j: int) -> None:
    mask = _lean_or_contract_error(lambda: ssl.vector_mae_hidden_mask(data_dim, period, offset))
    assert (mask is not None) == (min(data_dim, period, offset) >= 0)
    if mask is not None:
        assert isinstance(mask, tuple)
        hit = _lean_or_contract_error(lambda: masking.selected(data_dim, mask, j))
        assert (hit is not None) == (0 <= j < data_dim)


@given(st.lists(small_ints, max_size=6), st.lists(st.integers(0, 10), min_size=4, max_size=4))
def test_masked_loss_never_wraps_a_negative_index(idxs: list[int], losses: list[int]) -> None:
    total = _lean_or_contract_error(lambda: masking.masked_loss(4, idxs, losses))
    if all(0 <= i < 4 for i in idxs):
        assert total == sum(losses[i] for i in idxs)
    else:
        assert total is None


@given(st.lists(small_ints, min_size=4, max_size=4))
def test_image_pixel_never_wraps_a_negative_index(coordinate: list[int]) -> None:
    value = _lean_or_contract_error(lambda: ssl.image_pixel(1, 1, 2, 2, IMG, *coordinate))
    bi, ch, row, col = coordinate
    if bi == 0 and ch == 0 and 0 <= row < 2 and 0 <= col < 2:
        assert value == IMG[0][0][row][col]
    else:
        assert value is None


@given(st.lists(small_ints, max_size=3), st.lists(st.one_of(st.none(), small_ints), max_size=3),
       st.lists(small_ints, max_size=3), small_ints, small_ints)
def test_block_mask_never_raises_python_errors(shape: list[int], blocks: list[int | None],
                                               coordinate: list[int], period: int,
                                               offset: int) -> None:
    result = _lean_or_contract_error(
        lambda: block_mask.hidden(shape, blocks, period, offset, coordinate))
    lean_values = (all(v >= 0 for v in (*shape, *coordinate, period, offset))
                   and all(p is None or p >= 0 for p in blocks)
                   and len(blocks) == len(shape) == len(coordinate))
    assert (result is not None) == lean_values
    internal = _lean_or_contract_error(
        lambda: block_mask.block_index(shape, blocks, coordinate, 0, False))
    if lean_values and any(c >= e for c, e in zip(coordinate, shape, strict=True)):
        assert internal is None  # Lean's `none`, not an error: out of range hides nothing
        assert result is False
