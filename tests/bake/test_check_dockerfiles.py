"""``bakec check`` loads each selected target's Dockerfile and context: syntax, missing files,
COPY sources, stage names and BuildKit's build checks; ``--strict`` and ``--format json``."""

from __future__ import annotations

import json
from pathlib import Path

from .bake_corpus import run_cli

BAKE = """\
group "default" {
  targets = ["api", "web"]
}
target "api" {
  context = "services/api"
}
target "web" {
  context = "services/web"
  contexts = { base = "target:api" }
}
"""

CLEAN = "FROM busybox AS build\nCOPY app.txt /app.txt\nFROM base\nCOPY --from=build /app.txt /\n"


def _run(tmp_path: Path, files: dict[str, str], *args: str, bake: str = BAKE):
    (tmp_path / "docker-bake.hcl").write_text(bake)
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "BAKEC_STATE_DIR": str(tmp_path / ".state")}
    return run_cli(["check", *args], tmp_path, env)


def _clean_tree(tmp_path: Path) -> dict[str, str]:
    return {
        "services/api/Dockerfile": "FROM busybox\n",
        "services/web/Dockerfile": CLEAN,
        "services/web/app.txt": "app\n",
    }


def test_a_clean_monorepo_passes_without_a_daemon_and_builds_nothing(tmp_path):
    code, out, err = _run(tmp_path, _clean_tree(tmp_path))
    assert (code, out) == (0, "0 error(s), 0 warning(s)\n"), err
    assert not (tmp_path / ".state" / "containerd").exists()


def test_syntax_errors_missing_sources_and_stage_typos_are_reported_at_their_lines(tmp_path):
    files = _clean_tree(tmp_path)
    files["services/api/Dockerfile"] = "FROM busybox\nRUNN true\n"
    files["services/web/Dockerfile"] = (
        "FROM busybox AS build\nFROM biuld\nCOPY app.txt nothere.txt /\nCOPY --from=nope /a /b\n"
    )
    code, out, _ = _run(tmp_path, files)
    assert code == 1
    assert out.splitlines() == [
        "ERROR: services/api/Dockerfile:2,1-10: dockerfile parse error on line 2: "
        "unknown instruction: RUNN (did you mean RUN?) [dockerfile-syntax]",
        "ERROR: services/web/Dockerfile:3,1-27: failed to compute cache key: failed to calculate checksum "
        'of ref: "/nothere.txt": not found [copy-source-not-found]',
        'WARNING: services/web/Dockerfile:2,1-11: FROM biuld: no stage or build context named "biuld"; '
        'did you mean "build"? [unknown-stage]',
        'WARNING: services/web/Dockerfile:4,1-23: COPY --from=nope: no stage or build context named "nope", '
        "so it would be pulled as the image docker.io/library/nope:latest [unknown-stage]",
        "2 error(s), 2 warning(s)",
    ]


def test_a_dockerignored_source_is_missing(tmp_path):
    files = _clean_tree(tmp_path)
    files["services/web/.dockerignore"] = "*.txt\n"
    code, out, _ = _run(tmp_path, files, "web")
    assert code == 1
    assert '"/app.txt": not found [copy-source-not-found]' in out


def test_missing_context_and_dockerfile_are_errors(tmp_path):
    files = {"services/api/Dockerfile.other": "FROM busybox\n"}
    code, out, _ = _run(tmp_path, files)
    assert code == 1
    assert out.splitlines() == [
        "ERROR: target api: failed to solve: failed to read dockerfile: open Dockerfile: "
        "no such file or directory [dockerfile-not-found]",
        'ERROR: target web: unable to prepare context: path "services/web" not found [context-not-found]',
        "2 error(s), 0 warning(s)",
    ]


def test_build_checks_are_warnings_and_strict_makes_them_fail(tmp_path):
    files = _clean_tree(tmp_path)
    files["services/api/Dockerfile"] = "FROM busybox as Build\n"
    code, out, _ = _run(tmp_path, files)
    assert code == 0
    assert (
        "WARNING: services/api/Dockerfile:1,1-22: Stage name 'Build' should be lowercase [StageNameCasing]\n"
        in out
    )
    assert out.endswith("0 error(s), 2 warning(s)\n")
    code, _, _ = _run(tmp_path, files, "--strict")
    assert code == 1


def test_json_format_gives_file_line_column_rule_and_message(tmp_path):
    files = _clean_tree(tmp_path)
    files["services/api/Dockerfile"] = "FROM busybox\nCOPY missing /x\n"
    code, out, _ = _run(tmp_path, files, "--format", "json", "--strict")
    assert code == 1
    assert json.loads(out) == {
        "findings": [
            {
                "severity": "error",
                "rule": "copy-source-not-found",
                "message": 'failed to compute cache key: failed to calculate checksum of ref: "/missing": not found',
                "file": "services/api/Dockerfile",
                "line": 2,
                "column": 1,
                "end_line": 2,
                "end_column": 16,
                "target": "api",
            }
        ],
        "errors": 1,
        "warnings": 0,
        "ok": False,
    }


def test_json_format_of_a_bake_file_that_does_not_parse(tmp_path):
    code, out, _ = _run(tmp_path, {}, "--format", "json", bake='target "a" {\n  tags = [\n}\n')
    assert code == 1
    document = json.loads(out)
    assert document["errors"] == 1 and document["ok"] is False
    (finding,) = document["findings"]
    assert (finding["file"], finding["line"], finding["rule"]) == ("docker-bake.hcl", 3, "bake")
