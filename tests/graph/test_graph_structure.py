"""The plain graph structure gives what networkx gives, and building never imports networkx."""

from __future__ import annotations

import os
import subprocess
import sys

import networkx as nx

from bakec import ops as o
from bakec.bake.definition import load
from bakec.graph.build import Graph
from bakec.graph.plan import plan


def _nx_order(graph: Graph) -> list[str]:
    g = graph.graph
    return list(nx.lexicographical_topological_sort(g, key=lambda n: g.nodes[n]["order"]))


def test_monorepo_order_inputs_and_ancestors_match_networkx(make_monorepo, cache_dir):
    graph = plan(load([], env=dict(os.environ), cwd=str(make_monorepo())), cache_dir=cache_dir)
    g = graph.graph
    assert graph.order() == _nx_order(graph)
    assert list(g.nodes) == list(graph.nodes) and g.number_of_nodes() == len(graph.nodes) > 50
    for node in graph.nodes:
        assert list(g.predecessors(node)) == list(graph.inputs[node])
        assert graph.ancestors(node) == nx.ancestors(g, node)
    assert len(graph.critical_path()) == 7


def test_order_takes_the_first_planned_ready_op_when_planning_order_is_not_topological():
    # ``order`` keys deliberately disagree with insertion order: a consumer planned first
    a, b, c, d = (o.Exec("", (name,)) for name in "abcd")
    top = o.Merge((b.digest, c.digest))
    nodes = {
        top.digest: {"op": top, "order": 1, "targets": set()},
        d.digest: {"op": d, "order": 2, "targets": set()},
        c.digest: {"op": c, "order": 3, "targets": set()},
        b.digest: {"op": b, "order": 5, "targets": set()},
        a.digest: {"op": a, "order": 4, "targets": set()},
    }
    graph = Graph(nodes, {n: data["op"].inputs for n, data in nodes.items()}, [])
    assert graph.order() == _nx_order(graph) == [d.digest, c.digest, a.digest, b.digest, top.digest]


def test_building_the_graph_does_not_import_networkx(make_monorepo):
    root = make_monorepo()
    code = (
        "import os, sys\n"
        "from bakec.graph.build import build_graph\n"
        "from bakec.bake.definition import load\n"
        "d = load([], env=dict(os.environ), cwd='.')\n"
        "graph = build_graph(d.resolve(['default'], []).targets, cwd='.')\n"
        "assert len(graph.order()) > 50 and graph.ancestors(graph.builds[0].output)\n"
        "print('networkx' in sys.modules)\n"
    )
    env = {**os.environ, "XDG_CACHE_HOME": str(root / ".cache")}
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=root, env=env, capture_output=True, text=True, check=False
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"
