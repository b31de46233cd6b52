"""Content keys of local contexts: what survives ``.dockerignore``, hashed by content.

A :class:`ContextIndex` lists a context's files once (honouring the frontend's
``.dockerignore`` matcher) with, per path, the metadata that reaches the build
(relative path, type, permission bits, size, symlink target) and a content
hash. :meth:`ContextIndex.digest` hashes only the files a COPY selects, so a
change to one file changes only the ops downstream of the COPYs that read it,
as BuildKit's content-based cache keys do.

Never hashed: mtimes, absolute paths, inode numbers, the machine. Ownership is
hashed as it arrives in the build, which is always 0:0 (the client resets it
while sending), so two checkouts by different users give the same keys.

File contents are read only when a file's stat (size, mtime_ns, inode, ctime)
differs from the last time; those stats live in a small SQLite file under the
cache directory, so an unchanged 20,000-file context costs a walk, not a read.
The same file keeps, per context, a digest of the whole tree's stats with its
entries and the digests computed from them: when a walk finds every stat as it
was, the index and its digests come back as they were, with no per-file work.
The walk is the cost of a no-op rebuild (one ``lstat`` per entry, which no
other tool avoids either). A context without ignore patterns is listed by one
``find`` process (:mod:`bakec.graph.listing`, started by :meth:`ContextHasher.prefetch`
while the Dockerfile compiles) whose raw output is hashed and parsed only when
it differs. Otherwise, and where ``find`` is missing, the walk is a tight loop:
``scandir`` on directory descriptors (``fstatat`` on a name), plain tuples
instead of ``stat_result`` objects, and one sha256 over the marshalled tuples.
"""

from __future__ import annotations

import bisect
import hashlib
import marshal
import os
import posixpath
import sqlite3
import stat
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

from bakec.dockerfile.dockerignore import walk
from bakec.errors import BakecError, PatternError
from bakec.graph import listing
from bakec.graph.listing import Stat
from bakec.util.patternmatch import PatternMatcher, compile_go_pattern, has_wildcards

__all__ = ["ContextHasher", "ContextIndex", "Entry", "default_cache_dir", "local_files", "select_key"]

_RACY_SECONDS = 2.0  # files changed this recently may change again within the same mtime tick
_CHUNK = 1 << 20


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/bakec``, else ``~/.cache/bakec``."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "bakec"


@dataclass(frozen=True, slots=True)
class Entry:
    """One path of a context as the build sees it."""

    path: str  # relative, "/"-separated
    type: str  # f d l p c b s
    mode: int  # permission bits incl. setuid/setgid/sticky
    size: int = 0
    link: str = ""  # symlink target, verbatim
    content: str = ""  # sha256 of a regular file's bytes; "major,minor" of a device

    def record(self) -> str:
        return f"{self.path}\0{self.type}\0{self.mode:o}\0{self.size}\0{self.link}\0{self.content}\n"


