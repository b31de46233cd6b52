"""Errors in a monorepo's Dockerfiles name the file (relative to the working directory), the target
and the line, with buildx's excerpt; a missing context says so as buildx does."""

from __future__ import annotations

from pathlib import Path

from .bake_corpus import run_cli

BAKE = """\
target "api" {
  context = "services/api"
}
target "web" {
  context = "services/web"
  platforms = ["linux/amd64", "linux/arm64"]
}
"""


def _run(tmp_path: Path, api: str, *args: str, web: str = "FROM busybox\n"):
    for name, text in (("api", api), ("web", web)):
        (tmp_path / "services" / name).mkdir(parents=True, exist_ok=True)
        (tmp_path / "services" / name / "Dockerfile").write_text(text)
    (tmp_path / "docker-bake.hcl").write_text(BAKE)
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "BAKEC_STATE_DIR": str(tmp_path / ".state")}
    return run_cli(["plan", *args], tmp_path, env)


def test_an_unknown_instruction_is_shown_at_its_line_in_its_dockerfile(tmp_path):
    code, out, err = _run(tmp_path, "FROM busybox\nRUN echo hi\nRUNN echo bad\n", "api")
    assert (code, out) == (1, "")
    assert err == (
        "services/api/Dockerfile:3\n"
        "--------------------\n"
        "   1 |     FROM busybox\n"
        "   2 |     RUN echo hi\n"
        "   3 | >>> RUNN echo bad\n"
        "--------------------\n"
        "ERROR: target api: failed to solve: dockerfile parse error on line 3: "
        "unknown instruction: RUNN (did you mean RUN?)\n"
    )


def test_a_bad_flag_names_the_platform_of_a_multi_platform_target(tmp_path):
    code, _, err = _run(tmp_path, "FROM busybox\n", "web", web="FROM busybox\nCOPY --chmodd=755 a /b\n")
    assert code == 1
    assert err.startswith("services/web/Dockerfile:2\n--------------------\n")
    assert "   2 | >>> COPY --chmodd=755 a /b\n" in err
    assert err.endswith(
        "ERROR: target web (linux/amd64): failed to solve: dockerfile parse error on line 2: "
        "unknown flag: --chmodd (did you mean chmod?)\n"
    )


def test_an_unknown_stage_pulled_as_an_image_fails_at_the_copy_line(tmp_path):
    dockerfile = "FROM 127.0.0.1:5000/busybox AS base\nFROM base\nCOPY --from=127.0.0.1:5000/nope /a /b\n"
    code, _, err = _run(tmp_path, dockerfile, "--resolve", "registry", "api")
    assert code == 1
    assert err.startswith("services/api/Dockerfile:3\n")
    assert "   3 | >>> COPY --from=127.0.0.1:5000/nope /a /b\n" in err
    assert (
        "ERROR: target api: failed to solve: 127.0.0.1:5000/nope: failed to resolve source metadata "
        "for 127.0.0.1:5000/nope:latest: " in err
    )


def test_a_missing_context_is_reported_as_buildx_does(tmp_path):
    code, _, err = _run(tmp_path, "FROM busybox\n", "--set", "api.context=./nope", "api")
    assert (code, err) == (1, 'ERROR: target api: unable to prepare context: path "nope" not found\n')


def test_a_missing_dockerfile_names_the_target(tmp_path):
    code, _, err = _run(tmp_path, "FROM busybox\n", "--set", "api.dockerfile=Nope.Dockerfile", "api")
    assert (code, err) == (
        1,
        "ERROR: target api: failed to solve: failed to read dockerfile: "
        "open Nope.Dockerfile: no such file or directory\n",
    )


INHERITS = """\
group "default" {
  targets = ["api", "wbe"]
}
target "base" {}
target "api" {
  inherits = ["bsae"]
}
target "web" {}
"""


def _bake(tmp_path: Path, text: str, *args: str):
    (tmp_path / "docker-bake.hcl").write_text(text)
    return run_cli(list(args), tmp_path, {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})


def test_inheriting_a_missing_target_points_at_the_name_and_suggests_one(tmp_path):
    code, out, err = _bake(tmp_path, INHERITS, "build", "--print", "api")
    assert (code, out) == (1, "")
    assert err == (
        "docker-bake.hcl:6\n"
        "--------------------\n"
        '   4 |     target "base" {}\n'
        '   5 |     target "api" {\n'
        '   6 | >>>   inherits = ["bsae"]\n'
        "   7 |     }\n"
        '   8 |     target "web" {}\n'
        "--------------------\n"
        'ERROR: docker-bake.hcl:6,15-21: failed to find target bsae; did you mean "base"?\n'
    )


def test_a_group_member_that_does_not_exist_points_at_the_group(tmp_path):
    code, _, err = _bake(tmp_path, INHERITS.replace('"bsae"', '"base"'), "build", "--print")
    assert code == 1
    assert '   2 | >>>   targets = ["api", "wbe"]\n' in err
    assert err.endswith('ERROR: docker-bake.hcl:2,21-26: failed to find target wbe; did you mean "web"?\n')


def test_an_unknown_target_on_the_command_line_gets_a_suggestion(tmp_path):
    code, _, err = _bake(tmp_path, INHERITS, "build", "--print", "wbe")
    assert (code, err) == (1, 'ERROR: failed to find target wbe; did you mean "web"?\n')
    code, out, _ = _bake(tmp_path, INHERITS, "check", "api")
    assert code == 1
    assert 'ERROR: docker-bake.hcl:6,15-21: failed to find target bsae; did you mean "base"? [bake]\n' in out


def test_call_check_on_a_missing_context_says_so(tmp_path):
    (tmp_path / "docker-bake.hcl").write_text(BAKE)
    code, _, err = run_cli(
        ["build", "--check", "api"], tmp_path, {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    )
    assert (code, err) == (1, 'ERROR: target api: unable to prepare context: path "services/api" not found\n')
