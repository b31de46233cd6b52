"""``bakec plan --diff OLD``: what the current plan changes against an earlier one.

OLD is a ``bakec plan --format json`` file, or ``git:REV``: that revision's plan,
computed from ``git archive REV`` unpacked into a temporary directory (the work
tree is never touched). Ops whose digest the old plan lacks are the ones to run;
each gets its reason with the cause names of ``bakec why``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from bakec.bake.definition import load
from bakec.errors import BakecError
from bakec.explain.causes import Explainer
from bakec.explain.snapshot import Snapshot, from_plan
from bakec.graph.plan import plan, to_dict
from bakec.graph.resolve import ImageResolver

__all__ = ["diff", "diff_plans", "git_plan", "old_plan", "render_json", "render_text"]


def old_plan(
    spec: str,
    *,
    files: Sequence[str],
    names: Sequence[str],
    overrides: Sequence[str],
    env: Mapping[str, str],
    vars: Mapping[str, str],
    cwd: str,
    resolver: ImageResolver | None = None,
) -> dict[str, Any]:
    """The plan ``spec`` names: a JSON file, or ``git:REV`` planned with the same flags."""
    if spec.startswith("git:"):
        return git_plan(
            spec[4:],
            files=files,
            names=names,
            overrides=overrides,
            env=env,
            vars=vars,
            cwd=cwd,
            resolver=resolver,
        )
    try:
        data = json.loads(Path(cwd, spec).read_text())
    except OSError as err:
        raise BakecError(f"cannot read plan {spec}: {err.strerror}") from None
    except ValueError as err:
        raise BakecError(f"{spec} is not a `bakec plan --format json` output: {err}") from None
    if not isinstance(data, dict) or "nodes" not in data or "targets" not in data:
        raise BakecError(f"{spec} is not a `bakec plan --format json` output")
    return data


def _git(cwd: str, *args: str) -> bytes:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, check=False)
    if done.returncode != 0:
        raise BakecError(f"git {' '.join(args)}: {done.stderr.decode(errors='replace').strip()}")
    return done.stdout


def git_plan(
    rev: str,
    *,
    files: Sequence[str],
    names: Sequence[str],
    overrides: Sequence[str],
    env: Mapping[str, str],
    vars: Mapping[str, str],
    cwd: str,
    resolver: ImageResolver | None = None,
) -> dict[str, Any]:
    """The plan of revision ``rev`` of the repository holding ``cwd``, from a temporary export of it."""
    top = _git(cwd, "rev-parse", "--show-toplevel").decode().strip()
    commit = _git(cwd, "rev-parse", "--verify", "--quiet", rev + "^{commit}").decode().strip()
    below = os.path.relpath(os.path.realpath(cwd), os.path.realpath(top))
    tmp = tempfile.mkdtemp(prefix="bakec-diff-")
    try:
        tree = os.path.join(tmp, "tree")
        os.mkdir(tree)
        # modes as a checkout by this user would have them (git's default umask for archives is 002)
        archive = subprocess.Popen(
            ["git", "-c", "tar.umask=user", "archive", commit], cwd=top, stdout=subprocess.PIPE
        )
        unpack = subprocess.run(
            ["tar", "-x", "-C", tree], stdin=archive.stdout, capture_output=True, check=False
        )
        if archive.stdout is not None:
            archive.stdout.close()
        if archive.wait() != 0 or unpack.returncode != 0:
            raise BakecError(f"cannot export {rev}: {unpack.stderr.decode(errors='replace').strip()}")
        there = os.path.normpath(os.path.join(tree, below))
        if not os.path.isdir(there):
            raise BakecError(f"{below} does not exist at {rev}")
        definition = load(list(files), env=env, cwd=there, vars=vars)
        graph = plan(
            definition,
            list(names),
            list(overrides),
            resolver=resolver,
            cache_dir=os.path.join(tmp, "cache"),
            files=True,
        )
        return _relocated(to_dict(graph), there, cwd)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _relocated(data: dict[str, Any], old_root: str, new_root: str) -> dict[str, Any]:
    """Local source paths of the export shown as paths of the work tree (what the user knows)."""
    for node in data["nodes"]:
        path = node.get("path")
        if path and (path == old_root or path.startswith(old_root + "/")):
            node["path"] = new_root + path[len(old_root) :]
    return data


def diff(new: Snapshot, old: Snapshot) -> dict[str, Any]:
    """Targets whose images change and the ops to run, each with its cause (plain data)."""
    to_run = {d for d, e in new.ops.items() if e["kind"] != "local" and (d not in old.ops or e["no_cache"])}
    explainer = Explainer(new, old, to_run, ran="changes")
    order = [d for d in new.ops if d in to_run]

    def target_of(digest: str) -> str:
        mine = [t for t in new.ops[digest]["targets"] if t in new.targets]
        return next((t for t in mine if t in old.targets), mine[0] if mine else "")

    ops = []
    for digest in order:
        target = target_of(digest)
        cause = explainer.cause(digest, target)
        root = explainer.root(digest, target)
        ops.append(
            {
                "id": digest,
                "step": new.ops[digest]["label"],
                **cause.to_dict(),
                "root": new.ops[root]["label"],
            }
        )
    targets = []
    for name, outputs in new.targets.items():
        before = old.targets.get(name)
        if before == outputs:
            continue
        roots: dict[str, None] = {}
        for digest in new.closure(name):
            if digest in to_run:
                roots[explainer.root(digest, target_of(digest))] = None
        causes = [{**explainer.cause(r, target_of(r)).to_dict(), "step": new.ops[r]["label"]} for r in roots]
        targets.append({"target": name, "change": "new" if before is None else "changed", "causes": causes})
    targets += [
        {"target": name, "change": "removed", "causes": []} for name in old.targets if name not in new.targets
    ]
    changing = sum(1 for t in targets if t["change"] != "removed")
    return {
        "targets": targets,
        "ops": ops,
        "summary": {"targets": len(new.targets), "changed": changing, "ops": len(ops)},
    }


def render_text(report: Mapping[str, Any]) -> str:
    lines = []
    if report["targets"]:
        lines.append("targets:")
    for t in report["targets"]:
        causes = "; ".join(f"{c['text']} → {c['step']}" for c in t["causes"])
        if t["change"] == "changed" and causes:
            lines.append(f"  {t['target']}: {causes}")
        else:
            lines.append(f"  {t['target']}: {t['change']}" + (f" ({causes})" if causes else ""))
    if report["ops"]:
        lines.append("ops:")
    for op in report["ops"]:
        lines.append(f"  {op['step']}: {op['cause']}: {op['text']}")
    s = report["summary"]
    lines.append(f"{s['changed']} of {s['targets']} targets change; {s['ops']} ops to run")
    return "\n".join(lines) + "\n"


def render_json(report: Mapping[str, Any]) -> str:
    return json.dumps(report, indent=2) + "\n"


def diff_plans(new_plan: Mapping[str, Any], old: Mapping[str, Any], cwd: str) -> dict[str, Any]:
    """:func:`diff` of two ``bakec plan --format json`` documents (local files shown relative to ``cwd``)."""
    return diff(from_plan(new_plan, cwd), from_plan(old, cwd))
