"""``bakec plan --record-costs FILE``: the durations of the last build, as ``--costs`` reads them."""

from __future__ import annotations

import json
import textwrap
import uuid
from pathlib import Path

from build.helpers import cli, fresh_state, needs_builds

pytestmark = needs_builds

REGISTRY = "127.0.0.1:5000"


def _project(root: Path) -> Path:
    root.mkdir()
    (root / "Dockerfile").write_text(
        textwrap.dedent(f"""\
            FROM {REGISTRY}/busybox:latest AS base
            RUN sleep 0.4 && echo base > /base
            FROM base AS a
            RUN sleep 0.2 && echo a > /a
            FROM base AS b
            RUN echo b > /b
            """)
    )
    (root / "docker-bake.hcl").write_text(
        'group "default" { targets = ["a", "b"] }\n'
        'target "a" {\n  target = "a"\n}\n'
        'target "b" {\n  target = "b"\n}\n'
    )
    return root


def test_recorded_costs_are_the_build_durations_and_balance_the_shards(tmp_path):
    root = _project(tmp_path / "repo")
    repo = f"{REGISTRY}/bakec-test/costs-{uuid.uuid4().hex[:10]}"
    with fresh_state() as state:
        built = cli(root, "build", "--state-dir", str(state))
        assert built.returncode == 0, built.stderr
        recorded = cli(root, "plan", "--record-costs", "costs.json", "--state-dir", str(state))
        assert recorded.returncode == 0, recorded.stderr
        again = cli(root, "plan", "--record-costs", "again.json", "--state-dir", str(state))
        assert again.returncode == 0, again.stderr
    text = (root / "costs.json").read_text()
    assert (root / "again.json").read_text() == text  # stable: same records, same bytes
    costs = json.loads(text)
    assert list(costs) == ["ops", "version"] and costs["version"] == 1
    assert list(costs["ops"]) == sorted(costs["ops"])
    seconds = costs["ops"]
    plan = cli(root, "plan", "--shards", "2", "--cache-repo", f"{repo}/cache", "--costs", "costs.json")
    assert plan.returncode == 0, plan.stderr
    document = json.loads(plan.stdout)
    assert document["costs"] == "costs.json"
    every_op = [op for s in document["shards"] for op in s["ops"]]
    assert set(seconds) == set(every_op)  # every step of the build ran, so every op has a duration
    # the sleeps show: what the records measured, not the static estimate (1.5 s a RUN)
    assert 0.4 <= max(seconds.values()) < 1.5
    for shard in document["shards"]:
        assert shard["cost"] == sum(round(seconds[op] * 1000) for op in shard["ops"]), shard["id"]
