"""maskproof's bridge: runtime tensors into spec objects, audits, the bug zoo and test vectors."""
