"""The bug zoo: maskproof's reference adapter with one published bug put back, one card each.

``cards`` holds the cards and their metadata (report, contract that catches it, what that does
not prove); ``broken_mae``, ``broken_lean`` and ``broken_jepa`` the broken adapters; ``run`` the
table that ``maskproof zoo`` prints.
"""
