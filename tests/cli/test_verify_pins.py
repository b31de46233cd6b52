"""Without a lockfile, ``bakec verify`` resolves base images to the digests the last build recorded."""

from __future__ import annotations

from bakec.cli.verify import _pins


def test_the_last_builds_image_ops_become_pins():
    record = {
        "ops": {
            "sha256:a": {
                "kind": "image",
                "op": {"ref": "r/busybox:latest", "platform": "linux/amd64", "manifest": "sha256:1"},
            },
            "sha256:b": {
                "kind": "image",
                "op": {"ref": "r/busybox:latest", "platform": "linux/arm64", "manifest": "sha256:2"},
            },
            "sha256:c": {
                "kind": "image",
                "op": {"ref": "scratch", "platform": "linux/amd64", "manifest": ""},
            },
            "sha256:d": {"kind": "exec", "op": {"args": ["true"]}},
        }
    }
    lock = _pins(record)
    assert lock.image_digest("r/busybox:latest", "linux/amd64") == "sha256:1"
    assert lock.image_digest("r/busybox:latest", "linux/arm64") == "sha256:2"
    assert list(lock.images) == ["r/busybox:latest"]
