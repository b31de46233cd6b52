"""``bakec plan --shards N``: ownership, needs, shared stages, determinism, stability, costs, platforms."""

from __future__ import annotations

import json
import shutil
import socket

from fleet_helpers import REPO


def owners(plan: dict) -> dict[str, str]:
    return {op: s["id"] for s in plan["shards"] for op in s["ops"]}


def test_every_op_is_owned_by_exactly_one_shard_and_needs_are_the_inputs_owners(planner, make_monorepo):
    root = make_monorepo()
    plan = planner.plan(root, shards=4)
    graph = planner.graph(root)
    owned = [op for s in plan["shards"] for op in s["ops"]]
    assert sorted(owned) == sorted(n["id"] for n in graph["nodes"])
    assert len(owned) == len(set(owned))
    owner = owners(plan)
    deps = {n["id"]: n["deps"] for n in graph["nodes"]}
    ids = [s["id"] for s in plan["shards"]]
    for shard in plan["shards"]:
        used = {owner[d] for op in shard["ops"] for d in deps[op]} - {shard["id"]}
        assert set(shard["needs"]) == used
        assert all(ids.index(n) < ids.index(shard["id"]) for n in shard["needs"])
        assert shard["command"] == ["bakec", "build", "--plan", "plan.json", "--shard", shard["id"]]
        assert shard["cost"] > 0 and shard["cache_ref"].startswith(REPO + ":fleet-")
    assert plan["publish"] == {
        "needs": ids,
        "command": ["bakec", "build", "--plan", "plan.json", "--publish"],
    }
    assert len({s["cache_ref"] for s in plan["shards"]}) == len(ids)


def test_a_stage_every_target_shares_is_built_once_in_the_first_phase(planner, make_monorepo):
    root = make_monorepo()
    plan = planner.plan(root, shards=4)
    graph = planner.graph(root)
    base_runs = [n["id"] for n in graph["nodes"] if n["kind"] == "exec" and len(n["targets"]) == 25]
    assert len(base_runs) == 2  # the base target's two RUNs
    owner = owners(plan)
    (first,) = {owner[op] for op in base_runs}
    shard = next(s for s in plan["shards"] if s["id"] == first)
    assert shard["needs"] == []
    service_shards = [s for s in plan["shards"] if s["id"] != first]
    assert len(service_shards) == 4  # the 24 service images spread over the 4 runners
    assert all(s["needs"] == [first] for s in service_shards)
    # a service's deps stage (shared by its images) is not split across shards
    for service in ("api", "web", "worker", "auth", "billing", "search"):
        holders = {s["id"] for s in service_shards if any(t.startswith(service + "-") for t in s["targets"])}
        assert len(holders) == 1, (service, holders)


def test_two_clean_checkouts_give_byte_identical_plans(planner, make_monorepo):
    one, two = make_monorepo("one"), make_monorepo("two")
    args = ("--shards", "3", "--cache-repo", REPO, "--resolve", "offline", "--format", "json")
    first, second = planner.text(one, *args), planner.text(two, *args)
    assert first == second
    assert planner.text(one, *args) == first  # and again, with the stat cache warm
    for fmt in ("github-actions", "gitlab", "tekton"):
        assert planner.text(one, *args[:-1], fmt) == planner.text(two, *args[:-1], fmt)


def test_changing_one_service_file_changes_only_the_shards_holding_that_service(planner, make_monorepo):
    root = make_monorepo()
    before = planner.plan(root, shards=4)
    with open(root / "services/web/src/mod007.txt", "a") as f:
        f.write("one more line\n")
    after = planner.plan(root, shards=4)
    assert after["plan"] != before["plan"]
    assert after["layout"] == before["layout"]
    changed = [a["id"] for a, b in zip(after["shards"], before["shards"], strict=True) if a != b]
    graph = planner.graph(root)
    web_only = {n["id"] for n in graph["nodes"] if all(t.startswith("web-") for t in n["targets"])}
    web = [s["id"] for s in after["shards"] if web_only & set(s["ops"])]
    assert changed == web and len(web) == 1
    for a, b in zip(after["shards"], before["shards"], strict=True):
        if a["id"] in changed:
            assert a["cache_ref"] != b["cache_ref"] and a["needs"] == b["needs"]


