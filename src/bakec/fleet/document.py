"""The fleet plan document (``bakec plan --shards N --format json``) and its hash.

Everything in it comes from the bake files, the contexts, the options that shape the graph
and the resolved base images: never a machine path, a time or a secret. ``plan`` is the
sha256 of the rest in canonical JSON, so two clean checkouts give byte-identical plans.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from bakec._version import __version__
from bakec.fleet.shards import Shard
from bakec.graph.build import Graph

__all__ = ["FORMAT_VERSION", "PlanInputs", "fleet_plan", "layout_hash", "render_plan", "shard_id"]

FORMAT_VERSION = 1
# --set keys that name secrets or agents: each runner brings its own, so the plan never records them
_PRIVATE_KEYS = ("secrets", "secret", "ssh")


@dataclass(frozen=True)
class PlanInputs:
    """The options that shaped the graph, as the user gave them."""

    files: Sequence[str] = ()
    targets: Sequence[str] = ()
    overrides: Sequence[str] = ()
    variables: Mapping[str, str] = field(default_factory=dict)
    build_platform: str = ""
    # how base images were pinned: "registry", "lock" (bakec.lock's digests) or "offline"
    resolver: str = "offline"
    resolver_note: str = ""  # why offline, when the registry was asked for and unreachable
    costs: str = "static"  # "static" or the --costs file as given
    plan_file: str = "plan.json"  # the name the shard commands read the plan from
    shards: int = 1  # --shards as given


def shard_id(index: int) -> str:
    return f"s{index + 1}"


def fleet_plan(graph: Graph, shards: Sequence[Shard], inputs: PlanInputs, cache_repo: str) -> dict[str, Any]:
    """The plan document, ``plan`` (its hash) first."""
    items: list[dict[str, Any]] = []
    for i, shard in enumerate(shards):
        allow = _entitlements(graph, shard.ops)
        command = ["bakec", "build", "--plan", inputs.plan_file, "--shard", shard_id(i)]
        command += [f"--allow={e}" for e in allow]
        items.append(
            {
                "id": shard_id(i),
                "needs": [shard_id(n) for n in shard.needs],
                "platforms": list(shard.platforms),
                "targets": list(shard.targets),
                "ops": list(shard.ops),
                "cost": shard.cost,
                "cache_ref": f"{cache_repo}:{cache_tag(shard.ops)}",
                "entitlements": allow,
                "command": command,
            }
        )
    body: dict[str, Any] = {
        "version": FORMAT_VERSION,
        "bakec": __version__,
        "inputs": {
            "files": list(inputs.files),
            "targets": list(inputs.targets),
            "set": [o for o in inputs.overrides if not _is_private(o)],
            "var": dict(sorted(inputs.variables.items())),
            "build_platform": inputs.build_platform,
            "shards": inputs.shards,
            "plan_file": inputs.plan_file,
        },
        "base_images": {
            "resolver": inputs.resolver,
            **({"note": inputs.resolver_note} if inputs.resolver_note else {}),
            "images": [
                {"ref": ref, "platform": platform, "digest": r.digest if r else None}
                for (ref, platform), r in sorted(graph.images.items())
            ],
        },
        "costs": inputs.costs,
        "cache_repo": cache_repo,
        "entitlements": sorted({e for item in items for e in item["entitlements"]}),
        "shards": items,
        "publish": {
            "needs": [item["id"] for item in items],
            "command": ["bakec", "build", "--plan", inputs.plan_file, "--publish"],
        },
    }
    body["layout"] = layout_hash(body)
    return {"plan": "sha256:" + hashlib.sha256(_canonical(body)).hexdigest(), **body}


def cache_tag(ops: Sequence[str]) -> str:
    """A shard's cache tag, named by the ops it owns: unchanged ops keep their ref across runs."""
    h = hashlib.sha256("\n".join(sorted(ops)).encode())
    return "fleet-" + h.hexdigest()[:32]


def layout_hash(document: Mapping[str, Any]) -> str:
    """What an emitted pipeline depends on: shard ids, needs, platforms and commands.

    Editing a source file changes ops and cache refs but not the layout, so a committed
    workflow stays valid until the shape of the fleet changes.
    """
    shape = [[s["id"], s["needs"], s["platforms"], s["command"]] for s in document["shards"]]
    shape.append(["publish", document["publish"]["needs"], [], document["publish"]["command"]])
    return "sha256:" + hashlib.sha256(_canonical(shape)).hexdigest()


def render_plan(document: Mapping[str, Any]) -> str:
    """Indented, key order as built: byte-identical for equal documents."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def _canonical(data: Any) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _is_private(override: str) -> bool:
    key = override.partition("=")[0]
    return key.rsplit(".", 1)[-1].strip().lower() in _PRIVATE_KEYS


def _entitlements(graph: Graph, ops: Sequence[str]) -> list[str]:
    """The ``--allow`` values a shard's RUN steps need."""
    needed = set()
    for node in ops:
        op = graph.nodes[node]["op"]
        if op.kind != "exec":
            continue
        if op.network == "host":
            needed.add("network.host")
        if op.security == "insecure":
            needed.add("security.insecure")
    return sorted(needed)
