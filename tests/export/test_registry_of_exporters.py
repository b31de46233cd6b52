"""The registry of exporters: each output type is written through it, with the target's tags as names."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import pytest

from bakec.content.store import ContentStore
from bakec.errors import BuildError
from bakec.export.exporters import EXPORTERS, exporter_for, with_absolute_dest
from bakec.export.image import Image
from bakec.export.local import unpack
from bakec.export.request import ExportRequest


def request(
    store: ContentStore, image: Image, attrs: dict[str, str], tags: tuple[str, ...] = ()
) -> ExportRequest:
    # no containerd and no publisher: the file exporters must not touch either
    return ExportRequest("app", attrs, [image], store, None, tags, None, None)  # type: ignore[arg-type]


def test_every_output_type_buildx_knows_has_an_exporter() -> None:
    assert set(EXPORTERS) == {"cacheonly", "local", "tar", "oci", "docker", "image", "registry"}
    assert exporter_for("oci").step == "exporting to oci image format"
    assert exporter_for("cacheonly").step is None
    with pytest.raises(BuildError, match="unknown output type 'floppy'"):
        exporter_for("floppy")


def test_oci_through_the_registry_is_named_by_the_tags(
    tmp_path: Path, store: ContentStore, image: Image
) -> None:
    dest = tmp_path / "out.tar"
    meta = exporter_for("oci").write(request(store, image, {"dest": str(dest)}, ("example.com/app:1",)))
    with tarfile.open(dest) as t:
        f = t.extractfile("index.json")
        assert f is not None
        index = json.loads(f.read())
    (entry,) = index["manifests"]
    assert entry["annotations"]["io.containerd.image.name"] == "example.com/app:1"
    assert meta["containerimage.digest"] == entry["digest"]
    assert meta["image.name"] == "example.com/app:1"


def test_local_through_the_registry_writes_the_files(
    tmp_path: Path, store: ContentStore, image: Image
) -> None:
    assert exporter_for("local").write(request(store, image, {"dest": str(tmp_path / "out")})) == {}
    unpack(store, image, tmp_path / "expected")
    expected = sorted(str(p.relative_to(tmp_path / "expected")) for p in (tmp_path / "expected").rglob("*"))
    assert sorted(str(p.relative_to(tmp_path / "out")) for p in (tmp_path / "out").rglob("*")) == expected
    assert expected


def test_a_relative_dest_is_taken_from_the_bake_dir(tmp_path: Path) -> None:
    attrs = with_absolute_dest({"dest": "out/app.tar", "name": "x"}, str(tmp_path))
    assert attrs == {"dest": str(tmp_path / "out/app.tar"), "name": "x"}
    assert (tmp_path / "out").is_dir()
    assert with_absolute_dest({"dest": "-"}, str(tmp_path)) == {"dest": "-"}
