"""Layer comparison for ``bakec verify`` on hand-made layers: each kind of difference is named,
and rewrite-timestamp makes mtimes after SOURCE_DATE_EPOCH equal."""

from __future__ import annotations

import hashlib
import io
import tarfile

from bakec.content.layers import LayerBlob
from bakec.content.store import ContentStore
from bakec.explain.layerdiff import differences
from bakec.explain.verify import compare_image, render


def _layer(store: ContentStore, files: dict[str, tuple[bytes, int, int, int]]) -> LayerBlob:
    """An uncompressed layer of ``path: (content, mode, uid, mtime)``."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for path, (data, mode, uid, mtime) in files.items():
            info = tarfile.TarInfo(path)
            info.size, info.mode, info.uid, info.gid, info.mtime = len(data), mode, uid, uid, mtime
            tf.addfile(info, io.BytesIO(data))
    blob = raw.getvalue()
    digest = store.put(blob)
    return LayerBlob(
        digest,
        "sha256:" + hashlib.sha256(blob).hexdigest(),
        len(blob),
        "application/vnd.oci.image.layer.v1.tar",
    )


def test_each_kind_of_difference_is_named(tmp_path):
    old_store, new_store = ContentStore(tmp_path / "a"), ContentStore(tmp_path / "b")
    old = _layer(
        old_store,
        {
            "same": (b"x", 0o644, 0, 100),
            "content": (b"one", 0o644, 0, 100),
            "mode": (b"m", 0o644, 0, 100),
            "owner": (b"o", 0o644, 0, 100),
            "mtime": (b"t", 0o644, 0, 100),
            "gone": (b"g", 0o644, 0, 100),
        },
    )
    new = _layer(
        new_store,
        {
            "same": (b"x", 0o644, 0, 100),
            "content": (b"two", 0o644, 0, 100),
            "mode": (b"m", 0o600, 0, 100),
            "owner": (b"o", 0o644, 1000, 100),
            "mtime": (b"t", 0o644, 0, 200),
            "new": (b"n", 0o644, 0, 100),
        },
    )
    found = {d.path: d.what for d in differences(old_store, old, new_store, new)}
    one, two = (hashlib.sha256(b).hexdigest()[:12] for b in (b"one", b"two"))
    assert found == {
        "/content": (f"content sha256:{one} → sha256:{two}",),
        "/mode": ("mode 0644 → 0600",),
        "/owner": ("owner 0:0 → 1000:1000",),
        "/mtime": ("mtime 100 → 200",),
        "/gone": ("only in the last build",),
        "/new": ("only in the rebuild",),
    }
    entry = {"diff_id": old.diff_id, "digest": old.digest, "media_type": old.media_type, "op": "sha256:op"}
    rebuilt = {"diff_id": new.diff_id, "digest": new.digest, "media_type": new.media_type, "op": "sha256:op"}
    mismatch = compare_image(
        "t",
        "linux/amd64",
        [entry],
        [rebuilt],
        old_ops={"sha256:op": {"label": "[t 2/2] RUN make"}},
        old_store=old_store,
        new_store=new_store,
        rewrite_timestamp=None,
    )
    assert mismatch is not None
    assert render([mismatch], 1).splitlines()[:3] == [
        "t (linux/amd64): layer 1 of 1 differs",
        "  made by [t 2/2] RUN make",
        f"  /content: content sha256:{one} → sha256:{two}",
    ]


def test_rewrite_timestamp_makes_later_mtimes_equal(tmp_path):
    old_store, new_store = ContentStore(tmp_path / "a"), ContentStore(tmp_path / "b")
    old = _layer(old_store, {"f": (b"x", 0o644, 0, 5000)})
    new = _layer(new_store, {"f": (b"x", 0o644, 0, 6000)})
    assert [d.what for d in differences(old_store, old, new_store, new, rewrite_timestamp=4000)] == []
    assert [d.what for d in differences(old_store, old, new_store, new, rewrite_timestamp=5500)] == [
        ("mtime 5000 → 5500",)
    ]
    entry = {"diff_id": old.diff_id, "digest": old.digest, "media_type": old.media_type}
    rebuilt = {"diff_id": new.diff_id, "digest": new.digest, "media_type": new.media_type}
    same = compare_image(
        "t",
        "linux/amd64",
        [entry],
        [rebuilt],
        old_ops={},
        old_store=old_store,
        new_store=new_store,
        rewrite_timestamp=4000,
    )
    assert same is None
    assert render([], 2) == "2 images identical to the last build\n"
