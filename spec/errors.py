"""The one error type the spec raises when a value is not a Lean value of its binder's type."""

from __future__ import annotations


class LeanContractError(ValueError):
    """A Python value that the Lean declaration's type does not admit.

    The message always names the Lean declaration, the binder and what the binder expects, so a
    porting bug (a negative period, an out-of-range ``Fin``) is reported where it enters the spec,
    never as a later ``IndexError`` or a silent negative-index wrap.
    """

    def __init__(self, declaration: str, binder: str, expected: str, value: object) -> None:
        self.declaration = declaration
        self.binder = binder
        self.expected = expected
        self.value = value
        super().__init__(f"{declaration}: binder `{binder}` expects {expected}, got {value!r}")
