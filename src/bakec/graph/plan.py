"""``bakec plan``: the combined graph of a bake definition, as text, JSON, dot or HTML.

The HTML build report lives in :mod:`bakec.graph.report`.

:func:`plan` is the library face (definition + names → :class:`Graph`); the
``render_*`` functions are pure views of a graph. Every view lists operations
in build order and says how many targets share each one.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bakec.graph.build import Graph, build_graph
from bakec.graph.context import ContextHasher, local_files
from bakec.graph.report import render_html
from bakec.graph.resolve import ImageResolver
from bakec.ops import _key_dict
from bakec.util.gitref import redact_all

if TYPE_CHECKING:
    from bakec.bake.definition import Definition

__all__ = ["FORMATS", "plan", "render", "render_dot", "render_html", "render_json", "render_text", "to_dict"]

FORMATS = ("text", "json", "dot", "html")


def plan(
    definition: Definition,
    names: Sequence[str] = (),
    overrides: Sequence[str] = (),
    *,
    resolver: ImageResolver | None = None,
    cache_dir: str | Path | None = None,
    build_platform: str | None = None,
    files: bool = False,
) -> Graph:
    """Resolve ``names`` (default group when empty) and compile them into one graph.

    ``files`` lists what each local source selects (:attr:`Graph.files`), for ``bakec plan --diff``.
    """
    resolved = definition.resolve(list(names), list(overrides))
    # targets pulled in only through ``target:`` links are planned as dependencies, listed last
    requested: dict[str, None] = {}
    for name in definition.expand_names(list(names) or ["default"]):
        requested.update(dict.fromkeys(t for t in definition.resolve_group(name)[0] if t in resolved.targets))
    with ContextHasher(cache_dir) as hasher:
        graph = build_graph(
            resolved.targets,
            cwd=definition.cwd,
            requested=list(requested) or list(resolved.targets),
            resolver=resolver,
            hasher=hasher,
            build_platform=build_platform,
        )
        if files:
            graph.files = local_files(graph.nodes, hasher)
        return graph


def render(graph: Graph, fmt: str) -> str:
    return {"text": render_text, "json": render_json, "dot": render_dot, "html": render_html}[fmt](graph)


# -- text -------------------------------------------------------------------------


def render_text(graph: Graph) -> str:
    g = graph.graph
    order = graph.order()
    width = len(str(len(order)))
    lines = []
    for i, node in enumerate(order, 1):
        d = g.nodes[node]
        shared = len(d["targets"])
        lines.append(f"#{i:<{width}} x{shared:<3} {d['label']}")
    s = graph.summary()
    builds = f" ({s['builds']} builds)" if s["builds"] != s["targets"] else ""
    lines.append("")
    lines.append(
        f"{s['targets']} targets{builds}, {s['requested']} operations requested, "
        f"{s['unique']} unique ({s['shared']} shared)"
    )
    path = graph.critical_path()
    lines.append(f"critical path: {len(path)} operations")
    for j, node in enumerate(path):
        lines.append(("  " if j == 0 else "  -> ") + g.nodes[node]["label"])
    return "\n".join(lines) + "\n"


# -- json -------------------------------------------------------------------------


def to_dict(graph: Graph) -> dict[str, Any]:
    """The JSON plan (documented in the README): targets, nodes in build order, summary."""
    g = graph.graph
    targets: dict[str, Any] = {}
    for b in graph.builds:
        entry = targets.setdefault(
            b.target,
            {
                "context": b.context,
                "dockerfile": b.dockerfile,
                "target": b.plan.target_stage.name,
                "platforms": {},
                "requested": b.target in graph.requested,
            },
        )
        entry["platforms"][b.platform] = {
            "output": b.output or None,
            "operations": b.ops,
            "layers": b.plan.layer_count,
        }
    nodes = []
    for node in graph.order():
        d = g.nodes[node]
        op = d["op"]
        item: dict[str, Any] = {
            "id": node,
            "kind": op.kind,
            "description": d["description"],
            "name": d["label"],
            "deps": [dep for dep in op.inputs],
            "targets": sorted(d["targets"]),
            "platform": d["platform"] or None,
            "stage": d["stage"],
            "no_cache": d["no_cache"],
            "op": redact_all(_key_dict(op)),  # a URL's password is not shown
        }
        if op.kind == "local":
            item["path"] = op.path
        nodes.append(item)
    images = [
        {
            "ref": ref,
            "platform": platform,
            "digest": r.digest if r else None,
            "config": r.config_dict() if r else None,
        }
        for (ref, platform), r in sorted(graph.images.items())
    ]
    out = {
        "targets": targets,
        "nodes": nodes,
        "images": images,
        "summary": graph.summary(),
        "critical_path": graph.critical_path(),
    }
    if graph.files:
        out["contexts"] = graph.files  # local op → path → fingerprint (``bakec plan --diff`` compares them)
    return out


def render_json(graph: Graph) -> str:
    """One node per line: readable, and fast (the C encoder does not indent)."""
    data = to_dict(graph)
    parts = []
    for key, value in data.items():
        if key in ("nodes", "images") and value:
            items = ",\n    ".join(json.dumps(v, separators=(", ", ": ")) for v in value)
            parts.append(f"  {json.dumps(key)}: [\n    {items}\n  ]")
        elif key in ("targets", "contexts") and value:
            items = ",\n    ".join(
                f"{json.dumps(k)}: {json.dumps(v, separators=(', ', ': '))}" for k, v in value.items()
            )
            parts.append(f"  {json.dumps(key)}: {{\n    {items}\n  }}")
        else:
            parts.append(f"  {json.dumps(key)}: {json.dumps(value, separators=(', ', ': '))}")
    return "{\n" + ",\n".join(parts) + "\n}\n"


# -- dot --------------------------------------------------------------------------


def _dot_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def render_dot(graph: Graph) -> str:
    g = graph.graph
    critical = graph.critical_path()
    on_path = set(critical)
    path_edges = set(itertools.pairwise(critical))
    lines = ["digraph plan {", "  rankdir=LR;", '  node [shape=box, fontname="monospace", fontsize=10];']
    for node in graph.order():
        d = g.nodes[node]
        text = d["label"] + "\n" + f"{d['op'].kind} {node[7:19]} x{len(d['targets'])}"
        attrs = [f"label={_dot_quote(text)}"]
        if len(d["targets"]) > 1:
            attrs.append('style=filled, fillcolor="#ffe9a8"')
        if node in on_path:
            attrs.append('color="#d62728", penwidth=2')
        lines.append(f"  {_dot_quote(node)} [{', '.join(attrs)}];")
    for a, b in g.edges:
        extra = ' [color="#d62728", penwidth=2]' if (a, b) in path_edges else ""
        lines.append(f"  {_dot_quote(a)} -> {_dot_quote(b)}{extra};")
    lines.append("}")
    return "\n".join(lines) + "\n"
