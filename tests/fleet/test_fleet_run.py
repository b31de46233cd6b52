"""Running a fleet plan on separate runners: ``bakec build --plan plan.json --shard ID`` and ``--publish``.

Each runner is a fresh state dir with its own embedded containerd; runners share only the
loopback registry. Every RUN calls a counting HTTP server on loopback (``--network=host``), so
executions are counted from the steps' own side effects, not from bakec's report.
"""

from __future__ import annotations

import collections
import http.server
import io
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tarfile
import textwrap
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from build.helpers import cli, cli_env, fresh_state, needs_builds

pytestmark = needs_builds

REGISTRY = "127.0.0.1:5000"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


class Counter:
    """A loopback HTTP server counting GETs by path; ``/hold/...`` answers only once released."""

    def __init__(self) -> None:
        self.hits: collections.Counter[str] = collections.Counter()
        self.release = threading.Event()
        counter = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
                counter.hits[self.path] += 1
                if self.path.startswith("/hold/"):
                    counter.release.wait(120)
                body = b"ok\n"
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def snapshot(self) -> dict[str, int]:
        return dict(self.hits)


@pytest.fixture
def counter() -> Iterator[Counter]:
    c = Counter()
    yield c
    c.release.set()
    c.server.shutdown()


def _dockerfile(port: int, hold: str = "") -> str:
    """A base stage three targets share, and a step of each target's own; every RUN calls the counter."""
    call = f"wget -q -O /dev/null http://127.0.0.1:{port}"
    return textwrap.dedent(f"""\
        FROM {REGISTRY}/busybox:latest AS base
        RUN --network=host {call}/base && echo base > /base.txt
        FROM base AS a
        COPY src/a.txt /a.txt
        RUN --network=host {call}/a && cat /base.txt /a.txt > /a.out
        RUN --network=host {call}/{hold or "a2"} && echo a2 > /a2.out
        FROM base AS b
        COPY src/b.txt /b.txt
        RUN --network=host {call}/b && cat /base.txt /b.txt > /b.out
        FROM base AS c
        RUN --network=host {call}/c && echo c > /c.out
        """)


def _project(root: Path, port: int, repo: str, hold: str = "") -> Path:
    (root / "src").mkdir(parents=True)
    (root / "src" / "a.txt").write_text("a\n")
    (root / "src" / "b.txt").write_text("b\n")
    (root / "Dockerfile").write_text(_dockerfile(port, hold))
    # a asks for network.host itself: the publish job, which runs no RUN, needs no --allow for it;
    # b keeps its layers as built, so its image shares blobs with the shards' cache refs
    rewrite = ",rewrite-timestamp=true"
    targets = "\n".join(
        textwrap.dedent(f"""\
            target "{name}" {{
              target = "{name}"
              {'entitlements = ["network.host"]' if name == "a" else ""}
              args = {{ SOURCE_DATE_EPOCH = "1700000000" }}
              output = ["type=image,name={REGISTRY}/{repo}/{name}:v1,push=true{rewrite if name != "b" else ""}"]
            }}
            """)
        for name in ("a", "b", "c")
    )
    (root / "docker-bake.hcl").write_text('group "default" { targets = ["a", "b", "c"] }\n' + targets)
    return root


def _plan(root: Path, repo: str, shards: int = 3) -> dict:
    proc = cli(root, "plan", "--shards", str(shards), "--cache-repo", f"{REGISTRY}/{repo}/cache")
    assert proc.returncode == 0, proc.stderr
    (root / "plan.json").write_text(proc.stdout)
    return json.loads(proc.stdout)


def _job(root: Path, state: Path, *args: str) -> subprocess.CompletedProcess:
    """A job as a runner runs it, from the bake files' directory, on its own state dir."""
    return cli(
        root,
        *args,
        "--state-dir",
        str(state),
        "--progress",
        "plain",
        env={"BUILDX_NO_DEFAULT_ATTESTATIONS": "1"},
    )


def _run_shard(root: Path, shard: dict) -> subprocess.CompletedProcess:
    with fresh_state() as state:
        return _job(root, state, *shard["command"][1:])


def _tags(repo: str) -> list[str]:
    try:
        with urllib.request.urlopen(f"http://{REGISTRY}/v2/{repo}/tags/list", timeout=10) as resp:
            return sorted(json.load(resp).get("tags") or [])
    except urllib.error.HTTPError as err:
        if err.code == 404:
            return []
        raise


def _get(path: str, accept: str = "") -> bytes:
    request = urllib.request.Request(
        f"http://{REGISTRY}/v2/{path}", headers={"Accept": accept} if accept else {}
    )
    with urllib.request.urlopen(request, timeout=10) as resp:
        return resp.read()


