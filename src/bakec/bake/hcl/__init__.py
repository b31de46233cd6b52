"""HCL for bake files: python-hcl2's grammar → bakec's own AST, evaluated with cty semantics."""
