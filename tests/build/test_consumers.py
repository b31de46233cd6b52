"""Real consumers accept what bakec writes: skopeo, containerd's ``ctr``, umoci.

One build writes ``type=oci``, ``type=docker`` and ``type=local`` outputs of an image whose
layers hold a symlink, a hard link, a changed mode, a deleted base-image file and a
deleted directory of a lower layer. The tarballs are read by ``skopeo`` (inspect and
copy), imported into bakec's own containerd by ``ctr``, and the ``type=local`` tree is
compared entry by entry with the image unpacked independently by ``umoci``.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import tarfile
import textwrap
from pathlib import Path

import pytest

from .helpers import OciArchive, bakec

DOCKERFILE = """\
FROM 127.0.0.1:5000/busybox:latest
COPY app/ /app/
RUN busybox mkdir -p /data/sub \\
 && echo one > /data/file \\
 && busybox ln -s ../app/main.txt /data/link \\
 && busybox ln -s /nonexistent /data/dangling \\
 && busybox ln /data/file /data/hard \\
 && busybox chmod 0640 /data/file \\
 && echo x > /data/sub/x && busybox chmod 0700 /data/sub \\
 && busybox rm /bin/sleep \\
 && busybox rm -r /app/gone \\
 && echo changed > /app/main.txt
