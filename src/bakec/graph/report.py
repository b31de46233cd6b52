"""``bakec plan --format html``: the build report, one self-contained page.

The page draws the combined graph top to bottom, one band per depth, boxes wrapping
to the window's width (no horizontal scrolling), and ends in the targets, grouped
by the step that produces them. A shared step is named by what it is (``[build 2/4]
RUN make``, shared by 12 targets), not by the first target that planned it, and links
to its Dockerfile line. Given the last builds' steps (:func:`bakec.solver.records.latest_steps`),
it shows each step's time and cache hit, and the critical path weighed by time.

The script in the template filters by target and highlights a subgraph, also from the
URL fragment (``#target=api``, ``#highlight=api-dev-slim``), and writes what it shows
into ``data-*`` attributes of ``<body>`` for tests.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

from bakec.graph.build import Graph

__all__ = ["critical_path_by_time", "render_html", "report_data", "step_name"]

_SOURCE_LINES = 8  # an instruction's lines shown in the details (continuations included)


def step_name(label: str, target: str) -> str:
    """``label`` without the target that happened to plan it first: ``[api build 2/4] RUN make`` → ``[build 2/4] RUN make``."""
    prefix, bracket, rest = label.partition("[")
    if not bracket or not target or not rest.startswith(target):
        return label
    tail = rest[len(target) :]
    if tail.startswith(" "):
        return f"{prefix}[{tail[1:]}"
    if tail.startswith("] "):
        return prefix + tail[2:]
    return label


def layers(graph: Graph) -> dict[str, int]:
    """Each node's band: its longest distance from a source.

    Sources with no inputs (contexts, images) sit just above their first consumer, so a
    context loaded for a late COPY does not draw an edge across the whole page.
    """
    order = graph.order()
    layer: dict[str, int] = {}
    consumers: dict[str, list[str]] = {node: [] for node in order}
    for node in order:
        inputs = graph.inputs[node]
        layer[node] = max((layer[p] + 1 for p in inputs), default=0)
        for dep in inputs:
            consumers[dep].append(node)
    for node in order:
        if not graph.inputs[node] and consumers[node]:
            layer[node] = max(0, min(layer[c] for c in consumers[node]) - 1)
    return layer


def _duration(step: Mapping[str, Any] | None) -> float:
    """Seconds a step ran in its last build (a cache hit or a step without timings: 0)."""
    if not step or step.get("state") != "ran" or "start" not in step:
        return 0.0
    return max(0.0, float(step["end"]) - float(step["start"]))


def critical_path_by_time(graph: Graph, steps: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """The chain of operations whose last recorded run times add up to the most."""
    best: dict[str, tuple[float, int, str | None]] = {}  # node → (seconds, steps, predecessor)
    for node in graph.order():
        own = _duration(steps.get(node))
        prev = max(((best[d][0], best[d][1], d) for d in graph.inputs[node] if d), default=None)
        best[node] = (own + prev[0], prev[1] + 1, prev[2]) if prev else (own, 1, None)
    if not best:
        return []
    end: str | None = max(best, key=lambda n: (best[n][0], best[n][1]))
    path = []
    while end is not None:
        path.append(end)
        end = best[end][2]
    return path[::-1]


def _source(node: Mapping[str, Any], cwd: str | None) -> dict[str, Any] | None:
    """Where a step comes from: Dockerfile as shown, line, a link to it, the instruction's text."""
    where = node.get("source")
    if not where:
        return None
    shown, line, text = where
    lines = text.splitlines()[line - 1 : line - 1 + _SOURCE_LINES]
    shown_lines = []
    for ln in lines:  # the instruction and its continuation lines
        shown_lines.append(ln)
        if not ln.rstrip().endswith("\\"):
            break
    href = None
    if cwd is None:
        href = quote(shown) + f"#L{line}"
    elif (Path(cwd) / shown).is_file():
        href = (Path(cwd) / shown).resolve().as_uri() + f"#L{line}"
    return {"file": shown, "line": line, "href": href, "text": "\n".join(shown_lines)}


def report_data(
    graph: Graph,
    steps: Mapping[str, Mapping[str, Any]] | None = None,
    cwd: str | os.PathLike[str] | None = None,
) -> dict[str, Any]:
    """What the page's script draws (plain data; ``steps``: a node's entry in its last build record)."""
    steps = steps or {}
    timed = any("start" in s for s in steps.values())
    critical = critical_path_by_time(graph, steps) if timed else graph.critical_path()
    targets = sorted({b.target for b in graph.builds})
    index = {name: i for i, name in enumerate(targets)}
    platforms: dict[str, int] = {}
    for b in graph.builds:
        platforms[b.target] = platforms.get(b.target, 0) + 1
    band = layers(graph)
    nodes = []
    for node in graph.order():
        d = graph.nodes[node]
        item: dict[str, Any] = {
            "id": node,
            "kind": d["op"].kind,
            "step": step_name(d["label"], d.get("first_target", "")),
            "label": d["label"],
            "targets": sorted(index[t] for t in d["targets"] if t in index),
            "deps": [dep for dep in graph.inputs[node] if dep],
            "layer": band[node],
            "platform": d.get("platform") or "",
            "src": _source(d, None if cwd is None else os.fspath(cwd)),
        }
        if d["op"].kind == "local" and getattr(d["op"], "path", ""):
            item["path"] = os.path.relpath(d["op"].path, cwd) if cwd is not None else d["op"].path
        step = steps.get(node)
        if step:
            item["last"] = {k: step[k] for k in ("state", "start", "end", "cache", "time") if k in step}
        nodes.append(item)
    builds = [
        {
            "target": index[b.target],
            "platform": b.platform if platforms[b.target] > 1 else "",
            "output": b.output,
        }
        for b in graph.builds
    ]
    seconds = sum(_duration(steps.get(n)) for n in critical)
    return {
        "targets": targets,
        "builds": builds,
        "nodes": nodes,
        "critical": critical,
        "critical_by": "time" if timed else "steps",
        "critical_seconds": round(seconds, 3) if timed else None,
        "summary": graph.summary(),
        "platforms": len({b.platform for b in graph.builds}),
        "recorded": max((s.get("time", 0) for s in steps.values()), default=None),
    }


def _script_json(data: Any) -> str:
    text = json.dumps(data, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def render_html(
    graph: Graph,
    steps: Mapping[str, Mapping[str, Any]] | None = None,
    cwd: str | os.PathLike[str] | None = None,
) -> str:
    """The report page; ``cwd`` (the bake files' directory) turns Dockerfile names into ``file://`` links."""
    import jinja2
    from markupsafe import Markup

    data = report_data(graph, steps, cwd)
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("bakec.graph", "templates"), autoescape=True, keep_trailing_newline=True
    )
    return env.get_template("plan.html.j2").render(
        summary=data["summary"], data=Markup(_script_json(data)), timed=data["critical_by"] == "time"
    )
