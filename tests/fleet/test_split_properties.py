"""Invariants of the split on arbitrary graphs (hypothesis): one owner per op, needs exact and acyclic."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from bakec import ops as o
from bakec.fleet.shards import split
from bakec.graph.build import Build, Graph

PLATFORMS = ("", "linux/amd64", "linux/arm64")


@st.composite
def graphs(draw):
    """A DAG of Exec ops (inputs among earlier ops) and builds whose outputs are some of them."""
    count = draw(st.integers(1, 25))
    ops: list[o.Exec] = []
    for i in range(count):
        deps = draw(st.lists(st.integers(0, i - 1), max_size=3, unique=True)) if i else []
        platform = draw(st.sampled_from(PLATFORMS))
        root = ops[deps[0]].digest if deps else ""
        mounts = tuple(o.ExecMount(type="bind", target=f"/m{d}", input=ops[d].digest) for d in deps[1:])
        ops.append(o.Exec(root, (f"op{i}",), mounts=mounts, platform=platform))
    nodes = {
        op.digest: {"op": op, "order": i, "targets": set(), "platform": op.platform, "first_target": "t0"}
        for i, op in enumerate(ops)
    }
    inputs = {op.digest: op.inputs for op in ops}
    outputs = draw(st.lists(st.integers(0, count - 1), min_size=1, max_size=8))
    builds = [
        Build(f"t{i}", "linux/amd64", ops[n].digest, None, ".", "Dockerfile") for i, n in enumerate(outputs)
    ]
    graph = Graph(nodes, inputs, builds)
    for b in builds:
        for node in graph.ancestors(b.output) | {b.output}:
            nodes[node]["targets"].add(b.target)
    costs = {op.digest: draw(st.integers(1, 50)) for op in ops}
    return graph, costs, draw(st.integers(1, 5))


@settings(max_examples=300, deadline=None)
@given(graphs())
def test_split_invariants(case):
    graph, costs, count = case
    shards = split(graph, count, costs)
    owned = [op for s in shards for op in s.ops]
    assert sorted(owned) == sorted(graph.nodes) and len(owned) == len(set(owned))
    owner = {op: i for i, s in enumerate(shards) for op in s.ops}
    position = {node: i for i, node in enumerate(graph.order())}
    for i, shard in enumerate(shards):
        assert shard.ops, "no empty shard"
        used = {owner[d] for op in shard.ops for d in graph.inputs[op]} - {i}
        assert set(shard.needs) == used
        assert all(n < i for n in shard.needs)  # listed in dependency order: no cycle
        assert [position[op] for op in shard.ops] == sorted(position[op] for op in shard.ops)
        assert shard.cost == sum(costs[op] for op in shard.ops)
    assert split(graph, count, costs) == shards  # deterministic
