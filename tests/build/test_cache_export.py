"""``cache-to`` / ``cache-from`` end to end: local, registry and inline caches into brand-new state dirs.

Each "second" build runs on a fresh state dir (its own containerd, empty content
store and cache index), so anything it does not run came from the imported cache.
"""

from __future__ import annotations

import hashlib
import json
import textwrap
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from . import helpers
from .helpers import MT_INDEX, MT_MANIFEST, OciArchive, bakec, events, registry_get, registry_json

HOST = "127.0.0.1:5000"
EPOCH = "1700000000"
CACHE_CONFIG = "application/vnd.buildkit.cacheconfig.v0"

DOCKERFILE = """\
FROM 127.0.0.1:5000/busybox:latest
RUN cat /proc/sys/kernel/random/uuid > /t
COPY app/ /app/
RUN echo "$(cat /app/main.txt) built" > /built
"""
# /t is new each time the RUN runs, so an image with the same /t got it from the cache
# progress names of its steps in a one-target run (buildx's ``[n/m]`` prefix, no target name)
STAMP = "[2/4] RUN cat /proc/sys/kernel/random/uuid > /t"
COPY_APP = "[3/4] COPY app/ /app/"


@pytest.fixture
def fresh_state(state_dir: Path) -> Iterator[Callable[[], Path]]:
    """New, empty state dirs on demand (``state_dir`` only for its skip checks); daemons stopped at the end."""
    with ExitStack() as made:
        yield lambda: made.enter_context(helpers.fresh_state())


def _project(tmp: Path, hcl: str, dockerfile: str = DOCKERFILE) -> Path:
    (tmp / "app").mkdir(parents=True, exist_ok=True)
    (tmp / "app" / "main.txt").write_text(f"main {uuid.uuid4().hex}\n")  # no other test has these ops cached
    (tmp / "Dockerfile").write_text(dockerfile)
    (tmp / "docker-bake.hcl").write_text(textwrap.dedent(hcl))
    return tmp


def _build(project: Path, state: Path, *args: str) -> tuple[list[dict], dict]:
    meta = project / f"meta-{uuid.uuid4().hex[:6]}.json"
    proc = bakec(project, state, "build", "--progress", "bakec-json", "--metadata-file", str(meta), *args)
    assert proc.returncode == 0, proc.stderr
    return events(proc.stderr), json.loads(meta.read_text())


def _ran(events: list[dict]) -> list[str]:
    """Names of the RUN/COPY vertices that really executed (not served from a cache)."""
    return [
        e["name"]
        for e in events
        if e.get("type") == "vertex"
        and e["state"] in ("started", "done")
        and e["name"].split("] ", 1)[-1].startswith(("RUN", "COPY"))
    ]


def _cached(events: list[dict]) -> list[str]:
    return [e["name"] for e in events if e.get("type") == "vertex" and e["state"] == "cached"]


def _target(name: str, cache_to: str, cache_from: str, output: str = '"type=oci,dest=out/image.tar"') -> str:
    return f"""\
        target "{name}" {{
          args = {{ SOURCE_DATE_EPOCH = "{EPOCH}" }}
          output = [{output}]
          cache-to = [{cache_to}]
          cache-from = [{cache_from}]
        }}
        """


def _image_manifest(index_or_manifest: dict) -> str:
    """The image's own manifest digests (comma-joined) under an index that may hold attestation
    manifests (attestations carry their own timestamps; the image is what the cache must reproduce)."""
    return ",".join(
        m["digest"]
        for m in index_or_manifest["manifests"]
        if (m.get("annotations") or {}).get("vnd.docker.reference.type") != "attestation-manifest"
    )


def _oci_image_digest(project: Path, meta: dict, name: str = "default", tar: str = "out/image.tar") -> str:
    desc = meta[name]["containerimage.descriptor"]
    if desc["mediaType"] != MT_INDEX:
        return desc["digest"]
    return _image_manifest(OciArchive(project / tar).json(desc["digest"]))


def _registry_image_digest(repo: str, tag: str) -> str:
    raw = registry_get(f"{repo}/manifests/{tag}", f"{MT_MANIFEST}, {MT_INDEX}")
    root = json.loads(raw)
    return f"sha256:{hashlib.sha256(raw).hexdigest()}" if "manifests" not in root else _image_manifest(root)


def _local_cache_config(cache_dir: Path) -> tuple[dict, dict]:
    index = json.loads((cache_dir / "index.json").read_text())
    [entry] = index["manifests"]
    assert entry["annotations"]["org.opencontainers.image.ref.name"] == "latest"
    manifest = json.loads((cache_dir / "blobs/sha256" / entry["digest"][7:]).read_text())
    config = json.loads((cache_dir / "blobs/sha256" / manifest["config"]["digest"][7:]).read_text())
    return manifest, config


