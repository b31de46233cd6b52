"""``bakec plan --shards N --format gitlab``: a GitLab CI child pipeline.

The parent pipeline runs ``bakec plan`` (job ``bakec-plan``, keeping ``plan.json`` and this
file as artifacts) and triggers this child. Each shard is one job whose ``needs`` are the
plan's, plus the parent's plan artifact; ``publish`` needs every shard.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bakec.fleet.pipeline import INSTALL, dump, shell

__all__ = ["child_pipeline"]

_PLAN_JOB = {"pipeline": "$PARENT_PIPELINE_ID", "job": "bakec-plan", "artifacts": True}


def _job(stage: str, needs: list[str], argv: list[str], platforms: list[str]) -> dict[str, Any]:
    return {
        "extends": ".bakec",
        "stage": stage,
        "needs": [dict(_PLAN_JOB), *needs],
        "variables": {"BAKEC_PLATFORMS": ",".join(platforms)},
        "script": [shell(argv)],
    }


def child_pipeline(document: Mapping[str, Any]) -> str:
    """The child pipeline YAML for ``document`` (a fleet plan)."""
    data: dict[str, Any] = {
        "stages": ["shards", "publish"],
        "variables": {"BAKEC_PLAN": document["plan"]},
        ".bakec": {
            "image": "python:3.12",
            "before_script": [INSTALL, 'export BAKEC_STATE_DIR="$CI_BUILDS_DIR/.bakec-state"'],
        },
    }
    for shard in document["shards"]:
        data[shard["id"]] = _job("shards", list(shard["needs"]), shard["command"], shard["platforms"])
    publish = document["publish"]
    data["publish"] = _job("publish", list(publish["needs"]), publish["command"], [])
    return dump(data)
