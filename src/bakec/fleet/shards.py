"""Split the combined graph into shards: every op owned by exactly one, balanced by cost.

How (the README, "Running on a CI fleet", says the same for users):

1. Each op gets its *users*: the builds (target × platform) whose output needs it. Ops with
   the same users form a *unit*; a unit only reads units with more users (or the same ones).
2. Builds are grouped into *families*: units are visited from the most specific (fewest users)
   up, and a unit's builds join one family while the family's cost stays within the fleet's
   total cost / N. A unit whose builds stay in several families is *shared*.
3. Families are packed into N bins, costliest first: into a bin of the same platform (or an empty
   one) where possible, so emulated work stays with its platform; among those, one it does not
   overload, then the lightest.
4. Each bin becomes one shard, owning also the shared units all of whose builds landed in it.
   The other shared units become shards of their own, one per platform, in an earlier phase. A
   shard needs exactly the shards owning the ops its ops read.

Only build order, target names and costs decide the split, never op digests, so editing one
service's file changes the ops (and cache refs) of the shards holding that service and no
other shard's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bakec.graph.build import Graph

__all__ = ["Shard", "split"]


@dataclass(frozen=True)
class Shard:
    """One CI job's share of the graph (ops in build order)."""

    ops: tuple[str, ...]
    needs: tuple[int, ...]  # indexes of earlier shards in the list :func:`split` returns
    platforms: tuple[str, ...]  # platforms of the ops it runs ("" ops, e.g. contexts, left out)
    targets: tuple[str, ...]  # targets whose results its ops contribute to
    cost: int