def test_local_cache_max_fills_a_fresh_state_dir(tmp_path, fresh_state):
    project = _project(
        tmp_path, _target("default", '"type=local,dest=cache,mode=max"', '"type=local,src=cache"')
    )
    first, meta1 = _build(project, fresh_state())
    image1 = _oci_image_digest(project, meta1)
    assert STAMP in _ran(first)
    manifest, config = _local_cache_config(project / "cache")
    assert manifest["config"]["mediaType"] == CACHE_CONFIG
    assert all("containerd.io/uncompressed" in layer["annotations"] for layer in manifest["layers"])
    assert {layer["blob"] for layer in config["layers"]} == {layer["digest"] for layer in manifest["layers"]}
    assert sum(1 for r in config["records"] if r.get("layers")) == 4  # FROM, RUN, COPY, RUN

    second, meta2 = _build(project, fresh_state())
    assert _ran(second) == []
    assert {STAMP, COPY_APP} <= set(_cached(second))
    assert _oci_image_digest(project, meta2) == image1


def test_an_op_that_must_run_runs_on_the_imported_layers(tmp_path, fresh_state):
    project = _project(
        tmp_path,
        _target(
            "default",
            '"type=local,dest=cache,mode=max"',
            '"type=local,src=cache"',
            '"type=local,dest=rootfs"',
        ),
    )
    _build(project, fresh_state())
    stamped = (project / "rootfs" / "t").read_text()
    (project / "Dockerfile").write_text(DOCKERFILE.replace(") built", ") rebuilt"))
    second, _ = _build(project, fresh_state())
    assert _ran(second) == ['[4/4] RUN echo "$(cat /app/main.txt) rebuilt" > /built'] * 2  # started, done
    assert (project / "rootfs" / "t").read_text() == stamped  # the imported RUN's file, not a new uuid
    assert (project / "rootfs" / "built").read_text().endswith(" rebuilt\n")


def test_registry_cache_max_fills_a_fresh_state_dir(tmp_path, fresh_state, registry):
    repo = f"bakec-test/cache-{uuid.uuid4().hex[:10]}"
    ref = f"{HOST}/{repo}:buildcache"
    project = _project(
        tmp_path, _target("default", f'"type=registry,ref={ref},mode=max"', f'"type=registry,ref={ref}"')
    )
    offset = registry.log_offset()
    first, meta1 = _build(project, fresh_state())
    image1 = _oci_image_digest(project, meta1)
    assert STAMP in _ran(first)
    if registry.access_log is not None:  # the base layer is mounted from busybox, not uploaded again
        assert any(
            f"/v2/{repo}/blobs/uploads/?mount=" in line and "from=busybox" in line
            for line in registry.log_since(offset)
        )
    manifest = registry_json(f"{repo}/manifests/buildcache", MT_MANIFEST)
    assert manifest["config"]["mediaType"] == CACHE_CONFIG

    second, meta2 = _build(project, fresh_state())
    assert _ran(second) == []
    assert _oci_image_digest(project, meta2) == image1


def test_registry_cache_as_an_index_with_docker_media_types(tmp_path, fresh_state, registry):
    repo = f"bakec-test/cache-{uuid.uuid4().hex[:10]}"
    ref = f"{HOST}/{repo}"
    project = _project(
        tmp_path,
        _target(
            "default",
            f'"type=registry,ref={ref},mode=max,image-manifest=false,oci-mediatypes=false"',
            f'"type=registry,ref={ref}"',
        ),
    )
    _build(project, fresh_state())
    index = registry_json(
        f"{repo}/manifests/latest", "application/vnd.docker.distribution.manifest.list.v2+json"
    )
    assert index["mediaType"] == "application/vnd.docker.distribution.manifest.list.v2+json"
    assert index["manifests"][-1]["mediaType"] == CACHE_CONFIG
    assert all(
        m["mediaType"].startswith("application/vnd.docker.image.rootfs") for m in index["manifests"][:-1]
    )
    second, _ = _build(project, fresh_state())
    assert _ran(second) == []


