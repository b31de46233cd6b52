"""The catalogers and the Go build info reader on real files and hand-made layers."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import shutil
import subprocess
import tarfile
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bakec.attest import catalogers
from bakec.attest.catalogers import APK, DPKG, GO, NPM, OS_RELEASE, PYTHON, kind_of_path, read
from bakec.attest.gobuildinfo import read_buildinfo
from bakec.attest.layerscan import cached_scan, merge, scan_layer
from bakec.attest.sbom import document, packages_of, purl_of, validate
from bakec.content.layers import LayerBlob
from bakec.content.store import ContentStore


def test_which_paths_are_read():
    assert kind_of_path("var/lib/dpkg/status") == DPKG
    assert kind_of_path("var/lib/dpkg/status.d/base") == DPKG
    assert kind_of_path("var/lib/dpkg/status.d/base.md5sums") is None
    assert kind_of_path("var/lib/dpkg/status-old") is None
    assert kind_of_path("lib/apk/db/installed") == APK
    assert kind_of_path("usr/lib/python3/dist-packages/six-1.16.0.dist-info/METADATA") == PYTHON
    assert kind_of_path("usr/lib/python3/dist-packages/six-1.16.0.egg-info") == PYTHON
    assert kind_of_path("app/node_modules/left-pad/package.json") == NPM
    assert kind_of_path("app/node_modules/@s/x/package.json") == NPM
    assert kind_of_path("app/node_modules/x/lib/package.json") is None
    assert kind_of_path("app/package.json") is None
    assert kind_of_path("etc/os-release") == OS_RELEASE


def test_dpkg_skips_packages_that_are_not_installed():
    status = (
        b"Package: a\nStatus: install ok installed\nVersion: 1.0-1\nArchitecture: amd64\n"
        b"Source: src-a (1.0)\nDescription: x\n continued\n\n"
        b"Package: gone\nStatus: deinstall ok config-files\nVersion: 2\n\n"
    )
    pkgs = read(DPKG, "var/lib/dpkg/status", status).packages
    assert [(p.name, p.version, p.arch, p.source) for p in pkgs] == [("a", "1.0-1", "amd64", "src-a")]
    assert purl_of(pkgs[0], {"ID": "ubuntu", "VERSION_ID": "22.04"}) == (
        "pkg:deb/ubuntu/a@1.0-1?arch=amd64&distro=ubuntu-22.04&upstream=src-a"
    )


def test_python_egg_info_and_npm_scopes():
    pkg = read(
        PYTHON, "x/Foo_Bar.egg-info", b"Metadata-Version: 1.1\nName: Foo_Bar\nVersion: 2.0\n"
    ).packages[0]
    assert purl_of(pkg, {}) == "pkg:pypi/foo-bar@2.0"
    npm = read(NPM, "node_modules/@s/x/package.json", json.dumps({"name": "@s/x", "version": "1"}).encode())
    assert purl_of(npm.packages[0], {}) == "pkg:npm/%40s/x@1"
    assert read(NPM, "node_modules/x/package.json", b"not json").packages == []


def test_runc_build_info_matches_go_version_m():
    runc = Path("/usr/sbin/runc")
    if not runc.exists() or shutil.which("go") is None:
        pytest.skip("needs Debian's runc and go")
    info = read_buildinfo(runc.read_bytes())
    assert info is not None
    out = subprocess.run(
        ["go", "version", "-m", str(runc)], capture_output=True, text=True, check=True
    ).stdout
    head, *lines = out.splitlines()
    assert head.endswith(": " + info.go_version)
    fields = [line.strip().split("\t", 1) for line in lines]
    assert info.path == dict(f for f in fields if f[0] == "path")["path"]
    assert [f"{k}={v}" for k, v in info.settings] == [f[1] for f in fields if f[0] == "build"]
    assert [p.name for p in catalogers.go_packages("usr/sbin/runc", runc.read_bytes())] == [info.path]


def test_a_stray_magic_string_is_not_build_info():
    assert read_buildinfo(b"\x00" * 3 + b"\xff Go buildinf:" + b"\x00" * 64) is None


def _layer(store: ContentStore, members: list[tuple[str, bytes | str | None]]) -> LayerBlob:
    """A gzip layer: (name, bytes) a file, (name, "->target") a hard link, (name, None) a dir."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w:gz") as tf:
        for name, data in members:
            info = tarfile.TarInfo(name)
            if data is None:
                info.type = tarfile.DIRTYPE
                tf.addfile(info)
            elif isinstance(data, str):
                info.type, info.linkname = tarfile.LNKTYPE, data[2:]
                tf.addfile(info)
            else:
                info.size, info.mode = len(data), 0o755
                tf.addfile(info, io.BytesIO(data))
    blob = raw.getvalue()
    diff = "sha256:" + hashlib.sha256(gzip.decompress(blob)).hexdigest()
    return LayerBlob(store.put(blob), diff, len(blob), "application/vnd.oci.image.layer.v1.tar+gzip")


def test_layers_merge_with_whiteouts_opaque_dirs_and_hard_links(tmp_path):
    store = ContentStore(tmp_path / "content")
    status = b"Package: a\nStatus: install ok installed\nVersion: 1\n"
    base = _layer(
        store,
        [
            ("etc", None),
            ("etc/os-release", b'ID=debian\nVERSION_ID="12"\n'),
            ("var/lib/dpkg/status", status),
            ("bin/busybox", b"bb"),
            ("bin/sh", "->bin/busybox"),
            ("opt/old/a", b"a"),
            ("tmp/x", b"x"),
        ],
    )
    top = _layer(
        store,
        [
            ("tmp/.wh.x", b""),
            ("opt/old/.wh..wh..opq", b""),
            ("opt/old/b", b"b"),
            ("var/lib/dpkg/status", status.replace(b"Version: 1", b"Version: 2")),
            ("bin/ls", "->bin/busybox"),
        ],
    )
    scans = [cached_scan(store, blob, tmp_path / "cache") for blob in (base, top)]
    assert sorted((tmp_path / "cache").iterdir())  # one entry per diffID
    files, findings = merge(scans)
    assert sorted(files) == [
        "bin/busybox",
        "bin/ls",
        "bin/sh",
        "etc/os-release",
        "opt/old/b",
        "var/lib/dpkg/status",
    ]
    assert files["bin/ls"] == files["bin/busybox"]
    assert files["bin/busybox"].sha256 == hashlib.sha256(b"bb").hexdigest()
    packages, os_release = packages_of(findings)
    assert [(p.name, p.version) for p in packages] == [("a", "2")]
    assert os_release == {"ID": "debian", "VERSION_ID": "12"}
    assert scan_layer(store, top).to_json() == scans[1].to_json()  # the cached scan is the scan
    doc = document(
        "img", "linux/amd64", files, findings, [base.diff_id, top.diff_id], datetime(2024, 1, 1, tzinfo=UTC)
    )
    assert validate(doc) == []
    again = document(
        "img", "linux/amd64", files, findings, [base.diff_id, top.diff_id], datetime(2024, 1, 1, tzinfo=UTC)
    )
    assert json.dumps(doc, sort_keys=True) == json.dumps(again, sort_keys=True)
    assert GO not in {p.kind for p in packages}
