"""Compose loading, pinned by the conformance corpus and by small tables.

Corpus cases are compared field by field for what compose decides. Fields that
the finalize stage fills in (default ``dockerfile``, the ``network.host``
entitlement, ``cacheonly`` outputs of linked targets) or that HCL adds are
listed per case in ``FINALIZE_FIELDS`` and skipped here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import attrs
import pytest

from bakec.bake import compose
from bakec.bake.model import target_fields
from bakec.errors import SpecError
from corpus import CONFORMANCE

DEFAULT_COMPOSE_NAMES = ["compose.yaml", "compose.yml", "docker-compose.yml", "docker-compose.yaml"]

CASES = [
    "bake/320-compose-basic",
    "bake/321-compose-x-bake",
    "bake/322-compose-more-build-keys",
    "bake/323-compose-env-interpolation",
    "bake/324-compose-args-from-environment",
    "bake/325-compose-name-with-dot",
    "bake/326-compose-plus-hcl",
    "bake/327-compose-err-invalid",
    "bake/328-compose-explicit-yml-file",
    "bake/329-compose-dockerfile-inline",
    "bake/408-err-compose-external-secret",
    "bake/409-err-compose-empty",
    "realworld/034-libretime-libretime-compose",
    "realworld/034-libretime-libretime-compose-env",
    "realworld/035-docker-buildx-demo-compose",
    "realworld/036-moby-buildkit-compose",
]

# Fields of expected.json decided after compose: finalize defaults/normalisation, or HCL.
FINALIZE_FIELDS: dict[str, dict[str, set[str]]] = {
    "*": {"*": {"dockerfile"}},  # default "Dockerfile" comes from finalize
    "bake/322-compose-more-build-keys": {"app": {"entitlements"}, "base": {"output"}},
    "bake/326-compose-plus-hcl": {"app": {"args", "platforms"}},
}


def _case_files(case_dir: Path, args: list[str]) -> list[str]:
    explicit = [args[i + 1] for i, a in enumerate(args) if a in ("-f", "--file")]
    if explicit:
        return explicit
    return [n for n in DEFAULT_COMPOSE_NAMES if (case_dir / n).is_file()]


def _cli_targets(args: list[str]) -> list[str]:
    out, skip = [], False
    for a in args:
        if skip:
            skip = False
        elif a in ("-f", "--file"):
            skip = True
        elif not a.startswith("-"):
            out.append(a)
    return out


def _printed(target: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in target_fields():
        value = getattr(target, f.name)
        if value is None or not f.metadata.get("printed", True):
            continue
        out[f.metadata["bake"]] = value
    return out


def _run(case: str) -> tuple[dict[str, Any], compose.ComposeResult]:
    case_dir = CONFORMANCE / case
    meta = json.loads((case_dir / "case.json").read_text())
    files = [(n, (case_dir / n).read_bytes()) for n in _case_files(case_dir, meta["args"])]
    files = [(n, d) for n, d in files if not n.endswith((".hcl", ".json"))]
    return meta, compose.load_compose(files, meta.get("env", {}), str(case_dir))


@pytest.mark.parametrize("case", CASES)
def test_corpus_case(case: str) -> None:
    case_dir = CONFORMANCE / case
    meta = json.loads((case_dir / "case.json").read_text())
    if meta.get("expect_error"):
        with pytest.raises(SpecError) as err:
            _run(case)
        expected = (case_dir / "expected-error.txt").read_text().strip().removeprefix("ERROR: ")
        assert str(err.value).strip() == expected
        return
    _, result = _run(case)
    expected = json.loads((case_dir / "expected.json").read_text())
    skips = FINALIZE_FIELDS.get(case, {})
    for name, fields in expected["target"].items():
        assert name in result.targets, name
        got = _printed(result.targets[name])
        skipped = FINALIZE_FIELDS["*"]["*"] | skips.get(name, set())
        want = {k: v for k, v in fields.items() if k not in skipped}
        got = {k: v for k, v in got.items() if k not in skipped}
        assert got == want, name
    if not _cli_targets(meta["args"]):
        assert result.groups["default"].targets == expected["group"]["default"]["targets"]


def _load(text: str, env: dict[str, str] | None = None, cwd: str = "/nonexistent") -> compose.ComposeResult:
    return compose.load_compose([("compose.yaml", text.encode())], env or {}, cwd)


def _target(text: str, env: dict[str, str] | None = None, name: str = "app") -> dict[str, Any]:
    return attrs.asdict(_load(text, env).targets[name])


@pytest.mark.parametrize(
    ("template", "env", "want"),
    [
        ("${A}", {"A": "x"}, "x"),
        ("${A}", {}, ""),
        ("$A-$B", {"A": "1", "B": "2"}, "1-2"),
        ("${A:-d}", {"A": ""}, "d"),
        ("${A-d}", {"A": ""}, ""),
        ("${A-d}", {}, "d"),
        ("${A:+r}", {"A": "x"}, "r"),
        ("${A:+r}", {}, ""),
        ("$${A}", {"A": "x"}, "${A}"),
        ("cost $5", {}, "cost $5"),
        ("${A:-${B:-z}}", {}, "z"),
    ],
)
def test_interpolation_forms(template: str, env: dict[str, str], want: str) -> None:
    assert compose.substitute(template, env.get) == want


def test_interpolation_required_variable_error() -> None:
    want = "error while interpolating services.app.image: required variable TAG is missing a value: set TAG"
    with pytest.raises(SpecError, match=want):
        _load("services:\n  app:\n    build: .\n    image: x:${TAG:?set TAG}\n")


def test_interpolation_invalid_template() -> None:
    with pytest.raises(SpecError, match="invalid interpolation format for services.app.image"):
        _load("services:\n  app:\n    build: .\n    image: x:${TAG\n")


def test_dotenv_fills_unset_variables_only(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("# c\nexport A=dot\nB='single $X'\nC=\"dq ${A}\"\nD=bare # comment\n")
    envs = compose.compose_env({"A": "env"}, str(tmp_path))
    assert envs == {"A": "env", "B": "single $X", "C": "dq env", "D": "bare"}


def test_scalars_read_as_go_yaml_v3_and_printed_as_go() -> None:
    text = "services:\n  app:\n    build:\n      args:\n        A: yes\n        B: 1.50\n        C: true\n        D: 010\n        E: 1e6\n        F: 1_000\n        G: 2001-12-14\n"
    t = _target(text)
    assert t["args"] == {
        "A": "yes",
        "B": "1.5",
        "C": "true",
        "D": "8",
        "E": "1e+06",
        "F": "1000",
        "G": "2001-12-14",
    }


def test_duplicate_key_is_an_error() -> None:
    with pytest.raises(SpecError, match='line 3: mapping key "app" already defined at line 2'):
        _load("services:\n  app:\n  app:\n    build: .\n")


def test_several_yaml_documents_merge() -> None:
    result = _load("services:\n  a:\n    build: .\n---\nservices:\n  b:\n    build: ./b\n")
    assert sorted(result.targets) == ["a", "b"]


def test_extends_same_file() -> None:
    text = "services:\n  base:\n    build:\n      context: ./x\n      args: [A=1]\n  app:\n    extends: base\n    build:\n      args: [B=2]\n"
    t = _target(text)
    assert (t["context"], t["args"]) == ("x", {"A": "1", "B": "2"})


def test_args_value_less_take_service_environment_then_env() -> None:
    text = "services:\n  app:\n    build:\n      args: [A, B, C]\n    environment: [A=svc]\n"
    assert _target(text, {"B": "env"})["args"] == {"A": "svc", "B": "env"}


def test_args_from_env_file_then_environment(tmp_path: Path) -> None:
    (tmp_path / "app.env").write_text("A=file\nB=file\n")
    text = "services:\n  app:\n    build:\n      args: [A, B]\n    env_file: app.env\n    environment: {B: own}\n"
    result = compose.load_compose([("compose.yaml", text.encode())], {}, str(tmp_path))
    assert result.targets["app"].args == {"A": "file", "B": "own"}


def test_missing_env_file_fails_even_without_build(tmp_path: Path) -> None:
    text = b"services:\n  db:\n    image: x\n    env_file: nope.env\n"
    with pytest.raises(SpecError, match="^failed to parse compose file: env file nope.env not found"):
        compose.load_compose([("compose.yaml", text)], {}, str(tmp_path))


def test_undefined_build_secret() -> None:
    want = 'service "app" refers to undefined build secret s: invalid compose project'
    with pytest.raises(SpecError, match=want):
        _load("services:\n  app:\n    build:\n      secrets: [s]\n")


def test_service_without_build_is_skipped_and_no_group_without_targets() -> None:
    result = _load("services:\n  db:\n    image: postgres\n")
    assert result.targets == {}
    assert result.groups["default"].targets == []


def test_tags_win_over_image() -> None:
    t = _target("services:\n  app:\n    image: img\n    build:\n      tags: [a, b]\n")
    assert t["tags"] == ["a", "b"]


def test_ulimits_short_and_long_forms() -> None:
    text = "services:\n  app:\n    build:\n      ulimits:\n        nofile: 1024\n        nproc: {soft: 10, hard: 20}\n"
    assert _target(text)["ulimits"] == ["nofile=1024:1024", "nproc=10:20"]


def test_invalid_ulimit_name() -> None:
    with pytest.raises(SpecError, match="invalid ulimit type: bogus"):
        _load("services:\n  app:\n    build:\n      ulimits:\n        bogus: 1\n")


@pytest.mark.parametrize(
    ("size", "want"), [("256m", "256MiB"), (1024, "1KiB"), ("1.5g", "1.5GiB"), ("100", "100B")]
)
def test_shm_size_rendered_with_binary_units(size: Any, want: str) -> None:
    assert _target(f"services:\n  app:\n    build:\n      shm_size: {size}\n")["shm_size"] == want


def test_x_bake_string_lists_and_dedup() -> None:
    text = (
        "services:\n  app:\n    build:\n      platforms: [linux/amd64]\n"
        "      x-bake:\n        platforms: linux/amd64 linux/arm64\n        tags: a b a\n"
        "        pull: false\n        contexts:\n          dep: service:other.svc\n"
    )
    t = _target(text)
    assert t["platforms"] == ["linux/amd64", "linux/arm64"]
    assert t["tags"] == ["a", "b"]
    assert t["pull"] is False
    assert t["contexts"] == {"dep": "target:other_svc"}


def test_no_cache_and_pull_only_when_true() -> None:
    t = _target("services:\n  app:\n    build:\n      no_cache: false\n      pull: 'true'\n")
    assert t["no_cache"] is None and t["pull"] is True


def test_sbom_and_provenance_become_attest() -> None:
    t = _target("services:\n  app:\n    build:\n      sbom: true\n      provenance: mode=max\n")
    assert t["attest"] == [{"type": "sbom"}, {"type": "provenance", "mode": "max"}]


def test_x_bake_entries_merge_by_identity() -> None:
    text = (
        "services:\n  app:\n    build:\n      secrets: [a]\n      ssh: [zz=k]\n      cache_from: [r/c]\n"
        "      x-bake:\n        secret: id=a,env=A id=b,env=B\n        ssh: [default]\n        cache-from: r/c\n"
        "secrets:\n  a:\n    file: ./a.txt\n"
    )
    t = _target(text)
    assert t["secret"] == [{"id": "a", "env": "A"}, {"id": "b", "env": "B"}]
    assert t["ssh"] == [{"id": "default"}, {"id": "zz", "paths": ["k"]}]
    assert t["cache_from"] == [{"type": "registry", "ref": "r/c"}]


def test_secret_from_environment() -> None:
    text = "services:\n  app:\n    build:\n      secrets: [tok]\nsecrets:\n  tok:\n    environment: TOKEN\n"
    assert _target(text)["secret"] == [{"id": "tok", "env": "TOKEN"}]


def test_extra_hosts_forms() -> None:
    text = "services:\n  app:\n    build:\n      extra_hosts:\n        - a=1.2.3.4\n        - b:::1\n        - a=5.6.7.8\n"
    assert _target(text)["extra_hosts"] == {"a": "1.2.3.4,5.6.7.8", "b": "::1"}


def test_service_name_outside_compose_pattern_is_a_schema_error() -> None:
    # compose's own name pattern runs first, so bake's "invalid service name" is unreachable
    with pytest.raises(SpecError, match=r"^services additional properties 'a\+b' not allowed$"):
        compose.load_compose([("c.yml", b"services:\n  'a+b':\n    build: .\n")], {}, "/")


def test_override_file_merges_build_and_sequences() -> None:
    base = b"services:\n  app:\n    build: ./app\n    image: x\n    environment: [A=1]\n"
    over = b"services:\n  app:\n    build:\n      target: dev\n      args: {V: '2'}\n    environment:\n      A: '2'\n"
    result = compose.load_compose([("a.yml", base), ("b.yml", over)], {}, "/")
    t = attrs.asdict(result.targets["app"])
    assert (t["context"], t["target"], t["args"], t["tags"]) == ("app", "dev", {"V": "2"}, ["x"])


def test_override_file_adds_extra_hosts_addresses() -> None:
    base = b"services:\n  app:\n    build:\n      extra_hosts: [a=1.1.1.1]\n"
    over = b"services:\n  app:\n    build:\n      extra_hosts: {a: 2.2.2.2, b: 3.3.3.3}\n"
    result = compose.load_compose([("a.yml", base), ("b.yml", over)], {}, "/")
    assert result.targets["app"].extra_hosts == {"a": "1.1.1.1,2.2.2.2", "b": "3.3.3.3"}


def test_schema_type_error_wording() -> None:
    with pytest.raises(SpecError, match="services.app.build.context must be a string"):
        _load("services:\n  app:\n    build:\n      context: [a]\n")


def test_non_mapping_document() -> None:
    with pytest.raises(SpecError, match="Top-level object must be a mapping"):
        _load("- a\n")


@pytest.mark.parametrize(
    ("name", "data", "want"),
    [
        ("x.yml", b"services:\n  a:\n    build: .\n", (True, False)),
        ("x.yaml", b"version: '3'\n", (True, True)),
        ("x.hcl", b"services:\n  a:\n    build: .\n", (False, False)),
        ("Bakefile", b'target "a" {}\n', (False, True)),
        ("Bakefile", b"services:\n  a:\n    build: .\n", (True, False)),
    ],
)
def test_looks_like_compose(name: str, data: bytes, want: tuple[bool, bool]) -> None:
    is_compose, err = compose.looks_like_compose(name, data, {})
    assert (is_compose, err is not None) == want