def _cache_manifest(cache_ref: str) -> tuple[str, dict]:
    """The repository of a registry cache ref and its manifest."""
    repo, _, tag = cache_ref.removeprefix(f"{REGISTRY}/").rpartition(":")
    return repo, json.loads(_get(f"{repo}/manifests/{tag}", OCI_MANIFEST))


def _cache_records(cache_ref: str) -> set[str]:
    """The op digests a registry cache ref holds records of (its BuildKit cache config)."""
    repo, manifest = _cache_manifest(cache_ref)
    config = json.loads(_get(f"{repo}/blobs/{manifest['config']['digest']}"))
    return {r["digest"] for r in config["records"]}


def _digests(metadata: Path) -> dict[str, str]:
    return {name: m["containerimage.digest"] for name, m in json.loads(metadata.read_text()).items()}


def _uploads(requests: list[tuple[str, str, int]]) -> collections.Counter[str]:
    """Blob digest → how many times its bytes were sent: the PUT closing an upload session.

    A HEAD hit sends nothing and a cross-repository mount is a POST answered 201 without a
    session; a declined mount's session is closed by a PUT, which does count.
    """
    sent: collections.Counter[str] = collections.Counter()
    for method, path, status in requests:
        url = urllib.parse.urlsplit(path)
        if method == "PUT" and "/blobs/uploads/" in url.path and status == 201:
            sent[urllib.parse.parse_qs(url.query)["digest"][0]] += 1
    return sent


def test_shards_run_every_step_once_and_publish_gives_the_single_machine_images(tmp_path, counter, registry):
    repo = f"bakec-test/fleet-{uuid.uuid4().hex[:10]}"
    offset = registry.log_offset()
    root = _project(tmp_path / "repo", counter.port, repo)
    plan = _plan(root, repo)
    shards = plan["shards"]
    assert len(shards) >= 2 and any(s["needs"] for s in shards)
    assert len({s["cache_ref"] for s in shards}) == len(shards)  # no two shards write one ref

    *first, last = shards
    for shard in first:
        proc = _run_shard(root, shard)
        assert proc.returncode == 0, proc.stderr
    # publish before the last shard ran: it names that shard and moves no tag
    with fresh_state() as state:
        early = _job(root, state, "build", "--plan", "plan.json", "--publish")
    assert early.returncode != 0
    assert f"shard {last['id']}" in early.stderr and "no tag was moved" in early.stderr, early.stderr
    assert all(_tags(f"{repo}/{name}") == [] for name in ("a", "b", "c"))

    proc = _run_shard(root, last)
    assert proc.returncode == 0, proc.stderr
    runs = {"/base", "/a", "/a2", "/b", "/c"}
    assert counter.snapshot() == dict.fromkeys(runs, 1)  # every RUN once across all shards
    for shard in shards:  # each ref holds exactly the records of the ops its shard owns
        assert _cache_records(shard["cache_ref"]) == set(shard["ops"]), shard["id"]

    with fresh_state() as state:
        published = _job(
            root, state, "build", "--plan", "plan.json", "--publish", "--metadata-file", "fleet.json"
        )
    assert published.returncode == 0, published.stderr
    assert counter.snapshot() == dict.fromkeys(runs, 1)  # publish ran no RUN
    assert all(_tags(f"{repo}/{name}") == ["v1"] for name in ("a", "b", "c"))
    # across the shards and the publish no blob went up twice: the rest were mounts or HEAD hits
    fleet = registry.requests_since(offset, repo)
    uploads = _uploads(fleet)
    assert uploads and max(uploads.values()) == 1, [d for d, n in uploads.items() if n > 1]
    mounted_from = {
        urllib.parse.parse_qs(urllib.parse.urlsplit(p).query)["from"][0]
        for m, p, s in fleet
        if "mount=" in p and s == 201
    }
    assert f"{repo}/cache" in mounted_from  # b's layers, from the shards' refs
    # b keeps its layers as built: its image is made of exactly the layers the shards exported
    b_layers = {
        layer["digest"] for layer in json.loads(_get(f"{repo}/b/manifests/v1", OCI_MANIFEST))["layers"]
    }
    exported = {layer["digest"] for s in shards for layer in _cache_manifest(s["cache_ref"])[1]["layers"]}
    assert b_layers <= exported

    with fresh_state() as state:
        single = _job(root, state, "build", "--allow", "network.host", "--metadata-file", "single.json")
    assert single.returncode == 0, single.stderr
    assert counter.snapshot() == dict.fromkeys(runs, 2)  # the single machine ran each once too
    fleet_digests, single_digests = _digests(root / "fleet.json"), _digests(root / "single.json")
    # b's layers keep their build-time mtimes, so only a's and c's images are reproducible
    assert {t: fleet_digests[t] for t in "ac"} == {t: single_digests[t] for t in "ac"}

    # the next CI run with one service's file changed: that service's shard refuses the plan ...
    (root / "src" / "a.txt").write_text("a, edited\n")
    owner_of_a = next(s for s in shards if s["targets"] == ["a"])
    refused = _run_shard(root, owner_of_a)
    assert refused.returncode == 1
    assert "plan.json is stale for shard" in refused.stderr and "src/a.txt" in refused.stderr
    assert counter.snapshot() == dict.fromkeys(runs, 2)
    # ... while a shard whose ops did not change finds its ref complete and runs nothing
    owner_of_c = next(s for s in shards if s["targets"] == ["c"])
    again = _run_shard(root, owner_of_c)
    assert again.returncode == 0, again.stderr
    assert counter.snapshot() == dict.fromkeys(runs, 2)


