"""Every contract the audit runs, in report order."""

from __future__ import annotations

from maskproof.bridge.audit import (
    contracts_encoder,
    contracts_fixed,
    contracts_jepa,
    contracts_jepa_model,
    contracts_lean,
    contracts_loss,
    contracts_masking,
    contracts_model,
    contracts_train,
)
from maskproof.bridge.audit.contract import Contract

CATALOGUE: tuple[Contract, ...] = (
    *contracts_masking.CONTRACTS,
    *contracts_loss.CONTRACTS,
    *contracts_encoder.CONTRACTS,
    *contracts_model.CONTRACTS,
    *contracts_lean.CONTRACTS,
    *contracts_jepa.CONTRACTS,
    *contracts_jepa_model.CONTRACTS,
    *contracts_fixed.CONTRACTS,
    *contracts_train.CONTRACTS,
)

BY_ID: dict[str, Contract] = {contract.id: contract for contract in CATALOGUE}


def markdown_table() -> str:
    """The README's contract table, one row per contract in report order."""

    def cell(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    rows = ["| contract | property | Lean theorem / source | bug family |",
            "| --- | --- | --- | --- |"]
    rows += [f"| `{c.id}` | {cell(c.statement)} | {cell(c.source)} | {cell(c.family)} |"
             for c in CATALOGUE]
    return "\n".join(rows) + "\n"


if __name__ == "__main__":
    print(markdown_table(), end="")
