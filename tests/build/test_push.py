"""Publishing to the loopback registry: ``type=registry``, ``push=true``, ``--push``, ``--load``, atomic runs.

What was pushed is read back with skopeo; what bakec sent is read from the
registry's own access log. Every test pushes to repositories of its own.
"""

from __future__ import annotations

import hashlib
import http.server
import json
import re
import socketserver
import subprocess
import tarfile
import textwrap
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

from .helpers import bakec

HOST = "127.0.0.1:5000"
MT_INDEX = "application/vnd.oci.image.index.v1+json"
MT_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MT_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
MT_DOCKER = "application/vnd.docker.distribution.manifest.v2+json"

DOCKERFILE = """\
FROM 127.0.0.1:5000/busybox:latest
COPY app/ /app/
RUN echo "$(cat /app/main.txt) built" > /built
CMD ["cat", "/built"]
"""


def _repo(label: str) -> str:
    return f"bakec-test/{label}-{uuid.uuid4().hex[:10]}"


def _project(tmp: Path, hcl: str, dockerfile: str = DOCKERFILE, files: dict[str, str] | None = None) -> Path:
    (tmp / "app").mkdir(parents=True, exist_ok=True)
    (tmp / "app" / "main.txt").write_text(f"main {uuid.uuid4().hex}\n")  # a layer no other test pushed
    (tmp / "Dockerfile").write_text(dockerfile)
    for name, text in (files or {}).items():
        (tmp / name).write_text(text)
    (tmp / "docker-bake.hcl").write_text(textwrap.dedent(hcl))
    return tmp