def test_two_targets_each_with_its_own_cache_from_both_hit(tmp_path, fresh_state):
    hcl = "".join(
        _target(
            name,
            f'"type=local,dest=cache-{name},mode=max"',
            f'"type=local,src=cache-{name}"',
            f'"type=oci,dest=out/{name}.tar"',
        ).replace("args = {", f'dockerfile = "{name}.Dockerfile"\n  args = {{')
        for name in ("a", "b")
    )
    project = _project(tmp_path, 'group "default" {\n  targets = ["a", "b"]\n}\n' + hcl)
    for name in ("a", "b"):
        (project / f"{name}.Dockerfile").write_text(DOCKERFILE.replace("RUN cat", f"RUN echo {name} && cat"))
    first, meta1 = _build(project, fresh_state())
    assert sorted(n for n in _ran(first) if "/uuid" in n) == [  # two targets: names carry them
        "[a 2/4] RUN echo a && cat /proc/sys/kernel/random/uuid > /t",
        "[a 2/4] RUN echo a && cat /proc/sys/kernel/random/uuid > /t",
        "[b 2/4] RUN echo b && cat /proc/sys/kernel/random/uuid > /t",
        "[b 2/4] RUN echo b && cat /proc/sys/kernel/random/uuid > /t",
    ]
    digests = {name: _oci_image_digest(project, meta1, name, f"out/{name}.tar") for name in ("a", "b")}
    second, meta2 = _build(project, fresh_state())
    assert _ran(second) == []
    assert sorted(n for n in _cached(second) if "/uuid" in n) == [
        "[a 2/4] RUN echo a && cat /proc/sys/kernel/random/uuid > /t",
        "[b 2/4] RUN echo b && cat /proc/sys/kernel/random/uuid > /t",
    ]
    for name in ("a", "b"):
        assert _oci_image_digest(project, meta2, name, f"out/{name}.tar") == digests[name]


def test_inline_cache_pushed_with_the_image_serves_a_fresh_state_dir(tmp_path, fresh_state, registry):
    repo = f"bakec-test/inline-{uuid.uuid4().hex[:10]}"
    image = f"{HOST}/{repo}:1"
    project = _project(
        tmp_path,
        _target("default", '"type=inline"', f'"type=registry,ref={image}"', f'"type=registry,name={image}"'),
    )
    first, _ = _build(project, fresh_state())
    assert STAMP in _ran(first)
    image1 = _registry_image_digest(repo, "1")
    manifest = registry_json(f"{repo}/manifests/{image1}", MT_MANIFEST)
    config = registry_json(f"{repo}/blobs/{manifest['config']['digest']}", MT_MANIFEST)
    assert "moby.buildkit.cache.v0" in config

    second, _ = _build(project, fresh_state())
    assert _ran(second) == []
    assert _registry_image_digest(repo, "1") == image1  # the same inline cache, so the same config


def test_a_missing_cache_source_is_a_warning(tmp_path, fresh_state, registry):
    project = _project(
        tmp_path,
        _target(
            "default",
            '"type=local,dest=cache"',
            f'"type=local,src=nowhere", "type=registry,ref={HOST}/bakec-test/none:x"',
        ),
    )
    proc = bakec(project, fresh_state(), "build", "--progress", "plain")
    assert proc.returncode == 0, proc.stderr
    assert "WARNING: local cache import at nowhere not found" in proc.stderr
    assert f"importing cache manifest from {HOST}/bakec-test/none:x" in proc.stderr
    assert (project / "cache" / "index.json").exists()


MULTISTAGE = """\
FROM 127.0.0.1:5000/busybox:latest AS builder
RUN cat /proc/sys/kernel/random/uuid > /artifact
FROM 127.0.0.1:5000/busybox:latest
COPY --from=builder /artifact /artifact
COPY app/ /app/
RUN cat /artifact > /copy
"""


def test_min_mode_keeps_the_final_stage_and_skips_the_builder_stage(tmp_path, fresh_state):
    project = _project(
        tmp_path,
        _target("default", '"type=local,dest=cache"', '"type=local,src=cache"', '"type=local,dest=rootfs"'),
        MULTISTAGE,
    )
    _build(project, fresh_state())
    artifact = (project / "rootfs" / "artifact").read_text()
    manifest, config = _local_cache_config(project / "cache")
    assert len(manifest["layers"]) == 4  # base, COPY --from, COPY, RUN: not the builder stage's RUN layer
    assert sum(1 for r in config["records"] if r.get("layers")) == 4

    second, _ = _build(project, fresh_state())
    assert _ran(second) == []  # the builder stage is not needed: its COPY is cached
    assert "[builder 2/2] RUN cat /proc/sys/kernel/random/uuid > /artifact" in _cached(second)
    assert (project / "rootfs" / "copy").read_text() == artifact


