"""A resolved bake target on one platform → the typed inputs of its build.

This is bakec's ``toBuildOpt`` (buildx bake/bake.go) and the part of ``toSolveOpt``
(build/opt.go) that turns options into frontend attributes: the one place where a
:class:`~bakec.bake.model.Target`'s attributes become build inputs. Everything the graph,
the worker and the exporters take from a target is read from the
:class:`TargetBuildSpec` made here, and an attribute bakec cannot honour is refused here,
when a build starts (``--print`` never gets here: it prints what buildx prints).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, TypedDict

from bakec.bake.model import Target
from bakec.bake.options import parse_mem_bytes, parse_ulimit
from bakec.errors import BuildError
from bakec.graph.platforms import target_platforms
from bakec.ops import HostIP, Ulimit

__all__ = ["TargetBuildSpec", "target_build_spec", "target_build_specs"]

NETWORK_MODES = ("default", "none", "host")
"""The ``network`` values buildx passes to BuildKit ("" is ``default``)."""

_HOST_GATEWAY = "host-gateway"


@dataclass(frozen=True)
class TargetBuildSpec:
    """What one target builds on one platform, parsed and checked.

    Maps are read-only views; lists are tuples. ``platform`` is ``""`` when the target
    names none (the build platform).
    """

    name: str
    platform: str
    platforms: tuple[str, ...]  # every platform the target builds for (normalized)
    context: str
    dockerfile: str
    dockerfile_inline: str | None
    contexts: Mapping[str, str]
    args: Mapping[str, str]
    labels: Mapping[str, str]
    target_stage: str
    tags: tuple[str, ...]
    annotations: tuple[str, ...]
    outputs: tuple[Mapping[str, str], ...] | None  # None: not set (an image named by the tags)
    cache_from: tuple[Mapping[str, str], ...]
    cache_to: tuple[Mapping[str, str], ...]
    secrets: tuple[Mapping[str, str], ...]
    ssh: tuple[Mapping[str, Any], ...]
    attest: tuple[Mapping[str, Any], ...]
    entitlements: tuple[str, ...]
    no_cache: bool
    no_cache_filter: frozenset[str]  # stage names, lower-cased as the frontend matches them
    pull: bool  # base images are resolved against their registry on every build, pull or not
    # applied to every RUN of the target, as BuildKit's frontend does
    network: str  # default | none | host (a RUN's own --network wins)
    extra_hosts: tuple[HostIP, ...]
    shm_size: int  # bytes; 0 is BuildKit's default (64m)
    ulimits: tuple[Ulimit, ...]

    @property
    def source_date_epoch(self) -> int | None:
        """``SOURCE_DATE_EPOCH`` from the build args, as the exporters read it."""
        epoch = self.args.get("SOURCE_DATE_EPOCH")
        return int(epoch) if epoch else None


class FrontendInputs(TypedDict):
    """The keyword arguments of :func:`bakec.dockerfile.compile` a target decides."""

    build_args: dict[str, str]
    target: str
    platform: str | None
    build_platform: str
    labels: dict[str, str]
    entitlements: tuple[str, ...]
    check_entitlements: bool


def frontend_inputs(spec: TargetBuildSpec, platform: str, build_platform: str) -> FrontendInputs:
    """What the Dockerfile frontend's ``compile`` takes from a target: args, stage, platform, labels.

    Entitlements are granted when building, not planning: a plan shows what would run.
    """
    return FrontendInputs(
        build_args=dict(spec.args),
        target=spec.target_stage,
        platform=platform or None,
        build_platform=build_platform,
        labels=dict(spec.labels),
        entitlements=spec.entitlements,
        check_entitlements=False,
    )


def target_build_specs(target: Target, build_platform: str) -> tuple[TargetBuildSpec, ...]:
    """One spec per platform the target builds for (one with platform ``""`` when it names none)."""
    platforms = target_platforms(target.platforms, build_platform)
    return tuple(target_build_spec(target, p, build_platform) for p in platforms)


def target_build_spec(target: Target, platform: str, build_platform: str) -> TargetBuildSpec:
    """The build inputs of ``target`` (resolved and finalized) on ``platform``.

    ``build_platform`` is the platform bakec runs on (what ``local`` names).

    Raises :class:`BuildError` for what bakec refuses to build (see :func:`refusals`) and
    for values buildx refuses when it builds (an unknown ``network``, a bad ``extra-hosts``
    address).
    """
    _refuse(target)
    return TargetBuildSpec(
        name=target.name,
        platform=platform,
        platforms=tuple(p for p in target_platforms(target.platforms, build_platform) if p),
        context=target.context or ".",
        dockerfile=target.dockerfile or "Dockerfile",
        dockerfile_inline=target.dockerfile_inline,
        contexts=_frozen_map(target.contexts),
        args=_frozen_map(target.args),
        labels=_frozen_map(target.labels),
        target_stage=target.target or "",
        tags=tuple(target.tags or ()),
        annotations=tuple(target.annotations or ()),
        outputs=None if target.output is None else tuple(_frozen_map(o) for o in target.output),
        cache_from=tuple(_frozen_map(c) for c in target.cache_from or ()),
        cache_to=tuple(_frozen_map(c) for c in target.cache_to or ()),
        secrets=tuple(_frozen_map(s) for s in target.secret or ()),
        ssh=tuple(_frozen_map(s) for s in target.ssh or ()),
        attest=tuple(_frozen_map(a) for a in target.attest or ()),
        entitlements=tuple(target.entitlements or ()),
        no_cache=bool(target.no_cache),
        no_cache_filter=frozenset(s.lower() for s in target.no_cache_filter or ()),
        pull=bool(target.pull),
        network=network_mode(target.network),
        extra_hosts=extra_hosts(target.extra_hosts),
        shm_size=parse_mem_bytes(target.shm_size) if target.shm_size else 0,
        ulimits=ulimits(target.ulimits),
    )


def network_mode(value: str | None) -> str:
    """buildx's check of ``network``: ``default`` (or unset), ``none`` or ``host``."""
    if not value:
        return "default"
    if value not in NETWORK_MODES:
        raise BuildError(
            f'network mode "{value}" not supported by buildkit - you can define a custom network '
            "for your builder using the network driver-opt in buildx create"
        )
    return value


