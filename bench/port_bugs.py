"""Planted-bug port benchmark: do the conformance vectors catch what a real port gets wrong?

A standard-library port of the deterministic masks and losses (the declarations a port in Rust,
C++ or JAX writes first), read through the reference consumer ``bridge.vectors.consume`` exactly as
a port in another language would read the vectors. One bug at a time is planted in it: fixed-width
wraparound, a floor for a ceiling, an inclusive block end, IEEE equality for Lean's, a multiplied
mask, and so on. For each bug the vectors are run against the planted port and a table is printed:
the bug, whether a case caught it, the first failing case.

    python bench/port_bugs.py            # every bug; exit 1 if one is not caught
    python bench/port_bugs.py --only u32-flat-index,nan-by-value

The unmodified port must pass every case of the declarations it implements, and every planted
bug must be caught (tests/bridge/test_vectors_port_bugs.py runs this).
"""

from __future__ import annotations

import argparse
import json
import math
import struct
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, cast

from maskproof.bridge.vectors import consume
from maskproof.bridge.vectors.generate import generate
from maskproof.bridge.vectors.schema import DEFAULT_SEED
from maskproof.bridge.vectors.store import write_vectors

U32, U64 = 2**32, 2**64

#: Every planted bug: its name and what the port then does wrong.
BUGS: dict[str, str] = {
    "u64-flat-index": "BlockMask: the mixed-radix flat block index is a u64 (wraps mod 2**64)",
    "u32-flat-index": "BlockMask: the mixed-radix flat block index is a u32 (wraps mod 2**32)",
    "u64-period": "vectorMaeHiddenMask: period stored in a u64 (2**64 becomes 0)",
    "u32-offset": "vectorMaeHiddenMask: offset stored in a u32",
    "offset-not-reduced": "vectorMaeHiddenMask: j % period compared with offset, not its residue",
    "period-0-hides-all": "vectorMaeHiddenMask: period 0 treated like period 1",
    "patch-row-floor": "imagePatchHidden: patchesPerRow = width / patchW (floor, not ceiling)",
    "patch-row-plus-one": "imagePatchHidden: patchesPerRow = (width + patchW) / patchW",
    "u64-patch-sum": "imagePatchHidden: width + patchW - 1 computed in a u64",
    "swapped-height-width": "imagePatchHidden: patchesPerRow computed from the height",
    "inclusive-block-end": "BlockMask: coordinate = extent counted as inside the axis",
    "unblocked-axis-unchecked": "BlockMask: no range check on a `none` (unblocked) axis",
    "block-radix-floor": "BlockMask: blocksAlongAxis = extent / k (floor, not ceiling)",
    "u32-block-width": "BlockMask: block width stored in a u32 (2**32 becomes 0)",
    "column-major-blocks": "BlockMask: the last blocked axis is the most significant digit",
    "nan-by-value": "ExactReconstruction: IEEE == (NaN != NaN, 0.0 == -0.0)",
    "nan-payload-strict": "ExactReconstruction: bit equality without the NaN rule",
    "mask-by-multiplication": "vectorMaeMask: hidden scalar = x * 0.0 (-0.0 and NaN leak)",
    "mask-polarity": "vectorMaeMask: zeroes the visible scalars and keeps the hidden ones",
    "empty-mask-0/0": "reconstructionWeights: weight = hidden / count even when count = 0",
    "column-major-flatten": "flattenBatchPrefix: flattens column-major",
    "rank4-strides": "flattenBatchPrefix: strides from the next two axes only (wrong at rank 4)",
    "fin-negative-wraps": "selected: index -1 read from the end, as Python lists do",
    "masked-loss-dedup": "maskedLoss: a repeated index is counted once",
    "u64-loss-sum": "maskedLoss: the sum is accumulated in a u64",
    "width-error-raises": "hiddenReconstructionIndices: width > size raises instead of Except",
    "float-accepts-int": "vectorMaeMask: a JSON integer accepted as a Float",
    "blocks-rank-unchecked": "BlockMask.apply: blocks of the wrong length accepted (zip)",
    "hidden-negative-zero": "BlockMask.apply: a hidden scalar becomes -0.0",
}


