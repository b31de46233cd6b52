"""``bakec plan --shards N --format tekton``: a Task, a Pipeline and a PipelineRun (Tekton v1).

The Task runs one shard, or the publish, of any plan: params ``plan``, ``shard`` (a shard
id, or ``publish``) and ``allow`` (the shard's entitlements); workspaces ``source`` (the
checkout holding the bake files and the plan) and ``dockerconfig`` (registry credentials).
Its step starts bakec's embedded containerd and runc, so it runs **privileged**. The Pipeline
has one task per shard, ``runAfter`` its ``needs``, with retries; the publish runs in
``finally`` only when every shard succeeded (``$(tasks.status)``), so a failed shard moves no tag.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bakec.fleet.pipeline import INSTALL, dump

__all__ = ["PUBLISH", "RETRIES", "TASK", "tekton_objects"]

TASK = "bakec-shard"
PIPELINE = "bakec-fleet"
PUBLISH = "publish"  # the ``shard`` param value that publishes
RETRIES = 2
_STATE = "/var/lib/bakec"

# the step's script: Tekton substitutes $(params.*) before the shell sees it
SCRIPT = f"""#!/bin/sh
set -eu
command -v bakec >/dev/null 2>&1 || {INSTALL}
set --
for entitlement in $(params.allow); do
  set -- "$@" "--allow=$entitlement"
done
if [ "$(params.shard)" = "{PUBLISH}" ]; then
  exec bakec build --plan "$(params.plan)" --publish
fi
exec bakec build --plan "$(params.plan)" --shard "$(params.shard)" "$@"
"""


def _task() -> dict[str, Any]:
    return {
        "apiVersion": "tekton.dev/v1",
        "kind": "Task",
        "metadata": {"name": TASK},
        "spec": {
            "description": "Run one shard of a bakec fleet plan, or publish its results. "
            "Privileged: the step runs bakec's embedded containerd and runc.",
            "params": [
                {"name": "plan", "type": "string", "default": "plan.json", "description": "the plan file"},
                {"name": "shard", "type": "string", "description": f"a shard id of the plan, or {PUBLISH}"},
                {
                    "name": "allow",
                    "type": "string",
                    "default": "",
                    "description": "entitlements, space-separated",
                },
            ],
            "workspaces": [
                {
                    "name": "source",
                    "description": "the checkout: bake files, Dockerfiles, contexts and the plan",
                },
                {
                    "name": "dockerconfig",
                    "description": "a config.json with registry credentials",
                    "readOnly": True,
                },
            ],
            "volumes": [{"name": "state", "emptyDir": {}}],
            "steps": [
                {
                    "name": "bakec",
                    "image": "python:3.12",
                    "workingDir": "$(workspaces.source.path)",
                    "securityContext": {"privileged": True},
                    "env": [
                        {"name": "BAKEC_STATE_DIR", "value": _STATE},
                        {"name": "DOCKER_CONFIG", "value": "$(workspaces.dockerconfig.path)"},
                    ],
                    "volumeMounts": [{"name": "state", "mountPath": _STATE}],
                    "script": SCRIPT,
                }
            ],
        },
    }


def _pipeline_task(name: str, shard: str, allow: list[str], after: list[str]) -> dict[str, Any]:
    task: dict[str, Any] = {"name": name, "taskRef": {"name": TASK}}
    if after:
        task["runAfter"] = after
    task["retries"] = RETRIES
    task["params"] = [
        {"name": "plan", "value": "$(params.plan)"},
        {"name": "shard", "value": shard},
        {"name": "allow", "value": " ".join(allow)},
    ]
    task["workspaces"] = [
        {"name": "source", "workspace": "source"},
        {"name": "dockerconfig", "workspace": "dockerconfig"},
    ]
    return task


def _pipeline(document: Mapping[str, Any]) -> dict[str, Any]:
    tasks = [_pipeline_task(s["id"], s["id"], s["entitlements"], s["needs"]) for s in document["shards"]]
    publish = _pipeline_task(PUBLISH, PUBLISH, [], [])
    publish.pop("retries")  # a publish is all-or-nothing; re-run it by hand once the cause is fixed
    publish["when"] = [{"input": "$(tasks.status)", "operator": "in", "values": ["Succeeded", "Completed"]}]
    return {
        "apiVersion": "tekton.dev/v1",
        "kind": "Pipeline",
        "metadata": {
            "name": PIPELINE,
            "annotations": {"bakec.dev/plan": document["plan"], "bakec.dev/layout": document["layout"]},
        },
        "spec": {
            "params": [{"name": "plan", "type": "string", "default": document["inputs"]["plan_file"]}],
            "workspaces": [{"name": "source"}, {"name": "dockerconfig"}],
            "tasks": tasks,
            "finally": [publish],
        },
    }


def _pipeline_run(document: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "tekton.dev/v1",
        "kind": "PipelineRun",
        "metadata": {"generateName": PIPELINE + "-"},
        "spec": {
            "pipelineRef": {"name": PIPELINE},
            "params": [{"name": "plan", "value": document["inputs"]["plan_file"]}],
            "workspaces": [
                {"name": "source", "persistentVolumeClaim": {"claimName": "bakec-source"}},
                {
                    "name": "dockerconfig",
                    "secret": {
                        "secretName": "bakec-dockerconfig",
                        "items": [{"key": ".dockerconfigjson", "path": "config.json"}],
                    },
                },
            ],
        },
    }


def tekton_objects(document: Mapping[str, Any]) -> str:
    """Task, Pipeline and PipelineRun for ``document`` (a fleet plan), as one YAML stream."""
    return dump(_task(), _pipeline(document), _pipeline_run(document))
