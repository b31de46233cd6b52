"""The publisher (``bakec.export.publish``) against the real registry, through the fault gate.

No build: images are committed straight into a content store, so these tests pin the
order of requests (every blob before any manifest), mounts, and what a failure in
each phase leaves behind.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from bakec.content.layers import LayerBlob
from bakec.content.store import ContentStore
from bakec.errors import BuildError
from bakec.export.image import Committed, ExportOptions, Image, commit_images
from bakec.export.publish import BlobSources, Publisher, attr_flag, image_names
from bakec.registry import PushResult, RegistryClient, RegistryError
from bakec.util.platform import Platform

from .conftest import make_image
from .gate import Gate

GZIP_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"


def _image(store: ContentStore, content: bytes, arch: str = "amd64") -> Image:
    made = make_image(content, arch)
    diff_id = json.loads(made.config)["rootfs"]["diff_ids"][0]
    layer = LayerBlob(store.put(made.layer), diff_id, len(made.layer), GZIP_LAYER)
    return Image({"config": {"Cmd": ["/hello"]}}, (layer,), Platform("linux", arch))


def _committed(store: ContentStore, content: bytes) -> Committed:
    return commit_images(store, [_image(store, content)], ExportOptions())


def _tags(repo: str) -> list[str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:5000/v2/{repo}/tags/list", timeout=10) as resp:
            return list(json.load(resp).get("tags") or [])
    except urllib.error.HTTPError as err:
        if err.code == 404:
            return []
        raise


def _kinds(gate: Gate) -> list[str]:
    """The gate's requests as "blob" (an upload or mount) or "manifest" (a PUT), in order."""
    out = []
    for seen in gate.seen:
        if "/blobs/uploads/" in seen.path and seen.method in ("POST", "PUT", "PATCH"):
            out.append("blob")
        elif "/manifests/" in seen.path and seen.method == "PUT":
            out.append("manifest")
    return out


@pytest.fixture
def store(tmp_path: Path) -> ContentStore:
    return ContentStore(tmp_path / "content")


def test_every_blob_goes_up_before_any_manifest_and_a_shared_layer_once(
    client: RegistryClient, gate: Gate, store: ContentStore, unique_repo: str
) -> None:
    shared = b"shared layer " * 100
    first, second = f"{unique_repo}-a", f"{unique_repo}-b"
    publisher = Publisher(client, store)
    a = commit_images(store, [_image(store, shared, "amd64")], ExportOptions())
    b = commit_images(store, [_image(store, shared, "arm64")], ExportOptions())
    publisher.add("a", [f"{gate.host}/{first}:v1"], a)
    publisher.add("b", [f"{gate.host}/{second}:v1", f"{gate.host}/{second}:v2"], b)
    publisher.publish()

    kinds = _kinds(gate)
    assert kinds == sorted(kinds) and kinds.count("manifest") == 3, kinds
    layer = a.manifests[0][2][0].digest
    done = {(repo.rsplit("/", 1)[-1], digest): result for repo, digest, result in publisher.uploaded}
    assert done[(first, layer)] is PushResult.UPLOADED
    assert done[(second, layer)] is PushResult.MOUNTED  # from the first repository, in the same run
    assert len(gate.requests("PUT", layer.split(":", 1)[1])) == 1  # one upload of the shared layer
    assert _tags(first) == ["v1"] and sorted(_tags(second)) == ["v1", "v2"]


def test_an_index_is_put_after_its_platform_manifests(
    client: RegistryClient, gate: Gate, store: ContentStore, unique_repo: str
) -> None:
    images = [_image(store, b"amd64 " * 50, "amd64"), _image(store, b"arm64 " * 50, "arm64")]
    committed = commit_images(store, images, ExportOptions())
    publisher = Publisher(client, store)
    publisher.add("multi", [f"{gate.host}/{unique_repo}:v1"], committed)
    publisher.publish()
    puts = [s.path.rsplit("/", 1)[-1] for s in gate.requests("PUT", "/manifests/")]
    assert puts == [m[0].digest for m in committed.manifests] + ["v1"]
    assert client.fetch_manifest(f"127.0.0.1:5000/{unique_repo}:v1").data == store.read(committed.root.digest)


