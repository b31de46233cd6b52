"""SLSA provenance v0.2 statements as BuildKit writes them (``buildType https://mobyproject.org/buildkit@v1``).

One in-toto statement per image manifest: the subjects are the image's names as
package URLs with the manifest digest; the predicate records the base images and git
contexts (``materials``), the Dockerfile (``configSource``), the frontend parameters
and the build platform. ``mode=min`` leaves out build arguments, labels, secret and
ssh ids (and says so in ``completeness.parameters``); ``mode=max`` adds them, the
build's operations (``buildConfig``) and the Dockerfile source. Secret values never
enter: bakec's ops carry secret ids only.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from bakec.ops import canonical
from bakec.registry.errors import InvalidReference
from bakec.registry.reference import parse_normalized_named
from bakec.util.gitref import redact, redact_all

STATEMENT_TYPE = "https://in-toto.io/Statement/v0.1"
PREDICATE_TYPE = "https://slsa.dev/provenance/v0.2"
BUILD_TYPE = "https://mobyproject.org/buildkit@v1"
METADATA_KEY = "https://mobyproject.org/buildkit@v1#metadata"
HERMETIC_KEY = "https://mobyproject.org/buildkit@v1#hermetic"


@dataclass(frozen=True)
class Invocation:
    """What is the same for every statement of one ``bakec build`` run."""

    invocation_id: str
    started: datetime
    build_platform: str  # the machine's, as BuildKit's ``platforms.DefaultSpec()``


def purl(ref: str, platform: str = "") -> str:
    """BuildKit's ``purl.RefToPURL``: ``pkg:docker/<ns>/<name>@<tag>?digest=..&platform=..``."""
    try:
        named = parse_normalized_named(ref)
    except InvalidReference:
        return ref
    familiar = named.repository().familiar()
    ns, _, name = familiar.rpartition("/")
    version = named.tag or ("" if named.digest else "latest")
    qualifiers = []
    if named.digest:
        qualifiers.append(("digest", named.digest))
    if platform:
        qualifiers.append(("platform", platform))
    out = "pkg:docker/" + (f"{'/'.join(quote(s, safe=':') for s in ns.split('/'))}/" if ns else "")
    out += quote(name, safe="")
    if version:
        out += "@" + quote(version, safe="")
    if qualifiers:
        out += "?" + "&".join(f"{k}={quote(v, safe='')}" for k, v in qualifiers)
    return out


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _closure(graph: Any, build: Any) -> list[Any]:
    """The ops the build's output needs, in build order (the graph's order: the closure holds every input)."""
    if not build.output:
        return []
    needed = graph.ancestors(build.output) | {build.output}
    return [graph.nodes[n]["op"] for n in graph.order() if n in needed]


