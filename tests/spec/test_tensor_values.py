"""``NN.API.tensor`` helpers on small inputs whose value is worked out by hand.

``getSpec`` and ``Tensor.mapLeading`` are only reached through the block-mask theorems, which
never look at a coordinate error's text and never use a batch shape of rank two.
"""

from __future__ import annotations

import pytest

from maskproof.spec.errors import LeanContractError
from maskproof.spec.tensor import get_spec, map_leading, require_tensor, tensor_eq

X = ((1.0, 2.0, 3.0), (4.0, 5.0, 6.0))


def test_get_spec_values() -> None:
    assert get_spec(X, (2, 3), [1, 2]) == 6.0
    assert get_spec(X, (2, 3), (0, 1)) == 2.0
    assert get_spec(X, (2, 3), [2, 0]) is None  # out of range
    assert get_spec(X, (2, 3), [0]) is None  # too few
    assert get_spec(X, (2, 3), [0, 0, 0]) is None  # too many
    assert get_spec(7.5, (), []) == 7.5 and get_spec(7.5, (), [0]) is None


def test_get_spec_refuses_a_coordinate_that_is_not_a_nat() -> None:
    with pytest.raises(LeanContractError) as raised:
        get_spec(X, (2, 3), [0, -1])
    assert str(raised.value) == ("Spec.getSpec: binder `coordinates` expects a Nat (an int >= 0), "
                                 "got -1")


def test_map_leading_reaches_exactly_below_the_batch_axes() -> None:
    def negate(v: object) -> float:
        assert isinstance(v, float)  # f sees scalars only when the batch has rank 2 here
        return -v

    assert map_leading(X, (2, 3), negate) == ((-1.0, -2.0, -3.0), (-4.0, -5.0, -6.0))
    assert map_leading(X, (2,), lambda row: tuple(reversed(row))) == ((3.0, 2.0, 1.0),
                                                                       (6.0, 5.0, 4.0))
    assert map_leading(X, (), len) == 2
    nested = (((1.0,), (2.0,)), ((3.0,), (4.0,)))
    assert map_leading(nested, (2, 2), lambda s: s * 2) == (((1.0, 1.0), (2.0, 2.0)),
                                                            ((3.0, 3.0), (4.0, 4.0)))


def test_tensor_eq_is_false_between_a_scalar_and_a_table() -> None:
    assert tensor_eq(1.0, (1.0,)) is False
    assert tensor_eq((1.0,), 1.0) is False
    assert tensor_eq(((1.0, -0.0),), ((1.0, -0.0),)) is True
    assert tensor_eq(((1.0, -0.0),), ((1.0, 0.0),)) is False


@pytest.mark.parametrize(("x", "path", "offending"), [
    (5, "x", 5),                    # not a sequence at all (len() would raise TypeError)
    ("ab", "x", "ab"),              # a str has a length but is no table
    (((1.0, 2.0),), "x", ((1.0, 2.0),)),           # one row where two are expected
    ((5, (1.0, 2.0)), "x[0]", 5),   # a row that is a number
])
def test_require_tensor_names_path_and_offending_value(x: object, path: str,
                                                       offending: object) -> None:
    with pytest.raises(LeanContractError) as raised:
        require_tensor(x, (2, 2), "d", "x")
    assert (raised.value.binder, raised.value.value) == (path, offending)
    assert str(raised.value).startswith(f"d: binder `{path}` expects a table of length 2 (axis ")
