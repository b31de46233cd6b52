"""Layers made from a REAL overlay upper dir: whiteouts, opaque dirs, copy-ups, links, formats.

Each test mounts overlayfs (root only) over a hand-made lower dir, changes files through the
mount as a RUN would, unmounts, and reads the produced layer back with independent tools
(Python's tarfile, GNU tar, gzip, zstd) and containerd's own Diff.Apply.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import shutil
import stat
import subprocess
import tarfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from bakec.content.layers import LayerBlob, UnsupportedUpperDir, convert_layer, write_layer
from bakec.content.store import ContentStore
from bakec.util.compression import Compression
from bakec.worker.client import Descriptor
from conformance.dockerfile_oracle import CORPUS, layer_entries

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="overlay mounts need root")

OLD = 1_600_000_000


class Overlay:
    def __init__(self, root: Path) -> None:
        self.lower, self.upper, self.work, self.merged = (
            root / n for n in ("lower", "upper", "work", "merged")
        )
        for d in (self.lower, self.upper, self.work, self.merged):
            d.mkdir()
        self.mounted = False

    def mount(self) -> None:
        opts = f"lowerdir={self.lower},upperdir={self.upper},workdir={self.work}"
        subprocess.run(["mount", "-t", "overlay", "overlay", "-o", opts, str(self.merged)], check=True)
        self.mounted = True

    def umount(self) -> None:
        if self.mounted:
            subprocess.run(["umount", str(self.merged)], check=True)
            self.mounted = False


@pytest.fixture
def ovl(tmp_path: Path) -> Iterator[Overlay]:
    o = Overlay(tmp_path)
    try:
        yield o
    finally:
        o.umount()


@pytest.fixture
def store(tmp_path: Path) -> ContentStore:
    return ContentStore(tmp_path / "store")


def put(path: Path, text: str, mode: int = 0o644, mtime: int = OLD) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)
    os.utime(path, (mtime, mtime))


def make_base(lower: Path) -> None:
    """A small 'image': /bin with applets, /data, /keep, /etc, as a lower layer."""
    put(lower / "bin/busybox", "binary", 0o755)
    for applet in ("sh", "cat", "sleep", "ls"):
        (lower / "bin" / applet).symlink_to("busybox")
    put(lower / "one.txt", "one\n")
    put(lower / "data/keep", "y\n")
    put(lower / "data/sub/f", "x\n")
    put(lower / "keep/z", "z\n")
    put(lower / "etc/passwd", "root:x:0:0::/:/bin/sh\n")
    for d in ("bin", "data/sub", "data", "keep", "etc", ""):
        os.utime(lower / d, (OLD, OLD))


def entries(store: ContentStore, blob: LayerBlob) -> list[tarfile.TarInfo]:
    raw = (
        gzip.decompress(store.read(blob.digest))
        if blob.media_type.endswith("gzip")
        else store.read(blob.digest)
    )
    with tarfile.open(fileobj=io.BytesIO(raw)) as t:
        return t.getmembers()


def names(store: ContentStore, blob: LayerBlob) -> list[str]:
    return [m.name + ("/" if m.isdir() else "") for m in entries(store, blob)]


def run_in(merged: Path, script: str) -> None:
    subprocess.run(["sh", "-ec", script], cwd=merged, check=True)


def test_whiteouts_for_deleted_base_files_and_dirs(ovl: Overlay, store: ContentStore) -> None:
    make_base(ovl.lower)
    ovl.mount()
    run_in(ovl.merged, "rm bin/cat bin/sleep && rm -r data/sub && echo new > new.txt")
    ovl.umount()
    assert stat.S_ISCHR(os.lstat(ovl.upper / "bin/cat").st_mode)  # overlay's own whiteout
    blob = write_layer(store, ovl.upper, [ovl.lower])
    # Parents come first (copied-up /bin and /data are parents, not changes); tar order is
    # the walk order of the original names; no /etc or /keep: untouched.
    assert names(store, blob) == ["bin/", "bin/.wh.cat", "bin/.wh.sleep", "data/", "data/.wh.sub", "new.txt"]
    wh = entries(store, blob)[1]
    assert (wh.type, wh.size, wh.mode, wh.uid, wh.gid, wh.mtime) == (tarfile.REGTYPE, 0, 0, 0, 0, 0)


def test_recreated_dir_gives_per_file_whiteouts_like_buildkit(ovl: Overlay, store: ContentStore) -> None:
    # oracle 031: rm -rf /keep && mkdir /keep && echo new > /keep/new
    make_base(ovl.lower)
    ovl.mount()
    run_in(ovl.merged, "rm -rf keep && mkdir keep && echo new > keep/new")
    ovl.umount()
    assert os.getxattr(ovl.upper / "keep", "trusted.overlay.opaque") == b"y"
    blob = write_layer(store, ovl.upper, [ovl.lower])
    assert names(store, blob) == ["keep/", "keep/new", "keep/.wh.z"]
    marked = write_layer(store, ovl.upper, [ovl.lower], opaque_markers=True)
    assert names(store, marked) == ["keep/", "keep/.wh..wh..opq", "keep/new"]


def test_copy_up_without_change_is_left_out_and_links_kept(ovl: Overlay, store: ContentStore) -> None:
    # oracle 030: ln /one.txt /hard copies one.txt up; only /hard is new.
    make_base(ovl.lower)
    ovl.mount()
    run_in(
        ovl.merged,
        "ln one.txt hard && ln -s /one.txt link && mkfifo fifo && mkdir -p a/b/c && "
        "echo deep > a/b/c/f && chmod 0640 a/b/c/f && touch etc && echo 2 > a/x && ln a/x a/y",
    )
    ovl.umount()
    assert (ovl.upper / "one.txt").exists()
    ms = {m.name: m for m in entries(store, write_layer(store, ovl.upper, [ovl.lower]))}
    # etc/ was copied up by touch, but a dir's mtime is not compared: no change.
    assert (ovl.upper / "etc").is_dir()
    assert list(ms) == ["a", "a/b", "a/b/c", "a/b/c/f", "a/x", "a/y", "fifo", "hard", "link"]
    assert ms["hard"].isreg() and ms["hard"].size == 4
    assert ms["a/y"].islnk() and ms["a/y"].linkname == "a/x"
    assert ms["link"].issym() and ms["link"].linkname == "/one.txt"
    assert ms["fifo"].isfifo() and ms["a/b/c/f"].mode == 0o640


def test_link_to_a_lower_file_is_one_inode_again_when_the_layers_are_applied(
    ovl: Overlay, store: ContentStore, tmp_path: Path
) -> None:
    # oracle 030: the tar has /hard as a plain file (one.txt is an unchanged copy-up), but in
    # BuildKit's snapshot, and so its type=local export, the two names are one inode.
    from bakec.content.apply import apply_layer
    from bakec.content.result import OpResult

    make_base(ovl.lower)
    ovl.mount()
    run_in(ovl.merged, "ln one.txt hard && echo 2 > a && ln a b")
    ovl.umount()
    base = write_layer(store, ovl.lower)
    blob = write_layer(store, ovl.upper, [ovl.lower])
    assert names(store, blob) == ["a", "b", "hard"]  # unchanged: the tar is what BuildKit writes
    assert blob.links == (("one.txt", "hard"),)  # a/b are a hardlink pair inside the tar already
    assert base.links == ()
    again = OpResult.from_meta(OpResult("s", (base, blob)).to_meta()).layers
    assert [b.digest for b in again] == [base.digest, blob.digest] and again[1].links == blob.links

    root = tmp_path / "root"
    root.mkdir()
    for layer in again:
        apply_layer(root, store, layer)
    one, hard = os.lstat(root / "one.txt"), os.lstat(root / "hard")
    assert os.path.samestat(one, hard) and one.st_nlink == 2
    assert (root / "one.txt").read_text() == "one\n" and (one.st_mtime, one.st_mode & 0o777) == (OLD, 0o644)
    assert os.path.samestat(os.lstat(root / "a"), os.lstat(root / "b"))
    assert os.lstat(root / "bin/busybox").st_nlink == 1


def test_skip_paths_and_mount_stub_parents(ovl: Overlay, store: ContentStore) -> None:
    ovl.mount()
    run_in(ovl.merged, "mkdir -p etc dev proc && touch etc/hosts && echo hi > x")
    ovl.umount()
    blob = write_layer(store, ovl.upper, [ovl.lower], skip={"/etc"})
    assert names(store, blob) == ["dev/", "proc/", "x"]


def test_rewrite_timestamp_clamps_newer_mtimes(ovl: Overlay, store: ContentStore) -> None:
    put(ovl.upper / "new.txt", "n", mtime=1_800_000_000)
    put(ovl.upper / "old.txt", "o", mtime=1_600_000_000)
    ms = entries(store, write_layer(store, ovl.upper, rewrite_timestamp=1_700_000_000))
    assert [(m.name, m.mtime) for m in ms] == [("new.txt", 1_700_000_000), ("old.txt", 1_600_000_000)]


def test_capabilities_and_long_names_in_pax(ovl: Overlay, store: ContentStore) -> None:
    long_dir = "d" * 120
    put(ovl.upper / long_dir / ("f" * 90), "long")
    put(ovl.upper / "ping", "p", 0o755)
    caps = bytes.fromhex("0100000200200000000000000000000000000000")  # cap_net_raw+ep
    os.setxattr(ovl.upper / "ping", "security.capability", caps)
    put(ovl.upper / ("n" * 160), "very long")
    blob = write_layer(store, ovl.upper, compression=Compression("uncompressed"))
    raw = store.read(blob.digest)
    with tarfile.open(fileobj=io.BytesIO(raw)) as t:
        ms = {m.name: m for m in t.getmembers()}
    assert (
        ms["ping"].pax_headers["SCHILY.xattr.security.capability"].encode("utf-8", "surrogateescape") == caps
    )
    assert f"{long_dir}/{'f' * 90}" in ms and "n" * 160 in ms
    # Go's writer: the 211-byte path splits into ustar prefix + name (no PAX); PAX records for the
    # 120-byte dir name (no slash to split at), the capability and the 160-byte name.
    # (Go names the dir's record "<dir>/PaxHeaders.0", cut to 100 bytes: all d's.)
    assert raw.count(b"PaxHeaders.0/") == 2
    assert b"PaxHeaders.0/" + b"n" * 87 in raw and b"PaxHeaders.0/ping" in raw
    assert raw.endswith(bytes(1024)) and len(raw) % 512 == 0 and len(raw) % 10240 != 0


def test_digests_and_formats_read_by_independent_tools(
    ovl: Overlay, store: ContentStore, tmp_path: Path
) -> None:
    put(ovl.upper / "big", "z" * 3_000_000)
    put(ovl.upper / "small", "s")
    for comp, tool in ((Compression("gzip"), ["gzip", "-dc"]), (Compression("zstd", 9), ["zstd", "-dc"])):
        blob = write_layer(store, ovl.upper, compression=comp)
        data = store.read(blob.digest)
        assert blob.digest == "sha256:" + hashlib.sha256(data).hexdigest() and blob.size == len(data)
        raw = subprocess.run(tool, input=data, capture_output=True, check=True).stdout
        assert blob.diff_id == "sha256:" + hashlib.sha256(raw).hexdigest()
        listing = subprocess.run(
            ["tar", "-tvf", "-"], input=raw, capture_output=True, check=True
        ).stdout.decode()
        assert "big" in listing and "small" in listing
    # recompression keeps the diffID
    gz = write_layer(store, ovl.upper)
    zs = convert_layer(store, gz, Compression("zstd"))
    assert zs.diff_id == gz.diff_id and zs.media_type.endswith("+zstd")


def test_redirect_dir_is_refused(ovl: Overlay, store: ContentStore) -> None:
    (ovl.upper / "moved").mkdir()
    os.setxattr(ovl.upper / "moved", "trusted.overlay.redirect", b"/orig")
    with pytest.raises(UnsupportedUpperDir):
        write_layer(store, ovl.upper, [ovl.lower])


def test_store_never_leaves_partial_blobs(store: ContentStore) -> None:
    w = store.writer()
    w.write(b"partial")
    w.abort()
    assert list((store.root / "blobs/sha256").iterdir()) == []
    assert list((store.root / "ingest").iterdir()) == []


def test_containerd_applies_the_layer(ovl: Overlay, store: ContentStore, client, base_snapshot: str) -> None:  # type: ignore[no-untyped-def]
    """containerd's Diff.Apply (its own tar reader) accepts the layer and gets the diffID we computed."""
    ovl.mount()
    run_in(ovl.merged, "mkdir -p opt/app && echo ok > opt/app/f && ln -s f opt/app/l")
    ovl.umount()
    blob = write_layer(store, ovl.upper, [ovl.lower])
    digest = client.write_content(f"layer-{uuid.uuid4().hex}", store.read(blob.digest))
    key = f"apply-{uuid.uuid4().hex}"
    mounts = client.prepare(key, parent=base_snapshot)
    applied = client.apply(Descriptor(media_type=blob.media_type, digest=digest, size=blob.size), mounts)
    assert applied.digest == blob.diff_id
    client.remove_snapshot(key)