class ContextIndex:
    """The files of one context (after ``.dockerignore``), sorted by path."""

    def __init__(
        self,
        name: str,
        root: Path,
        exclude: tuple[str, ...],
        entries: list[Entry] | Callable[[], list[Entry]],
        digests: dict[tuple[tuple[str, ...], tuple[str, ...]], str] | None = None,
    ) -> None:
        """``entries`` may be a loader, called on first use; ``digests`` are known ``digest()`` answers."""
        self.name = name
        self.root = root
        self.exclude = exclude
        self._entries: list[Entry] | None = None
        self._loader = entries if callable(entries) else None
        if not callable(entries):
            self._set_entries(entries)
        self._digests: dict[tuple[tuple[str, ...], tuple[str, ...]], str] = dict(digests or {})

    @property
    def entries(self) -> list[Entry]:
        if self._entries is None:
            assert self._loader is not None
            self._set_entries(self._loader())
        assert self._entries is not None
        return self._entries

    def _set_entries(self, entries: list[Entry]) -> None:
        self._entries = entries
        self._paths = [e.path for e in entries]
        self._by_path = {e.path: e for e in entries}

    def __len__(self) -> int:
        return len(self.entries)

    def select(self, sources: Sequence[str], exclude: Sequence[str] = ()) -> list[Entry]:
        """Entries a COPY of ``sources`` reads (directories recursively, symlink sources followed).

        ``exclude`` are COPY ``--exclude`` patterns, matched relative to each source's root.
        """
        matcher = PatternMatcher(exclude) if exclude else None
        chosen: dict[str, Entry] = {}
        for src in sources:
            self._select_one(_clean_source(src), chosen, 0, matcher)
        return [chosen[p] for p in sorted(chosen)]

    def digest(self, sources: Sequence[str] = ("/",), exclude: Sequence[str] = ()) -> str:
        """sha256 over the selected entries' records (paths relative to the context root)."""
        key = (select_key(sources), tuple(exclude))
        found = self._digests.get(key)
        if found is None:
            h = hashlib.sha256()
            for entry in self.select(key[0], key[1]):
                h.update(entry.record().encode("utf-8", "surrogateescape"))
            found = self._digests[key] = "sha256:" + h.hexdigest()
        return found

    def files(self, sources: Sequence[str] = ("/",), exclude: Sequence[str] = ()) -> dict[str, str]:
        """Path → a short fingerprint of each selected entry: what ``bakec why`` compares between builds."""
        return {e.path: _fingerprint(e) for e in self.select(sources, exclude)}

    def _select_one(
        self, cleaned: str, chosen: dict[str, Entry], depth: int, matcher: PatternMatcher | None
    ) -> None:
        def take(entry: Entry, root: str) -> None:
            if matcher is not None:
                rel = entry.path[len(root) + 1 :] if root else entry.path
                if matcher.matches(rel or posixpath.basename(entry.path)):
                    return
            chosen[entry.path] = entry

        entries = self.entries  # loads them (and the path tables) when they came from the tree cache
        if cleaned == "":
            for entry in entries:
                take(entry, "")
            return
        if has_wildcards(cleaned):
            try:  # each segment compiled once, matched as Go's filepath.Match (a bad pattern: nothing)
                pats = [compile_go_pattern(p).fullmatch for p in cleaned.split("/")]
            except PatternError:
                return
            for entry in entries:
                segs = entry.path.split("/")
                if len(segs) >= len(pats) and all(m(s) for m, s in zip(pats, segs, strict=False)):
                    take(entry, "/".join(segs[: len(pats) - 1]))
                    if len(segs) == len(pats):
                        self._follow(entry, chosen, depth, matcher)
            return
        i = bisect.bisect_left(self._paths, cleaned)
        while i < len(self._paths) and self._paths[i].startswith(cleaned):
            path = self._paths[i]
            if path == cleaned:
                take(entries[i], posixpath.dirname(cleaned))
            elif path.startswith(cleaned + "/"):
                take(entries[i], cleaned)
            i += 1
        named = self._by_path.get(cleaned)
        if named is not None:
            self._follow(named, chosen, depth, matcher)

    def _follow(
        self, entry: Entry, chosen: dict[str, Entry], depth: int, matcher: PatternMatcher | None
    ) -> None:
        # a symlink named as a source is followed: the target's content is copied
        if entry.type == "l" and depth < 16:
            target = posixpath.join(posixpath.dirname("/" + entry.path), entry.link)
            self._select_one(_clean_source(target), chosen, depth + 1, matcher)


def _fingerprint(entry: Entry) -> str:
    """Type, mode and content (or link target) of an entry, short: a change shows, a collision does not matter."""
    return f"{entry.type}{entry.mode:o}:{entry.content[:16] or entry.link}"


def local_files(
    nodes: Mapping[str, Mapping[str, Any]],
    hasher: ContextHasher,
    known: Callable[[str], bool] = lambda d: False,
) -> dict[str, dict[str, str]]:
    """Local source op digest → :meth:`ContextIndex.files` of what it selects (``known`` ones skipped).

    ``hasher`` must be the one that planned ``nodes``: its indexes are memoised, so nothing is walked again.
    """
    out: dict[str, dict[str, str]] = {}
    for digest, data in nodes.items():
        op = data["op"]
        if op.kind != "local" or known(digest):
            continue
        index = hasher.index(op.path, op.exclude, op.name)
        out[digest] = index.files(op.include, op.exclude_selected)
    return out


def select_key(sources: Iterable[str]) -> tuple[str, ...]:
    """Canonical form of a COPY's sources: cleaned, relative to the root, sorted, unique."""
    return tuple(sorted({_clean_source(s) for s in sources}))


