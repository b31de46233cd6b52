"""Exporter outputs checked by real consumers: skopeo, containerd's importer (ctr), GNU tar, umoci."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shutil
import stat
import subprocess
import tarfile
import uuid
from pathlib import Path

import pytest

from bakec.content.layers import LayerBlob, write_layer
from bakec.content.store import ContentStore
from bakec.errors import BuildError
from bakec.export import docker, local, oci
from bakec.export import tar as tar_export
from bakec.export.image import ExportOptions, Image
from bakec.util.compression import Compression
from bakec.util.platform import Platform

from .conftest import MISSING, skopeo

pytestmark = pytest.mark.skipif(MISSING is not None, reason=MISSING or "")


def members(path: Path) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(path) as t:
        return {m.name: m for m in t.getmembers()}


def read_member(path: Path, name: str) -> bytes:
    with tarfile.open(path) as t:
        f = t.extractfile(name)
        assert f is not None
        return f.read()


# --- an independent unpacker: skopeo's OCI dir + GNU tar + a tiny whiteout routine ----------


def unpack_independently(oci_dir: Path, ref: str, rootfs: Path) -> None:
    """Apply the layers of ``oci_dir:ref`` with GNU tar, handling whiteouts by hand."""
    index = json.loads((oci_dir / "index.json").read_text())
    (entry,) = [m for m in index["manifests"] if m["annotations"]["org.opencontainers.image.ref.name"] == ref]
    manifest = json.loads((oci_dir / "blobs/sha256" / entry["digest"][7:]).read_text())
    rootfs.mkdir()
    for layer in manifest["layers"]:
        blob = oci_dir / "blobs/sha256" / layer["digest"][7:]
        listing = subprocess.run(
            ["tar", "-tzf", str(blob)], capture_output=True, text=True, check=True
        ).stdout
        for name in listing.splitlines():
            base = os.path.basename(name.rstrip("/"))
            if base == ".wh..wh..opq":
                d = rootfs / os.path.dirname(name)
                for child in d.iterdir():
                    shutil.rmtree(child) if child.is_dir() and not child.is_symlink() else child.unlink()
            elif base.startswith(".wh."):
                gone = rootfs / os.path.dirname(name) / base[4:]
                shutil.rmtree(gone) if gone.is_dir() and not gone.is_symlink() else gone.unlink()
        subprocess.run(
            ["tar", "-xzf", str(blob), "-C", str(rootfs), "--same-owner", "-p", "--exclude=*.wh.*"],
            check=True,
        )


def tree(root: Path) -> dict[str, tuple]:
    out: dict[str, tuple] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            st = os.lstat(p)
            rel = str(p.relative_to(root))
            if stat.S_ISREG(st.st_mode):
                out[rel] = (
                    "file",
                    oct(st.st_mode & 0o7777),
                    hashlib.sha256(p.read_bytes()).hexdigest(),
                    st.st_nlink,
                )
            elif stat.S_ISLNK(st.st_mode):
                out[rel] = ("symlink", os.readlink(p))
            elif stat.S_ISDIR(st.st_mode):
                out[rel] = ("dir", oct(st.st_mode & 0o7777))
            else:
                out[rel] = (stat.S_IFMT(st.st_mode), oct(st.st_mode & 0o7777))
    return out


# --- type=oci --------------------------------------------------------------------------------


def test_oci_tarball_is_read_by_skopeo(tmp_path: Path, store: ContentStore, image: Image) -> None:
    dest = tmp_path / "out.tar"
    opts = ExportOptions.parse({"dest": str(dest), "name": "example.com/team/app:v1"})
    committed = oci.export(store, [image], opts)
    ms = members(dest)
    assert sorted(ms) == sorted(
        ["blobs", "blobs/sha256", "index.json", "oci-layout"]
        + [f"blobs/sha256/{d[7:]}" for d in oci.blobs_of(committed)]
    )
    assert all(m.mtime == 0 for m in ms.values())
    assert all(m.mode == 0o444 for n, m in ms.items() if n.startswith("blobs/sha256/"))
    index = json.loads(read_member(dest, "index.json"))
    ann = index["manifests"][0]["annotations"]
    assert ann["io.containerd.image.name"] == "example.com/team/app:v1"
    assert ann["org.opencontainers.image.ref.name"] == "v1"
    assert ann["org.opencontainers.image.created"] == "2023-11-14T22:13:20Z"

    info = json.loads(skopeo("inspect", f"oci-archive:{dest}"))
    assert info["Architecture"] == "amd64" and info["Os"] == "linux"
    assert info["Env"] == ["PATH=/bin"]
    assert info["Layers"] == [b.digest for b in image.layers]
    raw = json.loads(skopeo("inspect", "--raw", f"oci-archive:{dest}"))
    assert raw["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
    assert {layer["mediaType"] for layer in raw["layers"]} == {"application/vnd.oci.image.layer.v1.tar+gzip"}
    config = json.loads(skopeo("inspect", "--config", f"oci-archive:{dest}"))
    assert config["rootfs"]["diff_ids"] == [b.diff_id for b in image.layers]
    # skopeo copy verifies every blob digest (and the diffIDs when it decompresses)
    skopeo("copy", "--quiet", f"oci-archive:{dest}", f"dir:{tmp_path / 'copy'}")
    skopeo("copy", "--quiet", f"oci-archive:{dest}", f"oci:{tmp_path / 'oci'}:t")


def test_multi_platform_index_and_annotations(tmp_path: Path, store: ContentStore, image: Image) -> None:
    arm = Image(config=image.config, layers=image.layers, platform=Platform("linux", "arm64", "v8"))
    dest = tmp_path / "multi.tar"
    opts = ExportOptions.parse(
        {
            "dest": str(dest),
            "name": "app:latest",
            "annotation-index.org.example.team": "core",
            "annotation.org.example.kind": "test",
            "annotation-manifest[linux/arm64/v8].org.example.arch": "arm",
        }
    )
    oci.export(store, [image, arm], opts)
    raw = json.loads(skopeo("inspect", "--raw", f"oci-archive:{dest}"))
    assert raw["mediaType"] == "application/vnd.oci.image.index.v1+json"
    assert raw["annotations"] == {"org.example.team": "core"}
    assert [m["platform"] for m in raw["manifests"]] == [
        {"architecture": "amd64", "os": "linux"},
        {"architecture": "arm64", "os": "linux", "variant": "v8"},
    ]
    info = json.loads(
        skopeo("--override-arch", "arm64", "--override-variant", "v8", "inspect", f"oci-archive:{dest}")
    )
    assert info["Architecture"] == "arm64"
    assert raw["manifests"][1]["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
    arm_manifest = json.loads(read_member(dest, "blobs/sha256/" + raw["manifests"][1]["digest"][7:]))
    amd_manifest = json.loads(read_member(dest, "blobs/sha256/" + raw["manifests"][0]["digest"][7:]))
    assert arm_manifest["annotations"] == {"org.example.kind": "test", "org.example.arch": "arm"}
    assert amd_manifest["annotations"] == {"org.example.kind": "test"}
    index = json.loads(read_member(dest, "index.json"))
    assert index["manifests"][0]["annotations"]["io.containerd.image.name"] == "docker.io/library/app:latest"
    assert index["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"] == "latest"


def test_zstd_uncompressed_and_rewrite_timestamp(tmp_path: Path, store: ContentStore, image: Image) -> None:
    dest = tmp_path / "zstd.tar"
    opts = ExportOptions.parse(
        {
            "dest": str(dest),
            "compression": "zstd",
            "compression-level": "5",
            "force-compression": "true",
            "rewrite-timestamp": "true",
        },
        source_date_epoch=1_600_000_000,
    )
    committed = oci.export(store, [image], opts)
    raw = json.loads(skopeo("inspect", "--raw", f"oci-archive:{dest}"))
    assert {layer["mediaType"] for layer in raw["layers"]} == {"application/vnd.oci.image.layer.v1.tar+zstd"}
    skopeo("copy", "--quiet", f"oci-archive:{dest}", f"oci:{tmp_path / 'z'}:t")
    (_m, _i, layers, _c) = committed.manifests[0]
    data = subprocess.run(
        ["zstd", "-dc", str(store.path(layers[1].digest))], capture_output=True, check=True
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(data)) as t:
        times = {m.name: m.mtime for m in t.getmembers()}
    assert times["etc/motd"] == 1_600_000_000 and max(times.values()) <= 1_600_000_000
    # rewriting changes the diffIDs (re-packed), as in BuildKit
    assert [b.diff_id for b in layers] != [b.diff_id for b in image.layers]

    plain = tmp_path / "plain.tar"
    oci.export(
        store,
        [image],
        ExportOptions.parse({"dest": str(plain), "compression": "uncompressed", "force-compression": "true"}),
    )
    raw = json.loads(skopeo("inspect", "--raw", f"oci-archive:{plain}"))
    assert {layer["mediaType"] for layer in raw["layers"]} == {"application/vnd.oci.image.layer.v1.tar"}
    cfg = json.loads(skopeo("inspect", "--config", f"oci-archive:{plain}"))
    assert cfg["rootfs"]["diff_ids"] == [b.diff_id for b in image.layers]  # same tar, other compression
    skopeo("copy", "--quiet", f"oci-archive:{plain}", f"dir:{tmp_path / 'p'}")


def test_export_options_are_validated() -> None:
    with pytest.raises(BuildError, match="compression-level"):
        ExportOptions.parse({"compression": "gzip", "compression-level": "12"})
    with pytest.raises(BuildError, match="unsupported compression"):
        ExportOptions.parse({"compression": "lz4"})
    with pytest.raises(BuildError, match="annotation type"):
        ExportOptions.parse({"annotation-bogus.k": "v"})
    with pytest.raises(BuildError, match="invalid source-date-epoch"):
        ExportOptions.parse({"source-date-epoch": "yesterday"})
    assert ExportOptions.parse({}, kind="docker").oci_mediatypes is False
    assert ExportOptions.parse({"name": "a:1, b:2"}).names == ("a:1", "b:2")


def test_oci_layout_dir_needs_a_dest(store: ContentStore, image: Image) -> None:
    with pytest.raises(BuildError, match="tar=false needs dest"):
        oci.export(store, [image], ExportOptions.parse({"tar": "false"}))


# --- type=docker -------------------------------------------------------------------------------


def test_docker_tarball_is_read_by_skopeo(tmp_path: Path, store: ContentStore, image: Image) -> None:
    dest = tmp_path / "docker.tar"
    docker.export(
        store, [image], ExportOptions.parse({"dest": str(dest), "name": "myapp:1.0"}, kind="docker")
    )
    manifest = json.loads(read_member(dest, "manifest.json"))
    assert manifest[0]["RepoTags"] == ["myapp:1.0"]
    assert json.loads(read_member(dest, "repositories")) == {"myapp": {"1.0": manifest[0]["Config"][13:]}}
    info = json.loads(skopeo("inspect", f"docker-archive:{dest}"))
    assert info["Env"] == ["PATH=/bin"] and info["Architecture"] == "amd64"
    assert info["RepoTags"] == [] or "1.0" in info["RepoTags"] or info["Name"]
    raw = json.loads(skopeo("inspect", "--raw", f"oci-archive:{dest}"))
    assert raw["mediaType"] == "application/vnd.docker.distribution.manifest.v2+json"
    assert {layer["mediaType"] for layer in raw["layers"]} == {
        "application/vnd.docker.image.rootfs.diff.tar.gzip"
    }
    skopeo("copy", "--quiet", f"docker-archive:{dest}", f"oci:{tmp_path / 'fromdocker'}:t")
    with pytest.raises(BuildError, match="manifest lists"):
        docker.export(store, [image, image], ExportOptions.parse({"dest": str(dest)}, kind="docker"))


def test_docker_tarball_is_imported_by_containerd(
    tmp_path: Path, store: ContentStore, image: Image, daemon
) -> None:  # type: ignore[no-untyped-def]
    dest = tmp_path / "docker.tar"
    docker.export(
        store, [image], ExportOptions.parse({"dest": str(dest), "name": "bakec-test/app:v1"}, kind="docker")
    )
    ns = f"exporttest-{uuid.uuid4().hex[:8]}"
    ctr = ["ctr", "--address", daemon.address, "--namespace", ns]
    try:
        out = subprocess.run(
            [*ctr, "images", "import", str(dest)], capture_output=True, text=True, check=False
        )
        assert out.returncode == 0, out.stderr
        listing = subprocess.run([*ctr, "images", "ls"], capture_output=True, text=True, check=True).stdout
        assert "docker.io/bakec-test/app:v1" in listing
        check = subprocess.run([*ctr, "images", "check"], capture_output=True, text=True, check=True).stdout
        assert "complete" in check
        # unpack into a snapshot (containerd's own layer applier) and read files back through a mount
        mnt = tmp_path / "mnt"
        mnt.mkdir()
        subprocess.run(
            [*ctr, "images", "mount", "docker.io/bakec-test/app:v1", str(mnt)],
            check=True,
            capture_output=True,
        )
        try:
            assert (mnt / "etc/motd").read_text() == "changed\n"
            assert not (mnt / "bin/cat").exists() and not (mnt / "opt/gone").exists()
            assert (mnt / "bin/sh").is_symlink()
        finally:
            subprocess.run([*ctr, "images", "unmount", "--rm", str(mnt)], check=True, capture_output=True)
    finally:
        subprocess.run(
            [*ctr, "images", "rm", "--sync", "docker.io/bakec-test/app:v1"], capture_output=True, check=False
        )


# --- type=local / type=tar -----------------------------------------------------------------


def test_local_export_equals_independent_unpack(tmp_path: Path, store: ContentStore, image: Image) -> None:
    dest = tmp_path / "out.tar"
    oci.export(store, [image], ExportOptions.parse({"dest": str(dest), "name": "x:t"}))
    skopeo("copy", "--quiet", f"oci-archive:{dest}", f"oci:{tmp_path / 'layout'}:t")
    unpack_independently(tmp_path / "layout", "t", tmp_path / "ref")
    local.export(store, [image], tmp_path / "local")
    assert tree(tmp_path / "local") == tree(tmp_path / "ref")
    assert not (tmp_path / "local/bin/cat").exists() and not (tmp_path / "local/opt/gone").exists()
    assert (
        os.stat(tmp_path / "local/opt/data/x.txt").st_ino == os.stat(tmp_path / "local/opt/data/y.txt").st_ino
    )
    if shutil.which("umoci"):
        subprocess.run(
            ["umoci", "raw", "unpack", "--image", f"{tmp_path / 'layout'}:t", str(tmp_path / "umoci")],
            check=True,
            capture_output=True,
        )
        assert tree(tmp_path / "local") == tree(tmp_path / "umoci")


def test_tar_export_equals_local(tmp_path: Path, store: ContentStore, image: Image) -> None:
    local.export(store, [image], tmp_path / "local")
    tar_export.export(store, [image], str(tmp_path / "fs.tar"))
    (tmp_path / "x").mkdir()
    subprocess.run(
        ["tar", "-xf", str(tmp_path / "fs.tar"), "-C", str(tmp_path / "x"), "--same-owner", "-p"], check=True
    )
    assert tree(tmp_path / "x") == tree(tmp_path / "local")
    assert members(tmp_path / "fs.tar")["etc/secret"].uid == 1000  # the tar keeps the layers' owners


def test_local_export_multi_platform_splits(tmp_path: Path, store: ContentStore, image: Image) -> None:
    arm = Image(config=image.config, layers=image.layers, platform=Platform("linux", "arm64"))
    local.export(store, [image, arm], tmp_path / "out")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["linux_amd64", "linux_arm64"]


def _evil_layer(store: ContentStore, entries: list[tuple[tarfile.TarInfo, bytes]]) -> LayerBlob:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as t:
        for info, data in entries:
            t.addfile(info, io.BytesIO(data))
    blob = gzip.compress(raw.getvalue())
    digest = store.put(blob)
    diff = "sha256:" + hashlib.sha256(raw.getvalue()).hexdigest()
    return LayerBlob(digest, diff, len(blob), "application/vnd.oci.image.layer.v1.tar+gzip")


def test_local_export_never_leaves_dest(tmp_path: Path, store: ContentStore) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()

    def sym(name: str, target: str) -> tuple[tarfile.TarInfo, bytes]:
        i = tarfile.TarInfo(name)
        i.type, i.linkname = tarfile.SYMTYPE, target
        return i, b""

    def reg(name: str, data: bytes = b"pwned") -> tuple[tarfile.TarInfo, bytes]:
        i = tarfile.TarInfo(name)
        i.size = len(data)
        return i, data

    def hard(name: str, target: str) -> tuple[tarfile.TarInfo, bytes]:
        i = tarfile.TarInfo(name)
        i.type, i.linkname = tarfile.LNKTYPE, target
        return i, b""

    layer = _evil_layer(
        store,
        [
            sym("abs", str(outside)),
            reg("abs/x"),
            sym("rel", "../../../../../../" + str(outside).lstrip("/")),
            reg("rel/y"),
            reg("../../escape"),
            sym("deep", "a/../../.."),
            reg("deep/z"),
        ],
    )
    second = _evil_layer(store, [reg(".wh.abs"), reg("abs/w", b"inside")])
    dest = tmp_path / "dest"
    local.export(store, [Image(config={}, layers=[layer, second])], dest)
    assert list(outside.iterdir()) == []
    assert not (tmp_path / "escape").exists() and not (tmp_path.parent / "escape").exists()
    # absolute and relative symlinks resolve inside dest (as in a chroot)
    assert (dest / str(outside).lstrip("/") / "x").read_bytes() == b"pwned"
    assert (dest / "z").read_bytes() == b"pwned"
    assert (dest / "abs/w").read_bytes() == b"inside"


def test_layers_made_from_dirs_are_reproducible(tmp_path: Path) -> None:
    from .conftest import build_layers

    a = build_layers(tmp_path / "a", ContentStore(tmp_path / "sa"))
    b = build_layers(tmp_path / "b", ContentStore(tmp_path / "sb"))
    assert [x.digest for x in a] == [x.digest for x in b]
    z = build_layers(tmp_path / "c", ContentStore(tmp_path / "sc"), Compression("zstd"))
    assert [x.diff_id for x in z] == [x.diff_id for x in a]


def test_layer_tar_matches_expected_entries(tmp_path: Path, store: ContentStore, image: Image) -> None:
    data = gzip.decompress(store.read(image.layers[1].digest))
    with tarfile.open(fileobj=io.BytesIO(data)) as t:
        got = [(m.name, m.type, m.mode, m.uid, m.linkname) for m in t.getmembers()]
    assert got == [
        ("bin", tarfile.DIRTYPE, 0o755, 0, ""),
        ("bin/.wh.cat", tarfile.REGTYPE, 0, 0, ""),
        ("bin/.wh.sleep", tarfile.REGTYPE, 0, 0, ""),
        ("etc", tarfile.DIRTYPE, 0o755, 0, ""),
        ("etc/motd", tarfile.REGTYPE, 0o644, 0, ""),
        ("etc/secret", tarfile.REGTYPE, 0o600, 1000, ""),
        ("opt", tarfile.DIRTYPE, 0o755, 0, ""),
        ("opt/data", tarfile.DIRTYPE, 0o755, 0, ""),
        ("opt/data/x.txt", tarfile.REGTYPE, 0o644, 0, ""),
        ("opt/data/y.txt", tarfile.LNKTYPE, 0o644, 0, "opt/data/x.txt"),
        ("opt/fifo", tarfile.FIFOTYPE, 0o644, 0, ""),
        ("opt/gone", tarfile.DIRTYPE, 0o755, 0, ""),
        ("opt/gone/a", tarfile.REGTYPE, 0o644, 0, ""),
        ("opt/link", tarfile.SYMTYPE, 0o777, 0, "/etc/motd"),
        ("opt/tool", tarfile.REGTYPE, 0o4755, 0, ""),
    ]


def test_oci_layout_dir_with_tar_false(tmp_path: Path, store: ContentStore, image: Image) -> None:
    dest = tmp_path / "layout"
    oci.export(store, [image], ExportOptions.parse({"dest": str(dest), "tar": "false", "name": "app:v2"}))
    info = json.loads(skopeo("inspect", f"oci:{dest}:v2"))
    assert info["Layers"] == [b.digest for b in image.layers]


def test_opaque_marker_layers_unpack_like_umoci(tmp_path: Path, store: ContentStore, image: Image) -> None:
    """A layer with ``.wh..wh..opq`` (opaque_markers=True) empties the dir of lower entries only."""
    if shutil.which("umoci") is None:
        pytest.skip("umoci not installed")
    upper = tmp_path / "l4"
    (upper / "opt/data").mkdir(parents=True)
    (upper / "opt/data/new.txt").write_text("new\n")
    os.setxattr(upper / "opt/data", "trusted.overlay.opaque", b"y")
    lowers = [tmp_path / "src" / n for n in ("l3", "l2", "l1")]
    layer = write_layer(store, upper, lowers, opaque_markers=True)
    img = Image(config=image.config, layers=[*image.layers, layer])
    dest = tmp_path / "o.tar"
    oci.export(store, [img], ExportOptions.parse({"dest": str(dest), "name": "x:t"}))
    skopeo("copy", "--quiet", f"oci-archive:{dest}", f"oci:{tmp_path / 'layout'}:t")
    subprocess.run(
        ["umoci", "raw", "unpack", "--image", f"{tmp_path / 'layout'}:t", str(tmp_path / "umoci")],
        check=True,
        capture_output=True,
    )
    local.export(store, [img], tmp_path / "local")
    assert tree(tmp_path / "local") == tree(tmp_path / "umoci")
    assert sorted(os.listdir(tmp_path / "local/opt/data")) == ["new.txt"]


def test_local_export_over_existing_dest(tmp_path: Path, store: ContentStore, image: Image) -> None:
    dest = tmp_path / "dest"
    (dest / "etc/motd").mkdir(parents=True)  # a dir where the image has a file
    (dest / "extra").write_text("kept")
    local.export(store, [image], dest)
    assert (dest / "etc/motd").read_text() == "changed\n"
    assert (dest / "extra").read_text() == "kept"
    local.export(store, [image], dest, mode="delete")
    assert not (dest / "extra").exists()