@pytest.fixture(autouse=True)
def _no_stray_mounts(tmp_path: Path) -> Iterator[None]:
    yield
    with open("/proc/self/mounts") as f:
        assert str(tmp_path) not in f.read()
    shutil.rmtree(tmp_path, ignore_errors=True)


# --- RUN layers against BuildKit's (the dockerfile conformance corpus) ---------------------------

BASE_LAYOUT = Path(os.environ.get("BAKEC_BASE_IMAGES_DIR", "/var/cache/bakec-base-images")) / "oci"
ORACLE_RUNS = {
    "030-run-basic": [
        "echo one > /one.txt",
        "mkdir -p /a/b/c && echo deep > /a/b/c/f",
        "echo exec > /exec.txt",
        (
            "busybox ln -s /one.txt /link && busybox ln /one.txt /hard && busybox mkfifo /fifo && "
            "busybox chmod 0640 /a/b/c/f"
        ),
        "busybox ls /sys/class/net > /ifaces",
        "echo sandboxed > /sandbox",
    ],
    "031-run-whiteout": [
        "mkdir -p /data/sub /keep && echo x > /data/sub/f && echo y > /data/keep && echo z > /keep/z",
        "busybox rm /bin/cat /bin/sleep && busybox rm -r /data/sub",
        "busybox rm -rf /keep && mkdir /keep && echo new > /keep/new",
    ],
}


