"""The semantic model: files resolved into one Program, every name resolved once, types, score trees.

Every later stage (check, compile, output) reads names through this package; none resolves them again.
"""
