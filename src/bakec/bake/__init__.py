"""The bake language: bake files → typed, resolved targets; ``--print``, ``--list`` and ``check``."""
