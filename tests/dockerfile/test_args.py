"""ARG scoping, build-arg overrides and predefined arguments as BuildKit applies them."""

from __future__ import annotations

import pytest
from dockerfile_support import BUSYBOX, history, plan

from bakec.dockerfile import DockerfileError

BASE = f"FROM {BUSYBOX}\n"


def run_history(p) -> list[str]:
    return [h for h in history(p) if h.startswith("RUN")]


def test_global_arg_is_visible_in_from_but_not_in_the_stage_until_redeclared() -> None:
    p = plan(f"ARG IMG={BUSYBOX}\nARG G=g1\nFROM $IMG\nRUN a\nARG G\nRUN b\n")
    assert p.stages[0].base.name.startswith(BUSYBOX)
    assert run_history(p) == ["RUN /bin/sh -c a # buildkit", "RUN |1 G=g1 /bin/sh -c b # buildkit"]
    assert "ARG G=g1" in history(p)


def test_build_arg_overrides_defaults_and_global_values() -> None:
    p = plan(
        "ARG G=g1\n" + BASE + "ARG G\nARG L=l1\nARG N\nRUN x\n",
        build_args={"G": "cli", "L": "cli-l", "N": "set"},
    )
    assert run_history(p) == ["RUN |3 G=cli L=cli-l N=set /bin/sh -c x # buildkit"]
    assert history(p)[:3] == ["ARG G=cli", "ARG L=cli-l", "ARG N=set"]


def test_arg_without_value_is_listed_without_equals_and_empty_in_run() -> None:
    p = plan(BASE + "ARG NODEFAULT\nRUN x\n")
    assert history(p) == ["ARG NODEFAULT", "RUN |1 NODEFAULT= /bin/sh -c x # buildkit"]


def test_several_args_on_one_line_are_committed_together() -> None:
    p = plan(BASE + "ARG A=1 B C=$A\n")
    assert history(p) == ["ARG A=1 B C=1"]


def test_stage_args_are_inherited_by_from_stage() -> None:
    p = plan(f"FROM {BUSYBOX} AS base\nARG L=l1\nFROM base\nRUN x\n")
    assert run_history(p)[-1] == "RUN |1 L=l1 /bin/sh -c x # buildkit"


def test_env_defined_after_arg_wins_in_run_environment() -> None:
    p = plan(BASE + "ARG V=arg\nENV V=env\nRUN x\n")
    step = p.target_stage.steps[-1]
    assert dict(step.env)["V"] == "env"
    assert run_history(p) == ["RUN |1 V=env /bin/sh -c x # buildkit"]


def test_arg_values_expand_earlier_args_and_env() -> None:
    p = plan(BASE + "ENV E=e\nARG A=${E}-x\nARG B=$A/y\nENV F=$B\n")
    assert p.image.config_dict()["Env"] == ["PATH=/bin", "E=e", "F=e-x/y"]


def test_predefined_platform_args_need_declaration_in_stage() -> None:
    p = plan(
        BASE + "RUN echo $TARGETARCH\nARG TARGETARCH TARGETVARIANT BUILDPLATFORM\nRUN y\n",
        platform="linux/arm/v7",
    )
    assert run_history(p) == [
        "RUN /bin/sh -c echo $TARGETARCH # buildkit",
        "RUN |3 TARGETARCH=arm TARGETVARIANT=v7 BUILDPLATFORM=linux/amd64 /bin/sh -c y # buildkit",
    ]


def test_predefined_args_are_global_in_from_lines() -> None:
    p = plan(
        f"FROM --platform=$BUILDPLATFORM {BUSYBOX} AS b\nFROM scratch\nCOPY --from=b / /\n",
        platform="linux/arm64",
    )
    assert p.stages[0].platform == "linux/amd64"
    assert p.image.platform == "linux/arm64"


def test_from_platform_is_ignored_for_scratch_as_in_buildkit() -> None:
    p = plan("FROM --platform=linux/s390x scratch\n", platform="linux/arm64")
    assert p.stages[0].platform == "linux/arm64"


def test_targetstage_names_the_built_stage() -> None:
    p = plan("FROM scratch AS one\nARG TARGETSTAGE\nFROM scratch AS two\n", target="one")
    assert history(p) == ["ARG TARGETSTAGE=one"]


def test_blank_from_reports_raw_text() -> None:
    with pytest.raises(DockerfileError, match=r"base name \(\$\{X\}\) should not be blank"):
        plan("ARG X\nFROM ${X}\n")


def test_from_sees_build_arg_override_of_global_arg() -> None:
    p = plan("ARG TAG=missing\nFROM 127.0.0.1:5000/busybox:$TAG\n", build_args={"TAG": "latest"})
    assert p.stages[0].base.name.startswith(BUSYBOX + "@")


def test_proxy_build_args_reach_run_but_not_history() -> None:
    p = plan(BASE + "RUN x\n", build_args={"HTTP_PROXY": "http://p:3128", "no_proxy": "localhost"})
    step = p.target_stage.steps[-1]
    assert step.proxy_env == (("HTTP_PROXY", "http://p:3128"), ("no_proxy", "localhost"))
    assert run_history(p) == ["RUN /bin/sh -c x # buildkit"]


def test_source_date_epoch_sets_created_times() -> None:
    p = plan("FROM scratch\nENV A=1\n", build_args={"SOURCE_DATE_EPOCH": "1700000000"})
    assert p.image.created == "2023-11-14T22:13:20Z"
    assert {h.created for h in p.image.history} == {"2023-11-14T22:13:20Z"}
    assert p.known_after_execution == ()


def test_meta_arg_expansion_in_base_and_platform() -> None:
    p = plan(f"ARG OS=linux ARCH=arm64\nFROM --platform=$OS/$ARCH {BUSYBOX} AS s\nFROM s\n")
    assert p.stages[0].platform == "linux/arm64"
