"""The closed vocabulary of build operations: plain, immutable, content-addressed.

An op's digest is sha256 over a canonical JSON encoding of its *key* fields,
which include the digests of its inputs. Fields declared with :func:`_meta`
(descriptions, where a local context lives on this machine, a resolved image
config) ride along for the plan and the executor but never enter the digest,
so the same command on the same parent is one op whatever Dockerfile, stage
or target it came from. Secret and ssh mounts carry ids, never content.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, fields
from functools import cached_property
from typing import Any, ClassVar

__all__ = [
    "SCRATCH",
    "Copy",
    "Exec",
    "ExecMount",
    "FileOp",
    "GitSource",
    "HostIP",
    "HttpSource",
    "ImageSource",
    "LocalSource",
    "Merge",
    "Mkdir",
    "Mkfile",
    "Op",
    "Rm",
    "Ulimit",
    "canonical",
]

SCRATCH = ""
"""The input "digest" of an empty filesystem (a stage ``FROM scratch``)."""


def _meta(default: Any = "") -> Any:
    """A field that is carried along but is not part of the op's identity."""
    return field(default=default, compare=False, metadata={"key": False})


def _optional(default: Any) -> Any:
    """A key field left out of the encoding while it holds ``default``.

    Fields added to an op after its first release are declared so: ops that do not use them
    keep the digest (and so the cache entries) they always had, as a protobuf field left at
    its zero value is not encoded in BuildKit's op definitions.
    """
    return field(default=default, metadata={"omit_default": True})


_ALWAYS = object()
_KEY_FIELDS: dict[type, tuple[tuple[str, Any], ...]] = {}


def _key_fields(cls: type) -> tuple[tuple[str, Any], ...]:
    """(name, default it is omitted at, or ``_ALWAYS``) of each key field of ``cls``."""
    names = _KEY_FIELDS.get(cls)
    if names is None:
        names = _KEY_FIELDS[cls] = tuple(
            (f.name, f.default if f.metadata.get("omit_default") else _ALWAYS)
            for f in fields(cls)
            if f.metadata.get("key", True)
        )
    return names


def _key_dict(obj: Any) -> Any:
    """Plain data of an op's key fields (nested dataclasses and tuples included)."""
    if isinstance(obj, (str, int, bool)) or obj is None:
        return obj
    if isinstance(obj, (tuple, list)):
        return [_key_dict(v) for v in obj]
    if hasattr(obj, "__dataclass_fields__"):
        out = {}
        for name, omitted_at in _key_fields(type(obj)):
            value = getattr(obj, name)
            if omitted_at is _ALWAYS or value != omitted_at:
                out[name] = _key_dict(value)
        return out
    return obj