def test_prune_all_then_cache_from_in_the_same_state_dir(tmp_path, fresh_state):
    state = fresh_state()
    project = _project(
        tmp_path, _target("default", '"type=local,dest=cache,mode=max"', '"type=local,src=cache"')
    )
    _, meta1 = _build(project, state)
    image1 = _oci_image_digest(project, meta1)
    prune = bakec(project, state, "prune", "--all", "--state-dir", str(state))
    assert prune.returncode == 0, prune.stderr
    second, meta2 = _build(project, state)
    assert _ran(second) == []
    assert _oci_image_digest(project, meta2) == image1


def test_one_targets_cache_from_serves_another_target_sharing_its_steps(tmp_path, fresh_state):
    """docker/buildx#414: buildx gives each target only its own cache-from; bakec imports for the whole graph."""
    hcl = """\
        group "default" {
          targets = ["a", "b"]
        }
        target "a" {
          args = { SOURCE_DATE_EPOCH = "1700000000" }
          output = ["type=cacheonly"]
          cache-to = ["type=local,dest=cache-a,mode=max"]
          cache-from = ["type=local,src=cache-a"]
        }
        target "b" {
          dockerfile = "b.Dockerfile"
          output = ["type=cacheonly"]
        }
        """
    project = _project(tmp_path, hcl)
    first, _ = _build(project, fresh_state(), "a")
    assert STAMP in _ran(first)
    (project / "b.Dockerfile").write_text(DOCKERFILE + "RUN echo b > /b\n")
    second, _ = _build(project, fresh_state())
    # b's own step runs (started, done); the shared ones hit, named after a (planned first)
    assert _ran(second) == ["[b 5/5] RUN echo b > /b"] * 2
    assert "[a 2/4] RUN cat /proc/sys/kernel/random/uuid > /t" in _cached(second)


def test_no_cache_ignores_the_imported_cache(tmp_path, fresh_state):
    project = _project(
        tmp_path, _target("default", '"type=local,dest=cache,mode=max"', '"type=local,src=cache"')
    )
    _build(project, fresh_state())
    second, _ = _build(project, fresh_state(), "--no-cache")
    assert STAMP in _ran(second)


def test_ignore_error_keeps_a_failed_cache_export_from_failing_the_build(tmp_path, fresh_state, registry):
    bad = f"{HOST}/Not/A/Valid/Repo"  # upper case: an invalid reference
    project = _project(
        tmp_path, _target("default", f'"type=registry,ref={bad},ignore-error=true"', "", '"type=cacheonly"')
    )
    state = fresh_state()
    proc = bakec(project, state, "build", "--progress", "plain")
    assert proc.returncode == 0, proc.stderr
    assert f"WARNING: target default: exporting cache to {bad} failed (ignored)" in proc.stderr
    (project / "docker-bake.hcl").write_text(
        textwrap.dedent(_target("default", f'"type=registry,ref={bad}"', "", '"type=cacheonly"'))
    )
    proc = bakec(project, state, "build", "--progress", "plain")
    assert proc.returncode == 1
    assert "ERROR:" in proc.stderr and "Traceback" not in proc.stderr


def test_multi_platform_targets_share_one_cache(tmp_path, fresh_state):
    dockerfile = (
        "FROM 127.0.0.1:5000/busybox-multi:latest\nRUN uname -m > /arch && date > /t\nCOPY app/ /app/\n"
    )
    hcl = _target("default", '"type=local,dest=cache,mode=max"', '"type=local,src=cache"').replace(
        "args = {", 'platforms = ["linux/amd64", "linux/arm64"]\n  args = {'
    )
    project = _project(tmp_path, hcl, dockerfile)
    first, meta1 = _build(project, fresh_state())
    assert sorted(n for n in _ran(first) if "RUN" in n) == [  # started, done; one per platform
        *["[linux/amd64 2/3] RUN uname -m > /arch && date > /t"] * 2,
        *["[linux/arm64 2/3] RUN uname -m > /arch && date > /t"] * 2,
    ]
    root1 = _oci_image_digest(project, meta1)
    _, config = _local_cache_config(project / "cache")
    assert sum(1 for r in config["records"] if r.get("layers")) == 6  # FROM, RUN, COPY per platform

    second, meta2 = _build(project, fresh_state())
    assert _ran(second) == []
    assert sorted(n for n in _cached(second) if "RUN" in n) == [
        "[linux/amd64 2/3] RUN uname -m > /arch && date > /t",
        "[linux/arm64 2/3] RUN uname -m > /arch && date > /t",
    ]
    assert _oci_image_digest(project, meta2) == root1
