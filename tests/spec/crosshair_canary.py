"""A deliberately false theorem check: CrossHair must find its counterexample.

It proves that the CrossHair harness in test_crosshair.py can fail. The statement claims that
reversing a masked-index list never changes the first index, which is false for ``[0, 1]``.
"""

from __future__ import annotations


def reverse_keeps_head(n: int, idxs: list[int]) -> bool:
    """pre: n > 0
    pre: len(idxs) > 0 and all(0 <= j < n for j in idxs)
    post: __return__
    """
    return idxs[::-1][0] == idxs[0]
