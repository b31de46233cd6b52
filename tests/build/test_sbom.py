"""SBOM attestations (``--sbom=true``, ``attest=type=sbom``) on real builds.

The image gets a real dpkg status file (this machine's), an apk database, a Python
dist-info (an installed one, copied), an npm package and two Go binaries (Debian's ``runc``
and one built here); the packages the SPDX document lists are compared with what
``dpkg-query``, ``go version -m`` and ``importlib.metadata`` report for the same files, and
the document validates with spdx-tools. The attestation manifest is read back with
``skopeo inspect --raw`` from the OCI layout and from the registry.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import shutil
import subprocess
import tarfile
import textwrap
import uuid
from pathlib import Path

import pytest

from bakec.attest.sbom import validate

from .helpers import MT_INDEX, bakec

HOST = "127.0.0.1:5000"
SPDX = "https://spdx.dev/Document"
SLSA02 = "https://slsa.dev/provenance/v0.2"
INTOTO = "application/vnd.in-toto+json"

APK_DB = """\
C:Q1kGvXbuJr3ys7tCwhCuJFAD9ha1Y=
P:musl
V:1.2.4_git20230717-r4
A:x86_64
S:407447
I:667648
T:the musl c library (libc) implementation
U:https://musl.libc.org/
L:MIT
o:musl
m:Timo Teräs <timo.teras@iki.fi>
t:1703182018
c:c41fbc7a3fb2d17bb0c3bf2d91ebaa81f2f7d8a0
F:lib
R:ld-musl-x86_64.so.1
a:0:0:755
Z:Q1zCtoAEXPq+7OiJlsWbaZR3Wq2Mg=

C:Q1Ur0z7U0xwaSx3VfXPbEjVWz3YYE=
P:busybox-binsh
V:1.36.1-r15
A:x86_64
S:1546
I:1
T:busybox ash /bin/sh
U:https://busybox.net/
L:GPL-2.0-only
o:busybox
m:Sören Tempel <soeren+alpine@soeren-tempel.net>
t:1701881106
c:96b8c5bc4b97bd6f8ddb3dd2ce9d7a6db4e34bbf
D:busybox=1.36.1-r15

"""

GO_MAIN = """\
package main

import "example.com/greet"

func main() { greet.Hello() }
"""

DOCKERFILE = """\
FROM 127.0.0.1:5000/busybox:latest
COPY os-release /etc/os-release
COPY status /var/lib/dpkg/status
COPY installed /lib/apk/db/installed
COPY site/ /usr/lib/python3/dist-packages/
COPY node_modules/ /app/node_modules/
COPY runc hello /usr/local/bin/
"""


def _go_binary(work: Path) -> Path:
    """A tiny Go module with one (replaced, offline) dependency, built with this machine's Go."""
    src = work / "gosrc"
    (src / "dep").mkdir(parents=True)
    (src / "go.mod").write_text(
        "module example.com/hello\n\ngo 1.19\n\nrequire example.com/greet v1.2.3\n\n"
        "replace example.com/greet => ./dep\n"
    )
    (src / "main.go").write_text(GO_MAIN)
    (src / "dep" / "go.mod").write_text("module example.com/greet\n\ngo 1.19\n")
    (src / "dep" / "greet.go").write_text(
        'package greet\n\nimport "fmt"\n\nfunc Hello() { fmt.Println("hi") }\n'
    )
    env = {**os.environ, "GOFLAGS": "-mod=mod", "GOPROXY": "off", "GOCACHE": str(work / "gocache")}
    subprocess.run(["go", "build", "-o", str(work / "hello"), "."], cwd=src, env=env, check=True)
    return work / "hello"


def _project(tmp: Path, output: str, extra: str = "") -> Path:
    if shutil.which("go") is None or not Path("/usr/sbin/runc").exists():
        pytest.skip("needs go and Debian's runc")
    ctx = tmp / "proj"
    ctx.mkdir()
    _go_binary(tmp).rename(ctx / "hello")
    shutil.copy("/usr/sbin/runc", ctx / "runc")
    shutil.copy("/var/lib/dpkg/status", ctx / "status")
    shutil.copy("/etc/os-release", ctx / "os-release")
    (ctx / "installed").write_text(APK_DB)
    dist = Path(importlib.metadata.distribution("packageurl-python")._path)  # type: ignore[attr-defined]
    shutil.copytree(dist, ctx / "site" / dist.name)
    npm = ctx / "node_modules" / "@scope" / "left-pad"
    npm.mkdir(parents=True)
    (npm / "package.json").write_text(
        json.dumps({"name": "@scope/left-pad", "version": "1.3.0", "license": "WTFPL"})
    )
    (ctx / "Dockerfile").write_text(DOCKERFILE)
    (ctx / "docker-bake.hcl").write_text(
        textwrap.dedent(f"""\
        target "default" {{
          tags = ["{HOST}/bakec-test/sbom-{uuid.uuid4().hex[:10]}:v1"]
          output = [{output}]
          {extra}
        }}
        """)
    )
    return ctx


