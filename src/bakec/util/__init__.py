"""Leaf helpers that import nothing else of bakec: Go semantics, paths in a root, compression."""
