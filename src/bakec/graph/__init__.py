"""The combined build graph: every target × platform as one DAG of content-addressed ops.

``plan(definition, names)`` → :class:`Graph`; ``render(graph, fmt)`` for the
text, JSON, dot and HTML views; :mod:`bakec.ops` is the op vocabulary.
"""

from bakec.graph.build import Build, Graph, build_graph
from bakec.graph.plan import FORMATS, plan, render, to_dict

__all__ = ["FORMATS", "Build", "Graph", "build_graph", "plan", "render", "to_dict"]