def _build(project: Path, state_dir: Path, *flags: str) -> dict:
    proc = bakec(project, state_dir, "build", "--progress", "plain", "--metadata-file", "meta.json", *flags)
    assert proc.returncode == 0, proc.stderr
    return json.loads((project / "meta.json").read_text()).get("default", {})


def _skopeo(ref: str, *extra: str) -> dict:
    proc = subprocess.run(["skopeo", "inspect", "--raw", *extra, ref], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def _purls(document: dict, prefix: str) -> set[str]:
    return {
        ref["referenceLocator"]
        for p in document["packages"]
        for ref in p.get("externalRefs", [])
        if ref["referenceLocator"].startswith(prefix)
    }


def _by_kind(document: dict, prefix: str) -> set[tuple[str, str]]:
    """(name, version) of the packages whose purl starts with ``prefix``."""
    out = set()
    for p in document["packages"]:
        for ref in p.get("externalRefs", []):
            if ref["referenceLocator"].startswith(prefix):
                out.add((p["name"], p.get("versionInfo", "")))
    return out


def _check_document(document: dict, ctx: Path) -> None:
    assert document["spdxVersion"] == "SPDX-2.3"
    assert validate(document) == []
    # Debian: what dpkg-query reads from the same status file
    admin = ctx / "dpkgadmin"
    (admin / "info").mkdir(parents=True, exist_ok=True)
    shutil.copy(ctx / "status", admin / "status")
    query = subprocess.run(
        ["dpkg-query", f"--admindir={admin}", "-W", "-f", "${db:Status-Status}\t${Package}\t${Version}\n"],
        capture_output=True,
        text=True,
        check=True,
    )
    dpkg = {
        tuple(line.split("\t")[1:]) for line in query.stdout.splitlines() if line.startswith("installed\t")
    }
    assert len(dpkg) > 20
    assert _by_kind(document, "pkg:deb/") == dpkg
    os_release = dict(
        line.split("=", 1) for line in (ctx / "os-release").read_text().splitlines() if "=" in line
    )
    distro = f"distro={os_release['ID']}-{os_release['VERSION_ID'].strip(chr(34))}"
    assert all(
        distro in p and p.startswith(f"pkg:deb/{os_release['ID']}/") for p in _purls(document, "pkg:deb/")
    )
    # Alpine
    assert _purls(document, "pkg:apk/") == {
        f"pkg:apk/{os_release['ID']}/busybox-binsh@1.36.1-r15?arch=x86_64&{distro}&upstream=busybox",
        f"pkg:apk/{os_release['ID']}/musl@1.2.4_git20230717-r4?arch=x86_64&{distro}",
    }
    # Python: importlib.metadata on the copied dist-info
    dists = list(importlib.metadata.distributions(path=[str(ctx / "site")]))
    assert _by_kind(document, "pkg:pypi/") == {(d.metadata["Name"], d.version) for d in dists}
    assert _purls(document, "pkg:pypi/") == {f"pkg:pypi/packageurl-python@{dists[0].version}"}
    # npm
    assert _purls(document, "pkg:npm/") == {"pkg:npm/%40scope/left-pad@1.3.0"}
    # Go: what `go version -m` reports for both binaries
    expected = set()
    for binary in ("runc", "hello"):
        out = subprocess.run(
            ["go", "version", "-m", str(ctx / binary)], capture_output=True, text=True, check=True
        )
        lines = [line.strip().split("\t") for line in out.stdout.splitlines()[1:]]
        mods = [f for f in lines if f[0] in ("mod", "dep")]
        if not mods:
            mods = [["mod", f[1], ""] for f in lines if f[0] == "path"]
        expected |= {(f[1], f[2]) for f in mods}
    assert expected == {
        ("github.com/opencontainers/runc", ""),
        ("example.com/hello", "(devel)"),
        ("example.com/greet", "v1.2.3"),
    }
    assert _by_kind(document, "pkg:golang/") == expected
    assert "pkg:golang/example.com/greet@v1.2.3" in _purls(document, "pkg:golang/")
    # files: every regular file with its checksums, the binaries as copied
    files = {
        f["fileName"]: {c["algorithm"]: c["checksumValue"] for c in f["checksums"]} for f in document["files"]
    }
    import hashlib

    runc = (ctx / "runc").read_bytes()
    assert files["./usr/local/bin/runc"] == {
        "SHA1": hashlib.sha1(runc).hexdigest(),
        "SHA256": hashlib.sha256(runc).hexdigest(),
    }
    assert "./bin/busybox" in files and "./var/lib/dpkg/status" in files


def test_sbom_in_an_oci_layout_beside_provenance(tmp_path, state_dir):
    ctx = _project(tmp_path, '"type=oci,dest=out.tar"', 'attest = ["type=sbom", "type=provenance,mode=min"]')
    meta = _build(ctx, state_dir)
    layout = ctx / "layout"
    with tarfile.open(ctx / "out.tar") as tf:
        tf.extractall(layout)
    index = _skopeo(f"oci:{layout}")  # the one image of the layout: its index
    assert meta["containerimage.digest"].split(":")[1] in {
        p.name for p in (layout / "blobs/sha256").iterdir()
    }
    assert index["mediaType"] == MT_INDEX
    image, attestation = index["manifests"]
    assert attestation["annotations"] == {
        "vnd.docker.reference.digest": image["digest"],
        "vnd.docker.reference.type": "attestation-manifest",
    }
    manifest = json.loads((layout / "blobs/sha256" / attestation["digest"].split(":", 1)[1]).read_text())
    assert [(layer["mediaType"], layer["annotations"]) for layer in manifest["layers"]] == [
        (INTOTO, {"in-toto.io/predicate-type": SPDX}),
        (INTOTO, {"in-toto.io/predicate-type": SLSA02}),
    ]
    blob = layout / "blobs" / "sha256" / manifest["layers"][0]["digest"].split(":", 1)[1]
    statement = json.loads(blob.read_text())
    assert statement["_type"] == "https://in-toto.io/Statement/v0.1"
    assert statement["predicateType"] == SPDX
    assert [s["digest"] for s in statement["subject"]] == [{"sha256": image["digest"].split(":", 1)[1]}]
    _check_document(statement["predicate"], ctx)


def test_sbom_flag_on_a_pushed_image(tmp_path, state_dir):
    ctx = _project(tmp_path, '"type=registry"')
    meta = _build(ctx, state_dir, "--sbom=true")
    name = meta["image.name"]
    index = _skopeo(f"docker://{name}", "--tls-verify=false")
    image, attestation = index["manifests"]
    assert attestation["platform"] == {"architecture": "unknown", "os": "unknown"}
    repo = name.rsplit(":", 1)[0]
    manifest = _skopeo(f"docker://{repo}@{attestation['digest']}", "--tls-verify=false")
    assert [layer["annotations"]["in-toto.io/predicate-type"] for layer in manifest["layers"]] == [SPDX]
    assert manifest["layers"][0]["mediaType"] == INTOTO


def test_sbom_file_in_local_and_tar_outputs(tmp_path, state_dir):
    ctx = _project(tmp_path, '"type=local,dest=out", "type=tar,dest=out.tar"', 'attest = ["type=sbom"]')
    _build(ctx, state_dir, "--set=*.args.SOURCE_DATE_EPOCH=1700000000")
    path = ctx / "out" / "sbom.spdx.json"
    assert path.stat().st_mode & 0o777 == 0o600
    assert int(path.stat().st_mtime) == 1700000000
    statement = json.loads(path.read_text())
    assert statement["predicateType"] == SPDX
    subjects = {s["name"]: s["digest"]["sha256"] for s in statement["subject"]}
    import hashlib

    assert subjects["usr/local/bin/hello"] == hashlib.sha256((ctx / "hello").read_bytes()).hexdigest()
    assert statement["predicate"]["creationInfo"]["created"] == "2023-11-14T22:13:20Z"
    _check_document(statement["predicate"], ctx)
    with tarfile.open(ctx / "out.tar") as tf:
        member = tf.getmember("sbom.spdx.json")
        assert member.mode == 0o600 and member.mtime == 1700000000
        assert json.loads(tf.extractfile(member).read()) == statement  # type: ignore[union-attr]


def test_sbom_options_bakec_cannot_honour_are_refused(tmp_path, state_dir):
    ctx = _project(
        tmp_path, '"type=cacheonly"', 'attest = ["type=sbom,generator=docker/buildkit-syft-scanner"]'
    )
    proc = bakec(ctx, state_dir, "build")
    assert proc.returncode == 1
    assert "attest type=sbom,generator=docker/buildkit-syft-scanner is not supported" in proc.stderr
    proc = bakec(ctx, state_dir, "build", "--sbom=scan-stage=true")
    assert proc.returncode == 1
    assert "attest type=sbom,scan-stage=true is not supported: only the final image is scanned" in proc.stderr
