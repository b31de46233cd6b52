"""Git build contexts: ``https://host/repo.git#ref:subdir``, ``git@host:repo``, ``git://``, ``ssh://``.

A git context is fetched with the ``git`` program, as BuildKit's git source does: a
shallow fetch of the ref (default: the remote's HEAD) into a bare repository kept
under ``<state>/git/<key>/`` (key: the URL and ref), then the commit's tree is
checked out once into ``<state>/git/<key>/trees/<commit>/``. The graph then treats
that tree (or its ``subdir``) like a local context, so the context's hash is the
checked-out files' content with ``.dockerignore`` applied, never the URL. The
remote is asked for the ref on every build (a branch may move); a full commit id
already checked out needs no network.

Credentials in a URL (``https://user:token@host/...``) never appear in a message.
Which strings are git URLs, and how they split into remote, ref and subdir, is
:mod:`bakec.util.gitref`'s job; this module only fetches.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import posixpath
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from bakec.errors import BakecError, EnvironmentProblem
from bakec.state import resolve_state_dir
from bakec.util.gitref import GitRef, parse_git_url, redact_text

_COMMIT = re.compile(r"^[0-9a-f]{40}$|^[0-9a-f]{64}$")
_KEEP_TREES = 3  # checkouts kept per URL and ref (older ones may still be read by a running build)
# One fetch per process and ref, shared by all fetchers: the worker reads the tree planning fetched.
_FETCHED: dict[tuple[Path, GitRef], Path] = {}


@dataclass(frozen=True)
class GitCheckout:
    """A fetched git context: the commit its ref pointed at, and the directory holding it (subdir applied)."""

    commit: str
    path: Path


class GitFetcher:
    """Fetches git contexts into ``root`` (``<state>/git``) and returns their checked-out trees."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root).absolute()

    @classmethod
    def default(cls) -> GitFetcher:
        """The fetcher of the default state dir (``bakec plan`` and library use)."""

        return cls(resolve_state_dir() / "git")

    def checkout(self, url: str) -> GitCheckout:
        """Fetch the context ``url`` names (once per process): its commit and checked-out directory."""
        ref = parse_git_url(url)
        found = _FETCHED.get((self.root, ref))
        if found is None:
            found = _FETCHED[(self.root, ref)] = self._fetch(ref)
        return GitCheckout(found.relative_to(self.root).parts[2], found)  # <key>/trees/<commit>[/subdir]

    def context_dir(self, url: str) -> Path:
        """The directory holding the context ``url`` names (its subdir of the checked-out tree)."""
        return self.checkout(url).path

    def commit(self, url: str) -> str:
        """The commit ``url``'s ref points at (fetching it as :meth:`checkout` does)."""
        return self.checkout(url).commit

    # -- fetching ---------------------------------------------------------------------
    def _fetch(self, ref: GitRef) -> Path:
        if shutil.which("git") is None:
            raise EnvironmentProblem(
                "git is needed for git contexts but is not installed (apt-get install git)"
            )
        key = hashlib.sha256(f"{ref.remote}#{ref.ref}".encode()).hexdigest()[:32]
        base = self.root / key
        base.mkdir(parents=True, exist_ok=True)
        with open(base / "lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            tree = self._checkout(ref, base)
        selected = tree / ref.subdir if ref.subdir else tree
        if not selected.is_dir() or selected.is_symlink():
            raise BakecError(f"failed to read git context {ref.shown}: subdir {ref.subdir!r} not found")
        return selected

    def _checkout(self, ref: GitRef, base: Path) -> Path:
        repo = base / "repo"
        trees = base / "trees"
        if _COMMIT.match(ref.ref) and (trees / ref.ref).is_dir():
            os.utime(trees / ref.ref)
            return trees / ref.ref
        if not (repo / "HEAD").exists():
            shutil.rmtree(repo, ignore_errors=True)
            self._git(ref, "init", "-q", "--bare", str(repo))
        want = ref.ref or "HEAD"
        self._git(
            ref, "-C", str(repo), "fetch", "-q", "--depth=1", "--no-tags", "--force", "--", ref.remote, want
        )
        commit = self._git(ref, "-C", str(repo), "rev-parse", "--verify", "FETCH_HEAD^{commit}").strip()
        tree = trees / commit
        if not tree.is_dir():
            trees.mkdir(exist_ok=True)
            tmp = trees / f".tmp-{os.getpid()}"
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir()
            env = {"GIT_INDEX_FILE": str(base / "index")}
            self._git(
                ref,
                f"--git-dir={repo}",
                f"--work-tree={tmp}",
                "checkout",
                "-q",
                "-f",
                commit,
                "--",
                ".",
                env=env,
            )
            (base / "index").unlink(missing_ok=True)
            if (tmp / ".gitmodules").is_file():
                self._submodules(ref, repo, commit, tmp)
            os.rename(tmp, tree)
        os.utime(tree)
        self._prune(trees, keep=tree)
        return tree

    def _submodules(self, ref: GitRef, repo: Path, commit: str, tree: Path) -> None:
        """Check out each submodule at the commit ``commit`` records, as BuildKit does (recursively)."""
        listed = subprocess.run(
            [
                "git",
                "config",
                "-f",
                str(tree / ".gitmodules"),
                "--get-regexp",
                r"^submodule\..*\.(path|url)$",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        modules: dict[str, dict[str, str]] = {}
        for line in listed.stdout.splitlines():
            key, _, value = line.partition(" ")
            name, _, field = key[len("submodule.") :].rpartition(".")
            modules.setdefault(name, {})[field] = value
        for module in modules.values():
            path, url = module.get("path", ""), module.get("url", "")
            entry = self._git(ref, f"--git-dir={repo}", "ls-tree", commit, "--", path).split()
            if not path or not url or len(entry) < 3 or entry[1] != "commit":
                continue
            if url.startswith(("./", "../")):  # relative to the superproject's URL, as git resolves it
                joined = posixpath.normpath(posixpath.join(ref.remote.rstrip("/"), url))
                url = joined.replace(":/", "://", 1) if "://" in ref.remote else joined
            source = self.context_dir(f"{url}#{entry[2]}")
            dest = tree / path
            dest.mkdir(parents=True, exist_ok=True)
            subprocess.run(["cp", "-a", "--", f"{source}/.", str(dest)], check=True, capture_output=True)

    @staticmethod
    def _prune(trees: Path, keep: Path) -> None:
        old = sorted(
            (p for p in trees.iterdir() if p != keep and not p.name.startswith(".")),
            key=lambda p: p.stat().st_mtime,
            reverse=True,
        )
        for path in old[_KEEP_TREES - 1 :]:
            shutil.rmtree(path, ignore_errors=True)

    @staticmethod
    def _git(ref: GitRef, *args: str, env: dict[str, str] | None = None) -> str:
        full_env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", **(env or {})}
        proc = subprocess.run(
            ["git", "-c", "advice.detachedHead=false", *args],
            capture_output=True,
            text=True,
            env=full_env,
            umask=0o022,
            stdin=subprocess.DEVNULL,
            check=False,
        )
        if proc.returncode != 0:
            detail = redact_text(proc.stderr.strip(), ref.remote) or f"git exited with {proc.returncode}"
            raise BakecError(f"failed to fetch git context {ref.shown}: {detail.splitlines()[-1]}")
        return proc.stdout
