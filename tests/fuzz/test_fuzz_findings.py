"""What the fuzz suite found, each kept as a plain test with the exact input so it stays found."""

from __future__ import annotations

import json

from limited import DOCKERFILE_MEMORY_CAP, bakec


def _context(tmp_path, dockerfile: bytes, dockerignore: bytes) -> None:
    (tmp_path / "docker-bake.hcl").write_text('target "a" {}\n')
    (tmp_path / "Dockerfile").write_bytes(dockerfile)
    (tmp_path / ".dockerignore").write_bytes(dockerignore)
    (tmp_path / "a.txt").write_text("a\n")


def test_plan_with_a_non_utf8_dockerignore_pattern(tmp_path):
    # Was: internal error: UnicodeEncodeError (the pattern's raw byte reached the op digest).
    _context(tmp_path, b"FROM busybox\nCOPY . /ctx\nCOPY dir/ a.txt /x/\n", b"*\xf1")
    result = bakec(tmp_path, "plan", "--format", "json", "a", memory=DOCKERFILE_MEMORY_CAP)
    assert result.returncode == 0, result.stderr.decode()[-2000:]
    ops = [node["op"] for node in json.loads(result.stdout)["nodes"]]
    assert {tuple(op["exclude"]) for op in ops if "exclude_selected" in op} == {("*\udcf1",)}


def test_check_with_a_non_utf8_dockerignore(tmp_path):
    # Was: internal error: UnicodeDecodeError reading the .dockerignore. Its other patterns still apply.
    _context(tmp_path, b"FROM busybox\nCOPY a.txt /x\n", b"tmp/\x99**/*.bak\n*.txt\n")
    result = bakec(tmp_path, "check", "a", memory=DOCKERFILE_MEMORY_CAP)
    out = result.stdout.decode()
    assert result.returncode == 1, out + result.stderr.decode()
    assert (
        'ERROR: Dockerfile:2,1-14: failed to compute cache key: failed to calculate checksum of ref: "/a.txt": not found'
        in out
    )
