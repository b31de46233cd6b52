"""The Dockerfile conformance corpus's rules, shared by every test that replays its cases.

``tests/data/conformance/dockerfile/README.md`` says how a case's context is
prepared and how a result is compared:

* :func:`make_context`: copy ``context/``, normalise modes (dirs 0755, files
  0644), apply ``context_setup``;
* :func:`walk` / :func:`fs_result`: a real directory as ``expected-fs.json``
  lists it (diffed against the base image when one is given);
* :func:`layer_entries`: a layer tar as ``expected-layers.json`` lists it;
* :class:`LayerFS` / :func:`image_fs`: the final root filesystem of an image,
  assembled from its layer tars; :func:`exported_fs`: a local export with owners
  and mtimes from those layers, as the corpus takes them;
* :func:`config_view`: an image config as ``expected-config.json`` holds it.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shutil
import stat
import tarfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from corpus import conformance

CORPUS = conformance("dockerfile")
BUSYBOX_APPLETS = ("sh", "ls", "echo", "cat", "mkdir", "touch", "sleep")

# the fields that make an entry "identical to the base image"
COMPARED = ("type", "mode", "uid", "gid", "size", "sha256", "target")


def cases() -> list[Path]:
    """Every case folder of the corpus, sorted."""
    return sorted(p for p in CORPUS.iterdir() if (p / "case.json").is_file())


def case_spec(case: Path) -> dict[str, Any]:
    return json.loads((case / "case.json").read_text())


def expected_fs(case: Path) -> list[dict[str, Any]]:
    """expected-fs.json without ``content`` (only for reading; ``sha256`` is authoritative)."""
    out = json.loads((case / "expected-fs.json").read_text())
    for e in out:
        e.pop("content", None)
    return out


def expected_layers(case: Path) -> list[list[dict[str, Any]]]:
    return json.loads((case / "expected-layers.json").read_text())


def copy_normalised(src: Path, dest: Path) -> Path:
    """A copy of ``src`` with every directory 0755 and every regular file 0644."""
    shutil.copytree(src, dest, symlinks=True)
    for dirpath, _dirnames, filenames in os.walk(dest):
        os.chmod(dirpath, 0o755)
        for name in filenames:
            p = os.path.join(dirpath, name)
            if not os.path.islink(p):
                os.chmod(p, 0o644)
    return dest


def make_context(case: Path, dest: Path) -> Path:
    """The case's context, copied to ``dest/context`` and set up as the corpus README prescribes."""
    ctx = copy_normalised(case / "context", dest / "context")
    for op in case_spec(case).get("context_setup", []):
        kind, args = op[0], op[1:]
        if kind == "chmod":
            os.chmod(ctx / args[0], int(args[1], 8))
        elif kind == "mkdir":
            (ctx / args[0]).mkdir()
            os.chmod(ctx / args[0], int(args[1], 8))
        elif kind == "hardlink":
            os.link(ctx / args[0], ctx / args[1])
        elif kind == "symlink":
            os.symlink(args[0], ctx / args[1])
        elif kind == "chown":
            os.lchown(ctx / args[0], int(args[1]), int(args[2]))
        elif kind == "mtime":
            os.utime(ctx / args[0], (int(args[1]), int(args[1])), follow_symlinks=False)
        elif kind == "write":
            (ctx / args[0]).write_text(args[1])
        else:
            raise AssertionError(f"unknown context_setup op {kind}")
    return ctx


# -- real directories ---------------------------------------------------------------------------


