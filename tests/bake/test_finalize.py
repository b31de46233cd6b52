"""Normalization, defaults, SOURCE_DATE_EPOCH, validation and context cleaning [c001-c007, c280-c298, c397]."""

from __future__ import annotations

import pytest

from bakec.bake.finalize import clean_context, finalize, go_clean, normalize
from bakec.bake.model import Target
from bakec.errors import SpecError
from bakec.util.gitref import is_remote_url


def test_defaults_c001_c007():
    t = finalize(Target(name="default"), {}, "/")
    assert (t.context, t.dockerfile) == (".", "Dockerfile")
    assert finalize(Target(name="d", dockerfile=""), {}, "/").dockerfile == "Dockerfile"
    assert finalize(Target(name="d", context=""), {}, "/").context == "."


def test_normalize_leaves_defaults_to_finalize_so_parents_do_not_hide_grandparents():
    t = normalize(Target(name="parent"))
    assert (t.context, t.dockerfile) == (None, None)


def test_duplicates_and_empty_strings_dropped_c280():
    t = normalize(
        Target(
            name="default",
            args={"VERSION": "1.0", "EMPTY": ""},
            tags=["acme/app:1.0", "acme/app:latest", "acme/app:1.0", ""],
            platforms=["linux/amd64", "linux/arm64", "linux/amd64"],
            annotations=["a=1", "a=1"],
            no_cache_filter=["x", "", "x"],
            ulimits=["nproc=1", "nproc=1"],
        )
    )
    assert t.args == {"VERSION": "1.0", "EMPTY": ""}
    assert t.tags == ["acme/app:1.0", "acme/app:latest"]
    assert t.platforms == ["linux/amd64", "linux/arm64"]
    assert (t.annotations, t.no_cache_filter, t.ulimits) == (["a=1"], ["x"], ["nproc=1"])


def test_network_host_adds_entitlement_c287():
    assert normalize(Target(name="default", network="host")).entitlements == ["network.host"]
    t = normalize(
        Target(name="none", network="none", entitlements=["security.insecure", "security.insecure"])
    )
    assert t.entitlements == ["security.insecure"]
    t = normalize(Target(name="x", network="host", entitlements=["network.host"]))
    assert t.entitlements == ["network.host"]


def test_empty_contexts_dropped_c209():
    assert normalize(Target(name="d", contexts={"tools": "", "src": "./src"})).contexts == {"src": "./src"}
    assert normalize(Target(name="d", contexts={"tools": ""})).contexts is None


def test_entry_lists_are_deduplicated():
    t = normalize(
        Target(
            name="d",
            cache_from=[{"type": "gha"}, {"type": "gha"}],
            attest=[{"type": "sbom"}, {"type": "sbom", "disabled": True}],
            secret=[{"id": "a", "src": "x"}, {"id": "a", "env": "Y"}],
        )
    )
    assert t.cache_from == [{"type": "gha"}]
    assert t.attest == [{"type": "sbom", "disabled": True}]
    assert t.secret == [{"id": "a", "env": "Y"}]


def test_null_map_values_and_inherits_removed():
    t = normalize(Target(name="d", args={"A": None, "B": "1"}, inherits=["x"]))
    assert (t.args, t.inherits) == ({"B": "1"}, None)


@pytest.mark.parametrize(
    ("context", "printed"),
    [
        ("./services/../app/", "app"),
        ("./sub/", "sub"),
        (".", "."),
        ("", "."),
        ("../x/./y//", "../x/y"),
        ("/abs/../dir", "/dir"),
        ("//a", "/a"),
        ("cwd://sub/dir/..", "sub"),
        ("cwd://", "."),
        (
            "https://github.com/example/project.git#v1.0:docker",
            "https://github.com/example/project.git#v1.0:docker",
        ),
        ("git@github.com:acme/app.git", "git@github.com:acme/app.git"),
        ("github.com/acme/app", "github.com/acme/app"),
    ],
)
def test_context_cleaning_c006_c293_c294(context, printed):
    assert clean_context(context) == printed


def test_go_clean_edge_cases():
    assert [go_clean(p) for p in ["a/..", "a/../..", "/..", "a//b/./c/"]] == [".", "..", "/", "a/b/c"]
    assert not is_remote_url("./dir") and is_remote_url("http://x/y")


def test_dockerfile_printed_as_written_c006():
    t = finalize(
        Target(name="d", context="./services/../app/", dockerfile="./docker/../Dockerfile.app"), {}, "/"
    )
    assert (t.context, t.dockerfile) == ("app", "./docker/../Dockerfile.app")


def test_source_date_epoch_c397():
    env = {"SOURCE_DATE_EPOCH": "1700000000"}
    assert finalize(Target(name="a"), env, "/").args == {"SOURCE_DATE_EPOCH": "1700000000"}
    assert finalize(Target(name="b", args={"SOURCE_DATE_EPOCH": "1"}), env, "/").args == {
        "SOURCE_DATE_EPOCH": "1"
    }
    assert finalize(Target(name="c"), {"SOURCE_DATE_EPOCH": ""}, "/").args is None


@pytest.mark.parametrize(
    ("target", "message"),
    [
        (Target(name="d", shm_size="lots"), "invalid value lots for membytes key shm-size"),
        (
            Target(name="d", platforms=["linux/amd64/v99/extra"]),
            '"linux/amd64/v99/extra": cannot parse platform specifier: invalid argument',
        ),
        (Target(name="d", ulimits=["nofile"]), "invalid ulimit argument: nofile"),
        (
            Target(name="d", secret=[{"id": "aws", "src": "does-not-exist"}]),
            "failed to stat does-not-exist: stat does-not-exist: no such file or directory",
        ),
        (
            Target(name="d", ssh=[{"id": "default"}]),
            "failed to convert agent config {default [] false}: invalid empty ssh agent socket: make sure SSH_AUTH_SOCK is set",
        ),
        (Target(name="d", annotations=["bad"]), 'invalid annotation "bad", expected key=value'),
        (Target(name="d", context="-"), "context from stdin not allowed in bake"),
        (
            Target(name="d", context="git@github.com:a/b.git"),
            "failed to convert agent config {default [] false}: invalid empty ssh agent socket: make sure SSH_AUTH_SOCK is set",
        ),
    ],
)
def test_validation_errors_c288_c298(tmp_path, target, message):
    with pytest.raises(SpecError) as err:
        finalize(target, {}, str(tmp_path))
    assert err.value.summary == message


def test_validation_passes_for_valid_target(tmp_path):
    (tmp_path / "npmrc").write_text("x")
    t = Target(
        name="d",
        shm_size="128m",
        platforms=["linux/amd64", "linux/arm64"],
        ulimits=["nofile=1024:4096"],
        secret=[{"id": "npm", "src": "npmrc"}, {"id": "gh", "env": "GH"}],
        annotations=["index,manifest:org.opencontainers.image.title=App"],
    )
    got = finalize(t, {}, str(tmp_path))
    assert got.context == "." and got.dockerfile == "Dockerfile"


def test_written_policy_and_resources_are_put_in_printed_form_c292():
    t = normalize(
        Target(name="d", policy=[{"filename": "extra.rego"}, "strict=true"], resources={"cpu-shares": "512"})
    )
    assert t.policy == [
        {
            "Files": [{"Filename": "extra.rego", "Data": None}],
            "Reset": False,
            "Disabled": False,
            "Strict": None,
            "LogLevel": None,
        },
        {"Files": None, "Reset": False, "Disabled": False, "Strict": True, "LogLevel": None},
    ]
    assert t.resources == {"cpu-shares": 512}
