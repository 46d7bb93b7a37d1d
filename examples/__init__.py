"""Worked examples of maskproof adapters (see README, "Auditing your implementation")."""
