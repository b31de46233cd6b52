"""`.dockerignore` end to end: what the cache key hashes is what the COPY copies."""

from __future__ import annotations

import textwrap
from pathlib import Path

from .helpers import bakec, instruction, vertices


def _project(tmp: Path) -> tuple[Path, Path]:
    project = tmp / "ctx"
    project.mkdir()
    out = tmp / "out"
    (project / "a").write_text("A\n")
    (project / "b").write_text("B\n")
    (project / ".dockerignore").write_text("[^a]\n")
    (project / "Dockerfile").write_text("FROM scratch\nCOPY . /ctx/\n")
    (tmp / "docker-bake.hcl").write_text(
        textwrap.dedent("""\
        target "default" {
          context = "ctx"
          output = ["type=local,dest=out"]
        }
        """)
    )
    return project, out


def test_negated_class_in_dockerignore_copies_and_keys_the_same_files(tmp_path, state_dir):
    # "[^a]" is moby's regexp class "not a": "b" is ignored, "a" is sent. The copy step once read
    # it as "^ or a" and copied "b" instead of "a" while the cache key hashed "a".
    project, out = _project(tmp_path)
    proc = bakec(tmp_path, state_dir, "build", "--progress", "bakec-json")
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in (out / "ctx").iterdir()) == [".dockerignore", "Dockerfile", "a"]
    assert (out / "ctx" / "a").read_text() == "A\n"

    # the key covers exactly what was copied: an ignored file changes nothing, a sent one reruns
    (project / "b").write_text("B2\n")
    proc = bakec(tmp_path, state_dir, "build", "--progress", "bakec-json")
    assert proc.returncode == 0, proc.stderr
    assert "COPY . /ctx/" not in [instruction(n) for n in vertices(proc.stderr, "started")]
    (project / "a").write_text("A2\n")
    proc = bakec(tmp_path, state_dir, "build", "--progress", "bakec-json")
    assert proc.returncode == 0, proc.stderr
    assert "COPY . /ctx/" in [instruction(n) for n in vertices(proc.stderr, "started")]
    assert (out / "ctx" / "a").read_text() == "A2\n"
    assert not (out / "ctx" / "b").exists()
