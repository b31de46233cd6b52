"""Where the tests' reference data lives: the one module that names those paths.

The conformance corpora, the third-party schemas and the benchmark workload generator
are copies kept in the repository, so a clone runs every test on its own. ``../shared``
beside the checkout (or ``$BAKEC_SHARED_DIR``) is where new cases arrive from:
``tests/infra/test_shared_copy.py`` reports any drift and ``scripts/sync-shared``
refreshes the copies.
"""

from __future__ import annotations

import filecmp
import json
import os
from pathlib import Path
from typing import NamedTuple

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "tests" / "data"
CONFORMANCE = DATA / "conformance"
SCHEMAS = DATA / "schemas"
GEN_WORKLOADS = REPO / "bench" / "gen_workloads.py"

SHARED = Path(os.environ.get("BAKEC_SHARED_DIR") or REPO.parent / "shared")

# (copy, relative to the repository; its source, relative to ../shared)
MIRRORED: tuple[tuple[str, str], ...] = (
    ("tests/data/conformance", "conformance"),
    ("tests/data/schemas", "schemas"),
    ("bench/gen_workloads.py", "bench/gen_workloads.py"),
)


class Difference(NamedTuple):
    kind: str  # "missing" (in ../shared only), "differs" (other bytes), "extra" (in the copy only)
    path: str  # the copy's path, relative to the repository
    source: Path  # the file in ../shared (absent for "extra")

    def __str__(self) -> str:
        return f"{self.kind} {self.path}"


def conformance(name: str) -> Path:
    """The corpus folder ``tests/data/conformance/<name>`` (bake, realworld, dockerfile)."""
    return CONFORMANCE / name


def is_own_case(path: Path, root: Path) -> bool:
    """Whether ``path`` lies in a conformance case this repository wrote itself.

    Such a case's ``case.json`` says ``"origin": "bakec"``; ../shared never has it, so it
    is neither drift nor something ``scripts/sync-shared`` removes.
    """
    for folder in path.parents:
        if folder == root or root not in folder.parents:
            return False
        spec = folder / "case.json"
        if spec.is_file():
            try:
                return json.loads(spec.read_text()).get("origin") == "bakec"
            except (ValueError, AttributeError):
                return False
    return False


def _files(root: Path) -> set[str]:
    """Paths of the files under ``root`` relative to it; ``{"."}`` when ``root`` is a file."""
    if root.is_file():
        return {"."}
    if not root.is_dir():
        return set()
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def _own_case(root: Path, rel: str) -> bool:
    """Whether ``rel`` (below the copy ``root``) is in a case made in this repository.

    Such cases (``"origin": "bakec"`` in their case.json, recorded with the reference by
    scripts/record-dockerfile-case) have no source in ../shared: they are not drift.
    """
    folder = (root / rel).parent
    while folder != root and root in folder.parents:
        spec = folder / "case.json"
        if spec.is_file():
            try:
                return json.loads(spec.read_text()).get("origin") == "bakec"
            except (ValueError, AttributeError):
                return False
        folder = folder.parent
    return False


def drift(repo: Path = REPO, shared: Path = SHARED) -> list[Difference]:
    """Every file that differs between the repository's copies and ``shared``, sorted by path.

    Files of the repository's own cases (:func:`_own_case`) are not differences.
    """
    out = []
    for copy_rel, source_rel in MIRRORED:
        copy, source = repo / copy_rel, shared / source_rel
        theirs, ours = _files(source), _files(copy)
        ours = {rel for rel in ours if rel in theirs or not _own_case(copy, rel)}
        for rel in sorted(theirs | ours):
            path = os.path.normpath(os.path.join(copy_rel, rel))
            if rel not in ours:
                out.append(Difference("missing", path, source / rel))
            elif rel not in theirs:
                if not is_own_case(copy / rel, copy):
                    out.append(Difference("extra", path, source / rel))
            elif not filecmp.cmp(source / rel, copy / rel, shallow=False):
                out.append(Difference("differs", path, source / rel))
    return out
