"""The test infrastructure itself: local registry and busybox base images.

Checks real outcomes through skopeo and the registry's HTTP API, against the
specification in tests/data/conformance/dockerfile/README.md ("The base image").
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
MT_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MT_INDEX = "application/vnd.oci.image.index.v1+json"

APPLETS = ["cat", "echo", "ls", "mkdir", "sh", "sleep", "touch"]
EM_X86_64 = 62
EM_AARCH64 = 183

pytestmark = pytest.mark.skipif(
    shutil.which("skopeo") is None, reason="skopeo not installed: run scripts/setup"
)


def skopeo(*args: str) -> str:
    proc = subprocess.run(["skopeo", *args], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, f"skopeo {' '.join(args)} failed: {proc.stderr}"
    return proc.stdout


def inspect(ref: str, *flags: str) -> dict:
    return json.loads(skopeo("inspect", "--tls-verify=false", *flags, f"docker://{ref}"))


def blob(registry, repo: str, digest: str) -> bytes:
    with urllib.request.urlopen(f"{registry.url}/v2/{repo}/blobs/{digest}", timeout=30) as resp:
        data = resp.read()
    assert "sha256:" + hashlib.sha256(data).hexdigest() == digest
    return data


def layer_entries(layer_gz: bytes) -> tuple[list[tarfile.TarInfo], dict[str, bytes]]:
    """Tar members (with .name as written in the header, trailing "/" kept) and file contents."""
    files = {}
    raw = gzip.decompress(layer_gz)
    with tarfile.open(fileobj=io.BytesIO(raw), mode="r:") as tf:
        members = tf.getmembers()
        for m in members:
            if m.isfile():
                files["./" + m.name.removeprefix("./")] = tf.extractfile(m).read()
            # tarfile strips the trailing "/" of directory names; the header keeps it.
            m.name = raw[m.offset : m.offset + 100].rstrip(b"\0").decode()
    return members, files


def elf_machine(data: bytes) -> int:
    assert data[:4] == b"\x7fELF", "not an ELF file"
    assert data[4] == 2, "not a 64-bit ELF"
    assert data[5] == 1, "not little-endian"
    return int.from_bytes(data[18:20], "little")


def test_registry_answers_on_loopback_only(registry):
    with urllib.request.urlopen(f"{registry.url}/v2/", timeout=5) as resp:
        assert resp.status == 200
        assert resp.read() == b"{}"
    # Every listener on port 5000 is bound to 127.0.0.1, never to a wildcard.
    listeners = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            next(f)
            for line in f:
                local, state = line.split()[1], line.split()[3]
                addr, port = local.rsplit(":", 1)
                if state == "0A" and int(port, 16) == 5000:
                    listeners.append(addr)
    assert listeners, "nothing listens on port 5000"
    assert set(listeners) == {"0100007F"}, f"port 5000 bound to {listeners} (want 127.0.0.1 only)"


def test_access_log_records_requests(registry):
    if registry.access_log is None:
        pytest.skip("the registry on 127.0.0.1:5000 was not started by scripts/registry")
    offset = registry.log_offset()
    with urllib.request.urlopen(f"{registry.url}/v2/_catalog?marker=access-log-probe", timeout=5) as resp:
        resp.read()
    # The registry writes the line after the response; poll briefly.
    for _ in range(100):
        lines = registry.log_since(offset)
        if any("GET /v2/_catalog?marker=access-log-probe" in line for line in lines):
            break
        time.sleep(0.05)
    else:
        pytest.fail(f"request not found in {registry.access_log}: {lines}")


def test_busybox_latest_matches_corpus_spec(registry, busybox_image):
    assert busybox_image.ref == "127.0.0.1:5000/busybox:latest"
    info = inspect(busybox_image.ref)
    assert info["Digest"] == busybox_image.digest
    assert info["Os"] == "linux"
    assert info["Architecture"] == "amd64"
    assert len(info["Layers"]) == 1

    manifest = inspect(busybox_image.ref, "--raw")
    assert manifest["mediaType"] == MT_MANIFEST  # an image manifest, not an index
    assert manifest["config"]["mediaType"] == "application/vnd.oci.image.config.v1+json"
    assert [layer["mediaType"] for layer in manifest["layers"]] == [
        "application/vnd.oci.image.layer.v1.tar+gzip"
    ]

    config = inspect(busybox_image.ref, "--config", "--raw")
    layer = blob(registry, "busybox", manifest["layers"][0]["digest"])
    diff_id = "sha256:" + hashlib.sha256(gzip.decompress(layer)).hexdigest()
    assert config == {
        "architecture": "amd64",
        "os": "linux",
        "config": {"Env": ["PATH=/bin"], "Cmd": ["/bin/sh"]},
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
    }
    assert "history" not in config and "created" not in config

    members, files = layer_entries(layer)
    got = [(m.name, m.type, m.mode, m.uid, m.gid, m.linkname) for m in members]
    want = [("./", tarfile.DIRTYPE, 0o755, 0, 0, ""), ("./bin/", tarfile.DIRTYPE, 0o755, 0, 0, "")]
    want.append(("./bin/busybox", tarfile.REGTYPE, 0o755, 0, 0, ""))
    want += [(f"./bin/{a}", tarfile.SYMTYPE, 0o777, 0, 0, "busybox") for a in APPLETS]
    assert got == want
    assert all(m.mtime == 0 for m in members)
    assert elf_machine(files["./bin/busybox"]) == EM_X86_64
    # The binary is Debian's busybox-static, the one the corpus was built with.
    if Path("/bin/busybox").exists():
        assert files["./bin/busybox"] == Path("/bin/busybox").read_bytes()


def test_multi_arch_index_and_arm64_binary(registry, busybox_image):
    index = inspect("127.0.0.1:5000/busybox-multi:latest", "--raw")
    assert index["mediaType"] == MT_INDEX
    platforms = {
        (m["platform"]["os"], m["platform"]["architecture"]): m["digest"] for m in index["manifests"]
    }
    assert set(platforms) == {("linux", "amd64"), ("linux", "arm64")}
    # The amd64 entry is the very same image as busybox:latest.
    assert platforms[("linux", "amd64")] == busybox_image.digest

    arm = inspect("127.0.0.1:5000/busybox:arm64")
    assert arm["Digest"] == platforms[("linux", "arm64")]
    assert (arm["Os"], arm["Architecture"]) == ("linux", "arm64")
    assert len(arm["Layers"]) == 1
    members, files = layer_entries(blob(registry, "busybox", arm["Layers"][0]))
    assert [m.name for m in members] == ["./", "./bin/", "./bin/busybox"] + [f"./bin/{a}" for a in APPLETS]
    assert elf_machine(files["./bin/busybox"]) == EM_AARCH64


def test_build_is_deterministic(tmp_path, busybox_image):
    """Rebuilding the layout from scratch yields the digests in the registry."""
    out = tmp_path / "oci"
    proc = subprocess.run(
        [
            sys.executable,
            str(REPO / "scripts" / "make-base-images"),
            "--no-push",
            "--rebuild",
            "--out",
            str(out),
            "--print-digests",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    digests = json.loads(proc.stdout)
    assert digests["amd64"]["manifest"] == busybox_image.digest
    index = json.loads((out / "index.json").read_text())
    assert sorted(m["annotations"]["org.opencontainers.image.ref.name"] for m in index["manifests"]) == [
        "amd64",
        "arm64",
        "multi",
    ]


def test_arm64_busybox_runs_under_qemu(busybox_image):
    binfmt = Path("/proc/sys/fs/binfmt_misc/qemu-aarch64")
    if not binfmt.exists() or "enabled" not in binfmt.read_text():
        pytest.skip("no qemu-aarch64 binfmt handler registered (see docs/setup.md)")
    arm64 = (
        Path(os.environ.get("BAKEC_BASE_IMAGES_DIR", "/var/cache/bakec-base-images"))
        / "busybox-arm64/bin/busybox"
    )
    if not arm64.exists():
        pytest.skip(f"{arm64} missing: run scripts/setup")
    proc = subprocess.run([str(arm64), "uname", "-m"], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "aarch64"
