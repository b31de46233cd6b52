"""SLSA provenance attestations as buildx attaches them: pushed images by default (mode=min), OCI
outputs on request, ``--provenance=false`` off, beside an SBOM. Read back from the loopback
registry and from OCI layouts."""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import textwrap
import uuid
from pathlib import Path

from .helpers import MT_INDEX, MT_MANIFEST, OciArchive, bakec, registry_get
from .test_remote import _commit, git_server  # noqa: F401 - the git daemon fixture

HOST = "127.0.0.1:5000"
INTOTO = "application/vnd.in-toto+json"
SLSA02 = "https://slsa.dev/provenance/v0.2"

DOCKERFILE = """\
FROM 127.0.0.1:5000/busybox:latest
ARG VERSION
RUN --mount=type=secret,id=token echo "$VERSION $(cat /run/secrets/token | busybox wc -c)" > /version
COPY app.txt /app.txt
"""
SECRET = "s3cr3t-value-never-in-provenance"


def _project(tmp: Path, output: str, context: str | None = None) -> Path:
    (tmp / "app.txt").write_text(f"app {uuid.uuid4().hex}\n")
    (tmp / "Dockerfile").write_text(DOCKERFILE)
    (tmp / "docker-bake.hcl").write_text(
        textwrap.dedent(f"""\
        target "default" {{
          {f'context = "{context}"' if context else ""}
          args = {{ VERSION = "1.2.3" }}
          labels = {{ "org.example.team" = "build" }}
          secret = ["id=token,env=TOKEN"]
          tags = ["{HOST}/bakec-test/attest-{uuid.uuid4().hex[:10]}:v1"]
          output = [{output}]
        }}
        """)
    )
    return tmp


ENV = {"TOKEN": SECRET, "BUILDX_NO_DEFAULT_ATTESTATIONS": ""}  # buildx's default provenance on


def _build(project: Path, state_dir: Path, *flags: str, env: dict[str, str] | None = None) -> dict:
    proc = bakec(
        project,
        state_dir,
        "build",
        "--progress",
        "plain",
        "--metadata-file",
        "meta.json",
        *flags,
        env={**ENV, **(env or {})},
    )
    assert proc.returncode == 0, proc.stderr
    assert SECRET not in proc.stderr + proc.stdout
    return json.loads((project / "meta.json").read_text())["default"]


def _get(repo: str, ref: str, accept: str = f"{MT_INDEX}, {MT_MANIFEST}") -> tuple[dict, bytes]:
    kind = "blobs" if ref.startswith("sha256:") and accept == "*/*" else "manifests"
    data = registry_get(f"{repo}/{kind}/{ref}", accept)
    return json.loads(data), data


def _statement_from_registry(repo: str, tag: str) -> tuple[dict, dict, dict]:
    """(index, image manifest entry, provenance statement) of a pushed image."""
    index, _ = _get(repo, tag)
    assert index["mediaType"] == MT_INDEX
    images = [m for m in index["manifests"] if m["platform"]["os"] != "unknown"]
    attestations = [m for m in index["manifests"] if m["platform"]["os"] == "unknown"]
    assert len(images) == 1 and len(attestations) == 1
    assert index["manifests"] == images + attestations  # images first, as BuildKit orders them
    att = attestations[0]
    assert att["platform"] == {"architecture": "unknown", "os": "unknown"}
    assert att["annotations"] == {
        "vnd.docker.reference.digest": images[0]["digest"],
        "vnd.docker.reference.type": "attestation-manifest",
    }
    manifest, _ = _get(repo, att["digest"])
    assert [layer["mediaType"] for layer in manifest["layers"]] == [INTOTO]
    assert manifest["layers"][0]["annotations"] == {"in-toto.io/predicate-type": SLSA02}
    config, _ = _get(repo, manifest["config"]["digest"], accept="*/*")
    assert config["architecture"] == "unknown" and config["rootfs"]["diff_ids"] == [
        manifest["layers"][0]["digest"]
    ]
    statement, _ = _get(repo, manifest["layers"][0]["digest"], accept="*/*")
    return index, images[0], statement


