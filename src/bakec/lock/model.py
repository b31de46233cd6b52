"""``bakec.lock``: its format, reading and writing.

The file is JSON with sorted keys, two-space indent and a trailing newline, so it is
byte-stable and diffs well::

    {
      "git": {"https://host/repo.git#main": "<commit>"},
      "http": {"https://host/file.tgz": "sha256:<hex>"},
      "images": {
        "docker.io/library/alpine:3": {
          "index": "sha256:<index digest, "" when the tag names a manifest>",
          "platforms": {"linux/amd64": "sha256:<that platform's manifest digest>"}
        }
      },
      "remote": {"https://host/defs.git": "<commit>"},
      "version": 1
    }

Image keys are references as the Dockerfile frontend normalises them; git, http and
remote keys are URLs as written.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from bakec.errors import BakecError

__all__ = ["LOCK_NAME", "VERSION", "ImagePin", "Lockfile", "LockfileError", "default_path"]

LOCK_NAME = "bakec.lock"
VERSION = 1


class LockfileError(BakecError):
    """A lockfile that cannot be read, or a build it does not cover."""


@dataclass
class ImagePin:
    """One image reference: the index its tag named and each platform's manifest."""

    index: str = ""
    platforms: dict[str, str] = field(default_factory=dict)


@dataclass
class Lockfile:
    images: dict[str, ImagePin] = field(default_factory=dict)
    git: dict[str, str] = field(default_factory=dict)  # git context / ADD git URL → commit
    http: dict[str, str] = field(default_factory=dict)  # ADD URL → sha256 of its content
    remote: dict[str, str] = field(default_factory=dict)  # remote bake definition URL → commit

    def image_digest(self, ref: str, platform: str) -> str | None:
        """The manifest digest pinned for ``ref`` on ``platform``, or None."""
        pin = self.images.get(ref)
        return pin.platforms.get(platform) if pin is not None else None

    def to_json(self) -> dict:
        return {
            "version": VERSION,
            "images": {
                ref: {"index": pin.index, "platforms": dict(pin.platforms)}
                for ref, pin in self.images.items()
            },
            "git": dict(self.git),
            "http": dict(self.http),
            "remote": dict(self.remote),
        }

    def dumps(self) -> str:
        """The file's text: stable for equal content."""
        return json.dumps(self.to_json(), indent=2, sort_keys=True) + "\n"

    @classmethod
    def loads(cls, text: str, name: str = LOCK_NAME) -> Lockfile:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise LockfileError(f"failed to read {name}: {exc}") from None
        if not isinstance(data, dict) or data.get("version") != VERSION:
            raise LockfileError(
                f"failed to read {name}: unsupported lockfile version {data.get('version')!r}"
            )
        try:
            images = {
                ref: ImagePin(
                    str(pin.get("index", "")), {str(p): str(d) for p, d in pin["platforms"].items()}
                )
                for ref, pin in data.get("images", {}).items()
            }
            return cls(
                images,
                {str(k): str(v) for k, v in data.get("git", {}).items()},
                {str(k): str(v) for k, v in data.get("http", {}).items()},
                {str(k): str(v) for k, v in data.get("remote", {}).items()},
            )
        except (AttributeError, KeyError, TypeError) as exc:
            raise LockfileError(f"failed to read {name}: malformed entry ({exc})") from None

    @classmethod
    def read(cls, path: str | os.PathLike[str]) -> Lockfile:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise LockfileError(f"failed to read {path}: {(exc.strerror or str(exc)).lower()}") from None
        return cls.loads(text, str(path))

    def write(self, path: str | os.PathLike[str]) -> None:
        """Replace ``path`` atomically (a reader never sees half a lockfile)."""
        path = Path(path)
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        tmp.write_text(self.dumps(), encoding="utf-8")
        os.replace(tmp, path)


def default_path(bake_files: list[str], cwd: str, remote: bool = False) -> Path:
    """``bakec.lock`` next to the first bake file (in ``cwd`` for remote or stdin definitions)."""
    first = bake_files[0] if bake_files else ""
    if remote or not first or first == "-":
        return Path(cwd) / LOCK_NAME
    return Path(cwd, first).parent / LOCK_NAME
