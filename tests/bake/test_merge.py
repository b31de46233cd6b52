"""Per-field merge rules for inherits / same-named targets / several files [c200-c210]."""

from __future__ import annotations

from decimal import Decimal

from bakec.bake.merge import merge, merge_all
from bakec.bake.model import Target


def test_merge_rules_for_every_list_field_c203():
    base = Target(
        name="base",
        tags=["base:1"],
        platforms=["linux/amd64"],
        cache_from=[{"type": "registry", "ref": "acme/cache:base"}],
        cache_to=[{"type": "inline"}],
        output=[{"type": "docker"}],
        annotations=["index:org.opencontainers.image.vendor=acme"],
        no_cache_filter=["deps"],
        ulimits=["nofile=1024:2048"],
        entitlements=["network.host"],
        attest=[{"type": "sbom"}],
        secret=[{"id": "npm", "src": "npmrc"}],
        ssh=[{"id": "base", "paths": ["keys/base"]}],
    )
    child = Target(
        name="default",
        inherits=["base"],
        tags=["child:1"],
        platforms=["linux/arm64"],
        cache_from=[{"type": "registry", "ref": "acme/cache:child"}],
        cache_to=[{"type": "registry", "ref": "acme/cache:child", "mode": "max"}],
        output=[{"type": "registry"}],
        annotations=["manifest:org.opencontainers.image.title=child"],
        no_cache_filter=["test"],
        ulimits=["nproc=512"],
        entitlements=["security.insecure"],
        attest=[{"type": "provenance", "mode": "max"}],
        secret=[{"id": "gh", "env": "GH_TOKEN"}],
        ssh=[{"id": "deploy", "paths": ["keys/deploy"]}],
    )
    got = merge(merge(Target(name=""), base), child)
    assert got.name == "default"
    assert got.tags == ["child:1"]
    assert got.platforms == ["linux/arm64"]
    assert got.cache_from == [
        {"type": "registry", "ref": "acme/cache:base"},
        {"type": "registry", "ref": "acme/cache:child"},
    ]
    assert got.cache_to == [{"type": "registry", "ref": "acme/cache:child", "mode": "max"}]
    assert got.output == [{"type": "registry"}]
    assert got.annotations == [
        "index:org.opencontainers.image.vendor=acme",
        "manifest:org.opencontainers.image.title=child",
    ]
    assert got.no_cache_filter == ["deps", "test"]
    assert got.ulimits == ["nofile=1024:2048", "nproc=512"]
    assert got.entitlements == ["network.host", "security.insecure"]
    assert got.attest == [{"type": "sbom"}, {"type": "provenance", "mode": "max"}]
    assert got.secret == [{"id": "npm", "src": "npmrc"}, {"id": "gh", "env": "GH_TOKEN"}]
    assert got.ssh == [{"id": "base", "paths": ["keys/base"]}, {"id": "deploy", "paths": ["keys/deploy"]}]


def test_maps_merge_and_later_key_wins_c200():
    base = Target(
        name="_common",
        dockerfile="build/Dockerfile",
        args={"GO_VERSION": "1.22", "CGO": "0"},
        platforms=["linux/amd64"],
    )
    child = Target(name="default", args={"CGO": "1"}, tags=["acme/tool:dev"])
    got = merge(base, child)
    assert got.dockerfile == "build/Dockerfile"
    assert got.args == {"GO_VERSION": "1.22", "CGO": "1"}
    assert got.platforms == ["linux/amd64"]
    assert got.tags == ["acme/tool:dev"]


def test_later_parent_wins_for_scalars_c202():
    a = Target(name="a", dockerfile="a.Dockerfile", target="stage-a", args={"FROM_A": "1", "SHARED": "a"})
    b = Target(name="b", dockerfile="b.Dockerfile", args={"FROM_B": "1", "SHARED": "b"})
    got = merge_all("default", [a, b, Target(name="default")])
    assert got.name == "default"
    assert got.dockerfile == "b.Dockerfile"
    assert got.target == "stage-a"
    assert got.args == {"FROM_A": "1", "SHARED": "b", "FROM_B": "1"}


def test_null_map_values_are_ignored_c208():
    got = merge(Target(name="base", args={"KEEP": "base"}), Target(name="d", args={"KEEP": None, "NEW": "x"}))
    assert got.args == {"KEEP": "base", "NEW": "x"}
    assert merge(Target(name="a"), Target(name="b", labels={"X": None})).labels is None


def test_empty_context_value_is_kept_for_normalize_to_delete_c209():
    base = Target(name="base", contexts={"tools": "docker-image://alpine:3.20", "src": "./src"})
    got = merge(base, Target(name="d", contexts={"tools": ""}))
    assert got.contexts == {"tools": "", "src": "./src"}


def test_description_replaced_only_when_non_empty_c210():
    base = Target(name="base", description="Base description")
    assert merge(base, Target(name="a")).description == "Base description"
    assert merge(base, Target(name="a", description="")).description == "Base description"
    assert merge(base, Target(name="b", description="Own description")).description == "Own description"


def test_bools_and_strings_replace_when_set():
    base = Target(
        name="a", pull=True, no_cache=True, network="host", shm_size="1g", call="check", context="x"
    )
    got = merge(base, Target(name="b", pull=False, context=""))
    assert (got.pull, got.no_cache, got.network, got.shm_size, got.call, got.context) == (
        False,
        True,
        "host",
        "1g",
        "check",
        "",
    )


def test_resources_merge_per_key_and_policy_appends():
    base = Target(name="a", resources={"memory": "1g", "cpu-shares": Decimal(2)}, policy=[{"Reset": True}])
    got = merge(base, Target(name="b", resources={"cpu-shares": Decimal(512)}, policy=[{"Disabled": True}]))
    assert got.resources == {"memory": "1g", "cpu-shares": 512}
    assert got.policy == [{"Reset": True}, {"Disabled": True}]


def test_inherits_lists_are_concatenated_for_same_named_blocks():
    got = merge(Target(name="t", inherits=["a"]), Target(name="t", inherits=["b"]))
    assert got.inherits == ["a", "b"]


def test_merge_does_not_mutate_inputs():
    base = Target(name="a", tags=["x"], args={"A": "1"}, annotations=["a=1"])
    over = Target(name="b", args={"B": "2"}, annotations=["b=2"])
    got = merge(base, over)
    got.args["C"] = "3"
    got.annotations.append("c=3")
    assert base.args == {"A": "1"} and over.args == {"B": "2"}
    assert base.annotations == ["a=1"] and over.annotations == ["b=2"]
