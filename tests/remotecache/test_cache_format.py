"""BuildKit's cache config and manifest format as bakec writes and reads it (no daemon)."""

from __future__ import annotations

import base64
import json

import pytest

from bakec.content.layers import LayerBlob
from bakec.remotecache import format as fmt

GZ = "application/vnd.oci.image.layer.v1.tar+gzip"


def _blob(n: int) -> LayerBlob:
    return LayerBlob(f"sha256:{n:064x}", f"sha256:{n + 100:064x}", 10 + n, GZ)


BASE, RUN, COPY = _blob(1), _blob(2), _blob(3)
RECORDS = [
    fmt.Record("sha256:" + "a" * 64, (), (BASE,)),
    fmt.Record("sha256:" + "b" * 64, ("sha256:" + "a" * 64,), (BASE, RUN)),
    fmt.Record("sha256:" + "c" * 64),  # a local context: a key without a result
    fmt.Record("sha256:" + "d" * 64, ("sha256:" + "b" * 64, "sha256:" + "c" * 64), (BASE, RUN, COPY)),
]


def test_config_shares_chain_prefixes_and_links_inputs():
    config, blobs = fmt.build_config(RECORDS, "2023-11-14T22:13:20Z")
    assert config["layers"] == [
        {"blob": BASE.digest, "parent": -1},
        {"blob": RUN.digest},
        {"blob": COPY.digest, "parent": 1},
    ]  # parent 0 omitted, as Go's omitempty does
    assert blobs == [BASE, RUN, COPY]
    assert config["records"][3] == {
        "layers": [{"layer": 2, "createdAt": "2023-11-14T22:13:20Z"}],
        "digest": "sha256:" + "d" * 64,
        "inputs": [[{"link": 1}], [{"link": 2}]],
    }
    assert "layers" not in config["records"][2]


def test_config_reads_back_to_the_same_chains():
    config, blobs = fmt.build_config(RECORDS, "2023-11-14T22:13:20Z")
    chains = fmt.parse_config(json.loads(fmt.serialise(config)), {b.digest: b for b in blobs})
    assert chains == {r.digest: r.layers for r in RECORDS if r.layers}


def test_a_record_whose_blob_is_missing_has_no_result():
    config, _ = fmt.build_config(RECORDS, "t")
    chains = fmt.parse_config(config, {BASE.digest: BASE, COPY.digest: COPY})
    assert list(chains) == ["sha256:" + "a" * 64]


def test_looping_layers_are_rejected():
    with pytest.raises(ValueError, match="looping"):
        fmt.parse_config(
            {"layers": [{"blob": BASE.digest}], "records": [{"digest": "x", "layers": [{"layer": 0}]}]},
            {BASE.digest: BASE},
        )


def test_image_manifest_and_index_layouts():
    config = fmt.serialise(fmt.build_config(RECORDS, "t")[0])
    raw, media_type = fmt.build_manifest(config, [BASE, RUN], "t", image_manifest=True, oci=True)
    manifest = json.loads(raw)
    assert media_type == fmt.OCI_MANIFEST and manifest["config"]["mediaType"] == fmt.CACHE_CONFIG
    assert manifest["layers"][1]["annotations"] == {
        "buildkit/createdat": "t",
        "containerd.io/uncompressed": RUN.diff_id,
    }
    desc, blobs = fmt.blobs_of_manifest(manifest)
    assert desc["digest"] == manifest["config"]["digest"] and blobs == {BASE.digest: BASE, RUN.digest: RUN}

    raw, media_type = fmt.build_manifest(config, [BASE], "t", image_manifest=False, oci=False)
    index = json.loads(raw)
    assert media_type == fmt.DOCKER_LIST and index["manifests"][-1]["mediaType"] == fmt.CACHE_CONFIG
    assert fmt.blobs_of_manifest(index)[1] == {BASE.digest: BASE}


def test_image_manifest_needs_oci_media_types():
    with pytest.raises(Exception, match="image-manifest=true requires oci-mediatypes=true"):
        fmt.build_manifest(b"{}", [], "t", image_manifest=True, oci=False)