def oracle_entries(store: ContentStore, blob: LayerBlob) -> list[dict[str, object]]:
    """A layer's entries the way the corpus README derives expected-layers.json."""
    return layer_entries(store.read(blob.digest))


@pytest.mark.parametrize("case", sorted(ORACLE_RUNS))
def test_run_layers_equal_buildkits(case: str, client, daemon, store: ContentStore) -> None:  # type: ignore[no-untyped-def]
    """RUN steps of corpus cases on the corpus base image give BuildKit's layers, entry for entry."""
    import json

    from bakec.worker.rootfs import layers as snapshot_layers
    from bakec.worker.run import RunRequest
    from bakec.worker.runc import RuncExecutor

    assert (CORPUS / case).is_dir(), f"case {case} left the corpus"
    if not (BASE_LAYOUT / "index.json").exists():
        pytest.skip(f"base image layout {BASE_LAYOUT} missing (made by scripts/make-base-images)")
    index = json.loads((BASE_LAYOUT / "index.json").read_text())
    (entry,) = [
        m
        for m in index["manifests"]
        if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == "amd64"
    ]
    manifest = json.loads((BASE_LAYOUT / "blobs/sha256" / entry["digest"][7:]).read_text())
    (layer,) = manifest["layers"]
    blob = (BASE_LAYOUT / "blobs/sha256" / layer["digest"][7:]).read_bytes()
    digest = client.write_content(f"base-{uuid.uuid4().hex}", blob)
    key = f"extract-{uuid.uuid4().hex}"
    applied = client.apply(
        Descriptor(media_type=layer["mediaType"], digest=digest, size=len(blob)), client.prepare(key)
    )
    parent = f"base-{uuid.uuid4().hex}"
    client.commit(parent, key)

    executor = RuncExecutor(client, daemon.paths)
    got = []
    for i, cmd in enumerate(ORACLE_RUNS[case]):
        key = f"run-{uuid.uuid4().hex}"
        mounts = client.prepare(key, parent)
        result = executor.run(mounts, RunRequest(["/bin/sh", "-c", cmd], env=["PATH=/bin"]))
        assert result.exit_code == 0, result.stderr
        lay = snapshot_layers(mounts)
        got.append(oracle_entries(store, write_layer(store, lay.upper, lay.lowers)))
        parent = f"layer-{i}-{uuid.uuid4().hex}"
        client.commit(parent, key)
    assert applied.digest
    expected = json.loads((CORPUS / case / "expected-layers.json").read_text())
    # /dev, /proc and /sys, which runc creates in a base without them, stay in the first layer
    assert got == expected


