"""Build records: what each build planned, ran and reused, kept for ``bakec why``.

One JSON file per build under ``<state>/builds/``, written atomically (a temporary
file renamed into place) when the build ends; the newest :data:`KEEP` are kept.
A record lists every op of the build's graph with its label, kind, inputs, key
fields as plain data (``bakec.ops``: secret mounts carry ids, never content;
proxy variables are not key fields; a URL's password is redacted), and whether
it ran or came from a cache (the local index or an imported ``cache-from``), and when
it started and ended (``start``/``end``, seconds since the build began solving; a cache
hit starts and ends at once) for the ops the solver reached.

What a local context source selected (path → fingerprint) is stored once per
source op, under ``builds/contexts/<digest>.json``: the op's digest covers those
files, so a context that did not change costs one ``stat`` per build.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Collection, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bakec.ops import _key_dict
from bakec.util.gitref import redact_all

if TYPE_CHECKING:  # `bakec why` reads records without loading the planner or the solver
    from bakec.graph.build import Graph
    from bakec.graph.context import ContextHasher
    from bakec.solver.solve import SolveResult

__all__ = [
    "KEEP",
    "VERSION",
    "builds_dir",
    "context_files",
    "latest_steps",
    "read_records",
    "save_context_files",
    "to_record",
    "write_record",
]

VERSION = 1
KEEP = 50  # records kept; older ones (and the context lists only they name) are removed


def builds_dir(state_dir: Path) -> Path:
    return Path(state_dir) / "builds"


def _contexts_dir(state_dir: Path) -> Path:
    return builds_dir(state_dir) / "contexts"


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _context_path(state_dir: Path, digest: str) -> Path:
    return _contexts_dir(state_dir) / (digest.partition(":")[2] + ".json")


def save_context_files(state_dir: Path, graph: Graph, hasher: ContextHasher) -> None:
    """Store what each local source of ``graph`` selects, unless an earlier build stored it."""
    from bakec.graph.context import local_files

    found = local_files(graph.nodes, hasher, known=lambda d: _context_path(state_dir, d).exists())
    try:
        for digest, files in found.items():
            _atomic_write(_context_path(state_dir, digest), json.dumps(files, separators=(",", ":")))
    except OSError:
        pass  # a record is a convenience: a full disk must not fail the build


def context_files(state_dir: Path, digest: str) -> dict[str, str] | None:
    """The files a local source op selected (path → fingerprint), None when not recorded."""
    try:
        files = json.loads(_context_path(state_dir, digest).read_text())
    except (OSError, ValueError):
        return None
    return files if isinstance(files, dict) else None


def _state(node: str, kind: str, solved: SolveResult) -> str:
    outcome = solved.outcome.results.get(node)
    if outcome is None:  # left out because only imported results read it
        return "source" if kind == "local" else "cached"
    state = outcome.state.value
    if state == "done":
        return "source" if kind == "local" else "ran"
    return state


def to_record(graph: Graph, solved: SolveResult, *, cwd: str, no_cache: bool) -> dict[str, Any]:
    """The record of one build (plain data; see the module docstring)."""
    ops: dict[str, Any] = {}
    for node, data in graph.nodes.items():
        op = data["op"]
        state = _state(node, op.kind, solved)
        entry: dict[str, Any] = {
            "kind": op.kind,
            "label": data.get("label") or data.get("description") or op.kind,
            "first_target": data.get("first_target", ""),
            "stage": data.get("stage", ""),
            "platform": data.get("platform") or "",
            "targets": sorted(data.get("targets", ())),
            "inputs": list(op.inputs),
            "no_cache": bool(data.get("no_cache")),
            "state": state,
            "op": redact_all(_key_dict(op)),
        }
        if state == "cached":
            entry["cache"] = solved.cached_from.get(node, "import")
        if op.kind == "local":
            entry["path"] = op.path
        span = solved.spans.get(node)
        if span is not None:
            entry["start"] = round(span[0] - solved.started, 3)
            entry["end"] = round(span[1] - solved.started, 3)
        ops[node] = entry
    targets: dict[str, dict[str, str]] = {}
    for b in graph.builds:
        targets.setdefault(b.target, {})[b.platform] = b.output
    return {
        "version": VERSION,
        "time": time.time(),
        "cwd": str(cwd),
        "no_cache": no_cache,
        "targets": targets,
        "images": _images(graph, solved),
        "ops": ops,
    }


def _images(graph: Graph, solved: SolveResult) -> dict[str, dict[str, list[dict[str, str]]]]:
    """Each target's final layers per platform (for ``bakec verify``), with the op that made each.

    A layer's maker is the first op, in build order, whose result has it (a base image's
    layers: the image op; a RUN's layer: that RUN).
    """
    maker: dict[str, str] = {}
    for node in graph.order():
        result = solved.results.get(node)
        for layer in result.layers if result is not None else ():
            maker.setdefault(layer.diff_id, node)
    images: dict[str, dict[str, list[dict[str, str]]]] = {}
    for b in graph.builds:
        result = solved.results.get(b.output) if b.output else None
        if result is None:
            continue
        images.setdefault(b.target, {})[b.platform] = [
            {
                "diff_id": layer.diff_id,
                "digest": layer.digest,
                "media_type": layer.media_type,
                "op": maker.get(layer.diff_id, ""),
            }
            for layer in result.layers
        ]
    return images


def write_record(state_dir: Path, record: Mapping[str, Any], keep: int = KEEP) -> Path | None:
    """Write ``record`` as the newest build, then drop all but the newest ``keep`` (None: not written)."""
    name = f"{time.time_ns():020d}-{os.getpid()}.json"
    path = builds_dir(state_dir) / name
    try:
        _atomic_write(path, json.dumps(record, separators=(",", ":")))
        _prune(state_dir, keep)
    except OSError:
        return None  # a record is a convenience: a full disk must not fail the build
    return path


def _record_paths(state_dir: Path) -> list[Path]:
    """Record files, newest first (their names start with the time they were written)."""
    folder = builds_dir(state_dir)
    try:
        names = [n for n in os.listdir(folder) if n.endswith(".json") and not n.startswith(".")]
    except OSError:
        return []
    return [folder / n for n in sorted(names, reverse=True)]


def read_records(state_dir: Path) -> Iterator[dict[str, Any]]:
    """Every readable record, newest first, read one at a time."""
    for path in _record_paths(state_dir):
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(record, dict) and record.get("version") == VERSION:
            yield record


def latest_steps(
    state_dir: Path, nodes: Collection[str], states: Collection[str] | None = None
) -> dict[str, dict[str, Any]]:
    """Each of ``nodes``' entry in the newest record that has it, with that record's ``time``.

    ``state``, ``cache``, ``start`` and ``end`` as :func:`to_record` wrote them (records of
    older versions of bakec have no ``start``/``end``). With ``states``, only entries in one
    of those states count (``{"ran"}``: the newest build that really ran the step).
    """
    wanted = set(nodes)
    found: dict[str, dict[str, Any]] = {}
    for record in read_records(state_dir):
        ops = record.get("ops") or {}
        for node in wanted.intersection(ops):
            entry = ops[node]
            if states is not None and entry.get("state") not in states:
                continue
            step = {k: entry[k] for k in ("state", "cache", "start", "end") if k in entry}
            step["time"] = record.get("time")
            found[node] = step
        wanted.difference_update(found)
        if not wanted:
            break
    return found


def _prune(state_dir: Path, keep: int) -> None:
    paths = _record_paths(state_dir)
    if len(paths) <= keep:
        return
    for old in paths[keep:]:
        old.unlink(missing_ok=True)
    referenced: set[str] = set()
    for record in read_records(state_dir):
        referenced.update(d.partition(":")[2] for d, e in record["ops"].items() if e["kind"] == "local")
    folder = _contexts_dir(state_dir)
    recent = time.time() - 3600  # a build running beside this one may have stored its lists, not its record
    for name in os.listdir(folder) if folder.is_dir() else ():
        path = folder / name
        if name.endswith(".json") and name[: -len(".json")] not in referenced:
            try:
                if path.stat().st_mtime < recent:
                    path.unlink()
            except OSError:
                pass