def _clean_source(src: str) -> str:
    # ".." cannot escape the context: "../a" is "/a"
    return posixpath.normpath("/" + src).lstrip("/").rstrip("/") if src not in ("", ".", "/") else ""


class ContextHasher:
    """Indexes local contexts, reusing content hashes of files whose stat is unchanged."""

    def __init__(self, cache_dir: Path | str | None = None, *, persist: bool = True) -> None:
        self.cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        self.persist = persist
        self._indexes: dict[tuple[str, str, tuple[str, ...]], ContextIndex] = {}
        self._db: sqlite3.Connection | None = None
        # per index: its tree-cache key, the digest of the walk's stats, and the digests the cache held
        # (None: store the tree)
        self._trees: list[tuple[ContextIndex, tuple[str, str], bytes, dict[Any, str] | None]] = []
        # context root -> its prefetched find listing (None once used: a root is listed once per run)
        self._listings: dict[str, listing.Listing | None] = {}
        self.files_read = 0  # how many files were actually read (for tests and benchmarks)
        self.trees_reused = 0  # how many indexes came whole from the tree cache
        # path as given -> resolved: 2,000 targets on one context resolve it once
        self._real: dict[str, Path] = {}

    # -- public ------------------------------------------------------------------
    def index(self, root: Path | str, exclude: Sequence[str] = (), name: str = "context") -> ContextIndex:
        """The index of ``root`` with ``exclude`` (.dockerignore patterns), memoised per run."""
        root = self._resolve(root)
        patterns = tuple(exclude)
        key = (name, str(root), patterns)
        found = self._indexes.get(key)
        if found is None:
            if not root.is_dir():
                raise BakecError(f"unable to prepare context: path {str(root)!r} not found")
            found = self._indexes[key] = self._index(name, root, patterns)
        return found

    def prefetch(self, root: Path | str, exclude: Sequence[str] = ()) -> None:
        """Start listing ``root`` in the background, for an :meth:`index` to come (no ignore patterns only)."""
        root = str(self._resolve(root))
        if not exclude and root not in self._listings and os.path.isdir(root):
            self._listings[root] = listing.start(root)

    def _resolve(self, root: Path | str) -> Path:
        found = self._real.get(str(root))
        if found is None:
            found = self._real[str(root)] = Path(root).resolve()
        return found

    def close(self) -> None:
        """Save the trees and digests this run learned, and close the cache."""
        for unused in self._listings.values():
            if unused is not None:
                unused.cancel()
        self._listings = {}
        trees, self._trees = self._trees, []
        for index, tree_key, stats_digest, known in trees:
            if known is None:
                self._store_tree(tree_key, stats_digest, index.entries, index._digests)
            elif index._digests != known:
                self._store_digests(tree_key, index._digests)
        if self._db is not None:
            self._db.close()
            self._db = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- scanning ----------------------------------------------------------------
    def _index(self, name: str, root: Path, patterns: tuple[str, ...]) -> ContextIndex:
        raw = None
        if not patterns:
            found, self._listings[str(root)] = self._listings.get(str(root)), None
            raw = (found or listing.start(str(root))).output()
        if raw is not None:  # the digest of find's records; parsed only when the tree cache misses
            stats_digest = hashlib.sha256(raw).digest()

            def stats_of() -> list[Stat]:
                return listing.parse(str(root), raw)
        else:
            walked = _walk(root, patterns)
            stats_digest = hashlib.sha256(marshal.dumps(walked)).digest()

            def stats_of():
                return walked

        if not self.persist:
            return ContextIndex(name, root, patterns, self._scan(root, stats_of()))
        tree_key = (str(root), "\0".join(patterns))
        stored = self._load_tree(tree_key)
        if stored is not None and stored[0] == stats_digest:
            self.trees_reused += 1
            index = ContextIndex(
                name,
                root,
                patterns,
                lambda: self._load_entries(tree_key, stats_digest) or self._scan(root, stats_of()),
                stored[1],
            )
            self._trees.append((index, tree_key, stats_digest, stored[1]))
            return index
        stats = stats_of()
        index = ContextIndex(name, root, patterns, self._scan(root, stats))
        # a file changed this recently may change again within the same mtime tick: the tree is not kept
        # (a directory's entries and mode are compared as such, so its own times do not matter)
        newest = max((s[3] for s in stats if not stat.S_ISDIR(s[1])), default=0)
        if newest / 1e9 < time.time() - _RACY_SECONDS:
            self._trees.append((index, tree_key, stats_digest, None))
        return index

    def _scan(self, root: Path, stats: list[Stat]) -> list[Entry]:
        cached = self._load(root)
        fresh: list[tuple[str, int, int, int, int, str]] = []
        now = time.time()
        entries: list[Entry] = []
        root_s = str(root)
        for rel, mode, size, mtime_ns, ino, ctime_ns, rdev in stats:
            full = root_s + "/" + rel
            perm = stat.S_IMODE(mode)
            if stat.S_ISREG(mode):
                sig = (size, mtime_ns, ino, ctime_ns)
                hit = cached.get(full)
                if hit is not None and hit[:4] == sig:
                    digest = hit[4]
                else:
                    digest = self._hash_file(full, rel)
                    if mtime_ns / 1e9 < now - _RACY_SECONDS:
                        fresh.append((full, *sig, digest))
                entries.append(Entry(rel, "f", perm, size, "", digest))
            elif stat.S_ISDIR(mode):
                entries.append(Entry(rel, "d", perm))
            elif stat.S_ISLNK(mode):
                entries.append(Entry(rel, "l", perm, 0, os.readlink(full)))
            elif stat.S_ISFIFO(mode):
                entries.append(Entry(rel, "p", perm))
            elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
                kind = "c" if stat.S_ISCHR(mode) else "b"
                dev = f"{os.major(rdev)},{os.minor(rdev)}"
                entries.append(Entry(rel, kind, perm, 0, "", dev))
            # sockets are not sent by the client
        entries.sort(key=lambda e: e.path)
        if fresh:
            self._store(fresh)
        return entries

    def _hash_file(self, full: str, rel: str) -> str:
        h = hashlib.sha256()
        try:
            with open(full, "rb") as f:
                while chunk := f.read(_CHUNK):
                    h.update(chunk)
        except OSError as exc:
            raise BakecError(f"unable to read context file {rel}: {exc.strerror}") from None
        self.files_read += 1
        return h.hexdigest()

    # -- the stat cache ----------------------------------------------------------
    def _conn(self) -> sqlite3.Connection | None:
        if not self.persist:
            return None
        if self._db is None:
            try:
                self.cache_dir.mkdir(parents=True, exist_ok=True)
                db = sqlite3.connect(self.cache_dir / "context-hashes.sqlite", timeout=10)
                db.execute("PRAGMA journal_mode=WAL")
                db.execute(
                    "CREATE TABLE IF NOT EXISTS files (path TEXT PRIMARY KEY, size INTEGER, mtime_ns INTEGER,"
                    " ino INTEGER, ctime_ns INTEGER, digest TEXT) WITHOUT ROWID"
                )
                # the small columns first: a no-op build reads stats and digests without paging
                # through the entries blob (SQLite stores a row's columns in order)
                db.execute(
                    "CREATE TABLE IF NOT EXISTS tree_index (root TEXT, patterns TEXT, stats BLOB, digests BLOB,"
                    " entries BLOB, PRIMARY KEY (root, patterns)) WITHOUT ROWID"
                )
                db.execute("DROP TABLE IF EXISTS trees")  # the former layout (entries before digests)
            except (OSError, sqlite3.Error):
                # the cache is an optimisation: without a writable cache dir, hash everything
                self.persist = False
                return None
            self._db = db
        return self._db

    def _load(self, root: Path) -> dict[str, tuple[int, int, int, int, str]]:
        db = self._conn()
        if db is None:
            return {}
        prefix = str(root).rstrip("/") + "/"
        try:
            rows = db.execute(
                "SELECT path, size, mtime_ns, ino, ctime_ns, digest FROM files WHERE path >= ? AND path < ?",
                (prefix, prefix[:-1] + "0"),
            )
        except UnicodeEncodeError:  # a context path that is not UTF-8 has no rows
            return {}
        return {r[0]: (r[1], r[2], r[3], r[4], r[5]) for r in rows}

    def _load_tree(self, key: tuple[str, str]) -> tuple[bytes, dict[Any, str]] | None:
        """The stats digest and digests kept for a context (root, .dockerignore patterns), if any."""
        db = self._conn()
        if db is None:
            return None
        try:
            row = db.execute(
                "SELECT stats, digests FROM tree_index WHERE root = ? AND patterns = ?", key
            ).fetchone()
            return (bytes(row[0]), marshal.loads(row[1])) if row is not None else None
        except (sqlite3.Error, ValueError, EOFError, TypeError):
            return None

    def _load_entries(self, key: tuple[str, str], stats_digest: bytes) -> list[Entry] | None:
        """The entries kept with ``stats_digest`` (None if another build replaced them meanwhile)."""
        db = self._conn()
        if db is None:
            return None
        try:
            row = db.execute(
                "SELECT stats, entries FROM tree_index WHERE root = ? AND patterns = ?", key
            ).fetchone()
            if row is None or bytes(row[0]) != stats_digest:
                return None
            return [Entry(*e) for e in marshal.loads(row[1])]
        except (sqlite3.Error, ValueError, EOFError, TypeError):
            return None

    def _store_tree(
        self, key: tuple[str, str], stats_digest: bytes, entries: list[Entry], digests: dict[Any, str]
    ) -> None:
        db = self._conn()
        if db is None:
            return
        rows = [(e.path, e.type, e.mode, e.size, e.link, e.content) for e in entries]
        try:
            with db:
                db.execute(
                    "INSERT OR REPLACE INTO tree_index VALUES (?, ?, ?, ?, ?)",
                    (*key, stats_digest, marshal.dumps(digests), marshal.dumps(rows)),
                )
        except (sqlite3.Error, UnicodeEncodeError):
            pass

    def _store_digests(self, key: tuple[str, str], digests: dict[Any, str]) -> None:
        db = self._conn()
        if db is None:
            return
        try:
            with db:
                db.execute(
                    "UPDATE tree_index SET digests = ? WHERE root = ? AND patterns = ?",
                    (marshal.dumps(digests), *key),
                )
        except sqlite3.Error:
            pass

    def _store(self, rows: list[tuple[str, int, int, int, int, str]]) -> None:
        db = self._conn()
        if db is None:
            return
        # SQLite text is UTF-8: a path that is not (kept by Python as surrogates) is hashed every time
        rows = [r for r in rows if _is_utf8(r[0])]
        try:
            with db:
                db.executemany("INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?, ?)", rows)
        except sqlite3.Error:
            pass


