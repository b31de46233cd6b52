"""``--set`` parsing, pattern matching and application; shorthand flags [c360-c400]."""

from __future__ import annotations

import pytest

from bakec.bake.model import Target
from bakec.bake.overrides import (
    apply_overrides,
    expand_pattern,
    go_path_match,
    parse_call,
    parse_overrides,
    shorthand_overrides,
    validate_allow,
)
from bakec.errors import SpecError

NAMES = ["app", "api", "web"]


def app() -> Target:
    return Target(name="app", tags=["acme/app:1"], args={"A": "1"}, platforms=["linux/amd64"])


def web() -> Target:
    return Target(name="web", tags=["acme/web:1"], cache_from=[{"type": "registry", "ref": "acme/web:cache"}])


def apply(target: Target, *specs: str, env: dict[str, str] | None = None) -> Target:
    return apply_overrides(target, parse_overrides(specs, env or {}, NAMES + [target.name]))


# -- matching --------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "name", "matched"),
    [
        ("*", "app", True),
        ("a*", "api", True),
        ("a*", "web", False),
        ("?pp", "app", True),
        ("[aw]*", "web", True),
        ("[^a]*", "web", True),
        ("[^a]*", "app", False),
        ("m-[0-9]", "m-2", True),
        ("m-\\2", "m-2", True),
        ("*", "a/b", False),
        ("[z-a]", "m", False),  # Go accepts a reversed range; it matches nothing
    ],
)
def test_go_path_match(pattern, name, matched):
    assert go_path_match(pattern, name) is matched


@pytest.mark.parametrize("pattern", ["[", "[]", "a\\", "[-a]", "[a-]"])
def test_go_path_match_bad_pattern(pattern):
    with pytest.raises(ValueError):
        go_path_match(pattern, "x")


def test_pattern_must_match_a_target_c368_c376():
    assert expand_pattern("a*", NAMES) == ["app", "api"]
    with pytest.raises(SpecError) as err:
        parse_overrides(["zzz*.tags=x"], {}, NAMES)
    assert err.value.summary == "could not find any target matching 'zzz*'"
    with pytest.raises(SpecError, match="could not find any target matching 'g'"):
        parse_overrides(["g.tags=x"], {}, ["t"])


# -- parse errors ----------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("app.tags", "invalid override app.tags, expected target.name=value"),
        ("default.args=x", "invalid key default.args, args requires name"),
        ("default.contexts=x", "invalid key default.contexts, contexts requires name"),
        ("app", "invalid override key app, expected target.name"),
    ],
)
def test_parse_errors_c369_c400(spec, message):
    with pytest.raises(SpecError) as err:
        parse_overrides([spec], {}, NAMES + ["default"])
    assert err.value.summary == message


def test_unknown_keys_c367_c377():
    with pytest.raises(SpecError, match="^unknown key: bogus$"):
        apply(app(), "app.bogus=1")
    with pytest.raises(SpecError, match="^unknown key: inherits$"):
        apply(Target(name="default"), "default.inherits=x")


def test_map_keys_without_name_fail_when_applied():
    with pytest.raises(SpecError, match="^invalid format for labels, expecting labels.<name>=<value>$"):
        apply(app(), "app.labels=x")


def test_bad_bool_c366():
    with pytest.raises(SpecError) as err:
        apply(app(), "app.no-cache=sure")
    assert err.value.summary == "invalid value sure for boolean key no-cache"


# -- application -----------------------------------------------------------


def test_args_set_and_add_c360():
    assert apply(app(), "app.args.A=2", "app.args.NEW=x").args == {"A": "2", "NEW": "x"}


def test_args_without_value_read_env_c370():
    got = apply(app(), "app.args.FROM_ENV", "app.args.NOT_IN_ENV", env={"FROM_ENV": "env-value"})
    assert got.args == {"A": "1", "FROM_ENV": "env-value"}


def test_wildcard_applies_to_every_match_c361():
    overrides = parse_overrides(["*.labels.built-by=bakec", "a*.target=release"], {}, NAMES)
    got_app = apply_overrides(app(), overrides)
    got_web = apply_overrides(web(), overrides)
    assert (got_app.labels, got_app.target) == ({"built-by": "bakec"}, "release")
    assert (got_web.labels, got_web.target) == ({"built-by": "bakec"}, None)


def test_repeated_list_key_replaces_with_all_values_c362():
    assert apply(app(), "app.tags=acme/app:2", "app.tags=acme/app:latest").tags == [
        "acme/app:2",
        "acme/app:latest",
    ]


