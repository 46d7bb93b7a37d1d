"""The pytest plugin and ``maskproof.testing.contract_tests``: one pytest test per contract."""

from __future__ import annotations

import pytest

# Imported here, before pytester snapshots sys.modules: the in-process runs below would otherwise
# import torch afresh in each run, which torch's C extension does not survive.
from maskproof.bridge.audit.catalogue import CATALOGUE

pytest_plugins = ["pytester"]

GOOD = "maskproof.bridge.audit.reference:ReferenceAdapter"
BROKEN = "maskproof.bridge.zoo.broken_lean:OffsetWithoutModulo"  # fails lean.vector_mae_mask
FAST = "-k", "lean.vector_mae_mask or lean.block_mask"


def test_option_adds_one_test_per_contract(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--maskproof-adapter", GOOD, "--collect-only", "-q")
    lines = [line for line in result.outlines if line.startswith("maskproof[")]
    assert lines == [f"maskproof[{GOOD}]::{c.id}" for c in CATALOGUE]


def test_failing_contract_is_a_failing_test_with_its_counterexample(
        pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--maskproof-adapter", BROKEN, "--maskproof-examples", "5", *FAST)
    result.assert_outcomes(passed=1, failed=1)
    total = len(CATALOGUE)
    result.stdout.fnmatch_lines([f"collected {total} items / {total - 2} deselected / 2 selected"])
    result.stdout.fnmatch_lines(["*lean.vector_mae_mask fails on*", "*counterexample:*"])


def test_xfail_file_makes_the_known_failure_xfailed(pytester: pytest.Pytester) -> None:
    known = pytester.makefile(".txt", xfail="# accepted\nlean.vector_mae_mask offsets unreduced\n")
    result = pytester.runpytest("--maskproof-adapter", BROKEN, "--maskproof-xfail", str(known),
                                "--maskproof-examples", "5", *FAST)
    result.assert_outcomes(passed=1, xfailed=1)


def test_a_listed_contract_that_holds_is_reported(pytester: pytest.Pytester) -> None:
    known = pytester.makefile(".txt", xfail="lean.block_mask was broken once\n")
    result = pytester.runpytest("--maskproof-adapter", GOOD, "--maskproof-xfail", str(known),
                                "--maskproof-examples", "5", "-k", "lean.block_mask")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*XPASS(strict)*was broken once*",
                                 "FAILED *::lean.block_mask*"])


@pytest.mark.parametrize(("content", "message"), [
    ("no.such_contract reason\n", "unknown contract id 'no.such_contract'"),
    ("lean.block_mask\n", "'lean.block_mask' has no reason"),
    ("lean.block_mask a\nlean.block_mask b\n", "'lean.block_mask' is listed twice"),
])
def test_bad_xfail_file_is_a_one_line_usage_error(pytester: pytest.Pytester, content: str,
                                                   message: str) -> None:
    known = pytester.makefile(".txt", xfail=content)
    result = pytester.runpytest("--maskproof-adapter", GOOD, "--maskproof-xfail", str(known))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*{message}*"])


def test_target_that_does_not_load_is_a_usage_error(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--maskproof-adapter", "no_such_module:Adapter")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*cannot import module 'no_such_module'*"])


def test_contract_tests_in_a_module_with_junit_xml(pytester: pytest.Pytester) -> None:
    # A user's adapter with two capabilities: one broken (listed as known), one correct.
    pytester.makepyfile(myadapter="""
        from maskproof.bridge.audit.reference import ReferenceAdapter
        from maskproof.bridge.zoo.broken_lean import OffsetWithoutModulo

        class Adapter:
            vector_mae_mask = OffsetWithoutModulo.vector_mae_mask
            block_mask_apply = ReferenceAdapter.block_mask_apply
    """)
    pytester.makefile(".txt", known="lean.vector_mae_mask offsets unreduced\n")
    pytester.makepyfile(test_audit="""
        from maskproof.testing import contract_tests
        test_audit = contract_tests("myadapter:Adapter", xfail="known.txt", examples=5,
                                    contracts=["lean.vector_mae_mask", "lean.block_mask",
                                               "jepa.ema_law"])
    """)
    result = pytester.runpytest("--junitxml=out.xml", "-rs")
    result.assert_outcomes(passed=1, xfailed=1, skipped=1)
    result.stdout.fnmatch_lines(["*jepa.ema_law not applicable: adapter lacks*"])
    xml = (pytester.path / "out.xml").read_text("utf-8")
    assert 'name="test_audit[lean.block_mask]"' in xml


def test_plugin_loads_without_torch_or_hypothesis() -> None:
    import subprocess
    import sys

    probe = ("import sys; import maskproof.bridge.audit.pytest_plugin; "
             "print(sorted({'torch', 'hypothesis'} & {m.split('.')[0] for m in sys.modules}))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"
