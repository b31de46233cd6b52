"""BuildKit build checks: rules, messages, skip/error configuration."""

from __future__ import annotations

import pytest
from dockerfile_support import BUSYBOX, plan

from bakec.dockerfile import DockerfileError, LintError


def rules(text: str, **kwargs) -> list[str]:
    return [w.rule for w in plan(text, **kwargs).warnings]


def details(text: str, **kwargs) -> list[str]:
    return [w.detail for w in plan(text, **kwargs).warnings]


def test_from_as_casing_and_stage_name_casing() -> None:
    assert details("FROM scratch as Base\n") == [
        "Stage name 'Base' should be lowercase",
        "'as' and 'FROM' keywords' casing do not match",
    ]
    assert rules("from scratch as base\n") == []


def test_consistent_instruction_casing() -> None:
    assert details(f"FROM {BUSYBOX}\nRUN a\nrun b\n") == [
        "Command 'run' should match the case of the command majority (uppercase)"
    ]


def test_json_args_recommended_unless_a_shell_is_set() -> None:
    assert rules("FROM scratch\nCMD echo hi\n") == ["JSONArgsRecommended"]
    assert rules('FROM scratch\nSHELL ["/bin/sh", "-c"]\nCMD echo hi\n') == []


def test_multiple_cmd_entrypoint_healthcheck_in_one_stage() -> None:
    assert rules('FROM scratch\nCMD ["a"]\nCMD ["b"]\n') == ["MultipleInstructionsDisallowed"]


def test_legacy_key_value_and_maintainer() -> None:
    assert rules("FROM scratch\nENV A b c\nLABEL k v\nMAINTAINER me\n") == [
        "LegacyKeyValueFormat",
        "LegacyKeyValueFormat",
        "MaintainerDeprecated",
    ]
    assert rules("FROM scratch\nENV A=b\n") == []


def test_workdir_relative_only_before_an_absolute_one() -> None:
    assert rules("FROM scratch\nWORKDIR rel\nWORKDIR more\n") == ["WorkdirRelativePath"]
    assert rules("FROM scratch\nWORKDIR /abs\nWORKDIR rel\n") == []


def test_undefined_variables_with_suggestion() -> None:
    # the first option within two edits wins, in environment order (PATH comes first)
    assert details("FROM scratch\nENV PATHX=1\nENV A=$PATHY\n") == [
        "Usage of undefined variable '$PATHY' (did you mean $PATH?)"
    ]
    assert details("FROM scratch\nENV VERSION=1\nENV A=$VERSON\n") == [
        "Usage of undefined variable '$VERSON' (did you mean $VERSION?)"
    ]


def test_undefined_arg_in_from_and_invalid_default() -> None:
    assert "UndefinedArgInFrom" in rules("FROM ${NOPE:-scratch}\n")
    assert "InvalidDefaultArgInFrom" in rules("ARG IMG\nFROM ${IMG}:latest\n", build_args={"IMG": "scratch"})


def test_secrets_in_arg_or_env() -> None:
    assert rules("FROM scratch\nARG GITHUB_TOKEN\nENV DB_PASSWORD=x\nENV PUBLIC_KEY=y\n") == [
        "SecretsUsedInArgOrEnv",
        "SecretsUsedInArgOrEnv",
    ]


def test_reserved_and_duplicate_stage_names() -> None:
    assert rules("FROM scratch AS context\nFROM scratch AS a\nFROM scratch AS a\n") == [
        "ReservedStageName",
        "DuplicateStageName",
    ]


def test_empty_continuation_line() -> None:
    assert rules("FROM scratch\nENV A=1 \\\n\n    B=2\n") == ["NoEmptyContinuation"]


def test_constant_platform_in_from() -> None:
    assert rules(f"FROM --platform=linux/amd64 {BUSYBOX}\n") == ["FromPlatformFlagConstDisallowed"]
    assert rules(f"FROM --platform=linux/amd64 {BUSYBOX} AS build-amd64\n") == []
    assert rules(f"FROM --platform=$TARGETPLATFORM {BUSYBOX}\n") == ["RedundantTargetPlatform"]


def test_expose_format_checks() -> None:
    assert rules("FROM scratch\nEXPOSE 80/TCP 127.0.0.1:8080:80\n") == [
        "ExposeInvalidFormat",
        "ExposeProtoCasing",
    ]


def test_skip_and_error_directives() -> None:
    assert rules("# check=skip=FromAsCasing\nFROM scratch as base\n") == []
    assert rules("# check=skip=all\nFROM scratch as Base\n") == []
    with pytest.raises(LintError, match="lint violation found for rules: FromAsCasing, StageNameCasing"):
        plan("# check=error=true\nFROM scratch as Base\n")


def test_check_build_arg_overrides_the_directive() -> None:
    text = "# check=error=true\nFROM scratch as base\n"
    assert rules(text, build_args={"BUILDKIT_DOCKERFILE_CHECK": "skip=all"}) == []


def test_invalid_check_option() -> None:
    with pytest.raises(DockerfileError, match='invalid check option "nope"'):
        plan("# check=nope=1\nFROM scratch\n")


def test_warning_carries_line_and_url() -> None:
    (warning,) = plan("FROM scratch\nMAINTAINER me\n").warnings
    assert warning.line == 2
    assert warning.url == "https://docs.docker.com/go/dockerfile/rule/maintainer-deprecated/"


def test_check_lints_every_stage_without_a_target() -> None:
    from bakec.dockerfile import check

    text = f"FROM {BUSYBOX} AS a\nCMD echo a\nFROM {BUSYBOX} AS b\nMAINTAINER x\n"
    assert [w.rule for w in check(text)] == ["JSONArgsRecommended", "MaintainerDeprecated"]
    assert [w.rule for w in check(text, target="b")] == ["MaintainerDeprecated"]


def test_targets_lists_stages_with_descriptions() -> None:
    from bakec.dockerfile import targets

    text = "# syntax=docker/dockerfile:1\n# base is the shared base\nFROM scratch AS base\n\n# unrelated\nFROM base AS final\n"
    got = [(t.name, t.description, t.default, t.base) for t in targets(text)]
    assert got == [("base", "is the shared base", False, "scratch"), ("final", "", True, "base")]