def test_costs_file_balances_by_measured_durations(planner, make_monorepo, tmp_path):
    root = make_monorepo()
    graph = planner.graph(root)
    durations = {n["id"]: 1.0 for n in graph["nodes"]}
    heavy = [n["id"] for n in graph["nodes"] if n["kind"] == "exec" and n["targets"] == ["api-dev-slim"]]
    durations.update(dict.fromkeys(heavy, 500.0))
    costs = tmp_path / "costs.json"
    costs.write_text(json.dumps({"version": 1, "ops": durations}))
    plan = planner.plan(root, "--costs", str(costs), shards=4)
    assert plan["costs"] == str(costs)
    for shard in plan["shards"]:
        assert shard["cost"] == sum(round(durations[op] * 1000) for op in shard["ops"])
    # the 500 s target's shard gets nothing else that could go elsewhere: its family only
    heavy_shard = next(s for s in plan["shards"] if set(heavy) <= set(s["ops"]))
    assert {t.split("-")[0] for t in heavy_shard["targets"] if t != "base"} == {"api"}
    static = planner.plan(root, shards=4)
    assert static["costs"] == "static"
    assert [s["cost"] for s in static["shards"]] != [s["cost"] for s in plan["shards"]]


def test_a_bad_costs_file_is_refused(planner, make_monorepo, tmp_path):
    root = make_monorepo()
    bad = tmp_path / "costs.json"
    bad.write_text('{"ops": {"sha256:00": -1}, "version": 1}')
    code, _, err = planner.run(root, "--shards", "2", "--cache-repo", REPO, "--costs", str(bad))
    assert code == 2 and "duration must be a number of seconds >= 0" in err
    bad.write_text("[1, 2")
    code, _, err = planner.run(root, "--shards", "2", "--cache-repo", REPO, "--costs", str(bad))
    assert code == 2 and "not JSON" in err


def test_emulated_platforms_get_shards_of_their_own(planner, tmp_path):
    root = tmp_path / "multi"
    files = {
        "docker-bake.hcl": 'group "default" {\n  targets = ["a", "b", "c", "d"]\n}\n'
        + "".join(
            f'target "{t}" {{\n  args = {{ NAME = "{t}" }}\n  platforms = ["linux/amd64", "linux/arm64"]\n}}\n'
            for t in "abcd"
        ),
        "Dockerfile": "FROM 127.0.0.1:5000/busybox:latest\nARG NAME\nRUN echo $NAME > /name\n",
    }
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    plan = planner.plan(root, shards=2)
    platforms = sorted(tuple(s["platforms"]) for s in plan["shards"])
    assert platforms == [("linux/amd64",), ("linux/arm64",)]
    assert plan["inputs"]["build_platform"] == "linux/amd64"
    arm = next(s for s in plan["shards"] if s["platforms"] == ["linux/arm64"])
    assert arm["cost"] > next(s for s in plan["shards"] if s is not arm)["cost"]  # QEMU is slower


def test_graph_shaping_options_are_recorded_and_secrets_never(planner, make_monorepo, tmp_path, monkeypatch):
    root = make_monorepo()
    agent = socket.socket(socket.AF_UNIX)
    agent.bind(str(tmp_path / "agent.sock"))
    monkeypatch.setenv("SSH_AUTH_SOCK", str(tmp_path / "agent.sock"))
    (tmp_path / "token").write_text("hunter2")
    plan = planner.plan(
        root,
        "--set",
        "api-*.args.EXTRA=1",
        "--set",
        f"*.secrets=id=token,src={tmp_path / 'token'}",
        "--set",
        "web-dev-slim.ssh=default",
        "--var",
        "VERSION=2",
        "api-dev-slim",
        "web-dev-slim",
    )
    assert plan["inputs"] == {
        "files": [],
        "targets": ["api-dev-slim", "web-dev-slim"],
        "set": ["api-*.args.EXTRA=1"],
        "var": {"VERSION": "2"},
        "build_platform": "linux/amd64",
        "shards": 4,
        "plan_file": "plan.json",
    }
    assert "token" not in json.dumps(plan) and "hunter2" not in json.dumps(plan)
    agent.close()
    targets = {t for s in plan["shards"] for t in s["targets"]}
    assert targets == {"api-dev-slim", "web-dev-slim", "base"}


