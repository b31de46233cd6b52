"""``--check`` and ``--call check|targets|outline`` report on Dockerfiles and build nothing; ``--builder``."""

from __future__ import annotations

import textwrap
from pathlib import Path

from .bake_corpus import run_cli

DOCKERFILE = """\
# base the shared base
FROM busybox AS base
FROM base as Build
RUN echo hi
# release what ships
FROM base AS release
COPY --from=Build /etc/hostname /x
"""

BAKE = """\
target "app" {
  context = "svc"
}
target "clean" {
  dockerfile-inline = "FROM busybox\\nRUN true\\n"
}
"""


def _run(tmp_path: Path, *args: str):
    (tmp_path / "svc").mkdir(exist_ok=True)
    (tmp_path / "svc" / "Dockerfile").write_text(DOCKERFILE)
    (tmp_path / "docker-bake.hcl").write_text(BAKE)
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "BAKEC_STATE_DIR": str(tmp_path / ".state")}
    return run_cli(list(args), tmp_path, env)


def _built_nothing(tmp_path: Path) -> bool:
    """No cache index and no containerd in the state dir (the parse cache may be there)."""
    state = tmp_path / ".state"
    return not (state / "cache.db").exists() and not (state / "containerd").exists()


def test_check_reports_lint_warnings_with_excerpts_exits_1_and_builds_nothing(tmp_path):
    code, out, err = _run(tmp_path, "build", "--check", "app")
    assert code == 1, err
    assert out.startswith("Check complete, 2 warnings have been found!\n")
    assert "WARNING: StageNameCasing - https://docs.docker.com/go/dockerfile/rule/stage-name-casing/\n" in out
    assert "Stage name 'Build' should be lowercase\n" in out
    assert "WARNING: FromAsCasing - https://docs.docker.com/go/dockerfile/rule/from-as-casing/\n" in out
    # the Dockerfile is named relative to the working directory, so a monorepo's are told apart
    assert (
        textwrap.dedent("""\
        svc/Dockerfile:3
        --------------------
           1 |     # base the shared base
           2 |     FROM busybox AS base
           3 | >>> FROM base as Build
        """)
        in out
    )
    assert _built_nothing(tmp_path)


def test_call_check_without_findings_exits_0(tmp_path):
    code, out, err = _run(tmp_path, "build", "--call", "check", "clean")
    assert (code, out) == (0, "Check complete, no warnings found.\n"), err


def test_call_targets_lists_stages_with_descriptions(tmp_path):
    code, out, err = _run(tmp_path, "build", "--call=targets", "app")
    assert code == 0, err
    assert out.splitlines() == [
        "TARGET              DESCRIPTION",
        "base                the shared base",
        "build",
        "release (default)   what ships",
    ]
    assert _built_nothing(tmp_path)


OUTLINE_DOCKERFILE = """\
# syntax=docker/dockerfile:1
# VERSION the release to package
ARG VERSION=1.2
ARG BASE=busybox
ARG UNUSED=x
FROM ${BASE} AS base
# PORT where it listens
ARG PORT=8080
RUN --mount=type=secret,id=token,required --mount=type=ssh true

# release what ships
FROM base AS release
ARG VERSION
# GREETING what to say
ARG GREETING
RUN --mount=type=secret,target=/run/secrets/npmrc --mount=type=ssh,id=git,required=true true
"""


def test_call_outline_prints_args_secrets_and_ssh_of_the_stage_chain(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "Dockerfile").write_text(OUTLINE_DOCKERFILE)
    bake = 'target "app" {\n  context = "out"\n  args = { GREETING = "hi" }\n}\n'
    (tmp_path / "docker-bake.hcl").write_text(bake)
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "BAKEC_STATE_DIR": str(tmp_path / ".state")}
    code, out, err = run_cli(["build", "--call", "outline", "app"], tmp_path, env)
    assert code == 0, err
    # BuildKit's PrintOutline: tabwriter columns, so an empty last-but-one cell leaves its padding
    assert out == (
        "TARGET:      release\n"
        "DESCRIPTION: what ships\n"
        "\n"
        "BUILD ARG   VALUE     DESCRIPTION\n"
        "VERSION     1.2       the release to package\n"
        "BASE        busybox   \n"
        "PORT        8080      where it listens\n"
        "GREETING    hi        what to say\n"
        "\n"
        "SECRET   REQUIRED\n"
        "token    true\n"
        "npmrc    \n"
        "\n"
        "SSH       REQUIRED\n"
        "default   \n"
        "git       true\n"
        "\n"
    )
    assert _built_nothing(tmp_path)


def test_call_outline_of_an_unnamed_stage_without_args_prints_nothing(tmp_path):
    code, out, err = _run(tmp_path, "build", "--call", "outline", "clean")
    assert (code, out) == (0, ""), err


def test_unknown_call_method_is_refused(tmp_path):
    code, _, err = _run(tmp_path, "build", "--call", "nope", "app")
    assert code == 2
    assert 'unsupported call method "nope" (expected build, check, outline or targets)' in err


def test_print_still_shows_check_as_lint(tmp_path):
    code, out, err = _run(tmp_path, "build", "--print", "--check", "app")
    assert code == 0, err
    assert '"call": "lint"' in out


def test_a_builder_other_than_default_is_refused(tmp_path):
    code, _, err = _run(tmp_path, "build", "--builder", "/nonexistent.sock", "app")
    assert code == 2
    assert 'builder "/nonexistent.sock" not found' in err
    assert _built_nothing(tmp_path)