class PortError(ValueError):
    """The port refuses arguments outside the Lean types (a rejecting case expects this)."""


def nat(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise PortError(f"not a Nat: {value!r}")
    return value


def fin(value: object, n: int) -> int:
    checked = nat(value)
    if checked >= n:
        raise PortError(f"{value!r} is not a Fin {n}")
    return checked


def nat_list(values: object) -> list[int]:
    if not isinstance(values, list):
        raise PortError(f"not a list: {values!r}")
    return [nat(v) for v in values]


def policies(values: object) -> list[int | None]:
    if not isinstance(values, list):
        raise PortError(f"not a list of policies: {values!r}")
    return [None if v is None else nat(v) for v in values]


def bits(x: float) -> int:
    return int.from_bytes(struct.pack("<d", x), "little")


def coordinates(shape: Sequence[int]) -> Iterator[tuple[int, ...]]:
    """Every coordinate of ``shape`` in row-major order."""
    if not shape:
        yield ()
        return
    for i in range(shape[0]):
        for rest in coordinates(shape[1:]):
            yield (i, *rest)


@dataclass
class Port:
    """The port, with at most one planted bug (``bug`` is a key of ``BUGS`` or ``None``)."""

    bug: str | None = None

    # --- values -------------------------------------------------------------------------------

    def is_float(self, value: object) -> bool:
        if self.bug == "float-accepts-int" and isinstance(value, int):
            return not isinstance(value, bool)
        return isinstance(value, float)

    def tensor(self, x: object, shape: Sequence[int]) -> Any:
        if not shape:
            if not self.is_float(x):
                raise PortError(f"not a Float: {x!r}")
            return float(cast(float, x))
        if not isinstance(x, list) or len(x) != shape[0]:
            raise PortError(f"not a table of length {shape[0]}: {x!r}")
        return [self.tensor(row, shape[1:]) for row in x]

    def hidden_value(self, value: float) -> float:
        if self.bug == "mask-by-multiplication":
            return value * 0.0
        return 0.0

    # --- NN.MLTheory.SelfSupervised -----------------------------------------------------------

    def selected(self, n: object, m: object, i: object) -> bool:
        n = nat(n)
        if not isinstance(m, list) or len(m) != n or not all(isinstance(b, bool) for b in m):
            raise PortError(f"not a Mask {n}: {m!r}")
        if self.bug == "fin-negative-wraps" and isinstance(i, int) and -n <= i < 0:
            return bool(m[i])
        return bool(m[fin(i, n)])

    def masked_loss(self, n: object, idxs: object, per_patch_loss: object) -> int:
        n = nat(n)
        if not isinstance(idxs, list):
            raise PortError(f"not a list: {idxs!r}")
        indices = [fin(i, n) for i in idxs]
        losses = nat_list(per_patch_loss)
        if len(losses) != n:
            raise PortError(f"perPatchLoss has {len(losses)} entries, not {n}")
        if self.bug == "masked-loss-dedup":
            indices = sorted(set(indices))
        total = 0
        for i in indices:
            total += losses[i]
            if self.bug == "u64-loss-sum":
                total %= U64
        return total

    def exact_reconstruction(self, n: object, x: object, y: object) -> bool:
        n = nat(n)
        xs, ys = self.tensor(x, [n]), self.tensor(y, [n])
        if self.bug == "nan-by-value":
            return all(a == b for a, b in zip(xs, ys, strict=True))
        if self.bug == "nan-payload-strict":
            return all(bits(a) == bits(b) for a, b in zip(xs, ys, strict=True))
        return all((math.isnan(a) and math.isnan(b)) or bits(a) == bits(b)
                   for a, b in zip(xs, ys, strict=True))

    # --- NN.API.ssl / NN.API.tensor -----------------------------------------------------------

    def vector_hidden(self, data_dim: object, period: object, offset: object) -> list[bool]:
        d, p, o = nat(data_dim), nat(period), nat(offset)
        if self.bug == "u64-period":
            p %= U64
        if self.bug == "u32-offset":
            o %= U32
        if p == 0:
            return [self.bug == "period-0-hides-all"] * d
        target = o if self.bug == "offset-not-reduced" else o % p
        return [j % p == target for j in range(d)]

    def vector_selected(self, data_dim: object, period: object, offset: object) -> list[int]:
        return [j for j, h in enumerate(self.vector_hidden(data_dim, period, offset)) if h]

    def vector_mask(self, batch: object, data_dim: object, period: object, offset: object,
                    x: object) -> list[list[float]]:
        hidden = self.vector_hidden(data_dim, period, offset)
        rows = self.tensor(x, [nat(batch), nat(data_dim)])
        if self.bug == "mask-polarity":
            hidden = [not h for h in hidden]
        return [[self.hidden_value(v) if h else v for v, h in zip(row, hidden, strict=True)]
                for row in rows]

    def _patch_hidden(self, height: int, width: int, patch_h: int, patch_w: int, period: int,
                      offset: int, row: int, col: int) -> bool:
        if period == 0 or patch_h == 0 or patch_w == 0:
            return False
        grid_width = height if self.bug == "swapped-height-width" else width
        if self.bug == "patch-row-floor":
            per_row = grid_width // patch_w
        elif self.bug == "patch-row-plus-one":
            per_row = (grid_width + patch_w) // patch_w
        elif self.bug == "u64-patch-sum":
            per_row = ((grid_width + patch_w - 1) % U64) // patch_w
        else:
            per_row = (grid_width + patch_w - 1) // patch_w
        index = (row // patch_h) * per_row + col // patch_w
        return index % period == offset % period

    def image_hidden(self, height: object, width: object, patch_h: object, patch_w: object,
                     period: object, offset: object, row: object, col: object) -> bool:
        h, w = nat(height), nat(width)
        args = (nat(patch_h), nat(patch_w), nat(period), nat(offset))
        return self._patch_hidden(h, w, *args, fin(row, h), fin(col, w))

    def image_mask(self, batch: object, c: object, h: object, w: object, patch_h: object,
                   patch_w: object, period: object, offset: object, x: object) -> Any:
        shape = [nat(batch), nat(c), nat(h), nat(w)]
        args = (nat(patch_h), nat(patch_w), nat(period), nat(offset))
        images = self.tensor(x, shape)
        return [[[[self.hidden_value(v) if self._patch_hidden(shape[2], shape[3], *args, r, q)
                   else v for q, v in enumerate(line)] for r, line in enumerate(plane)]
                 for plane in image] for image in images]

    def _flatten(self, x: Any, shape: Sequence[int]) -> list[float]:
        if self.bug == "column-major-flatten":
            order = sorted(coordinates(shape), key=lambda c: tuple(reversed(c)))
        else:
            order = list(coordinates(shape))
        flat = [0.0] * math.prod(shape)
        for position, coordinate in enumerate(order):
            value = x
            for i in coordinate:
                value = value[i]
            if self.bug == "rank4-strides":
                # Strides from the next two extents only: right up to rank 3.
                position = sum(c * math.prod(shape[axis + 1:axis + 3])
                               for axis, c in enumerate(coordinate))
                if position >= len(flat):
                    continue
            flat[position] = value
        return flat

    def flatten_batch_prefix(self, batch: object, take_dim: object, source: object,
                             x: object) -> list[list[float]]:
        b, take, shape = nat(batch), nat(take_dim), nat_list(source)
        rows = self.tensor(x, [b, *shape])
        if take > math.prod(shape):
            raise PortError(f"takeDim {take} exceeds the sample size {math.prod(shape)}")
        return [self._flatten(row, shape)[:take] for row in rows]

    # --- TorchLean.ssl.BlockMask / BlockMAE ---------------------------------------------------

    def _block_index(self, shape: Sequence[int], blocks: Sequence[int | None],
                     coordinate: Sequence[int], flat: int, used: bool) -> int | None:
        if not (len(shape) == len(blocks) == len(coordinate)):
            return None
        axes = list(range(len(shape)))
        if self.bug == "column-major-blocks":
            axes.reverse()
        for axis in axes:
            extent, k, c = shape[axis], blocks[axis], coordinate[axis]
            if self.bug == "u32-block-width" and k is not None:
                k %= U32
            if k is None:
                if c >= extent and self.bug != "unblocked-axis-unchecked":
                    return None
                continue
            outside = c > extent if self.bug == "inclusive-block-end" else c >= extent
            if outside or k == 0:
                return None
            radix = extent // k if self.bug == "block-radix-floor" else (extent + k - 1) // k
            flat = flat * radix + c // k
            used = True
            if self.bug == "u64-flat-index":
                flat %= U64
            elif self.bug == "u32-flat-index":
                flat %= U32
        return flat if used else None

    def _block_hidden(self, shape: Sequence[int], blocks: Sequence[int | None], period: int,
                      offset: int, coordinate: Sequence[int]) -> bool:
        if period == 0:
            return False
        index = self._block_index(shape, blocks, coordinate, 0, False)
        return index is not None and index % period == offset % period

    def _public(self, shape: object, blocks: object) -> tuple[list[int], list[int | None]]:
        extents, policy = nat_list(shape), policies(blocks)
        if len(policy) != len(extents) and self.bug != "blocks-rank-unchecked":
            raise PortError(f"blocks {policy} is not of rank {len(extents)}")
        return extents, policy

    def block_internal_index(self, shape: object, blocks: object, coordinate: object,
                             flat_index: object, used: object) -> int | None:
        if not isinstance(used, bool):
            raise PortError(f"not a Bool: {used!r}")
        return self._block_index(nat_list(shape), policies(blocks), nat_list(coordinate),
                                 nat(flat_index), used)

    def block_index(self, shape: object, blocks: object, coordinate: object) -> int | None:
        extents, policy = self._public(shape, blocks)
        point = nat_list(coordinate)
        if len(point) != len(extents):
            raise PortError(f"coordinate {point} is not of rank {len(extents)}")
        return self._block_index(extents, policy, point, 0, False)

    def block_hidden(self, shape: object, blocks: object, period: object, offset: object,
                     coordinate: object) -> bool:
        extents, policy = self._public(shape, blocks)
        point = nat_list(coordinate)
        if len(point) != len(extents):
            raise PortError(f"coordinate {point} is not of rank {len(extents)}")
        return self._block_hidden(extents, policy, nat(period), nat(offset), point)

    def block_apply(self, shape: object, x: object, blocks: object, period: object,
                    offset: object) -> Any:
        extents, policy = self._public(shape, blocks)
        if self.bug == "blocks-rank-unchecked":
            policy = policy[:len(extents)]
        p, o = nat(period), nat(offset)
        tensor = self.tensor(x, extents)
        zero = -0.0 if self.bug == "hidden-negative-zero" else 0.0

        def walk(value: Any, prefix: tuple[int, ...]) -> Any:
            if len(prefix) == len(extents):
                return zero if self._block_hidden(extents, policy, p, o, prefix) else value
            return [walk(item, (*prefix, i)) for i, item in enumerate(value)]
        return walk(tensor, ())

    def _mask(self, data_shape: object, blocks: object, period: object,
              offset: object) -> list[bool]:
        extents, policy = self._public(data_shape, blocks)
        p, o = nat(period), nat(offset)
        return [self._block_hidden(extents, policy, p, o, c) for c in coordinates(extents)]

    def block_hidden_mask(self, data_shape: object, blocks: object, period: object,
                          offset: object) -> list[bool]:
        return self._mask(data_shape, blocks, period, offset)

    def block_hidden_indices(self, data_shape: object, blocks: object, period: object,
                             offset: object) -> list[int]:
        return [i for i, h in enumerate(self._mask(data_shape, blocks, period, offset)) if h]

    def block_reconstruction_indices(self, data_shape: object, width: object, blocks: object,
                                     period: object, offset: object) -> dict[str, Any]:
        size, w = math.prod(nat_list(data_shape)), nat(width)
        if w > size:
            message = f"BlockMAE reconstruction width {w} exceeds input width {size}"
            if self.bug == "width-error-raises":
                raise PortError(message)
            return {"error": message}
        mask = self._mask(data_shape, blocks, period, offset)
        return {"ok": [i for i in range(w) if mask[i]]}

    def block_weights(self, alpha: object, data_shape: object, blocks: object, period: object,
                      offset: object) -> list[Any]:
        scalars: dict[object, Callable[[int], Any]] = {"Float": float, "Rat": Fraction}
        if alpha not in scalars:
            raise PortError(f"alpha must be 'Float' or 'Rat', got {alpha!r}")
        one = scalars[alpha]
        mask = self._mask(data_shape, blocks, period, offset)
        count = sum(mask)
        if self.bug == "empty-mask-0/0":
            if count == 0:  # IEEE 0/0 for Float; an exact port raises on it
                return [math.nan if alpha == "Float" else one(0) / one(0) for _ in mask]
            return [one(int(h)) / one(count) for h in mask]
        return [one(1) / one(count) if h else one(0) for h in mask]

    def implementations(self) -> dict[str, Callable[..., object]]:
        """The port as ``consume.check`` takes it: Lean name -> implementation."""
        return {
            "selected": self.selected,
            "maskedLoss": self.masked_loss,
            "ExactReconstruction": self.exact_reconstruction,
            "vectorMaeHiddenMask": self.vector_hidden,
            "vectorMaeSelectedIdxs": self.vector_selected,
            "vectorMaeMask": self.vector_mask,
            "imagePatchHidden": self.image_hidden,
            "imagePatchMask": self.image_mask,
            "flattenBatchPrefix": self.flatten_batch_prefix,
            "BlockMask.Internal.blockIndex": self.block_internal_index,
            "BlockMask.index": self.block_index,
            "BlockMask.hidden": self.block_hidden,
            "BlockMask.apply": self.block_apply,
            "BlockMAE.hiddenMask": self.block_hidden_mask,
            "BlockMAE.hiddenIndices": self.block_hidden_indices,
            "BlockMAE.hiddenReconstructionIndices": self.block_reconstruction_indices,
            "BlockMAE.reconstructionWeights": self.block_weights,
        }


@dataclass(frozen=True)
class Outcome:
    bug: str
    cases_run: int
    failures: list[consume.Failure]

    @property
    def caught(self) -> bool:
        return bool(self.failures)


def run_bug(modules: dict[str, Any], bug: str | None) -> Outcome:
    cases_run, failures = consume.check(modules, Port(bug).implementations())
    return Outcome(bug or "(none)", cases_run, failures)


def load_published(directory: Path | None = None) -> dict[str, Any]:
    """The published vectors, written to disk and read back as a port reads them."""
    if directory is not None:
        return consume.load(directory)
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "vectors"
        write_vectors(out, generate(DEFAULT_SEED))
        return consume.load(out)


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="comma-separated bug names (default: every bug)")
    parser.add_argument("--vectors", type=Path, help="a vectors directory (default: generate)")
    parser.add_argument("--json", action="store_true", help="print the outcomes as JSON")
    args = parser.parse_args(argv)
    bugs = list(BUGS) if args.only is None else args.only.split(",")
    unknown = [b for b in bugs if b not in BUGS]
    if unknown:
        parser.error(f"--only: unknown bug(s) {unknown}; known: {', '.join(BUGS)}")
    started = time.perf_counter()
    modules = load_published(args.vectors)
    baseline = run_bug(modules, None)
    outcomes = [run_bug(modules, bug) for bug in bugs]
    elapsed = time.perf_counter() - started
    if args.json:
        print(json.dumps({"baseline_failures": [f.describe() for f in baseline.failures],
                          "bugs": {o.bug: o.failures[0].case_id if o.failures else None
                                   for o in outcomes}}, indent=1))
    else:
        width = max(len(b) for b in bugs)
        print(f"unmodified port: {baseline.cases_run} cases, {len(baseline.failures)} failing")
        for failure in baseline.failures[:5]:
            print(f"  {failure.describe()[:160]}")
        print(f"{'bug':<{width}}  caught  failing  first failing case")
        for o in outcomes:
            first = f"{o.failures[0].case_id} ({o.failures[0].note})" if o.failures else "-"
            print(f"{o.bug:<{width}}  {'yes' if o.caught else 'NO':<6}  {len(o.failures):>7}  "
                  f"{first}")
        caught = sum(o.caught for o in outcomes)
        print(f"{caught}/{len(outcomes)} planted bugs caught, {elapsed:.1f} s")
    return 0 if not baseline.failures and all(o.caught for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