def test_entitlements_go_on_the_shard_command_line(planner, tmp_path):
    root = tmp_path / "net"
    root.mkdir()
    (root / "docker-bake.hcl").write_text('target "default" {\n  network = "host"\n}\n')
    (root / "Dockerfile").write_text("FROM 127.0.0.1:5000/busybox:latest\nRUN true\n")
    plan = planner.plan(root, shards=1)
    (shard,) = plan["shards"]
    assert shard["command"][-1] == "--allow=network.host"
    assert plan["entitlements"] == ["network.host"]


def test_the_plan_records_the_digests_the_registry_gave(planner, make_monorepo, busybox_image):
    root = make_monorepo()
    text = planner.text(root, "--shards", "2", "--cache-repo", REPO)
    plan = json.loads(text)
    assert plan["base_images"] == {
        "resolver": "registry",
        "images": [{"ref": busybox_image.ref, "platform": "linux/amd64", "digest": busybox_image.digest}],
    }


def test_an_unreachable_registry_plans_offline_and_says_so(planner, tmp_path):
    root = tmp_path / "offline"
    root.mkdir()
    (root / "docker-bake.hcl").write_text('target "default" {}\n')
    (root / "Dockerfile").write_text("FROM 127.0.0.1:9/nothing:latest\nRUN true\n")
    plan = json.loads(planner.text(root, "--shards", "1", "--cache-repo", REPO))
    images = plan["base_images"]
    assert images["resolver"] == "registry"
    assert images["images"] == [
        {"ref": "127.0.0.1:9/nothing:latest", "platform": "linux/amd64", "digest": None}
    ]
    assert images["note"].startswith("registry unreachable when planning (127.0.0.1:9/nothing:latest")


def test_bad_fleet_arguments_get_clear_errors(planner, make_monorepo):
    root = make_monorepo()
    cases = [
        (["--shards", "0", "--cache-repo", REPO], "--shards must be at least 1, got 0"),
        (["--shards", "2"], "--shards needs --cache-repo REPO"),
        (
            ["--shards", "2", "--cache-repo", REPO, "--format", "text"],
            "--format text cannot show a fleet plan",
        ),
        (["--format", "tekton"], "--format tekton emits a CI pipeline for a fleet plan: add --shards N"),
        (["--shards", "x"], "argument --shards: invalid int value: 'x'"),
    ]
    for args, message in cases:
        code, out, err = planner.run(root, *args)
        assert code == 2 and out == "" and message in err, (args, err)


def test_build_refuses_bad_plans_and_fleet_flags_before_building(planner, monkeypatch, capsys, make_monorepo):
    from bakec.cli.main import main

    root = make_monorepo()
    document = planner.plan(root)
    good = json.dumps(document)
    monkeypatch.chdir(root)
    edited = dict(document, cache_repo="127.0.0.1:5000/elsewhere")
    other = dict(document, bakec="0.0.1")
    cases = [
        ("{", ["--shard", "s1"], "plan.json is not a bakec fleet plan: invalid JSON"),
        ('{"a": 1}', ["--shard", "s1"], "plan.json is not a bakec fleet plan (write one with"),
        (json.dumps(edited), ["--shard", "s1"], "plan.json was edited after planning"),
        (json.dumps(other), ["--publish"], "plan.json was planned by bakec 0.0.1"),
        (good, ["--shard", "s99"], "unknown shard 's99': plan.json has shards s1, "),
        (good, [], "--plan FILE needs exactly one of --shard ID (run one shard) or --publish"),
        (good, ["--shard", "s1", "--publish"], "--plan FILE needs exactly one of --shard ID"),
        (good, ["--shard", "s1", "api"], "build --plan builds the targets the plan was made for; drop api"),
        (good, ["--shard", "s1", "--push"], "a shard pushes no tag and writes no output"),
    ]
    for text, args, message in cases:
        (root / "plan.json").write_text(text)
        capsys.readouterr()
        assert main(["build", "--plan", "plan.json", *args]) == 2, args
        err = capsys.readouterr().err
        assert message in err, (args, err)
    assert main(["build", "--shard", "s1"]) == 2
    assert "--shard and --publish run a job of a fleet plan: add --plan FILE" in capsys.readouterr().err


def test_copied_checkout_elsewhere_keeps_the_plan(planner, make_monorepo, tmp_path):
    root = make_monorepo("orig")
    moved = tmp_path / "elsewhere" / "moved"
    shutil.copytree(root, moved)
    assert planner.plan(root) == planner.plan(moved)
