"""The acceptance items on the benchmark monorepo (bench/gen_workloads.py): dedup counts and stable keys."""

from __future__ import annotations

import json
import os
from pathlib import Path

from bakec.bake.definition import load
from bakec.graph import plan, to_dict


def _plan(root: Path, cache_dir: Path, names=()) -> dict:
    definition = load([], env=dict(os.environ), cwd=str(root))
    return to_dict(plan(definition, names, cache_dir=cache_dir))


def _ids(data: dict) -> set[str]:
    return {n["id"] for n in data["nodes"]}


def test_monorepo_dedups_base_deps_and_per_variant_runs(make_monorepo, cache_dir):
    data = _plan(make_monorepo(), cache_dir)
    nodes = data["nodes"]
    dd = [n for n in nodes if "busybox dd if=/dev/zero" in n["description"]]
    deps = [n for n in nodes if n["description"].startswith("RUN mkdir -p /deps")]
    tar = [n for n in nodes if n["description"].startswith("RUN busybox tar -cf /app.tar /src")]
    assert len(dd) == 1
    assert len(dd[0]["targets"]) == 25
    assert len(deps) == 2
    assert sorted(len(n["targets"]) for n in deps) == [12, 12]
    assert len(tar) == 24
    assert all(len(n["targets"]) == 1 for n in tar)
    assert len(data["targets"]) == 25
    assert data["summary"]["targets"] == 25
    assert data["summary"]["unique"] == len(nodes)
    assert data["summary"]["requested"] > data["summary"]["unique"]


def test_monorepo_linked_base_feeds_every_service(make_monorepo, cache_dir):
    data = _plan(make_monorepo(), cache_dir)
    base_out = data["targets"]["base"]["platforms"]
    (base_output,) = [p["output"] for p in base_out.values()]
    deps = [n for n in data["nodes"] if n["description"].startswith("RUN mkdir -p /deps")]
    assert all(n["deps"] == [base_output] for n in deps)
    assert data["targets"]["base"]["requested"] is False
    assert data["targets"]["api-dev-slim"]["requested"] is True


def test_json_nodes_carry_documented_fields_in_build_order(make_monorepo, cache_dir):
    data = _plan(make_monorepo(), cache_dir)
    seen: set[str] = set()
    for node in data["nodes"]:
        assert {"id", "kind", "description", "deps", "targets", "platform"} <= set(node)
        assert node["id"].startswith("sha256:")
        assert set(node["deps"]) <= seen  # every op after its inputs
        seen.add(node["id"])
    assert {n["kind"] for n in data["nodes"]} == {"image", "exec", "local", "file"}
    tar = next(n for n in data["nodes"] if n["description"].startswith("RUN busybox tar"))
    assert tar["description"] == (
        "RUN busybox tar -cf /app.tar /src && busybox sha256sum /app.tar > /app.sha && echo $VARIANT > /variant"
    )
    assert tar["platform"].startswith("linux/")


def test_same_inputs_in_two_directories_give_identical_digests(make_monorepo, tmp_path):
    a = _plan(make_monorepo("one"), tmp_path / "c1")
    b = _plan(make_monorepo("two"), tmp_path / "c2")
    assert [n["id"] for n in a["nodes"]] == [n["id"] for n in b["nodes"]]
    assert a["targets"]["web-prod-full"]["platforms"] == b["targets"]["web-prod-full"]["platforms"]


def test_changing_one_file_changes_only_ops_downstream_of_its_copy(make_monorepo, cache_dir):
    root = make_monorepo()
    before = _plan(root, cache_dir)
    (root / "services/api/src/mod007.txt").write_text("changed\n")
    after = _plan(root, cache_dir)
    gone = _ids(before) - _ids(after)
    by_id = {n["id"]: n for n in before["nodes"]}
    # the api context selection, its COPY (2 flavours), the tar RUNs and final COPYs (4 variants each)
    assert sorted(by_id[i]["kind"] for i in gone) == ["exec"] * 4 + ["file"] * 6 + ["local"]
    for node_id in gone:
        assert all(t.startswith("api-") for t in by_id[node_id]["targets"])
    unchanged = [n for n in before["nodes"] if not any(t.startswith("api-") for t in n["targets"])]
    assert {n["id"] for n in unchanged} <= _ids(after)
    deps = {n["id"] for n in before["nodes"] if n["description"].startswith("RUN mkdir -p /deps")}
    assert deps <= _ids(after)


def test_changing_a_dockerignored_file_changes_nothing(make_monorepo, cache_dir):
    root = make_monorepo()
    (root / "services/web/.dockerignore").write_text("**/*.log\n")
    (root / "services/web/src/debug.log").write_text("one\n")
    before = _plan(root, cache_dir)
    (root / "services/web/src/debug.log").write_text("two, longer\n")
    (root / "services/web/src/new.log").write_text("new\n")
    after = _plan(root, cache_dir)
    assert [n["id"] for n in before["nodes"]] == [n["id"] for n in after["nodes"]]


def test_a_context_file_no_copy_selects_changes_nothing(make_monorepo, cache_dir):
    root = make_monorepo()
    before = _plan(root, cache_dir)
    (root / "services/web/README.md").write_text("not copied by anything\n")
    after = _plan(root, cache_dir)
    assert _ids(before) == _ids(after)


def test_cli_plan_json_matches_library(make_monorepo, cache_dir, monkeypatch, capsys):
    from bakec.cli.main import main

    root = make_monorepo()
    monkeypatch.chdir(root)
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache_dir))
    assert main(["plan", "--format", "json", "api-dev-slim"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert set(data["targets"]) == {"api-dev-slim", "base"}
    assert data["summary"]["targets"] == 2
    assert all(set(n["targets"]) <= {"api-dev-slim", "base"} for n in data["nodes"])


def test_a_linked_target_named_on_the_command_line_is_requested(make_monorepo, cache_dir):
    data = _plan(make_monorepo(), cache_dir, ["base", "web-dev-full"])
    assert data["targets"]["base"]["requested"] is True
    assert list(data["targets"]) == ["base", "web-dev-full"]