def _materials(ops: Sequence[Any], git_commits: Mapping[str, str]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for op in ops:
        if op.kind == "image" and op.manifest:
            uri = purl(op.ref, op.platform)
            if uri not in seen:
                seen.add(uri)
                algo, _, hexpart = op.manifest.partition(":")
                out.append({"uri": uri, "digest": {algo: hexpart}})
    for url, commit in git_commits.items():
        out.append({"uri": redact(url), "digest": {"sha1": commit}})
    return out


def _op_json(op: Any) -> dict[str, Any]:
    """The op's definition, with credentials in URLs (git and http sources) redacted."""

    return redact_all(json.loads(canonical(op)))


def statement(
    *,
    names: Sequence[str],
    manifest_digest: str,
    platform: str,
    build: Any,
    graph: Any,
    target: Any,
    mode: str,
    invocation: Invocation,
    git_commits: Mapping[str, str],
    builder_id: str = "",
    dockerfile: bytes | None = None,
    finished: datetime | None = None,
) -> dict[str, Any]:
    """The in-toto statement for one image manifest of ``build`` (a :class:`bakec.graph.build.Build`).

    ``git_commits``: the commit each git context URL of the run was fetched at;
    ``dockerfile``: the Dockerfile's bytes, recorded by ``mode=max``.
    """
    algo, _, hexpart = manifest_digest.partition(":")
    subjects = [{"name": purl(n, platform), "digest": {algo: hexpart}} for n in names] or [
        {"name": "_", "digest": {algo: hexpart}}
    ]
    ops = _closure(graph, build)
    context = build.context
    commits = {
        url: c for url, c in git_commits.items() if url == context or url in (target.contexts or {}).values()
    }
    config_source: dict[str, Any] = {}
    if context in commits:
        config_source = {"uri": redact(context), "digest": {"sha1": commits[context]}}
    if target.dockerfile_inline is None:
        config_source["entryPoint"] = target.dockerfile or "Dockerfile"
    args: dict[str, str] = {}
    dropped = False
    for key, value in sorted((target.args or {}).items()):
        if value is not None:
            args[f"build-arg:{key}"] = value
    for key, value in sorted((target.labels or {}).items()):
        if value is not None:
            args[f"label:{key}"] = value
    for key, value in sorted((target.contexts or {}).items()):
        args[f"context:{key}"] = value
    if target.target:
        args["target"] = target.target
    if mode == "min":
        kept = {k: v for k, v in args.items() if not k.startswith(("build-arg:", "label:"))}
        dropped = len(kept) != len(args)
        args = kept
    parameters: dict[str, Any] = {"frontend": "dockerfile.v0"}
    if args:
        parameters["args"] = args
    if mode == "max":
        secrets = [{"id": s["id"], "optional": False} for s in target.secret or [] if s.get("id")]
        ssh = [{"id": s.get("id", "default"), "optional": False} for s in target.ssh or []]
        if secrets:
            parameters["secrets"] = secrets
        if ssh:
            parameters["ssh"] = ssh
    locals_ = []
    if context not in commits:
        locals_.append({"name": "context"})
    if target.dockerfile_inline is None and context not in commits:
        locals_.append({"name": "dockerfile"})
    locals_ += [
        {"name": key}
        for key, value in sorted((target.contexts or {}).items())
        if not value.startswith(("target:", "docker-image://", "oci-layout://")) and value not in commits
    ]
    if locals_:
        parameters["locals"] = locals_
    incomplete = bool(locals_)
    network = any(op.kind == "exec" and getattr(op, "network", "default") != "none" for op in ops)
    completeness: dict[str, Any] = {
        "parameters": not dropped,
        "environment": True,
        "materials": not incomplete,
    }
    if not incomplete and not network:
        completeness[HERMETIC_KEY] = True
    buildkit_metadata: dict[str, Any] = {}
    predicate: dict[str, Any] = {
        "builder": {"id": builder_id},
        "buildType": BUILD_TYPE,
        "materials": _materials(ops, commits),
        "invocation": {
            "configSource": config_source,
            "parameters": parameters,
            "environment": {"platform": invocation.build_platform},
        },
    }
    if mode == "max":
        index = {op.digest: i for i, op in enumerate(ops)}
        predicate["buildConfig"] = {
            "llbDefinition": [
                {
                    "id": f"step{i}",
                    "op": {"kind": op.kind, **_op_json(op)},
                    **(
                        {"inputs": [f"step{index[d]}:0" for d in op.inputs if d in index]}
                        if op.inputs
                        else {}
                    ),
                }
                for i, op in enumerate(ops)
            ]
        }
        if dockerfile is not None:
            name = (
                "Dockerfile" if target.dockerfile_inline is not None else (target.dockerfile or "Dockerfile")
            )
            buildkit_metadata["source"] = {
                "infos": [
                    {
                        "filename": name,
                        "language": "Dockerfile",
                        "data": base64.b64encode(dockerfile).decode(),
                    }
                ]
            }
    predicate["metadata"] = {
        "buildInvocationID": invocation.invocation_id,
        "buildStartedOn": _rfc3339(invocation.started),
        "buildFinishedOn": _rfc3339(finished or datetime.now(UTC)),
        "completeness": completeness,
        "reproducible": False,
        METADATA_KEY: buildkit_metadata,
    }
    return {
        "_type": STATEMENT_TYPE,
        "predicateType": PREDICATE_TYPE,
        "subject": subjects,
        "predicate": predicate,
    }
