"""Executable checks of every Lean theorem, one module per Lean module (see ``spec.registry``)."""