def test_append_c363():
    got = apply(app(), "app.tags+=acme/app:extra", "app.platform+=linux/arm64")
    assert got.tags == ["acme/app:1", "acme/app:extra"]
    assert got.platforms == ["linux/amd64", "linux/arm64"]
    assert apply(web(), "web.cache-from+=type=gha").cache_from == [
        {"type": "registry", "ref": "acme/web:cache"},
        {"type": "gha"},
    ]
    assert apply(web(), "web.cache-from=type=gha").cache_from == [{"type": "gha"}]


def test_output_push_load_c364():
    assert apply(app(), "app.output=type=local,dest=out").output == [{"type": "local", "dest": "out"}]
    assert apply(Target(name="api"), "api.push=true").output == [{"type": "image", "push": "true"}]
    assert apply(web(), "web.load=true").output == [{"type": "docker"}]


@pytest.mark.parametrize(
    ("outputs", "expected"),
    [
        (None, [{"type": "image", "push": "true"}, {"type": "docker"}]),
        ([{"type": "registry"}], [{"type": "registry"}, {"type": "docker"}]),
        ([{"type": "local", "dest": "out"}], [{"type": "local", "dest": "out"}]),
    ],
)
def test_push_then_load_flags_c390(outputs, expected):
    overrides = parse_overrides(shorthand_overrides(push=True, load=True), {}, ["a"])
    assert apply_overrides(Target(name="a", output=outputs), overrides).output == expected


def test_push_false_drops_registry_and_unsets_image_push():
    t = Target(
        name="a",
        output=[{"type": "registry"}, {"type": "image", "push": "true"}, {"type": "local", "dest": "d"}],
    )
    assert apply(t, "a.push=false").output == [
        {"type": "local", "dest": "d"},
        {"type": "image", "push": "false"},
    ]


def test_load_is_suppressed_by_docker_output_without_dest():
    assert apply(Target(name="a", output=[{"type": "docker"}]), "a.load=true").output == [{"type": "docker"}]
    with_dest = [{"type": "docker", "dest": "x.tar"}]
    assert apply(Target(name="a", output=with_dest), "a.load=true").output == [*with_dest, {"type": "docker"}]


def test_scalars_and_bools_c365():
    got = apply(
        app(),
        "app.no-cache=true",
        "app.pull=false",
        "app.dockerfile=alt.Dockerfile",
        "app.context=./sub/",
        "app.target=dev",
        "app.shm-size=64m",
        "app.ulimits=nofile=10:20",
        "app.call=outline",
    )
    assert (got.no_cache, got.pull, got.dockerfile, got.context) == (True, False, "alt.Dockerfile", "./sub/")
    assert (got.target, got.shm_size, got.call) == ("dev", "64m", "outline")
    assert got.ulimits is None  # buildx gathers ulimits as a scalar and applies a list: cleared


def test_contexts_labels_extra_hosts_c371():
    got = apply(
        app(), "app.contexts.tools=docker-image://alpine", "app.labels.team=x", "app.extra-hosts.db=10.1.1.1"
    )
    assert (got.contexts, got.labels, got.extra_hosts) == (
        {"tools": "docker-image://alpine"},
        {"team": "x"},
        {"db": "10.1.1.1"},
    )


def test_attest_and_annotations_always_append_c372():
    t = Target(name="default", attest=[{"type": "sbom"}], annotations=["a=1"], entitlements=["network.host"])
    got = apply(
        t, "*.attest=type=provenance,mode=max", "*.annotations=b=2", "*.entitlements=security.insecure"
    )
    assert got.attest == [{"type": "sbom"}, {"type": "provenance", "mode": "max"}]
    assert got.annotations == ["a=1", "b=2"]
    assert got.entitlements == ["network.host", "security.insecure"]


def test_secret_by_id_c373_c374():
    t = Target(name="default", secret=[{"id": "token", "env": "OLD_TOKEN"}])
    assert apply(t, "default.secret.token=env=NEW_TOKEN").secret == [{"id": "token", "env": "NEW_TOKEN"}]
    with pytest.raises(SpecError) as err:
        apply(Target(name="default"), "default.secret.nope=env=X")
    assert err.value.summary == 'secret "nope" must be declared before it can be overridden'