def test_inline_cache_keeps_the_image_chain_and_counts_image_layers():
    other = fmt.Record("sha256:" + "e" * 64, (), (_blob(9),))  # a builder stage's result: not in the image
    value = fmt.inline_value([*RECORDS, other], [BASE, RUN, COPY], "t")
    records = json.loads(base64.b64decode(value))
    assert [r["digest"][7] for r in records] == ["a", "b", "d"]
    assert [r["layers"][0]["layer"] for r in records] == [0, 1, 2]
    image_config = {fmt.INLINE_KEY: value, "rootfs": {"diff_ids": [BASE.diff_id, RUN.diff_id, COPY.diff_id]}}
    manifest = {
        "layers": [{"digest": b.digest, "size": b.size, "mediaType": b.media_type} for b in (BASE, RUN, COPY)]
    }
    chains = fmt.parse_inline(image_config, manifest)
    assert chains["sha256:" + "d" * 64] == (BASE, RUN, COPY)
    assert chains["sha256:" + "a" * 64] == (BASE,)


def test_local_layout_keeps_other_tags_and_reads_back(tmp_path):
    from bakec.content.store import ContentStore
    from bakec.remotecache import export, import_

    store = ContentStore(tmp_path / "store")
    data = b"not really a tar, but a blob"
    digest = store.put(data)
    blob = LayerBlob(digest, "sha256:" + "f" * 64, len(data), GZ)
    records = [fmt.Record("sha256:" + "a" * 64, (), (blob,))]
    dest = tmp_path / "cache"
    for tag in ("latest", "other", "latest"):
        config, layers = fmt.build_config(records, tag)  # createdAt differs per tag: distinct manifests
        raw = fmt.serialise(config)
        manifest, media_type = fmt.build_manifest(raw, layers, tag, image_manifest=True, oci=True)
        export.write_layout(dest, tag, store, layers, raw, manifest, media_type)
    index = json.loads((dest / "index.json").read_text())
    assert sorted(m["annotations"][fmt.ANNOTATION_REF_NAME] for m in index["manifests"]) == [
        "latest",
        "other",
    ]
    assert json.loads((dest / "oci-layout").read_text()) == {"imageLayoutVersion": "1.0.0"}

    fresh = ContentStore(tmp_path / "fresh")
    imported = import_.ImportedCache(fresh)
    for chains, source in import_._load_local(dest, {"tag": "other"}):
        imported.add(chains, source)
    assert imported.lookup("sha256:" + "a" * 64).layers == (blob,)
    imported.fetch([blob])
    assert fresh.read(digest) == data


def test_local_layout_reset_drops_blobs_no_tag_references(tmp_path):
    from bakec.content.store import ContentStore
    from bakec.remotecache import export

    store = ContentStore(tmp_path / "store")
    dest = tmp_path / "cache"
    for n, reset in ((1, False), (2, True)):
        data = f"layer {n}".encode()
        blob = LayerBlob(store.put(data), "sha256:" + f"{n}" * 64, len(data), GZ)
        config, layers = fmt.build_config([fmt.Record("sha256:" + "a" * 64, (), (blob,))], "t")
        raw = fmt.serialise(config)
        manifest, media_type = fmt.build_manifest(raw, layers, "t", image_manifest=True, oci=True)
        export.write_layout(dest, "latest", store, layers, raw, manifest, media_type, reset=reset)
    left = {p.name for p in (dest / "blobs" / "sha256").iterdir()}
    assert len(left) == 3  # the second manifest, its config and its layer
    assert blob.digest[7:] in left


@pytest.mark.parametrize("text", ["{not json", "[]", '{"manifests": 5}', '{"manifests": [1]}'])
def test_local_layout_with_a_damaged_index_is_a_build_error(tmp_path, text):
    from bakec.content.store import ContentStore
    from bakec.errors import BuildError
    from bakec.remotecache import export

    dest = tmp_path / "cache"
    dest.mkdir()
    (dest / "index.json").write_text(text)
    config, layers = fmt.build_config([], "t")
    raw = fmt.serialise(config)
    manifest, media_type = fmt.build_manifest(raw, layers, "t", image_manifest=True, oci=True)
    with pytest.raises(BuildError, match=r"index\.json: not an OCI image index"):
        export.write_layout(
            dest, "latest", ContentStore(tmp_path / "store"), layers, raw, manifest, media_type
        )
    assert (dest / "index.json").read_text() == text