CMD ["cat", "/data/file"]
"""

NAME = "consumers.local/app:1"


def _skopeo(*args: str) -> str:
    proc = subprocess.run(["skopeo", *args], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.fixture(scope="module")
def built(tmp_path_factory, state_dir) -> Path:
    """The project dir after one build with the three outputs under ``out/``."""
    project = tmp_path_factory.mktemp("consumers")
    (project / "app" / "gone").mkdir(parents=True)
    (project / "app" / "main.txt").write_text("main\n")
    (project / "app" / "gone" / "f").write_text("f\n")
    (project / "app" / "run.sh").write_text("#!/bin/sh\n")
    (project / "app" / "run.sh").chmod(0o755)
    (project / "Dockerfile").write_text(DOCKERFILE)
    (project / "docker-bake.hcl").write_text(
        textwrap.dedent(f"""\
        target "default" {{
          tags = ["{NAME}"]
          output = ["type=oci,dest=out/app-oci.tar", "type=docker,dest=out/app-docker.tar",
                    "type=local,dest=out/rootfs"]
        }}
        """)
    )
    proc = bakec(project, state_dir, "build", "--progress", "plain", "--metadata-file", "out/meta.json")
    assert proc.returncode == 0, proc.stderr
    return project


def test_skopeo_inspects_the_oci_archive(built):
    tar = built / "out" / "app-oci.tar"
    archive = OciArchive(tar)
    index, manifest = archive.index, archive.root()
    meta = json.loads((built / "out" / "meta.json").read_text())["default"]
    info = json.loads(_skopeo("inspect", f"oci-archive:{tar}"))
    assert info["Digest"] == index["manifests"][0]["digest"]
    assert info["Layers"] == [layer["digest"] for layer in manifest["layers"]]
    assert len(info["Layers"]) == 3  # busybox + COPY + RUN
    raw = json.loads(_skopeo("inspect", "--raw", f"oci-archive:{tar}"))
    assert raw == manifest
    config = json.loads(_skopeo("inspect", "--config", f"oci-archive:{tar}"))
    assert config["config"]["Cmd"] == ["cat", "/data/file"]
    assert len(config["rootfs"]["diff_ids"]) == 3
    assert (
        info["Layers"][0] == "sha256:7488200eb5636d524882fd9262681d9d81002da6d399fc1b410f5c3c46a2e79e"
    )  # busybox's blob
    assert meta["containerimage.config.digest"] == manifest["config"]["digest"]


def test_skopeo_inspects_the_docker_archive(built):
    tar = built / "out" / "app-docker.tar"
    archive = OciArchive(tar)
    manifest = archive.root()
    assert manifest["mediaType"] == "application/vnd.docker.distribution.manifest.v2+json"
    info = json.loads(_skopeo("inspect", f"docker-archive:{tar}"))
    config = json.loads(_skopeo("inspect", "--config", f"docker-archive:{tar}"))
    assert config["config"]["Cmd"] == ["cat", "/data/file"]
    ours = archive.json(manifest["config"]["digest"])
    assert config == ours
    # skopeo names docker-archive layers by their uncompressed digests, as `docker save` writes them
    assert info["Layers"] == ours["rootfs"]["diff_ids"]
    entries = json.loads(archive.files["manifest.json"])
    assert entries[0]["RepoTags"] == [NAME]
    assert entries[0]["Config"] == "blobs/sha256/" + manifest["config"]["digest"].split(":", 1)[1]
    assert entries[0]["Layers"] == [
        "blobs/sha256/" + layer["digest"].split(":", 1)[1] for layer in manifest["layers"]
    ]


@pytest.mark.parametrize(
    "transport,tar_name", [("oci-archive", "app-oci.tar"), ("docker-archive", "app-docker.tar")]
)
def test_skopeo_copies_each_tarball_into_an_oci_dir(built, tmp_path, transport, tar_name):
    tar = built / "out" / tar_name
    archive = OciArchive(tar)
    manifest = archive.root()
    dest = tmp_path / "layout"
    _skopeo("copy", "-q", f"{transport}:{tar}", f"oci:{dest}:copied")
    copied = json.loads((dest / "index.json").read_text())
    entry = copied["manifests"][0]
    assert entry["annotations"]["org.opencontainers.image.ref.name"] == "copied"
    copied_manifest = json.loads((dest / "blobs" / "sha256" / entry["digest"].split(":", 1)[1]).read_bytes())
    copied_config = json.loads(
        (dest / "blobs" / "sha256" / copied_manifest["config"]["digest"].split(":", 1)[1]).read_bytes()
    )
    ours = archive.json(manifest["config"]["digest"])
    assert copied_config["rootfs"]["diff_ids"] == ours["rootfs"]["diff_ids"]
    if transport == "oci-archive":  # an OCI layout is copied as it is: same blobs, same manifest digest
        assert [layer["digest"] for layer in copied_manifest["layers"]] == [
            layer["digest"] for layer in manifest["layers"]
        ]
        assert entry["digest"] == archive.index["manifests"][0]["digest"]


def _ctr(state_dir: Path, *args: str) -> subprocess.CompletedProcess:
    from bakec.worker.client import NAMESPACE
    from bakec.worker.paths import DaemonPaths

    return subprocess.run(
        ["ctr", "--address", str(DaemonPaths(state_dir).socket), "-n", NAMESPACE, *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.mark.parametrize(
    "tar_name,ref", [("app-docker.tar", "docker.io/ctr/docker:1"), ("app-oci.tar", "docker.io/ctr/oci:1")]
)
def test_ctr_imports_the_tarball_into_bakecs_containerd(built, state_dir, tar_name, ref):
    from bakec.worker.daemon import Daemon

    Daemon(state_dir).ensure().close()
    tar = built / "out" / tar_name
    archive = OciArchive(tar)
    index, manifest = archive.index, archive.root()
    # a docker archive is imported under its RepoTags, an OCI layout under its index names
    imported = _ctr(state_dir, "images", "import", "--no-unpack", str(tar))
    assert imported.returncode == 0, imported.stderr
    listing = _ctr(state_dir, "images", "ls")
    assert listing.returncode == 0, listing.stderr
    rows = {line.split()[0]: line.split() for line in listing.stdout.splitlines()[1:] if line.strip()}
    assert NAME in rows, listing.stdout
    assert rows[NAME][2] == index["manifests"][0]["digest"]
    # the image's content is complete in containerd's store: every layer is there
    for layer in manifest["layers"]:
        info = _ctr(state_dir, "content", "ls")
        assert layer["digest"] in info.stdout
    tagged = _ctr(state_dir, "images", "tag", "--force", NAME, ref)
    assert tagged.returncode == 0, tagged.stderr
    checked = _ctr(state_dir, "images", "check")
    assert checked.returncode == 0, checked.stderr
    line = next(line for line in checked.stdout.splitlines() if line.startswith(ref))
    assert "complete" in line, checked.stdout


def _walk(root: Path) -> dict[str, tuple]:
    """path → (type, mode, uid, gid, size, content or link target, hard-link group key, mtime)."""
    out: dict[str, tuple] = {}
    inodes: dict[int, str] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in sorted(dirnames + filenames):
            path = Path(dirpath) / name
            rel = "/" + str(path.relative_to(root))
            st = path.lstat()
            if stat.S_ISREG(st.st_mode):
                body: object = path.read_bytes()
                first = inodes.setdefault(st.st_ino, rel) if st.st_nlink > 1 else rel
            elif stat.S_ISLNK(st.st_mode):
                body, first = os.readlink(path), rel
            else:
                body, first = None, rel
            out[rel] = (
                stat.S_IFMT(st.st_mode),
                stat.S_IMODE(st.st_mode),
                st.st_uid,
                st.st_gid,
                st.st_size if stat.S_ISREG(st.st_mode) else None,
                body,
                first,
                st.st_mtime_ns,
            )
    return out


def test_local_export_equals_the_image_unpacked_by_umoci(built, tmp_path):
    layout = tmp_path / "layout"
    _skopeo("copy", "-q", f"oci-archive:{built / 'out' / 'app-oci.tar'}", f"oci:{layout}:img")
    unpacked = tmp_path / "unpacked"
    proc = subprocess.run(
        ["umoci", "raw", "unpack", "--image", f"{layout}:img", str(unpacked)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    ours = _walk(built / "out" / "rootfs")
    theirs = _walk(unpacked)
    assert sorted(ours) == sorted(theirs)
    for path in theirs:
        assert ours[path] == theirs[path], path
    # the interesting entries are what the Dockerfile made them
    assert "/bin/sleep" not in ours and "/app/gone" not in ours
    assert ours["/data/link"][5] == "../app/main.txt"
    assert ours["/data/dangling"][5] == "/nonexistent"
    assert ours["/data/hard"][6] == ours["/data/file"][6]
    assert ours["/data/file"][1] == 0o640 and ours["/data/sub"][1] == 0o700
    assert ours["/app/run.sh"][1] == 0o755
    assert ours["/app/main.txt"][5] == b"changed\n"


def test_local_export_equals_the_layers_applied_by_gnu_tar(built, tmp_path):
    """Cross-check with GNU tar and the OCI whiteout rules, independent of umoci."""
    layout = tmp_path / "layout"
    layout.mkdir()
    with tarfile.open(built / "out" / "app-oci.tar") as tar:
        tar.extractall(layout)
    manifest = OciArchive(built / "out" / "app-oci.tar").root()
    root = tmp_path / "root"
    root.mkdir()
    for layer in manifest["layers"]:
        blob = layout / "blobs" / "sha256" / layer["digest"].split(":", 1)[1]
        listing = subprocess.run(
            ["tar", "-tzf", str(blob)], capture_output=True, text=True, check=True
        ).stdout
        for name in listing.splitlines():
            base = os.path.basename(name.rstrip("/"))
            parent = root / os.path.dirname(name.rstrip("/"))
            if base == ".wh..wh..opq":
                for child in parent.iterdir():
                    shutil.rmtree(child) if child.is_dir() and not child.is_symlink() else child.unlink()
            elif base.startswith(".wh."):
                victim = parent / base[len(".wh.") :]
                shutil.rmtree(victim) if victim.is_dir() and not victim.is_symlink() else victim.unlink()
        subprocess.run(
            [
                "tar",
                "-xzf",
                str(blob),
                "-C",
                str(root),
                "--same-owner",
                "--same-permissions",
                "--exclude=.wh.*",
            ],
            check=True,
        )
    ours = _walk(built / "out" / "rootfs")
    theirs = _walk(root)
    assert sorted(ours) == sorted(theirs)
    for path in theirs:
        assert ours[path] == theirs[path], path
