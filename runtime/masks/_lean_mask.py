"""What every TorchLean deterministic mask shares: the hidden class and writing ``+0.0``.

A block or coordinate ``i`` is hidden iff ``i % period = offset % period``. Lean's ``Nat`` has
no overflow, so ``period`` and ``offset`` may exceed ``int64``. The test never builds such a
number as a tensor: when ``period`` is at least the number of indices, ``i % period = i`` for
every index, so the test reduces to ``i = offset % period``.
"""

from __future__ import annotations

import torch


def in_hidden_class(
    index: torch.Tensor, index_count: int, period: int, offset: int
) -> torch.Tensor:
    """Bool tensor: ``index % period == offset % period`` for indices in ``[0, index_count)``.

    ``period`` must be positive (the callers handle Lean's ``period = 0`` branch first, so
    ``offset % 0`` is never evaluated, LEAN_SEMANTICS.md trap 3).
    """
    residue = offset % period
    if period >= index_count:
        if residue >= index_count:
            return torch.zeros_like(index, dtype=torch.bool)
        return index == residue
    return torch.remainder(index, period) == residue


def zero_where(hidden: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``x`` with every ``hidden`` scalar replaced by ``+0.0`` of ``x``'s dtype (a new tensor).

    ``torch.where`` selects, so visible scalars keep their bit pattern (NaN payloads, ``-0.0``);
    multiplying by a 0/1 mask would not: ``NaN * 0`` is ``NaN`` and ``-1.0 * 0`` is ``-0.0``.
    """
    return torch.where(hidden, x.new_zeros(()), x)