def test_secrets_and_ssh_lists():
    got = apply(Target(name="a"), "a.secrets=id=x,env=X", "a.ssh=default")
    assert (got.secret, got.ssh) == ([{"id": "x", "env": "X"}], [{"id": "default"}])
    with pytest.raises(SpecError, match="^invalid value for outputs: unexpected key 'bad' in 'bad=1'$"):
        apply(Target(name="a"), "a.secrets=bad=1")


def test_resources_c375():
    got = apply(Target(name="default"), "default.resources.memory=1g", "default.resources.cpu-quota=50000")
    assert got.resources == {"memory": "1g", "cpu-quota": 50000}


def test_override_applies_only_to_named_target_c378():
    overrides = parse_overrides(["child.tags=overridden"], {}, ["base", "child"])
    assert apply_overrides(Target(name="base", tags=["base"]), overrides).tags == ["base"]
    assert apply_overrides(Target(name="child", tags=["base"]), overrides).tags == ["overridden"]


def test_platform_values_collected_c379():
    got = apply(
        Target(name="default"), "*.platform=linux/amd64", "*.platform=linux/amd64", "*.platform=linux/arm64"
    )
    assert got.platforms == ["linux/amd64", "linux/amd64", "linux/arm64"]  # finalize de-duplicates


def test_network_override_becomes_empty_c380():
    assert apply(Target(name="default", network="none"), "default.network=host").network == ""


def test_no_cache_filter_override_clears_c381():
    assert apply(Target(name="a", no_cache_filter=["x"]), "a.no-cache-filter=y").no_cache_filter is None
    assert apply(Target(name="b", no_cache_filter=["x"]), "b.no-cache-filter+=y").no_cache_filter is None


def test_matrix_generated_names_c382():
    overrides = parse_overrides(["m-*.args.V=x", "m-2.tags=two"], {}, ["m-1", "m-2"])
    assert apply_overrides(Target(name="m-1"), overrides).args == {"V": "x"}
    assert apply_overrides(Target(name="m-2"), overrides).tags == ["two"]


def test_apply_does_not_mutate_input():
    t = app()
    apply(t, "app.args.A=2", "app.tags+=x")
    assert t.args == {"A": "1"} and t.tags == ["acme/app:1"]


# -- shorthand flags -------------------------------------------------------


def test_shorthand_order_matches_buildx():
    assert shorthand_overrides(
        push=True, load=True, call="check", no_cache=True, pull=False, sbom="true", provenance="mode=max"
    ) == [
        "*.push=true",
        "*.load=true",
        "*.call=lint",
        "*.no-cache=true",
        "*.pull=false",
        "*.attest=type=sbom,disabled=false",
        "*.attest=type=provenance,mode=max",
    ]


def test_shorthand_flags_c392_c393_c394():
    specs = shorthand_overrides(no_cache=True, pull=True, sbom="true", provenance="mode=max", call="check")
    got = apply_overrides(Target(name="b", pull=False, call="outline"), parse_overrides(specs, {}, ["b"]))
    assert (got.pull, got.no_cache, got.call) == (True, True, "lint")
    assert got.attest == [{"type": "sbom"}, {"type": "provenance", "mode": "max"}]
    assert shorthand_overrides(sbom="false") == ["*.attest=type=sbom,disabled=true"]


@pytest.mark.parametrize(
    ("value", "method"),
    [
        ("build", None),
        ("check", "lint"),
        ("targets", "targets"),
        ("explode", "explode"),
        ("outline,format=json", "outline"),
    ],
)
def test_call_values_c395_c396(value, method):
    assert parse_call(value) == method
    assert shorthand_overrides(call=value) == ([] if method is None else [f"*.call={method}"])


def test_policy_flag():
    assert shorthand_overrides(policy=["strict=true"]) == ["*.policy+=strict=true"]
    got = apply_overrides(
        Target(
            name="a",
            policy=[
                {
                    "Files": [{"Filename": "p.rego", "Data": None}],
                    "Reset": False,
                    "Disabled": False,
                    "Strict": None,
                    "LogLevel": None,
                }
            ],
        ),
        parse_overrides(shorthand_overrides(policy=["log-level=debug"]), {}, ["a"]),
    )
    assert [p["LogLevel"] for p in got.policy] == [None, "debug"]
    with pytest.raises(SpecError, match="--policy does not accept filename"):
        shorthand_overrides(policy=["filename=x.rego"])


def test_allow_values_c398_c399():
    validate_allow(["network.host", "fs.read=*", "security.insecure"])
    with pytest.raises(SpecError) as err:
        validate_allow(["magic.power"])
    assert err.value.summary == 'unknown entitlement key "magic.power"'
