"""Hypothesis profiles shared by the whole suite.

``ci`` (the default) runs at least 300 examples per theorem; ``thorough`` at least 5,000.
Choose with ``MASKPROOF_PROFILE=thorough pytest``; ``mutation`` is for bench/mutation only.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, Phase, settings

from tests.modes import UMASKS

settings.register_profile(
    "ci", max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
settings.register_profile(
    "thorough", max_examples=5000, deadline=None, suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
# Mutation runs (bench/mutation): fewer examples, fixed seeds, no example database, so each
# mutant's verdict is reproducible and does not depend on earlier mutants' failures; no shrink
# phase, since one failing example kills a mutant and shrinking it only turns kills into timeouts.
settings.register_profile(
    "mutation", max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow],
    derandomize=True, database=None, phases=(Phase.explicit, Phase.reuse, Phase.generate),
)
settings.load_profile(os.environ.get("MASKPROOF_PROFILE", "ci"))

# A user's project that scripts/check_wheel.sh runs against the installed wheel, with its own
# pytest configuration: not part of this suite.
collect_ignore = ["wheel/user_project"]


@pytest.fixture(params=UMASKS, ids=lambda mask: f"umask{mask:03o}")
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    """Run the test under ``request.param`` as the process umask, then restore the old one."""
    mask: int = request.param
    before = os.umask(mask)
    try:
        yield mask
    finally:
        os.umask(before)