def test_a_blob_that_cannot_be_pushed_stops_every_manifest(
    client: RegistryClient, gate: Gate, store: ContentStore, unique_repo: str
) -> None:
    good, bad = f"{unique_repo}-good", f"{unique_repo}-bad"
    publisher = Publisher(client, store)
    publisher.add("good", [f"{gate.host}/{good}:v1"], _committed(store, b"g" * 300))
    publisher.add("bad", [f"{gate.host}/{bad}:v1"], _committed(store, b"b" * 300))
    gate.fail(50, 500, path=f"/v2/{bad}/blobs/uploads/", method="POST")
    with pytest.raises(RegistryError) as err:
        publisher.publish()
    assert bad in str(err.value)
    assert gate.requests("PUT", "/manifests/") == []
    assert _tags(good) == [] and _tags(bad) == []


def test_transient_upload_failures_are_retried(
    client: RegistryClient, gate: Gate, store: ContentStore, unique_repo: str
) -> None:
    publisher = Publisher(client, store)
    publisher.add("t", [f"{gate.host}/{unique_repo}:v1"], _committed(store, b"t" * 300))
    gate.fail(2, 503, path="/blobs/uploads/")
    publisher.publish()
    assert _tags(unique_repo) == ["v1"]


def test_a_failure_while_tagging_can_leave_some_tags_moved_and_a_rerun_completes_them(
    client: RegistryClient, gate: Gate, store: ContentStore, unique_repo: str
) -> None:
    # The documented limit: registries have no transactions.
    first, second = f"{unique_repo}-1", f"{unique_repo}-2"
    images = [_committed(store, bytes([n]) * 300) for n in (1, 2)]

    def publisher() -> Publisher:
        p = Publisher(client, store)
        p.add("one", [f"{gate.host}/{first}:v1"], images[0])
        p.add("two", [f"{gate.host}/{second}:v1"], images[1])
        return p

    gate.fail(50, 500, path=f"/v2/{second}/manifests/v1", method="PUT")
    with pytest.raises(RegistryError):
        publisher().publish()
    assert _tags(first) == ["v1"] and _tags(second) == []

    gate.faults.clear()
    again = publisher()
    again.publish()
    assert {result for _, _, result in again.uploaded} == {PushResult.EXISTS}
    assert _tags(second) == ["v1"]


def test_a_push_needs_a_tag_and_takes_no_digest(store: ContentStore) -> None:
    publisher = Publisher(RegistryClient(), store)
    committed = commit_images(store, [_image(store, b"x" * 10)], ExportOptions())
    with pytest.raises(BuildError, match="tag is needed when pushing to registry"):
        publisher.add("t", [], committed)
    with pytest.raises(BuildError, match="a pushed name takes a tag, not a digest"):
        publisher.add("t", ["127.0.0.1:5000/x@sha256:" + "0" * 64], committed)
    with pytest.raises(BuildError, match="target t: invalid reference format"):
        publisher.add("t", ["127.0.0.1:5000/UPPER:v1"], committed)
    assert not publisher.pending


def test_names_and_flags_follow_buildx() -> None:
    assert image_names({"name": "a/b:1, c/d:2"}, []) == ("a/b:1", "c/d:2")
    assert image_names({"name": "a/b:1"}, ["x/y:2"]) == ("x/y:2",)  # tags replace name=
    assert image_names({}, None) == ()
    assert attr_flag({"push": ""}, "push", False) is True
    assert attr_flag({}, "store", True) is True
    assert attr_flag({"push": "T"}, "push", False) is True  # strconv.ParseBool, as BuildKit
    with pytest.raises(BuildError) as err:
        attr_flag({"push": "maybe"}, "push", False)
    assert (
        str(err.value)
        == 'non-bool value specified for push: strconv.ParseBool: parsing "maybe": invalid syntax'
    )
    with pytest.raises(BuildError):
        attr_flag({"push": "tRuE"}, "push", False)  # Go's ParseBool knows three spellings only


def test_blob_sources_persist_newest_first_and_survive_a_damaged_file(tmp_path: Path) -> None:
    path = tmp_path / "sources.json"
    sources = BlobSources(path)
    for n in range(6):
        sources.add("sha256:aa", f"127.0.0.1:5000/repo{n}")
    sources.add("sha256:bb", "127.0.0.1:5000/base")
    sources.save()
    again = BlobSources(path)
    assert again.get("sha256:aa") == [f"127.0.0.1:5000/repo{n}" for n in (5, 4, 3, 2)]
    assert again.get("sha256:bb") == ["127.0.0.1:5000/base"]
    assert again.get("sha256:cc") == []
    path.write_text("{not json")
    assert BlobSources(path).get("sha256:aa") == []