def test_a_push_carries_min_provenance_by_default(tmp_path, state_dir, busybox_image):
    project = _project(tmp_path, '"type=registry"')
    meta = _build(project, state_dir)
    name = meta["image.name"]
    repo, tag = name.split("/", 1)[1].rsplit(":", 1)
    _index, image, statement = _statement_from_registry(repo, tag)
    assert meta["containerimage.digest"] == "sha256:" + hashlib.sha256(_get(repo, tag)[1]).hexdigest()
    assert statement["_type"] == "https://in-toto.io/Statement/v0.1"
    assert statement["predicateType"] == SLSA02
    assert statement["subject"] == [
        {
            "name": f"pkg:docker/{HOST}/{repo}@v1?platform=linux%2Famd64",
            "digest": {"sha256": image["digest"].split(":", 1)[1]},
        }
    ]
    predicate = statement["predicate"]
    assert predicate["buildType"] == "https://mobyproject.org/buildkit@v1"
    assert predicate["materials"] == [
        {
            "uri": "pkg:docker/127.0.0.1:5000/busybox@latest?platform=linux%2Famd64",
            "digest": {"sha256": busybox_image.digest.split(":", 1)[1]},
        }
    ]
    invocation = predicate["invocation"]
    assert invocation["configSource"] == {"entryPoint": "Dockerfile"}
    assert invocation["parameters"] == {
        "frontend": "dockerfile.v0",
        "locals": [{"name": "context"}, {"name": "dockerfile"}],
    }
    assert invocation["environment"]["platform"].startswith("linux/")
    metadata = predicate["metadata"]
    assert metadata["completeness"] == {"parameters": False, "environment": True, "materials": False}
    assert (
        len(metadata["buildInvocationID"]) == 25 and metadata["buildStartedOn"] <= metadata["buildFinishedOn"]
    )
    assert "buildConfig" not in predicate
    # the image itself is unchanged and still what a client pulls for linux/amd64
    inspect = json.loads(
        subprocess.run(
            ["skopeo", "inspect", "--tls-verify=false", f"docker://{name}"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    manifest, _ = _get(repo, image["digest"])
    assert inspect["Digest"] == meta["containerimage.digest"]  # the index
    assert (
        inspect["Layers"] == [layer["digest"] for layer in manifest["layers"]] and len(inspect["Layers"]) == 3
    )
    assert meta["containerimage.config.digest"] == manifest["config"]["digest"]


def test_provenance_false_or_no_default_attestations_push_the_bare_manifest(tmp_path, state_dir):
    for flags, env in ((["--provenance=false"], {}), ([], {"BUILDX_NO_DEFAULT_ATTESTATIONS": "1"})):
        project = _project(tmp_path, '"type=registry"')
        meta = _build(project, state_dir, *flags, env=env)
        repo, tag = meta["image.name"].split("/", 1)[1].rsplit(":", 1)
        manifest, raw = _get(repo, tag)
        assert manifest["mediaType"] == MT_MANIFEST
        assert meta["containerimage.digest"] == "sha256:" + hashlib.sha256(raw).hexdigest()


def test_oci_output_carries_provenance_only_when_asked_and_max_records_more(tmp_path, state_dir):
    project = _project(tmp_path, '"type=oci,dest=out.tar"')
    _build(project, state_dir)
    archive = OciArchive(project / "out.tar")
    assert archive.index["manifests"][0]["mediaType"] == MT_MANIFEST  # no default provenance for oci outputs

    meta = _build(project, state_dir, "--provenance=mode=max")
    archive = OciArchive(project / "out.tar")
    root = archive.index["manifests"][0]
    assert root["mediaType"] == MT_INDEX and root["digest"] == meta["containerimage.digest"]
    entries = archive.json(root["digest"])["manifests"]
    assert [e["platform"]["os"] for e in entries] == ["linux", "unknown"]
    attestation = archive.json(entries[1]["digest"])
    raw = archive.blob(attestation["layers"][0]["digest"])
    assert SECRET.encode() not in raw
    statement = json.loads(raw)
    predicate = statement["predicate"]
    assert predicate["invocation"]["parameters"]["args"] == {
        "build-arg:VERSION": "1.2.3",
        "label:org.example.team": "build",
    }
    assert predicate["invocation"]["parameters"]["secrets"] == [{"id": "token", "optional": False}]
    assert predicate["metadata"]["completeness"]["parameters"] is True
    steps = predicate["buildConfig"]["llbDefinition"]
    assert next(s["op"]["kind"] for s in steps) == "image" and any(s["op"]["kind"] == "exec" for s in steps)
    source = predicate["metadata"]["https://mobyproject.org/buildkit@v1#metadata"]["source"]["infos"][0]
    assert base64.b64decode(source["data"]).decode() == DOCKERFILE
    # still a layout skopeo reads: it picks the linux/amd64 image out of the index
    config = json.loads(
        subprocess.run(
            ["skopeo", "inspect", "--config", f"oci-archive:{project / 'out.tar'}"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    assert config["architecture"] == "amd64"


def test_git_context_is_the_config_source(tmp_path, state_dir, git_server):  # noqa: F811
    repo = git_server.repo("attest-src")
    commit = _commit(repo, {"Dockerfile": DOCKERFILE, "app.txt": "from git\n"}, "one")
    url = git_server.url("attest-src", "main")
    project = _project(tmp_path, '"type=oci,dest=out.tar"', context=url)
    _build(project, state_dir, "--provenance=true")
    archive = OciArchive(project / "out.tar")
    entries = archive.root()["manifests"]
    attestation = archive.json(entries[1]["digest"])
    predicate = archive.json(attestation["layers"][0]["digest"])["predicate"]
    assert predicate["invocation"]["configSource"] == {
        "uri": url,
        "digest": {"sha1": commit},
        "entryPoint": "Dockerfile",
    }
    assert {"uri": url, "digest": {"sha1": commit}} in predicate["materials"]
    assert "locals" not in predicate["invocation"]["parameters"]

    # mode=max records the Dockerfile as read from the tree planning checked out
    _build(project, state_dir, "--provenance=mode=max")
    archive = OciArchive(project / "out.tar")
    attestation = archive.json(archive.root()["manifests"][1]["digest"])
    predicate = archive.json(attestation["layers"][0]["digest"])["predicate"]
    (info,) = predicate["metadata"]["https://mobyproject.org/buildkit@v1#metadata"]["source"]["infos"]
    assert base64.b64decode(info["data"]).decode() == DOCKERFILE
    assert predicate["invocation"]["configSource"]["digest"] == {"sha1": commit}


def test_sbom_joins_the_default_provenance_in_one_attestation_manifest(tmp_path, state_dir):
    project = _project(tmp_path, '"type=registry"')
    meta = _build(project, state_dir, "--sbom=true")
    repo, tag = meta["image.name"].split("/", 1)[1].rsplit(":", 1)
    index, _ = _get(repo, tag)
    images = [m for m in index["manifests"] if m["platform"]["os"] != "unknown"]
    attestations = [m for m in index["manifests"] if m["platform"]["os"] == "unknown"]
    assert len(images) == 1 and len(attestations) == 1
    manifest, _ = _get(repo, attestations[0]["digest"])
    assert [layer["annotations"]["in-toto.io/predicate-type"] for layer in manifest["layers"]] == [
        "https://spdx.dev/Document",
        SLSA02,
    ]
    sbom, _ = _get(repo, manifest["layers"][0]["digest"], accept="*/*")
    assert sbom["subject"] == [
        {
            "name": f"pkg:docker/{HOST}/{repo}@v1?platform=linux%2Famd64",
            "digest": {"sha256": images[0]["digest"].split(":", 1)[1]},
        }
    ]
    assert {f["fileName"] for f in sbom["predicate"]["files"]} >= {"./app.txt", "./version", "./bin/busybox"}
    assert SECRET not in json.dumps(sbom)  # the secret mount leaves no file behind


def test_an_image_kept_in_containerd_gets_provenance_only_when_asked(tmp_path, state_dir):
    project = _project(tmp_path, '"type=image"')
    meta = _build(project, state_dir)
    assert meta["containerimage.descriptor"]["mediaType"] == MT_MANIFEST  # inline-only default: not pushed
    meta = _build(project, state_dir, "--provenance=mode=min")
    assert meta["containerimage.descriptor"]["mediaType"] == MT_INDEX
    assert "containerimage.config.digest" in meta


def test_two_platforms_get_one_attestation_manifest_each(tmp_path, state_dir):
    (tmp_path / "app.txt").write_text("multi\n")
    (tmp_path / "Dockerfile").write_text("FROM 127.0.0.1:5000/busybox-multi:latest\nCOPY app.txt /app.txt\n")
    (tmp_path / "docker-bake.hcl").write_text(
        textwrap.dedent("""\
        target "default" {
          platforms = ["linux/amd64", "linux/arm64"]
          output = ["type=oci,dest=out.tar,annotation-index.org.example.kind=multi"]
        }
        """)
    )
    _build(tmp_path, state_dir, "--provenance=true")
    archive = OciArchive(tmp_path / "out.tar")
    top = archive.root()
    assert top["annotations"] == {"org.example.kind": "multi"}
    entries = top["manifests"]
    assert [(e["platform"]["os"], e["platform"]["architecture"]) for e in entries] == [
        ("linux", "amd64"),
        ("linux", "arm64"),
        ("unknown", "unknown"),
        ("unknown", "unknown"),
    ]
    for image, attestation in zip(entries[:2], entries[2:], strict=False):
        assert attestation["annotations"]["vnd.docker.reference.digest"] == image["digest"]
        layer = archive.json(attestation["digest"])["layers"][0]
        statement = archive.json(layer["digest"])
        arch = image["platform"]["architecture"]
        assert statement["subject"] == [{"name": "_", "digest": {"sha256": image["digest"].split(":", 1)[1]}}]
        assert [m["uri"] for m in statement["predicate"]["materials"]] == [
            f"pkg:docker/127.0.0.1:5000/busybox-multi@latest?platform=linux%2F{arch}"
        ]
