"""Attestation requests, package URLs and attestation manifests, without a daemon."""

from __future__ import annotations

import hashlib
import json

import pytest

from bakec.content.store import ContentStore
from bakec.errors import BuildError
from bakec.export.attest import Provenance, attach_statements, image_manifests, provenance_of, sbom_of
from bakec.export.image import ExportOptions, Image, commit_images
from bakec.export.provenance import purl
from bakec.util.platform import Platform


@pytest.mark.parametrize(
    "ref,platform,expected",
    [
        ("busybox", "", "pkg:docker/busybox@latest"),
        ("docker.io/library/alpine:3.18", "linux/arm64", "pkg:docker/alpine@3.18?platform=linux%2Farm64"),
        ("user/app:1", "linux/arm/v7", "pkg:docker/user/app@1?platform=linux%2Farm%2Fv7"),
        ("127.0.0.1:5000/a/b:1", "linux/amd64", "pkg:docker/127.0.0.1:5000/a/b@1?platform=linux%2Famd64"),
        ("ghcr.io/o/r@sha256:" + "a" * 64, "", "pkg:docker/ghcr.io/o/r?digest=sha256%3A" + "a" * 64),
    ],
)
def test_purl_as_buildkit_writes_it(ref, platform, expected):
    assert purl(ref, platform) == expected


def test_provenance_requests():
    assert provenance_of(None, {}) == Provenance("min", inline_only=True)
    assert provenance_of(None, {"BUILDX_NO_DEFAULT_ATTESTATIONS": "1"}) is None
    assert provenance_of([{"type": "provenance", "disabled": True}], {}) is None
    assert provenance_of([{"type": "provenance", "disabled": "true"}], {}) is None
    assert provenance_of([{"type": "provenance", "mode": "full", "builder-id": "ci"}], {}) == Provenance(
        "max", False, "ci"
    )
    assert provenance_of([{"type": "sbom"}, {"type": "provenance"}], {}) == Provenance("min")
    with pytest.raises(BuildError, match='invalid mode "all"'):
        provenance_of([{"type": "provenance", "mode": "all"}], {})
    with pytest.raises(BuildError, match="version v1 is not supported yet"):
        provenance_of([{"type": "provenance", "version": "v1"}], {})


def test_which_outputs_carry_provenance():
    default, asked = Provenance(inline_only=True), Provenance()
    assert [
        default.applies(k, p)
        for k, p in (("registry", True), ("image", True), ("image", False), ("oci", False), ("docker", False))
    ] == [True, True, False, False, False]
    assert [asked.applies(k, False) for k in ("registry", "image", "oci", "docker", "local", "tar")] == [
        True,
        True,
        True,
        False,
        False,
        False,
    ]


def test_sbom_requests_and_what_is_refused():
    assert sbom_of([{"type": "sbom"}]) is True
    assert sbom_of([{"type": "sbom", "disabled": True}]) is False
    assert sbom_of([{"type": "provenance"}]) is False
    assert sbom_of([{"type": "sbom", "scan-stage": "false"}]) is True
    with pytest.raises(
        BuildError, match=r"^target a: attest type=sbom,scan-stage=true is not supported: only"
    ):
        sbom_of([{"type": "sbom", "scan-stage": "true"}], "a")
    with pytest.raises(BuildError, match=r"generator=docker/buildkit-syft-scanner is not supported: bakec"):
        sbom_of([{"type": "sbom", "generator": "docker/buildkit-syft-scanner"}])
    sbom_of([{"type": "sbom", "disabled": True, "generator": "x"}])  # disabled: nothing to refuse


def test_attestation_manifests_follow_the_images_in_a_new_index(tmp_path):
    store = ContentStore(tmp_path)
    committed = commit_images(store, [Image({"config": {}}, (), Platform("linux", "amd64"))], ExportOptions())
    statement = {
        "_type": "https://in-toto.io/Statement/v0.1",
        "predicateType": "https://slsa.dev/provenance/v0.2",
        "subject": [],
        "predicate": {},
    }
    attached = attach_statements(store, committed, [[statement]])
    index = json.loads(store.read(attached.root.digest))
    assert attached.root.digest == "sha256:" + hashlib.sha256(store.read(attached.root.digest)).hexdigest()
    image, attestation = index["manifests"]
    assert image == committed.root.json()
    assert attestation["platform"] == {"architecture": "unknown", "os": "unknown"}
    assert attestation["annotations"] == {
        "vnd.docker.reference.digest": image["digest"],
        "vnd.docker.reference.type": "attestation-manifest",
    }
    manifest = json.loads(store.read(attestation["digest"]))
    assert manifest["layers"][0]["mediaType"] == "application/vnd.in-toto+json"
    assert json.loads(store.read(manifest["layers"][0]["digest"])) == statement
    assert [m[0].digest for m in image_manifests(attached)] == [image["digest"]]
    docker = attach_statements(store, committed, [[statement]], oci_mediatypes=False)
    assert (
        json.loads(store.read(docker.root.digest))["mediaType"]
        == "application/vnd.docker.distribution.manifest.list.v2+json"
    )


def test_provenance_never_carries_url_credentials():
    """Git and http URLs with a password are redacted in materials and in mode=max ops (as BuildKit)."""
    from bakec.export import provenance
    from bakec.ops import GitSource, HttpSource

    url = "https://bob:hunter2@git.example/repo.git#main"
    materials = provenance._materials([], {url: "a" * 40})
    ops = [
        provenance._op_json(GitSource(url=url)),
        provenance._op_json(HttpSource(url="https://bob:hunter2@h/f")),
    ]
    text = json.dumps([materials, ops])
    assert "hunter2" not in text
    assert materials == [{"uri": "https://bob:xxxxx@git.example/repo.git#main", "digest": {"sha1": "a" * 40}}]


def test_redact_all_reaches_nested_strings():
    from bakec.util.gitref import redact_all

    value = {"a": ["x", {"u": "https://u:pw@h/r.git"}], "n": 3}
    assert redact_all(value) == {"a": ["x", {"u": "https://u:xxxxx@h/r.git"}], "n": 3}


def test_sbom_files_are_placed_as_buildkits_local_exporter_places_them():
    from bakec.export.local import attestation_paths

    amd, arm = Image({}, (), Platform("linux", "amd64")), Image({}, (), Platform("linux", "arm", "v7"))
    assert attestation_paths([(amd, b"a")], 1, None) == [("sbom.spdx.json", b"a")]
    assert attestation_paths([(amd, b"a")], 1, False) == [("sbom.spdx.json", b"a")]
    assert attestation_paths([(amd, b"a"), (arm, b"b")], 2, None) == [
        ("linux_amd64/sbom.spdx.json", b"a"),
        ("linux_arm_v7/sbom.spdx.json", b"b"),
    ]
    assert [p for p, _ in attestation_paths([(amd, b"a"), (arm, b"b")], 2, False)] == [
        "sbom.linux_amd64.spdx.json",
        "sbom.linux_arm_v7.spdx.json",
    ]
