"""Every target attribute of the bake schema either feeds a build input or is refused when building.

The table below has one row per attribute of ``schemas/bake.schema.json``: the
:class:`TargetBuildSpec` field it feeds (with a value to set it to, in a JSON bake file), the
message bakec refuses it with, or why it is no build input at all. A new attribute in the
schema fails :func:`test_every_schema_attribute_has_a_row` until it gets a row.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import pytest

from bakec.bake.definition import load
from bakec.errors import BuildError
from bakec.graph.target_options import REFUSED, TargetBuildSpec, target_build_spec
from bakec.ops import HostIP, Ulimit

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "schemas" / "bake.schema.json"
BUILD_PLATFORM = "linux/amd64"

# attribute: ("feeds", spec field, JSON value) | ("refused", message, JSON value) | ("none", why)
ROWS: dict[str, tuple[Any, ...]] = {
    "description": ("none", "shown by --list; no build input"),
    "annotations": ("feeds", "annotations", ["index:org.opencontainers.image.title=x"]),
    "attest": ("feeds", "attest", ["type=sbom"]),
    "context": ("feeds", "context", "sub"),
    "contexts": ("feeds", "contexts", {"src": "./src"}),
    "dockerfile": ("feeds", "dockerfile", "Other.Dockerfile"),
    "dockerfile-inline": ("feeds", "dockerfile_inline", "FROM scratch\n"),
    "args": ("feeds", "args", {"A": "1"}),
    "labels": ("feeds", "labels", {"l": "v"}),
    "tags": ("feeds", "tags", ["example/app:1"]),
    "cache-from": ("feeds", "cache_from", ["type=local,src=cache"]),
    "cache-to": ("feeds", "cache_to", ["type=local,dest=cache"]),
    "target": ("feeds", "target_stage", "dev"),
    "secret": ("feeds", "secrets", ["id=token,env=TOKEN"]),
    "ssh": ("feeds", "ssh", ["default"]),
    "platforms": ("feeds", "platforms", ["linux/arm64"]),
    "output": ("feeds", "outputs", ["type=local,dest=out"]),
    "pull": ("feeds", "pull", True),
    "no-cache": ("feeds", "no_cache", True),
    "network": ("feeds", "network", "none"),
    "no-cache-filter": ("feeds", "no_cache_filter", ["Build"]),
    "shm-size": ("feeds", "shm_size", "128m"),
    "ulimits": ("feeds", "ulimits", ["nofile=1024:2048"]),
    "resources": ("refused", "target app: resources is not supported", {"memory": "1g"}),
    "call": ("refused", "target app: call=outline is not supported", "outline"),
    "entitlements": ("feeds", "entitlements", ["security.insecure"]),
    "extra-hosts": ("feeds", "extra_hosts", {"db": "10.0.0.2"}),
    "policy": ("refused", "target app: policy is not supported", ["filename=policy.rego"]),
    "inherits": ("none", "merged into the target before it is resolved"),
    "name": ("none", "the target's name, not an attribute of its build"),
    "matrix": ("none", "expands into several targets before they are resolved"),
}


def _schema_attributes() -> list[str]:
    schema = json.loads(SCHEMA_FILE.read_text())
    return list(schema["properties"]["target"]["additionalProperties"]["properties"])


def _spec(tmp_path: Path, attributes: dict[str, Any]) -> TargetBuildSpec:
    """The spec of target ``app`` of a JSON bake file setting ``attributes``."""
    (tmp_path / "docker-bake.json").write_text(json.dumps({"target": {"app": attributes}}))
    agent = tmp_path / "agent.sock"  # ssh "default" is checked to be a socket
    if not agent.exists():
        with socket.socket(socket.AF_UNIX) as listener:
            listener.bind(str(agent))
    env = {"TOKEN": "t", "SSH_AUTH_SOCK": str(agent)}
    definition = load(["docker-bake.json"], cwd=str(tmp_path), env=env)
    target = definition.resolve(["app"]).targets["app"]
    return target_build_spec(target, "", BUILD_PLATFORM)


def test_every_schema_attribute_has_a_row() -> None:
    attributes = _schema_attributes()
    assert [a for a in attributes if a not in ROWS] == [], "add a row: which build input, or refused why"
    assert [a for a in ROWS if a not in attributes] == []


def test_every_refused_attribute_has_a_row() -> None:
    assert {a for a, row in ROWS.items() if row[0] == "refused"} == set(REFUSED)


@pytest.mark.parametrize("attribute", [a for a, row in ROWS.items() if row[0] == "feeds"])
def test_an_attribute_feeds_its_build_input(tmp_path: Path, attribute: str) -> None:
    _, field, value = ROWS[attribute]
    (tmp_path / "sub").mkdir()
    unset = _spec(tmp_path, {})
    given = _spec(tmp_path, {attribute: value})
    assert getattr(given, field) != getattr(unset, field)


@pytest.mark.parametrize("attribute", [a for a, row in ROWS.items() if row[0] == "refused"])
def test_a_refused_attribute_fails_the_build_with_its_message(tmp_path: Path, attribute: str) -> None:
    _, message, value = ROWS[attribute]
    with pytest.raises(BuildError) as raised:
        _spec(tmp_path, {attribute: value})
    assert str(raised.value).startswith(message + "; ")
    assert REFUSED[attribute] in str(raised.value)


def test_a_disabled_policy_asks_for_nothing_and_is_accepted(tmp_path: Path) -> None:
    assert _spec(tmp_path, {"policy": ["disabled=true"]}).name == "app"


def test_call_build_is_a_build(tmp_path: Path) -> None:
    assert _spec(tmp_path, {"call": "build"}).name == "app"


# -- the values, as buildx sends them and BuildKit reads them -------------------------------------


def test_extra_hosts_are_sorted_lower_cased_split_and_unbracketed(tmp_path: Path) -> None:
    spec = _spec(tmp_path, {"extra-hosts": {"Web": "10.0.0.3,[fd00::0:1]", "api": "10.0.0.2"}})
    assert spec.extra_hosts == (
        HostIP("web", "10.0.0.3"),
        HostIP("web", "fd00::1"),
        HostIP("api", "10.0.0.2"),
    )


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("not-an-ip", "invalid host db=not-an-ip"),
        ("host-gateway", "unable to derive the IP value for host-gateway"),
    ],
)
def test_an_extra_host_without_an_address_is_refused(tmp_path: Path, value: str, message: str) -> None:
    with pytest.raises(BuildError, match=message):
        _spec(tmp_path, {"extra-hosts": {"db": value}})


def test_ulimits_keep_the_last_of_a_name_sorted_by_name(tmp_path: Path) -> None:
    spec = _spec(tmp_path, {"ulimits": ["nproc=100", "nofile=10:20", "nofile=30:-1"]})
    assert spec.ulimits == (Ulimit("nofile", 30, -1), Ulimit("nproc", 100, 100))


def test_shm_size_is_read_as_docker_reads_memory_sizes(tmp_path: Path) -> None:
    assert _spec(tmp_path, {"shm-size": "1.5g"}).shm_size == 3 << 29
    assert _spec(tmp_path, {}).shm_size == 0  # BuildKit's default


def test_an_unknown_network_mode_is_refused_with_buildx_message(tmp_path: Path) -> None:
    with pytest.raises(BuildError, match='network mode "bridge" not supported by buildkit'):
        _spec(tmp_path, {"network": "bridge"})


def test_network_host_requests_its_entitlement(tmp_path: Path) -> None:
    spec = _spec(tmp_path, {"network": "host"})
    assert (spec.network, spec.entitlements) == ("host", ("network.host",))