def split(graph: Graph, count: int, costs: Mapping[str, int]) -> list[Shard]:
    """``graph`` in about ``count`` parallel shards (plus earlier ones for work they share)."""
    order = graph.order()
    users = _users(graph, order)
    units: dict[frozenset[int], list[str]] = {}
    for node in order:
        units.setdefault(users[node], []).append(node)
    unit_cost = {key: sum(costs[n] for n in ops) for key, ops in units.items()}
    cap = max(1, sum(unit_cost.values()) // max(1, count))
    family = _families(units, unit_cost, len(graph.builds), cap)
    owner: dict[frozenset[int], str] = {}  # unit -> "f<family>" or "p<platform>"
    family_cost: dict[int, int] = {}
    for key in units:
        roots = {family[b] for b in key}
        if len(roots) == 1:
            root = roots.pop()
            owner[key] = f"f{root}"
            family_cost[root] = family_cost.get(root, 0) + unit_cost[key]
        else:
            owner[key] = "p" + _main_platform(graph, units[key], costs)
    bins = _pack(graph, units, owner, family, family_cost, costs, count, cap)
    label: dict[frozenset[int], str] = {}
    for key, who in owner.items():
        places = {bins[family[b]] for b in key}
        # shared between families that landed in one bin: that bin builds it, no extra phase
        label[key] = f"b{places.pop():06d}" if len(places) == 1 else who
    groups: dict[str, list[str]] = {}
    for node in order:
        groups.setdefault(label[users[node]], []).append(node)
    return _shards(graph, groups, costs)


def _users(graph: Graph, order: Sequence[str]) -> dict[str, frozenset[int]]:
    """The builds (indexes into ``graph.builds``) needing each op; consumers first, then inputs."""
    own: dict[str, set[int]] = {}
    for i, b in enumerate(graph.builds):
        if b.output:
            own.setdefault(b.output, set()).add(i)
    consumers: dict[str, list[str]] = {}
    for node in order:
        for dep in graph.inputs[node]:
            consumers.setdefault(dep, []).append(node)
    users: dict[str, frozenset[int]] = {}
    first_build = {b.target: i for i, b in reversed(list(enumerate(graph.builds)))}
    for node in reversed(order):
        found = set(own.get(node, ()))
        for consumer in consumers.get(node, ()):
            found |= users[consumer]
        if not found:  # an op no output reads: it goes with the target that planned it
            found = {first_build.get(graph.nodes[node].get("first_target", ""), 0)}
        users[node] = frozenset(found)
    return users


def _families(
    units: Mapping[frozenset[int], list[str]], unit_cost: Mapping[frozenset[int], int], builds: int, cap: int
) -> list[int]:
    """Union-find over builds: builds sharing a unit join while the family's cost stays ≤ ``cap``."""
    parent = list(range(max(builds, 1)))
    cost = [0] * len(parent)

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for key in sorted(units, key=lambda k: (len(k), sorted(k))):
        roots = sorted({find(b) for b in key})
        total = sum(cost[r] for r in roots) + unit_cost[key]
        if len(roots) == 1 or total <= cap:
            for r in roots[1:]:
                parent[r] = roots[0]
            cost[roots[0]] = total
    return [find(i) for i in range(len(parent))]


def _main_platform(graph: Graph, ops: Sequence[str], costs: Mapping[str, int]) -> str:
    """The platform most of ``ops``' cost runs on ("" when none names one)."""
    weight: dict[str, int] = {}
    for node in ops:
        platform = graph.nodes[node]["platform"] or ""
        if platform:
            weight[platform] = weight.get(platform, 0) + costs[node]
    return min(weight, key=lambda p: (-weight[p], p)) if weight else ""


def _pack(
    graph: Graph,
    units: Mapping[frozenset[int], list[str]],
    owner: Mapping[frozenset[int], str],
    family: Sequence[int],
    family_cost: Mapping[int, int],
    costs: Mapping[str, int],
    count: int,
    cap: int,
) -> dict[int, int]:
    """Family → bin: costliest first into the lightest bin, keeping a platform's work together."""
    # every family gets a bin, even one whose ops are all shared with others: a shared unit then
    # always has a bin per family, and its inputs (needed by more builds) at least as many
    family_ops: dict[int, list[str]] = {f: [] for f in sorted(set(family))}
    for key, label in owner.items():
        if label.startswith("f"):
            family_ops.setdefault(int(label[1:]), []).extend(units[key])
    platform = {f: _main_platform(graph, ops, costs) for f, ops in family_ops.items()}
    load = [0] * max(1, count)
    bin_platform: list[str | None] = [None] * len(load)
    out: dict[int, int] = {}
    for f in sorted(family_ops, key=lambda f: (-family_cost.get(f, 0), f)):
        c = family_cost.get(f, 0)

        def rank(i: int, f: int = f, c: int = c) -> tuple[int, int, int, int]:
            overload = int(load[i] > 0 and load[i] + c > cap)
            mismatch = int(bin_platform[i] not in (None, platform[f]))
            return (mismatch, overload, load[i], i)

        best = min(range(len(load)), key=rank)
        out[f] = best
        load[best] += c
        if bin_platform[best] is None:
            bin_platform[best] = platform[f]
    # bins are numbered by their first build, not by load, so ids survive cost changes
    first: dict[int, int] = {}
    for f, b in sorted(out.items()):
        first.setdefault(b, f)
    renumber = {b: i for i, b in enumerate(sorted(first, key=first.__getitem__))}
    return {f: renumber[b] for f, b in out.items()}


def _shards(graph: Graph, groups: Mapping[str, list[str]], costs: Mapping[str, int]) -> list[Shard]:
    """Groups → shards in dependency order; shared groups that need each other are merged."""
    shared = sorted(k for k in groups if k.startswith("p"))
    bins = sorted(k for k in groups if k.startswith("b"))
    owner = {node: label for label, ops in groups.items() for node in ops}
    needs = {label: _needs(graph, ops, owner, label) for label, ops in groups.items()}
    ordered: list[str] = []
    done: set[str] = set()
    pending = list(shared)
    while pending:  # Kahn's algorithm over the shared groups, in name order
        ready = [k for k in pending if needs[k] <= done]
        if not ready:  # a cycle between platforms: one group for what is left (nothing downstream of it)
            merged = [node for k in pending for node in groups[k]]
            position = {node: i for i, node in enumerate(graph.order())}
            merged.sort(key=position.__getitem__)
            groups = {**groups, "p*": merged}
            for k in pending:
                owner.update(dict.fromkeys(groups[k], "p*"))
            needs["p*"] = _needs(graph, merged, owner, "p*")
            ready, pending = ["p*"], []
        for k in ready:
            ordered.append(k)
            done.add(k)
        pending = [k for k in pending if k not in done]
    ordered += bins
    index = {label: i for i, label in enumerate(ordered)}
    out = []
    for label in ordered:
        ops = groups[label]
        needed = _needs(graph, ops, owner, label)
        targets: set[str] = set()
        platforms = set()
        for node in ops:
            targets |= graph.nodes[node]["targets"]
            if graph.nodes[node]["platform"]:
                platforms.add(graph.nodes[node]["platform"])
        out.append(
            Shard(
                ops=tuple(ops),
                needs=tuple(sorted(index[n] for n in needed)),
                platforms=tuple(sorted(platforms)),
                targets=tuple(sorted(targets)),
                cost=sum(costs[n] for n in ops),
            )
        )
    return out


def _needs(graph: Graph, ops: Sequence[str], owner: Mapping[str, str], label: str) -> set[str]:
    return {owner[dep] for node in ops for dep in graph.inputs[node] if owner[dep] != label}
