"""``bakec why TARGET``: why the steps of the target's latest recorded build ran.

Reads the build records of the state dir (``bakec.solver.records``); needs no
containerd and never builds. Each step that ran is compared with the same step
in the closest earlier record; steps that ran only because a step they read
ran are grouped under that root cause.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bakec.errors import BakecError
from bakec.explain.causes import Explainer
from bakec.explain.snapshot import Snapshot, from_record
from bakec.solver import records

__all__ = ["render_json", "render_text", "why"]

_RAN = ("ran", "failed")


def _snapshots(state_dir: Path, target: str) -> Iterator[Snapshot]:
    """Snapshots of the recorded builds that built ``target``, newest first."""
    for record in records.read_records(state_dir):
        if target in record.get("targets", {}):
            yield from_record(record, lambda d: records.context_files(state_dir, d))


def why(state_dir: Path, target: str) -> dict[str, Any]:
    """The explanation of ``target``'s latest recorded build, as plain data (``--format json``)."""
    found = _snapshots(Path(state_dir), target)
    current = next(found, None)
    if current is None:
        raise BakecError(f"no build of target {target!r} is recorded in {state_dir}")
    steps = current.closure(target)
    ran = [d for d in steps if current.ops[d]["state"] in _RAN]
    explainer = Explainer(current, lambda: next(found, None), set(ran))
    roots: dict[str, list[str]] = {}
    for digest in ran:
        roots.setdefault(explainer.root(digest, target), []).append(digest)
    causes = []
    for root, followers in roots.items():
        cause = explainer.cause(root, target)
        causes.append(
            {
                **cause.to_dict(),
                "step": current.ops[root]["label"],
                "digest": root,
                "steps_ran": len(followers),
                "ran": [current.ops[d]["label"] for d in followers],
            }
        )
    cached = [d for d in steps if current.ops[d]["state"] == "cached"]
    return {
        "target": target,
        "time": current.time,
        "steps": sum(1 for d in steps if current.ops[d]["kind"] != "local"),
        "ran": len(ran),
        "cached": len(cached),
        "imported": sum(1 for d in cached if current.ops[d].get("cache") == "import"),
        "causes": causes,
    }


def render_text(report: dict[str, Any]) -> str:
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(report["time"])) if report["time"] else "?"
    imported = f", {report['imported']} imported" if report["imported"] else ""
    lines = [
        f"{report['target']}: {report['ran']} of {report['steps']} steps ran, "
        f"{report['cached']} from the cache{imported} (build of {when})"
    ]
    for cause in report["causes"]:
        count = cause["steps_ran"]
        lines.append(f"{cause['text']} → {cause['step']} → {count} step{'s' if count != 1 else ''} ran")
        lines.extend(f"    {label}" for label in cause["ran"][1:])
    return "\n".join(lines) + "\n"


def render_json(report: dict[str, Any]) -> str:
    return json.dumps(report, indent=2) + "\n"