def walk(root: Path) -> dict[str, dict[str, Any]]:
    """Every entry below ``root`` as expected-fs.json describes it (plus ``_mtime`` and ``_ino``)."""
    out: dict[str, dict[str, Any]] = {}
    inodes: dict[tuple[int, int], list[str]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            st = os.lstat(p)
            rel = "/" + os.path.relpath(p, root)
            e: dict[str, Any] = {
                "path": rel,
                "mode": f"{stat.S_IMODE(st.st_mode):04o}",
                "uid": st.st_uid,
                "gid": st.st_gid,
                "_mtime": st.st_mtime_ns,
            }
            if stat.S_ISDIR(st.st_mode):
                e["type"] = "dir"
            elif stat.S_ISLNK(st.st_mode):
                e["type"] = "symlink"
                e["target"] = os.readlink(p)
            elif stat.S_ISREG(st.st_mode):
                e["type"] = "file"
                e["size"] = st.st_size
                e["sha256"] = hashlib.sha256(Path(p).read_bytes()).hexdigest()
                if st.st_nlink > 1:
                    inodes.setdefault((st.st_dev, st.st_ino), []).append(rel)
            elif stat.S_ISFIFO(st.st_mode):
                e["type"] = "fifo"
            else:
                e["type"] = "other"
            out[rel] = e
        dirnames[:] = [d for d in dirnames if not os.path.islink(os.path.join(dirpath, d))]
    _hardlink_groups(out, inodes.values())
    return out


def _hardlink_groups(entries: dict[str, dict[str, Any]], groups: Iterable[list[str]]) -> None:
    for paths in groups:
        if len(paths) > 1:
            first = sorted(paths)[0]
            for p in paths:
                entries[p]["hardlink_group"] = first


def listing(
    now: dict[str, dict[str, Any]], base: dict[str, dict[str, Any]] | None = None, *, mtimes: bool = False
) -> list[dict[str, Any]]:
    """Entries as expected-fs.json lists them: sorted, diffed against ``base`` when given."""
    out = []
    for path in sorted(now):
        e = {k: v for k, v in now[path].items() if not k.startswith("_")}
        if mtimes and "_mtime" in now[path]:
            e["mtime"] = now[path]["_mtime"]
        if base is not None and path in base:
            b = base[path]
            if all(b.get(k) == e.get(k) for k in COMPARED) and "hardlink_group" not in e:
                continue
        out.append(e)
    if base is not None:
        for path in sorted(set(base) - set(now)):
            out.append({"path": path, "type": "deleted"})
        out.sort(key=lambda e: e["path"])
    return out


def fs_result(root: Path, base: dict[str, dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """The expected-fs.json view of the directory ``root`` (diffed against ``base`` when given)."""
    return listing(walk(root), base)


# -- layer tars ---------------------------------------------------------------------------------


def _open_layer(blob: bytes) -> tarfile.TarFile:
    if blob[:2] == b"\x1f\x8b":
        blob = gzip.decompress(blob)
    elif blob[:4] == b"\x28\xb5\x2f\xfd":
        import zstandard

        blob = zstandard.ZstdDecompressor().decompressobj().decompress(blob)
    return tarfile.open(fileobj=io.BytesIO(blob))


def layer_entries(blob: bytes, *, mtimes: bool = False) -> list[dict[str, Any]]:
    """A layer's tar entries in tar order, the way the corpus README derives expected-layers.json."""
    out: list[dict[str, Any]] = []
    with _open_layer(blob) as t:
        for m in t.getmembers():
            path = "/" + m.name.strip("/") if m.name.strip("/") not in ("", ".") else "/"
            if path.startswith("/./"):
                path = path[2:]
            base = os.path.basename(path)
            if base == ".wh..wh..opq":
                out.append({"path": os.path.dirname(path), "type": "opaque"})
                continue
            if base.startswith(".wh."):
                out.append({"path": os.path.join(os.path.dirname(path), base[4:]), "type": "whiteout"})
                continue
            e: dict[str, Any] = {"path": path, "mode": f"{m.mode & 0o7777:04o}", "uid": m.uid, "gid": m.gid}
            if m.isreg():
                f = t.extractfile(m)
                assert f is not None
                data = f.read()
                e.update(type="file", size=len(data), sha256=hashlib.sha256(data).hexdigest())
            elif m.isdir():
                e["type"] = "dir"
            elif m.issym():
                e.update(type="symlink", target=m.linkname)
            elif m.islnk():
                e.update(type="hardlink", target="/" + m.linkname.lstrip("/"))
            elif m.isfifo():
                e["type"] = "fifo"
            else:
                e["type"] = "other"
            if mtimes:
                e["mtime"] = int(m.mtime)
            out.append(e)
    return out


class LayerFS:
    """A root filesystem assembled in memory from layer entries (whiteouts and hard links applied)."""

    def __init__(self) -> None:
        self.entries: dict[str, dict[str, Any]] = {}
        self._inode: dict[str, int] = {}
        self._next = 0

    def _remove(self, path: str, *, children_only: bool = False) -> None:
        prefix = path.rstrip("/") + "/"
        for p in [p for p in self.entries if p.startswith(prefix) or (p == path and not children_only)]:
            del self.entries[p]
            self._inode.pop(p, None)

    def apply(self, layer: list[dict[str, Any]]) -> None:
        """Apply one layer's entries (from :func:`layer_entries` with mtimes)."""
        for e in layer:
            path = e["path"]
            if path == "/":
                continue
            if e["type"] == "whiteout":
                self._remove(path)
                continue
            if e["type"] == "opaque":
                self._remove(path, children_only=True)
                continue
            old = self.entries.get(path)
            if old is not None and not (old["type"] == "dir" and e["type"] == "dir"):
                self._remove(path)
            entry = {k: v for k, v in e.items() if k != "mtime"}
            entry["_mtime"] = e.get("mtime")
            if e["type"] == "hardlink":
                src = self.entries[e["target"]]
                entry = {**src, "path": path}
                self._inode[path] = self._inode[e["target"]]
            else:
                self._next += 1
                self._inode[path] = self._next
            self.entries[path] = entry

    def view(self) -> dict[str, dict[str, Any]]:
        """The entries with ``hardlink_group`` set, as :func:`walk` returns them."""
        out = {p: dict(e) for p, e in self.entries.items()}
        groups: dict[int, list[str]] = {}
        for p, e in out.items():
            if e["type"] == "file":
                groups.setdefault(self._inode[p], []).append(p)
        _hardlink_groups(out, groups.values())
        return out


def exported_fs(root: Path, layered: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """A local export walked like :func:`walk`, owners and mtimes taken from the image's layers.

    The local exporter writes files as the client's user, so the layers (``layered``, from
    :func:`image_fs`) are the truthful source of owners; mtimes come from them too.
    """
    out = walk(root)
    for path, e in out.items():
        src = layered.get(path)
        e["_mtime"] = src.get("_mtime") if src else None
        if src is not None:
            e["uid"], e["gid"] = src["uid"], src["gid"]
    return out


def image_fs(layers: list[list[dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    """The final root filesystem of an image made of ``layers`` (entries with mtimes)."""
    fs = LayerFS()
    for layer in layers:
        fs.apply(layer)
    return fs.view()


def strip_mtimes(layers: list[list[dict[str, Any]]]) -> list[list[dict[str, Any]]]:
    return [[{k: v for k, v in e.items() if k != "mtime"} for e in layer] for layer in layers]


# -- image config --------------------------------------------------------------------------------


def config_view(
    config: dict[str, Any], layer_count: int, base_digest: str | None, *, times: bool = False
) -> dict[str, Any]:
    """An image config as expected-config.json holds it."""
    history = []
    for h in config.get("history", []):
        created_by = h.get("created_by", "")
        if base_digest:
            created_by = created_by.replace(base_digest, "{BASE_DIGEST}")
        history.append({"created_by": created_by, "empty_layer": bool(h.get("empty_layer", False))})
    platform = f"{config.get('os')}/{config.get('architecture')}"
    if config.get("variant"):
        platform += f"/{config['variant']}"
    out: dict[str, Any] = {
        "config": config.get("config", {}),
        "history": history,
        "platform": platform,
        "layer_count": layer_count,
    }
    if config.get("author"):
        out["author"] = config["author"]
    if times:
        out["created"] = config.get("created")
        out["history_created"] = [h.get("created") for h in config.get("history", [])]
    return out
