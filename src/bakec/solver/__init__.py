"""The solver: runs the combined graph (each op once, cached results reused), and ``bakec prune``."""
