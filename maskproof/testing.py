"""maskproof's public testing API: assertions and the audit's contracts inside a pytest suite.

Loss assertions (``torch.testing.assert_close``-style: raise ``AssertionError`` with the runtime
value, the exact Lean value and the derived rounding bound)::

    from maskproof.testing import assert_paper_mae_loss
    assert_paper_mae_loss(loss, target=patches, pred=pred, mask=mask)

The audit's contracts as parametrised tests::

    # test_maskproof.py
    from maskproof.testing import contract_tests
    test_audit = contract_tests("mypkg.adapter:Adapter", xfail="maskproof-xfail.txt")

or, without a test module, ``pytest --maskproof-adapter mypkg.adapter:Adapter``.
"""

from __future__ import annotations

from maskproof.bridge.assertions import (
    assert_block_mae_loss,
    assert_ijepa_loss,
    assert_image_patch_mae_loss,
    assert_paper_mae_loss,
    assert_paper_mae_norm_pix_loss,
    assert_vector_mae_loss,
)
from maskproof.bridge.audit.pytest_plugin import ContractFailure, contract_tests
from maskproof.bridge.exact_loss import LossCheck
from maskproof.bridge.rounding import VacuousBoundError

__all__ = [
    "ContractFailure",
    "LossCheck",
    "VacuousBoundError",
    "assert_block_mae_loss",
    "assert_ijepa_loss",
    "assert_image_patch_mae_loss",
    "assert_paper_mae_loss",
    "assert_paper_mae_norm_pix_loss",
    "assert_vector_mae_loss",
    "contract_tests",
]
