"""``bakec plan --shards N --format github-actions``: a complete GitHub Actions workflow.

A ``plan`` job recomputes the plan from the recorded inputs, refuses to go on when its
layout (shard ids, needs, commands) is not the one this workflow was written for, and
passes ``plan.json`` to the other jobs as an artifact. One job per shard, ``needs`` from the
plan; ``publish`` needs every shard. Runners are picked per shard platform (``runs-on``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bakec.fleet.pipeline import INSTALL, dump, hosted_runner, plan_command, shell

__all__ = ["workflow"]

_ARTIFACT = "bakec-plan"


def _setup() -> list[dict[str, Any]]:
    return [
        {"uses": "actions/checkout@v4"},
        {"uses": "actions/setup-python@v5", "with": {"python-version": "3.12"}},
        {"name": "Install bakec", "run": INSTALL},
    ]


def _run_step(name: str, argv: list[str]) -> dict[str, Any]:
    # each runner starts from an empty state dir with its own embedded containerd, run as root
    script = (
        'export BAKEC_STATE_DIR="$RUNNER_TEMP/bakec"\nsudo --preserve-env env "PATH=$PATH" '
        + shell(argv)
        + "\n"
    )
    return {"name": name, "run": script}


def workflow(document: Mapping[str, Any]) -> str:
    """The workflow YAML for ``document`` (a fleet plan)."""
    plan_file = document["inputs"]["plan_file"]
    check = (
        f"{shell(plan_command(document))} > {plan_file}\n"
        f"layout=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))[\"layout\"])' {plan_file})\n"
        'if [ "$layout" != "$BAKEC_LAYOUT" ]; then\n'
        '  echo "::error::the fleet changed shape (layout $layout, this workflow was written for '
        '$BAKEC_LAYOUT): regenerate it with bakec plan ... --format github-actions"\n'
        "  exit 1\n"
        "fi\n"
    )
    jobs: dict[str, Any] = {
        "plan": {
            "name": "plan",
            "runs-on": hosted_runner([]),
            "steps": [
                *_setup(),
                {"name": "Plan", "run": check},
                {"uses": "actions/upload-artifact@v4", "with": {"name": _ARTIFACT, "path": plan_file}},
            ],
        }
    }
    download = {"uses": "actions/download-artifact@v4", "with": {"name": _ARTIFACT}}
    for shard in document["shards"]:
        platforms = ", ".join(shard["platforms"]) or "sources"
        jobs[shard["id"]] = {
            "name": f"shard {shard['id']} ({platforms})",
            "needs": ["plan", *shard["needs"]],
            "runs-on": hosted_runner(shard["platforms"]),
            "steps": [*_setup(), download, _run_step(f"Build shard {shard['id']}", shard["command"])],
        }
    publish = document["publish"]
    jobs["publish"] = {
        "name": "publish",
        "needs": ["plan", *publish["needs"]],
        "runs-on": hosted_runner([]),
        "steps": [*_setup(), download, _run_step("Publish", publish["command"])],
    }
    data = {
        "name": "bakec fleet",
        "on": {"push": {}, "workflow_dispatch": {}},
        "permissions": {"contents": "read"},
        "env": {"BAKEC_PLAN": document["plan"], "BAKEC_LAYOUT": document["layout"]},
        "jobs": jobs,
    }
    return dump(data)
