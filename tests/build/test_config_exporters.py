"""Image config fields through every exporter, not only at plan time.

Conformance case 070 sets Healthcheck, OnBuild, Shell, StopSignal, ArgsEscaped, Volumes
and ExposedPorts; its expected-config.json is BuildKit's (which writes the same config
through its oci, docker and image/registry exporters). One bakec build exports it as an
OCI tarball, a docker tarball, an image in bakec's containerd and an image pushed to the
loopback registry; the config each of them holds must be the expected one.
"""

from __future__ import annotations

import json
import tarfile
import textwrap
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest

from conformance.dockerfile_oracle import config_view, make_context
from corpus import conformance

from .helpers import REGISTRY, OciArchive, bakec

CASE = conformance("dockerfile") / "070-config-fields-all"
COMPARED = ("config", "history", "platform", "layer_count")
ACCEPT = "application/vnd.oci.image.manifest.v1+json,application/vnd.docker.distribution.manifest.v2+json"


def _registry_config(repo: str, tag: str) -> tuple[dict[str, Any], int]:
    def get(path: str, accept: str = "") -> bytes:
        req = urllib.request.Request(f"http://{REGISTRY}/v2/{repo}/{path}", headers={"Accept": accept})
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.read()

    manifest = json.loads(get(f"manifests/{tag}", ACCEPT))
    return json.loads(get(f"blobs/{manifest['config']['digest']}")), len(manifest["layers"])


def _docker_config(path: Path) -> tuple[dict[str, Any], int]:
    with tarfile.open(path) as tar:
        entry = json.loads(tar.extractfile("manifest.json").read())[0]  # type: ignore[union-attr]
        return json.loads(tar.extractfile(entry["Config"]).read()), len(entry["Layers"])  # type: ignore[union-attr]


@pytest.fixture(scope="module")
def exported(tmp_path_factory, state_dir, busybox_image) -> dict[str, dict[str, Any]]:
    """The config view of each exporter's image, by exporter type."""
    from bakec.worker.daemon import Daemon

    project = tmp_path_factory.mktemp("config-exporters")
    ctx = make_context(CASE, project)
    repo, tag = "bakec-test/config-fields", uuid.uuid4().hex[:12]  # a fresh tag: no earlier push can answer
    ref = f"{REGISTRY}/{repo}:{tag}"
    (project / "docker-bake.hcl").write_text(
        textwrap.dedent(f"""\
        target "default" {{
          context = "{ctx}"
          tags = ["{ref}"]
          output = ["type=oci,dest=out/oci.tar", "type=docker,dest=out/docker.tar",
                    "type=image", "type=registry"]
        }}
        """)
    )
    proc = bakec(project, state_dir, "build", "--progress", "plain")
    assert proc.returncode == 0, proc.stderr

    configs: dict[str, tuple[dict[str, Any], int]] = {}
    oci = OciArchive(project / "out" / "oci.tar")
    manifest = oci.root()
    configs["oci"] = oci.json(manifest["config"]["digest"]), len(manifest["layers"])
    configs["docker"] = _docker_config(project / "out" / "docker.tar")
    configs["registry"] = _registry_config(repo, tag)
    client = Daemon(state_dir).ensure()
    try:
        manifest = json.loads(client.read_blob(client.get_image(ref).target.digest))
        configs["image"] = json.loads(client.read_blob(manifest["config"]["digest"])), len(manifest["layers"])
    finally:
        client.close()
    return {
        kind: config_view(config, layers, busybox_image.digest) for kind, (config, layers) in configs.items()
    }


@pytest.mark.parametrize("exporter", ["oci", "docker", "image", "registry"])
def test_every_config_field_reaches_the_exported_config(exported, exporter: str) -> None:
    want = json.loads((CASE / "expected-config.json").read_text())
    got = exported[exporter]
    for key in COMPARED:
        assert got[key] == want[key], key
    fields = ("Healthcheck", "OnBuild", "Shell", "StopSignal", "ArgsEscaped", "Volumes", "ExposedPorts")
    assert all(field in got["config"] for field in fields)