def canonical(obj: Any) -> bytes:
    """The canonical encoding hashed into digests: sorted-key compact JSON."""
    text = json.dumps(_key_dict(obj), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    # Paths and patterns read from disk keep undecodable bytes as surrogates: hash those bytes.
    return text.encode("utf-8", "surrogateescape")


@dataclass(frozen=True)
class Op:
    """Base of every operation; ``inputs`` are the digests of the ops it reads."""

    kind: ClassVar[str] = ""

    @property
    def inputs(self) -> tuple[str, ...]:
        return ()

    @cached_property
    def digest(self) -> str:
        h = hashlib.sha256(self.kind.encode() + b"\0" + canonical(self))
        return "sha256:" + h.hexdigest()


# -- sources ----------------------------------------------------------------------


@dataclass(frozen=True)
class ImageSource(Op):
    """A base image for one platform; ``manifest`` is the pinned manifest digest when resolved."""

    kind: ClassVar[str] = "image"
    ref: str
    platform: str
    manifest: str = ""
    config: str = _meta()  # canonical JSON of the image config (determined by ``manifest``)


@dataclass(frozen=True)
class LocalSource(Op):
    """Files of a local context that survive ``.dockerignore``, narrowed to ``include``.

    ``content`` hashes the selected files' contents and metadata (never mtimes
    or absolute paths); ``name`` and ``path`` say where the executor reads them.
    """

    kind: ClassVar[str] = "local"
    content: str
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()  # .dockerignore patterns, relative to the context root
    exclude_selected: tuple[str, ...] = ()  # COPY --exclude patterns, relative to each include
    name: str = _meta("context")
    path: str = _meta()


@dataclass(frozen=True)
class HttpSource(Op):
    """``ADD <url>``: the download (keyed by URL and the checksum when given)."""

    kind: ClassVar[str] = "http"
    url: str
    checksum: str = ""
    filename: str = ""


@dataclass(frozen=True)
class GitSource(Op):
    """``ADD <git url>`` or a git build context."""

    kind: ClassVar[str] = "git"
    url: str
    ref: str = ""
    subdir: str = ""
    keep_git_dir: bool = False
    checksum: str = ""
    commit: str = ""  # what ``ref`` pointed at when the graph was planned, so a moved branch reruns


# -- exec -------------------------------------------------------------------------


@dataclass(frozen=True)
class ExecMount:
    """One mount of an :class:`Exec`; ``input`` is an op digest (``SCRATCH`` for none).

    For ``secret`` and ``ssh`` only ids and mount options exist; the content is
    never known to the plan. For ``cache`` the contents never enter a key.
    """

    type: str  # bind | cache | tmpfs | secret | ssh
    target: str
    input: str = SCRATCH
    selector: str = ""  # path inside ``input`` (bind/cache ``source``)
    readonly: bool = False
    id: str = ""
    sharing: str = ""
    required: bool = False
    mode: int | None = None
    uid: int | None = None
    gid: int | None = None
    size: int = 0
    env: str | None = None
    # the target whose ``secret``/``ssh`` entries serve the mount; an op shared by several
    # targets keeps the first one's, as a BuildKit cache hit keyed by the id would
    scope: str = _meta()


@dataclass(frozen=True)
class InlineFile:
    """A heredoc script mounted under ``/dev/pipes/`` for the process."""

    name: str
    data: str
    mode: int = 0o755


@dataclass(frozen=True)
class HostIP:
    """An ``/etc/hosts`` line a RUN gets (bake's ``extra-hosts``)."""

    host: str
    ip: str


@dataclass(frozen=True)
class Ulimit:
    """A resource limit of a RUN's process (bake's ``ulimits``); -1 is unlimited."""

    name: str  # as ``ulimit`` names it: nofile, nproc, ...
    soft: int
    hard: int


@dataclass(frozen=True)
class Exec(Op):
    """Run a process on ``root`` with mounts; the result is the changed root."""

    kind: ClassVar[str] = "exec"
    root: str
    args: tuple[str, ...]
    env: tuple[str, ...] = ()  # "K=V", in config order
    cwd: str = "/"
    user: str = ""
    mounts: tuple[ExecMount, ...] = ()
    network: str = "default"
    security: str = "sandbox"
    platform: str = ""
    files: tuple[InlineFile, ...] = ()
    # proxy variables reach the process but, as in BuildKit, not the key
    proxy_env: tuple[str, ...] = _meta(())
    # the target's extra-hosts, shm-size and ulimits: part of the key, as in BuildKit's ExecOp
    extra_hosts: tuple[HostIP, ...] = _optional(())
    shm_size: int = _optional(0)  # bytes of /dev/shm; 0 is BuildKit's default (64m)
    ulimits: tuple[Ulimit, ...] = _optional(())

    @property
    def inputs(self) -> tuple[str, ...]:
        out = [self.root] if self.root else []
        out.extend(m.input for m in self.mounts if m.input and m.input not in out)
        return tuple(out)


# -- file -------------------------------------------------------------------------


@dataclass(frozen=True)
class Copy:
    """Copy ``src`` from input ``source`` (index into :attr:`FileOp.sources`) to ``dest``.

    ``owner`` is a ``--chown`` value resolved against the destination's
    ``/etc/passwd`` at execution; ``mode`` a ``--chmod`` value (octal or symbolic).
    """

    source: int
    src: str
    dest: str
    owner: str = ""
    mode: str = ""
    follow_symlinks: bool = True
    contents_only: bool = True
    allow_wildcard: bool = True
    allow_empty_wildcard: bool = True
    create_dest_path: bool = True
    parents: bool = False
    exclude: tuple[str, ...] = ()
    unpack: bool = False
    type: str = "copy"


@dataclass(frozen=True)
class Mkdir:
    path: str
    mode: int = 0o755
    owner: str = ""
    make_parents: bool = True
    type: str = "mkdir"


@dataclass(frozen=True)
class Mkfile:
    """Write ``data`` to ``path``: a heredoc ``COPY``, which BuildKit writes to scratch with
    ``mode`` and then copies to ``path`` with ``chmod`` (a ``--chmod`` value, octal or symbolic)."""

    path: str
    data: str
    mode: int = 0o644
    owner: str = ""
    type: str = "mkfile"
    chmod: str = _optional("")


@dataclass(frozen=True)
class Rm:
    path: str
    allow_not_found: bool = True
    allow_wildcard: bool = False
    type: str = "rm"


FileAction = Copy | Mkdir | Mkfile | Rm


@dataclass(frozen=True)
class FileOp(Op):
    """Filesystem actions applied in order on ``root`` (``SCRATCH`` for an empty one)."""

    kind: ClassVar[str] = "file"
    root: str
    actions: tuple[FileAction, ...]
    sources: tuple[str, ...] = ()  # op digests that Copy actions read from
    platform: str = ""

    @property
    def inputs(self) -> tuple[str, ...]:
        out = [self.root] if self.root else []
        out.extend(s for s in self.sources if s and s not in out)
        return tuple(out)


# -- merge ------------------------------------------------------------------------


@dataclass(frozen=True)
class Merge(Op):
    """Layer ``layers`` on top of each other, first at the bottom (``COPY --link``)."""

    kind: ClassVar[str] = "merge"
    layers: tuple[str, ...]

    @property
    def inputs(self) -> tuple[str, ...]:
        return tuple(d for d in self.layers if d)