def test_fallbacks_without_isal_or_zstandard(
    tmp_path: Path, store: ContentStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """zlib and the zstd program stand in when the PyPI packages are missing; the tar is the same."""
    from bakec.util import compression as layer_compress

    put(tmp_path / "d/a", "a" * 100_000)
    put(tmp_path / "d/b", "b")
    fast_gz = write_layer(store, tmp_path / "d")
    fast_zs = write_layer(store, tmp_path / "d", compression=Compression("zstd"))
    monkeypatch.setattr(layer_compress, "_igzip_threaded", None)
    monkeypatch.setattr(layer_compress, "_isal", None)
    monkeypatch.setattr(layer_compress, "_zstd", None)
    if shutil.which("zstd") is None:
        pytest.skip("zstd program missing")
    slow_gz = write_layer(store, tmp_path / "d")
    slow_zs = write_layer(store, tmp_path / "d", compression=Compression("zstd"))
    assert fast_gz.diff_id == slow_gz.diff_id == fast_zs.diff_id == slow_zs.diff_id
    for blob, tool in ((slow_gz, "gzip"), (slow_zs, "zstd")):
        raw = subprocess.run(
            [tool, "-dc"], input=store.read(blob.digest), capture_output=True, check=True
        ).stdout
        assert "sha256:" + hashlib.sha256(raw).hexdigest() == blob.diff_id


# --- byte-for-byte against Go's archive/tar (what BuildKit's differ writes with) ------------------

GO_REWRITER = r"""
package main

import (
	"archive/tar"
	"io"
	"os"
	"path"
	"strings"
	"time"
)

func main() {
	tr := tar.NewReader(os.Stdin)
	tw := tar.NewWriter(os.Stdout)
	for {
		in, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			panic(err)
		}
		var hdr *tar.Header
		if strings.HasPrefix(path.Base(in.Name), ".wh.") {
			t := in.ModTime
			hdr = &tar.Header{Typeflag: tar.TypeReg, Name: in.Name, Size: 0, ModTime: t, AccessTime: t, ChangeTime: t}
		} else {
			hdr = &tar.Header{
				Typeflag: in.Typeflag, Name: in.Name, Linkname: in.Linkname, Size: in.Size, Mode: in.Mode,
				Uid: in.Uid, Gid: in.Gid, ModTime: time.Unix(in.ModTime.Unix(), 0).Truncate(time.Second),
				Devmajor: in.Devmajor, Devminor: in.Devminor, Format: tar.FormatPAX,
			}
			for k, v := range in.PAXRecords {
				if strings.HasPrefix(k, "SCHILY.xattr.") {
					if hdr.PAXRecords == nil {
						hdr.PAXRecords = map[string]string{}
					}
					hdr.PAXRecords[k] = v
				}
			}
		}
		if err := tw.WriteHeader(hdr); err != nil {
			panic(err)
		}
		if _, err := io.Copy(tw, tr); err != nil {
			panic(err)
		}
	}
	if err := tw.Close(); err != nil {
		panic(err)
	}
}
"""


def test_tar_bytes_equal_go_archive_tar(tmp_path: Path, store: ContentStore) -> None:
    """Rewriting our layer with Go's tar.Writer, as containerd's ChangeWriter sets the headers,
    gives the same bytes: USTAR prefix splits, PAX records, non-ASCII names, devices, big ids."""
    if shutil.which("go") is None:
        pytest.skip("go not installed (apt-get install golang-go)")
    src = tmp_path / "gotar"
    src.mkdir()
    (src / "main.go").write_text(GO_REWRITER)
    (src / "go.mod").write_text("module gotar\n\ngo 1.19\n")
    env = {
        **os.environ,
        "GOFLAGS": "-mod=mod",
        "GOCACHE": str(tmp_path / "gocache"),
        "GOPATH": str(tmp_path / "gopath"),
    }
    subprocess.run(["go", "build", "-o", str(src / "gotar"), "."], cwd=src, env=env, check=True)

    up, low = tmp_path / "up", tmp_path / "low"
    (up / "d/d/d").mkdir(parents=True)
    put(up / "plain", "x" * 1000)
    os.utime(up / "plain", (0, 9_999_999_999))  # needs a PAX mtime
    for n in (99, 100, 101):
        put(up / ("n" * n), str(n))
    put(up / ("p" * 150) / ("q" * 99), "split")
    (up / ("r" * 99)).mkdir()
    put(up / "héllo-ünïcode", "u")
    (up / "longlink").symlink_to("t" * 150)
    (up / "unilink").symlink_to("ßymlink")
    os.link(up / "plain", up / "plainhard")
    os.mkfifo(up / "fifo")
    os.mknod(up / "null", stat.S_IFCHR | 0o666, os.makedev(1, 3))
    os.mknod(up / "blk", stat.S_IFBLK | 0o600, os.makedev(8, 1))
    put(up / "suid", "s", 0o6755)
    put(up / "bigid", "b")
    os.chown(up / "bigid", 3_000_000, 2_500_000)
    put(up / "cap", "c")
    os.setxattr(up / "cap", "security.capability", bytes.fromhex("0100000200200000000000000000000000000000"))
    put(low / "gone/x", "x")
    put(low / "gonefile", "g")
    put(low / ("w" * 97), "w")
    for name in ("gone", "gonefile", "w" * 97):
        os.mknod(up / name, stat.S_IFCHR, 0)
    blob = write_layer(store, up, [low], compression=Compression("uncompressed"))
    ours = store.read(blob.digest)
    go = subprocess.run([str(src / "gotar")], input=ours, capture_output=True, check=True).stdout
    assert ours == go