def extra_hosts(hosts: Mapping[str, str | None] | None) -> tuple[HostIP, ...]:
    """``extra-hosts`` as buildx sends them (sorted by name, ``a,b`` addresses split, brackets
    dropped) and BuildKit reads them (names lower-cased, addresses in their canonical form)."""
    out: list[HostIP] = []
    for name in sorted(hosts or {}):
        value = (hosts or {})[name]
        if value is None:
            continue
        entry = f"{name}={value}"
        host, sep, ip = entry.partition("=")
        if not sep:
            host, sep, ip = entry.partition(":")
        if not sep or not host or not ip:
            raise BuildError(f"invalid host {entry}")
        if ip == _HOST_GATEWAY:
            raise BuildError(
                "unable to derive the IP value for host-gateway",
                "bakec's builder has no host gateway address; name the address instead",
            )
        for address in ip.split(","):
            if len(address) > 2 and address[0] == "[" and address[-1] == "]":
                address = address[1:-1]
            try:
                parsed = ipaddress.ip_address(address)
            except ValueError:
                raise BuildError(f"invalid host {entry}") from None
            out.append(HostIP(host.lower(), str(parsed)))
    return tuple(out)


def ulimits(values: list[str] | None) -> tuple[Ulimit, ...]:
    """``ulimits`` as docker's ``UlimitOpt`` keeps them: the last of a name wins, sorted by name."""
    by_name: dict[str, Ulimit] = {}
    for value in values or ():
        name, soft, hard = parse_ulimit(value)
        by_name[name] = Ulimit(name, soft, hard)
    return tuple(by_name[name] for name in sorted(by_name))


# -- what bakec refuses -------------------------------------------------------------------------

REFUSED = {
    "resources": "per-step cpu and memory limits are not applied by bakec's worker",
    "policy": "source policies are not evaluated by bakec",
    "call": "`bakec build` answers call=check, call=targets and call=outline without building",
}
"""Attributes bakec cannot honour, and why; a target that sets one is refused when it builds."""


def _refuse(target: Target) -> None:
    if target.resources:
        _refused(target, "resources")
    if target.policy and not all(_disabled(p) for p in target.policy):
        _refused(target, "policy")
    if target.call not in (None, "", "build"):
        _refused(target, "call", f"call={target.call}")


def _refused(target: Target, attribute: str, shown: str = "") -> None:
    raise BuildError(f"target {target.name}: {shown or attribute} is not supported", REFUSED[attribute])


def _disabled(policy: Mapping[str, Any]) -> bool:
    """A ``disabled=true`` policy entry: it asks for no policy, which bakec honours."""
    return bool(policy.get("Disabled")) and not policy.get("Files")


def _frozen_map(mapping: Mapping[str, Any] | None) -> Mapping[str, Any]:
    """A read-only copy; ``None`` values (unset args and labels) are left out."""
    return MappingProxyType({k: v for k, v in (mapping or {}).items() if v is not None})