def _records_or_none(cache_ref: str) -> set[str]:
    try:
        return _cache_records(cache_ref)
    except urllib.error.HTTPError:
        return set()


def test_a_killed_shard_rerun_alone_runs_only_its_unfinished_steps(tmp_path, counter):
    repo = f"bakec-test/fleet-{uuid.uuid4().hex[:10]}"
    root = _project(tmp_path / "repo", counter.port, repo, hold="hold/a2")
    shards = _plan(root, repo)["shards"]
    owner = next(s for s in shards if s["targets"] == ["a"])
    for shard in shards:
        if shard["id"] in owner["needs"]:
            assert _run_shard(root, shard).returncode == 0
    with fresh_state() as state:
        job = subprocess.Popen(
            [sys.executable, "-m", "bakec.cli.main", *owner["command"][1:], "--state-dir", str(state)],
            cwd=root,
            env=cli_env(root),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 120
        while counter.hits["/hold/a2"] == 0 and time.monotonic() < deadline and job.poll() is None:
            time.sleep(0.1)
        assert counter.hits["/hold/a2"] == 1, job.stderr.read() if job.poll() is not None else ""
        # the shard exports as it goes: every op but the running one reaches its ref
        finished = set(owner["ops"][:-1])
        while _records_or_none(owner["cache_ref"]) != finished and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _records_or_none(owner["cache_ref"]) == finished
        job.send_signal(signal.SIGKILL)  # the runner dies mid-RUN, no clean-up
        job.communicate(timeout=120)
        assert job.returncode == -signal.SIGKILL
        counter.release.set()  # lets the orphaned RUN end before its containerd is stopped
    assert counter.snapshot() == {"/base": 1, "/a": 1, "/hold/a2": 1}
    rerun = _run_shard(root, owner)  # on another fresh runner
    assert rerun.returncode == 0, rerun.stderr
    assert counter.snapshot() == {"/base": 1, "/a": 1, "/hold/a2": 2}  # only the unfinished RUN again


def test_an_unreachable_cache_repo_fails_the_job_before_anything_runs_or_is_pushed(tmp_path, counter):
    repo = f"bakec-test/fleet-{uuid.uuid4().hex[:10]}"
    root = _project(tmp_path / "repo", counter.port, repo)
    proc = cli(root, "plan", "--shards", "3", "--cache-repo", "127.0.0.1:1/cache")  # nothing listens there
    assert proc.returncode == 0, proc.stderr
    (root / "plan.json").write_text(proc.stdout)
    first = next(s for s in json.loads(proc.stdout)["shards"] if not s["needs"])
    shard = _run_shard(root, first)
    assert shard.returncode == 3, shard.stderr  # an environment problem: a CI retry may help
    assert (
        f"ERROR: shard {first['id']}: cannot reach the plan's cache repo 127.0.0.1:1/cache" in shard.stderr
    ), shard.stderr
    assert "nothing was run or pushed" in shard.stderr
    with fresh_state() as state:
        publish = _job(root, state, "build", "--plan", "plan.json", "--publish")
    assert publish.returncode == 3, publish.stderr
    assert "ERROR: publish: cannot reach the plan's cache repo 127.0.0.1:1/cache" in publish.stderr
    assert "no tag was moved" in publish.stderr
    assert counter.snapshot() == {}  # no RUN started
    assert all(_tags(f"{repo}/{name}") == [] for name in ("a", "b", "c"))


def _run_after_order(tasks: list[dict]) -> list[dict]:
    """The Pipeline's tasks in an order Tekton may run them: each after all of its ``runAfter``."""
    done: list[str] = []
    ordered: list[dict] = []
    while len(ordered) < len(tasks):
        ready = [t for t in tasks if t["name"] not in done and set(t.get("runAfter", [])) <= set(done)]
        assert ready, "runAfter has a cycle"
        ordered.append(ready[0])
        done.append(ready[0]["name"])
    return ordered


def test_the_emitted_tekton_pipeline_runs_for_real_on_separate_runners(tmp_path, counter):
    """Each PipelineTask's step script, params substituted as Tekton does, on its own runner; then publish."""
    repo = f"bakec-test/fleet-{uuid.uuid4().hex[:10]}"
    root = _project(tmp_path / "repo", counter.port, repo)
    plan = _plan(root, repo)  # plan.json next to the bake files: the pipeline's default plan param
    emitted = cli(
        root, "plan", "--shards", "3", "--cache-repo", f"{REGISTRY}/{repo}/cache", "--format", "tekton"
    )
    assert emitted.returncode == 0, emitted.stderr
    task, pipeline, run = yaml.safe_load_all(emitted.stdout)
    assert pipeline["metadata"]["annotations"]["bakec.dev/plan"] == plan["plan"]
    (step,) = task["spec"]["steps"]
    defaults = {p["name"]: p.get("default", "") for p in task["spec"]["params"]}
    pipeline_params = {p["name"]: p["value"] for p in run["spec"]["params"]}
    shim = tmp_path / "bin" / "bakec"  # the runner image's bakec: this checkout's
    shim.parent.mkdir()
    shim.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} -m bakec.cli.main "$@"\n')
    shim.chmod(0o755)

    def run_task(pipeline_task: dict) -> subprocess.CompletedProcess:
        params = defaults | {p["name"]: p["value"] for p in pipeline_task["params"]}
        params = {k: v.replace("$(params.plan)", pipeline_params["plan"]) for k, v in params.items()}
        script = step["script"]
        for name, value in params.items():
            script = script.replace(f"$(params.{name})", value)
        assert "$(" not in script
        workspace = tmp_path / "runners" / pipeline_task["name"]  # a runner's own copy of the checkout
        shutil.copytree(root, workspace)
        with fresh_state() as state:
            env = {e["name"]: e["value"] for e in step["env"]}
            assert env["BAKEC_STATE_DIR"] == "/var/lib/bakec"  # the runner's own volume: here a fresh dir
            return subprocess.run(
                ["sh", "-c", script],
                cwd=workspace,
                env=cli_env(
                    workspace,
                    {
                        "PATH": f"{shim.parent}:{os.environ.get('PATH', '/usr/bin:/bin')}",
                        "BAKEC_STATE_DIR": str(state),
                        "BUILDX_NO_DEFAULT_ATTESTATIONS": "1",
                    },
                ),
                capture_output=True,
                text=True,
                timeout=300,
            )

    tasks = pipeline["spec"]["tasks"]
    assert any(t.get("runAfter") for t in tasks)
    assert any(p["name"] == "allow" and p["value"] == "network.host" for t in tasks for p in t["params"])
    for pipeline_task in _run_after_order(tasks):
        proc = run_task(pipeline_task)
        assert proc.returncode == 0, (pipeline_task["name"], proc.stderr)
    assert counter.snapshot() == dict.fromkeys({"/base", "/a", "/a2", "/b", "/c"}, 1)
    assert all(_tags(f"{repo}/{name}") == [] for name in ("a", "b", "c"))  # shards move no tag

    (publish,) = pipeline["spec"]["finally"]
    # every task succeeded, so $(tasks.status) is Succeeded and the publish's `when` lets it run
    assert publish["when"] == [
        {"input": "$(tasks.status)", "operator": "in", "values": ["Succeeded", "Completed"]}
    ]
    proc = run_task(publish)
    assert proc.returncode == 0, proc.stderr
    assert counter.snapshot() == dict.fromkeys({"/base", "/a", "/a2", "/b", "/c"}, 1)  # publish ran no RUN
    made_by_last_run = {"a": ("a2.out", b"a2\n"), "b": ("b.out", b"base\nb\n"), "c": ("c.out", b"c\n")}
    for name, (made, content) in made_by_last_run.items():
        assert _tags(f"{repo}/{name}") == ["v1"]
        manifest = json.loads(_get(f"{repo}/{name}/manifests/v1", OCI_MANIFEST))
        blobs = [_get(f"{repo}/{name}/blobs/{layer['digest']}") for layer in manifest["layers"]]
        with tarfile.open(fileobj=io.BytesIO(blobs[-1])) as top:  # the target's last RUN made it
            assert top.extractfile(made).read() == content