def _is_utf8(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def _walk(root: Path, patterns: tuple[str, ...]) -> list[Stat]:
    """The paths the client would send, each with its lstat, in walk order."""
    root_s = str(root)
    if patterns:
        out: list[Stat] = []
        for rel in walk(root, patterns):
            try:
                st = os.lstat(os.path.join(root_s, rel))
            except OSError as exc:
                raise BakecError(f"unable to read context file {rel}: {exc.strerror}") from None
            out.append((rel, st.st_mode, st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns, st.st_rdev))
        return out
    # nothing ignored: a plain scandir walk (about 3x fewer syscalls than the matcher's walk), each
    # directory opened relative to the root's descriptor and its entries stat'ed relative to its own
    out = []
    is_dir = stat.S_ISDIR
    try:
        top = os.open(root_s, os.O_RDONLY | os.O_DIRECTORY)
    except OSError as exc:
        raise BakecError(f"unable to read context directory .: {exc.strerror}") from None
    try:
        pending = [""]
        while pending:
            rel_dir = pending.pop()
            prefix = rel_dir + "/" if rel_dir else ""
            try:
                fd = os.open(rel_dir or ".", os.O_RDONLY | os.O_DIRECTORY, dir_fd=top)
            except OSError as exc:
                raise BakecError(
                    f"unable to read context directory {rel_dir or '.'}: {exc.strerror}"
                ) from None
            try:
                with os.scandir(fd) as it:  # scandir reads a duplicate of fd: both are closed
                    for e in it:
                        st = e.stat(follow_symlinks=False)
                        rel = prefix + e.name
                        out.append(
                            (
                                rel,
                                st.st_mode,
                                st.st_size,
                                st.st_mtime_ns,
                                st.st_ino,
                                st.st_ctime_ns,
                                st.st_rdev,
                            )
                        )
                        if is_dir(st.st_mode):
                            pending.append(rel)
            except OSError as exc:
                raise BakecError(
                    f"unable to read context directory {rel_dir or '.'}: {exc.strerror}"
                ) from None
            finally:
                os.close(fd)
    finally:
        os.close(top)
    return out