def _skopeo(*args: str) -> str:
    proc = subprocess.run(["skopeo", *args], check=False, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def _raw(ref: str) -> bytes:
    return _skopeo("inspect", "--raw", "--tls-verify=false", f"docker://{ref}").encode()


def _tags(repo: str) -> list[str] | None:
    """The repository's tags, None when the registry does not know the repository."""
    try:
        with urllib.request.urlopen(f"http://{HOST}/v2/{repo}/tags/list", timeout=10) as resp:
            return list(json.load(resp).get("tags") or [])
    except urllib.error.HTTPError as err:
        if err.code == 404:
            return None
        raise


def _blob_writes(requests: list[tuple[str, str, int]]) -> list[tuple[str, str, int]]:
    return [r for r in requests if "/blobs/uploads" in r[1] and r[0] in ("POST", "PUT", "PATCH")]


def _layout_blob(layout: Path, digest: str) -> bytes:
    return (layout / "blobs" / "sha256" / digest.split(":", 1)[1]).read_bytes()


def _build(project: Path, state: Path, *args: str, env: dict[str, str] | None = None):
    proc = bakec(project, state, "build", "--progress", "plain", *args, env=env)
    assert proc.returncode == 0, proc.stderr
    return proc


def test_pushed_image_reads_back_identical_to_the_local_oci_export(tmp_path, state_dir, registry):
    repo = _repo("single")
    project = _project(
        tmp_path,
        f"""\
        target "default" {{
          tags = ["{HOST}/{repo}:v1", "{HOST}/{repo}:latest"]
          output = ["type=oci,dest=out/layout,tar=false", "type=registry"]
        }}
        """,
    )
    offset = registry.log_offset()
    _build(project, state_dir, "--metadata-file", "out/meta.json")
    layout = project / "out" / "layout"
    root = json.loads((layout / "index.json").read_text())["manifests"][0]

    # The base layer is mounted from the repository it was pulled from, the others are uploaded.
    base_layer = json.loads(_raw(f"{HOST}/busybox:latest"))["layers"][0]["digest"]
    writes = _blob_writes(registry.requests_since(offset, repo))
    mounts = [p for m, p, s in writes if "mount=" in p and s == 201]
    assert len(mounts) == 1 and f"mount={base_layer}" in mounts[0] and "from=busybox" in mounts[0], writes
    assert not [p for m, p, s in writes if m == "PUT" and base_layer in p]

    raw = _raw(f"{HOST}/{repo}:v1")
    assert raw == _layout_blob(layout, root["digest"])
    assert f"sha256:{hashlib.sha256(raw).hexdigest()}" == root["digest"]
    assert _raw(f"{HOST}/{repo}:latest") == raw
    assert sorted(_tags(repo) or []) == ["latest", "v1"]

    copied = tmp_path / "copied"
    _skopeo("copy", "--src-tls-verify=false", f"docker://{HOST}/{repo}:v1", f"oci:{copied}:v1")
    ours = sorted(p.name for p in (layout / "blobs" / "sha256").iterdir())
    theirs = sorted(p.name for p in (copied / "blobs" / "sha256").iterdir())
    assert theirs == ours
    for name in ours:
        assert (copied / "blobs" / "sha256" / name).read_bytes() == _layout_blob(layout, f"sha256:{name}")

    meta = json.loads((project / "out" / "meta.json").read_text())["default"]
    assert meta["containerimage.digest"] == root["digest"]
    assert meta["containerimage.descriptor"]["digest"] == root["digest"]
    assert meta["containerimage.descriptor"]["mediaType"] == MT_MANIFEST
    assert meta["containerimage.descriptor"]["size"] == len(raw)
    assert meta["image.name"] == f"{HOST}/{repo}:v1,{HOST}/{repo}:latest"
    assert meta["containerimage.config.digest"] == json.loads(raw)["config"]["digest"]


def test_pushing_again_uploads_no_blob_and_another_repository_mounts(tmp_path, state_dir, registry):
    repo, other = _repo("again"), _repo("mounted")
    project = _project(
        tmp_path,
        f"""\
        variable "REPO" {{ default = "{repo}" }}
        target "default" {{
          tags = ["{HOST}/${{REPO}}:v1"]
          args = {{ SOURCE_DATE_EPOCH = "1700000000" }}  # the same config on every run (else "created" moves)
          output = ["type=image,push=true"]
        }}
        """,
    )
    _build(project, state_dir)
    digest = _raw(f"{HOST}/{repo}:v1")

    offset = registry.log_offset()
    _build(project, state_dir)
    again = registry.requests_since(offset, repo)
    assert _blob_writes(again) == []
    assert [r for r in again if r[0] == "HEAD" and "/blobs/" in r[1]]  # asked, found, skipped
    assert _raw(f"{HOST}/{repo}:v1") == digest

    # The same image under a new repository: each blob is mounted from the first one, none uploaded.
    offset = registry.log_offset()
    _build(project, state_dir, env={"REPO": other})
    sent = registry.requests_since(offset, other)
    writes = _blob_writes(sent)
    assert writes and all(m == "POST" and "mount=" in p and s == 201 for m, p, s in writes), writes
    assert _raw(f"{HOST}/{other}:v1") == digest


def _three_targets(tmp: Path, repos: list[str], third_ok: str) -> Path:
    targets = "\n".join(
        f"""\
        target "{name}" {{
          dockerfile = "{name}.Dockerfile"
          tags = ["{HOST}/{repo}:v1", "{HOST}/{repo}:stable"]
          args = {{ OK = "{third_ok if name == "c" else "yes"}" }}
          output = ["type=registry"]
        }}
        """
        for name, repo in zip("abc", repos, strict=False)
    )
    hcl = 'group "default" {\n  targets = ["a", "b", "c"]\n}\n' + textwrap.dedent(targets)
    files = {
        f"{name}.Dockerfile": f"FROM {HOST}/busybox:latest\nARG OK\nCOPY app/ /app/\n"
        f'RUN echo {name} > /name && test "$OK" = yes\n'
        for name in "abc"
    }
    return _project(tmp, hcl, files=files)


def test_a_failing_target_publishes_no_tag_of_the_others(tmp_path, state_dir, registry):
    repos = [_repo(f"atomic-{name}") for name in "abc"]
    project = _three_targets(tmp_path, repos, third_ok="no")
    proc = bakec(project, state_dir, "build", "--progress", "plain", "--keep-going")
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    for name in "ab":  # built and exported: only the publishing waited
        assert re.search(rf"^{name}\s+done\b", proc.stderr, re.MULTILINE), proc.stderr
    for repo in repos:
        assert not _tags(repo), repo  # 404 or no tag: nothing was put

    offset = registry.log_offset()
    _build(project, state_dir, "--set", "c.args.OK=yes")
    for repo in repos:
        assert sorted(_tags(repo) or []) == ["stable", "v1"], repo
        assert json.loads(_raw(f"{HOST}/{repo}:v1"))["mediaType"] == MT_MANIFEST
    # Across the three repositories, every blob went up before the first manifest was put.
    sent = registry.requests_since(offset, *repos)
    blobs = _blob_writes(sent)
    kinds = [
        "blob" if r in blobs else "manifest"
        for r in sent
        if r in blobs or (r[0] == "PUT" and "/manifests/" in r[1])
    ]
    assert kinds.count("manifest") == 6 and kinds.count("blob") >= 3
    assert kinds == sorted(kinds), kinds  # "blob" < "manifest": no blob after a manifest


def test_two_platforms_push_an_index_or_a_manifest_list(tmp_path, state_dir, registry):
    oci, docker = _repo("multi-oci"), _repo("multi-docker")
    project = _project(
        tmp_path,
        f"""\
        target "oci" {{
          platforms = ["linux/amd64", "linux/arm64"]
          tags = ["{HOST}/{oci}:v1"]
          output = ["type=registry", "type=oci,dest=out/oci,tar=false"]
        }}
        target "docker" {{
          inherits = ["oci"]
          tags = ["{HOST}/{docker}:v1"]
          output = ["type=image,push=true,oci-mediatypes=false"]
        }}
        group "default" {{
          targets = ["oci", "docker"]
        }}
        """,
        dockerfile=f"FROM {HOST}/busybox-multi:latest\nCOPY app/ /app/\n",
    )
    _build(project, state_dir)

    raw = _raw(f"{HOST}/{oci}:v1")
    index = json.loads(raw)
    assert index["mediaType"] == MT_INDEX
    assert [(m["platform"]["os"], m["platform"]["architecture"]) for m in index["manifests"]] == [
        ("linux", "amd64"),
        ("linux", "arm64"),
    ]
    layout = project / "out" / "oci"
    root = json.loads((layout / "index.json").read_text())["manifests"][0]
    assert raw == _layout_blob(layout, root["digest"])
    architectures = []
    for entry in index["manifests"]:
        child = _raw(f"{HOST}/{oci}@{entry['digest']}")
        assert child == _layout_blob(layout, entry["digest"])
        assert json.loads(child)["mediaType"] == MT_MANIFEST
        ref = f"docker://{HOST}/{oci}@{entry['digest']}"
        config = json.loads(_skopeo("inspect", "--config", "--tls-verify=false", ref))
        architectures.append(config["architecture"])
    assert architectures == ["amd64", "arm64"]

    listing = json.loads(_raw(f"{HOST}/{docker}:v1"))
    assert listing["mediaType"] == MT_LIST
    for entry in listing["manifests"]:
        assert entry["mediaType"] == MT_DOCKER
        assert json.loads(_raw(f"{HOST}/{docker}@{entry['digest']}"))["mediaType"] == MT_DOCKER


def test_push_flag_pushes_the_tags_and_load_flag_names_the_image_in_containerd(tmp_path, state_dir, registry):
    from bakec.worker.client import NAMESPACE
    from bakec.worker.paths import DaemonPaths

    repo = _repo("flags")
    project = _project(
        tmp_path,
        f"""\
        target "default" {{
          tags = ["{HOST}/{repo}:v2"]
        }}
        """,
    )
    printed = json.loads(bakec(project, state_dir, "build", "--push", "--load", "--print").stdout)
    assert printed["target"]["default"]["output"] == [{"type": "image", "push": "true"}, {"type": "docker"}]
    built = _build(
        project,
        state_dir,
        "--push",
        "--load",
        "--metadata-file",
        "meta.json",
        env={"DOCKER_HOST": f"unix://{tmp_path}/no-docker.sock"},
    )
    # without a Docker daemon, --load says where the image went
    assert (
        f"WARNING: --load: no Docker daemon answers on {tmp_path}/no-docker.sock; {HOST}/{repo}:v2 is in "
        "bakec's containerd only (namespace bakec: ctr --address <state dir>/c.sock -n bakec images ls)\n"
    ) in built.stderr
    pushed = _raw(f"{HOST}/{repo}:v2")
    assert json.loads(pushed)["mediaType"] == MT_MANIFEST
    meta = json.loads((project / "meta.json").read_text())["default"]
    # --load's docker-media-type image is written last, so it is what the metadata and containerd name
    assert meta["image.name"] == f"{HOST}/{repo}:v2"
    images = subprocess.run(
        ["ctr", "--address", str(DaemonPaths(state_dir).socket), "-n", NAMESPACE, "images", "ls"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    line = next(line for line in images.splitlines() if line.startswith(f"{HOST}/{repo}:v2 "))
    assert meta["containerimage.digest"] in line
    assert MT_DOCKER in line


def test_push_without_a_tag_is_refused_as_buildx_refuses_it(tmp_path, state_dir):
    project = _project(
        tmp_path,
        """\
        target "default" {
          output = ["type=image,push=true"]
        }
        """,
    )
    proc = bakec(project, state_dir, "build")
    assert proc.returncode == 1
    assert "tag is needed when pushing to registry" in proc.stderr
    assert "Traceback" not in proc.stderr


class _DockerStandIn(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    """Answers ``/_ping`` and records the body of ``POST /images/load`` (no Docker daemon on this machine)."""

    daemon_threads = True
    loaded: list[bytes]


class _DockerHandler(http.server.BaseHTTPRequestHandler):
    def address_string(self) -> str:
        return "docker"

    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:
        self._answer(b"OK" if self.path == "/_ping" else b"{}")

    def do_POST(self) -> None:
        assert self.headers["Transfer-Encoding"] == "chunked"  # streamed, not staged in a file first
        body = b""
        while size := int(self.rfile.readline().split(b";")[0], 16):
            body += self.rfile.read(size)
            self.rfile.readline()
        self.rfile.readline()
        if "/images/load" in self.path:
            self.server.loaded.append(body)
        self._answer(b'{"stream":"Loaded image"}\n')

    def _answer(self, body: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def test_load_streams_a_docker_archive_to_a_daemon_that_answers(tmp_path, state_dir):
    sock = tmp_path / "docker.sock"
    server = _DockerStandIn(str(sock), _DockerHandler)
    server.loaded = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        project = _project(
            tmp_path / "p",
            """\
            target "default" {
              tags = ["example.local/loaded:1"]
            }
            """,
        )
        _build(project, state_dir, "--load", env={"DOCKER_HOST": f"unix://{sock}"})
    finally:
        server.shutdown()
        server.server_close()
    assert len(server.loaded) == 1
    archive = tmp_path / "loaded.tar"
    archive.write_bytes(server.loaded[0])
    config = json.loads(_skopeo("inspect", "--config", f"docker-archive:{archive}"))
    assert config["config"]["Cmd"] == ["cat", "/built"]
    with tarfile.open(archive) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))
    assert manifest[0]["RepoTags"] == ["example.local/loaded:1"]


def test_a_push_that_fails_before_the_manifests_leaves_no_tag_in_any_registry(tmp_path, state_dir, registry):
    # Nothing listens on port 1: the second image's blobs cannot be pushed (after the client's
    # retries), so the first image, whose blobs did go up, gets no manifest and no tag either.
    repo = _repo("unreachable")
    project = _project(
        tmp_path,
        f"""\
        target "good" {{
          tags = ["{HOST}/{repo}:v1"]
          output = ["type=registry"]
        }}
        target "bad" {{
          tags = ["127.0.0.1:1/{repo}:v1"]
          output = ["type=registry"]
        }}
        group "default" {{
          targets = ["good", "bad"]
        }}
        """,
    )
    proc = bakec(project, state_dir, "build", "--progress", "plain")
    assert proc.returncode == 1, proc.stderr
    assert "127.0.0.1:1" in proc.stderr and "Traceback" not in proc.stderr
    assert not _tags(repo)


def test_push_by_digest_puts_the_manifest_without_a_tag(tmp_path, state_dir, registry):
    repo = _repo("by-digest")
    project = _project(
        tmp_path,
        f"""\
        target "default" {{
          output = ["type=image,name={HOST}/{repo},push=true,push-by-digest=true,registry.insecure=true"]
        }}
        """,
    )
    _build(project, state_dir, "--metadata-file", "meta.json")
    digest = json.loads((project / "meta.json").read_text())["default"]["containerimage.digest"]
    assert not _tags(repo)
    raw = _raw(f"{HOST}/{repo}@{digest}")
    assert f"sha256:{hashlib.sha256(raw).hexdigest()}" == digest


class _Stalling(socketserver.ThreadingTCPServer):
    """A registry that never answers: it reads each request line, records it, and waits."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        self.lines: list[bytes] = []
        self.release = threading.Event()
        server = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                server.lines.append(self.rfile.readline())
                server.release.wait(120)

        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()


def test_a_stalled_registry_fails_the_push_at_the_deadline(tmp_path: Path, state_dir: Path) -> None:
    stalling = _Stalling()
    host = f"127.0.0.1:{stalling.server_address[1]}"
    try:
        project = _project(
            tmp_path, f'target "default" {{\n  output = ["type=image,name={host}/stalled:v1,push=true"]\n}}\n'
        )
        started = time.monotonic()
        proc = bakec(project, state_dir, "build", env={"BAKEC_PUSH_TIMEOUT": "3"}, timeout=120)
        elapsed = time.monotonic() - started
    finally:
        stalling.release.set()
        stalling.shutdown()
        stalling.server_close()
    assert proc.returncode == 1, proc.stderr
    assert elapsed < 30, elapsed
    assert proc.stderr.splitlines()[-1] == (
        f"ERROR: failed to push to {host}: deadline exceeded after 3s; "
        "BAKEC_PUSH_TIMEOUT sets it (seconds or a duration such as 20m)"
    )
    assert stalling.lines and not [line for line in stalling.lines if b"/manifests/" in line]


def test_a_bad_push_timeout_is_a_usage_error(tmp_path: Path, state_dir: Path) -> None:
    project = _project(tmp_path, 'target "default" {}\n')
    proc = bakec(project, state_dir, "build", env={"BAKEC_PUSH_TIMEOUT": "soon"})
    assert proc.returncode == 2
    assert proc.stderr.splitlines()[-1].startswith("ERROR: invalid BAKEC_PUSH_TIMEOUT 'soon': ")
