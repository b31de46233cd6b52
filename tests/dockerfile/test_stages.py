"""Stages, targets, pruning, named contexts and ONBUILD as BuildKit resolves them."""

from __future__ import annotations

import pytest
from dockerfile_support import BUSYBOX, history, plan

from bakec.dockerfile import DockerfileError, NamedContext, ResolvedImage


def test_target_prunes_to_needed_stages_in_dockerfile_order() -> None:
    p = plan(
        f"FROM {BUSYBOX} AS broken\nRUN exit 1\nFROM {BUSYBOX} AS good\nRUN ok\nFROM good AS final\nRUN exit 1\n",
        target="good",
    )
    assert [s.name for s in p.stages] == ["good"]
    assert p.target_stage.name == "good"


def test_dependencies_from_copy_from_mounts_and_base() -> None:
    p = plan(
        "FROM scratch AS a\nFROM scratch AS b\nFROM scratch AS unused\n"
        f"FROM {BUSYBOX} AS c\nCOPY --from=a / /\nRUN --mount=from=b,target=/m x\nFROM c\n"
    )
    assert [s.name for s in p.stages] == ["a", "b", "c", ""]
    assert p.stages[2].deps == (0, 1)
    assert p.stages[3].deps == (2,)
    assert p.stages[3].base.kind == "stage" and p.stages[3].base.stage == 2


def test_stage_names_are_case_insensitive_and_later_duplicates_win() -> None:
    p = plan(
        "FROM scratch AS Dup\nCOPY a /first\nFROM scratch AS dup\nCOPY b /second\nFROM scratch\nCOPY --from=DUP / /got/\n"
    )
    copy = p.target_stage.steps[0]
    assert copy.origin.kind == "stage" and p.stages[copy.origin.stage].steps[0].sources == ("b",)
    assert [w.rule for w in p.warnings].count("DuplicateStageName") == 1


def test_copy_from_by_index() -> None:
    p = plan("FROM scratch\nCOPY a /a\nFROM scratch\nCOPY --from=0 /a /b\n")
    assert p.target_stage.steps[0].origin.stage == 0


def test_copy_from_a_later_stage_fails() -> None:
    with pytest.raises(
        DockerfileError, match='cannot copy from stage "b", it needs to be defined before current stage "a"'
    ):
        plan("FROM scratch AS a\nCOPY --from=b /x /x\nFROM a AS b\n")


def test_cycles_through_copy_from_are_named() -> None:
    with pytest.raises(DockerfileError, match="circular dependency detected on stage: a"):
        plan("FROM scratch AS a\nCOPY --from=b / /\nFROM scratch AS b\nCOPY --from=a / /\n")


def test_copy_from_with_variables_is_rejected() -> None:
    with pytest.raises(DockerfileError, match="variable expansion is not supported for --from"):
        plan("ARG S=a\nFROM scratch AS a\nFROM scratch\nCOPY --from=$S / /\n")


def test_invalid_stage_index() -> None:
    with pytest.raises(DockerfileError, match="invalid stage index 5"):
        plan("FROM scratch\nCOPY --from=5 / /\n")


def test_missing_target_suggests_a_close_name() -> None:
    with pytest.raises(
        DockerfileError, match='target stage "buld" could not be found \\(did you mean build\\?\\)'
    ):
        plan("FROM scratch AS build\n", target="buld")


def test_copy_from_image_reference() -> None:
    p = plan(f"FROM scratch\nCOPY --from={BUSYBOX} /bin/busybox /\n")
    origin = p.target_stage.steps[0].origin
    assert origin.kind == "image" and origin.name.startswith(BUSYBOX + "@sha256:")
    assert len(p.stages) == 1


def test_named_context_replaces_stage_images_and_copy_sources() -> None:
    contexts = {
        "extra": NamedContext("local", "/ctx/extra"),
        "alpine": "docker-image://alpine:3.20",
        "base": NamedContext("local", "/ctx/base"),
    }
    p = plan(
        "FROM scratch AS base\nRUN never\nFROM alpine AS img\nFROM scratch\nCOPY --from=extra a /\n"
        "COPY --from=base / /b\nCOPY --from=img / /i\n",
        named_contexts=contexts,
    )
    final = p.target_stage.steps
    assert final[0].origin.kind == "named-context" and final[0].origin.name == "extra"
    assert final[1].origin.kind == "named-context" and final[1].origin.name == "base"
    img = next(s for s in p.stages if s.name == "img")
    assert img.base.kind == "named-context" and img.base.name == "alpine"
    assert next(s for s in p.stages if s.name == "base").steps == ()


def test_local_named_context_as_base_has_the_empty_config() -> None:
    p = plan("FROM ctx\nENV A=1\n", named_contexts={"ctx": NamedContext("local", "/x")})
    assert p.image.config_dict()["WorkingDir"] == "/"


def test_onbuild_in_a_stage_runs_in_children_only() -> None:
    p = plan(f"FROM {BUSYBOX} AS parent\nONBUILD RUN echo t\nONBUILD COPY a /a\nFROM parent\nRUN child\n")
    child = p.target_stage
    assert [s.kind for s in child.steps] == ["run", "copy", "run"]
    assert child.steps[0].onbuild and child.steps[0].description == "[stage-1 1/3] ONBUILD RUN echo t"
    assert "OnBuild" not in p.image.config_dict()
    assert history(p)[-3:] == [
        "RUN /bin/sh -c echo t # buildkit",
        "COPY a /a # buildkit",
        "RUN /bin/sh -c child # buildkit",
    ]


def test_onbuild_copy_from_adds_a_dependency() -> None:
    p = plan(f"FROM scratch AS dep\nFROM {BUSYBOX} AS parent\nONBUILD COPY --from=dep / /\nFROM parent\n")
    assert [s.name for s in p.stages] == ["dep", "parent", ""]


def test_unresolved_images_are_planned_offline() -> None:
    p = plan("FROM alpine\nRUN x\n", base_image_configs={})
    assert p.stages[0].base == p.stages[0].base.__class__(
        "image", "docker.io/library/alpine:latest", resolved=False, platform="linux/amd64"
    )
    assert any("unresolved" in k for k in p.known_after_execution)


def test_resolver_is_asked_for_missing_images() -> None:
    asked = []

    def resolver(ref: str, platform: str) -> ResolvedImage:
        asked.append((ref, platform))
        return ResolvedImage.from_config(
            ref, "sha256:" + "e" * 64, {"os": "linux", "architecture": "amd64", "config": {}}
        )

    p = plan("FROM alpine:3\n", base_image_configs={}, resolver=resolver, platform="linux/amd64")
    assert asked == [("docker.io/library/alpine:3", "linux/amd64")]
    assert p.stages[0].base.name == "docker.io/library/alpine:3@sha256:" + "e" * 64


def test_invalid_reference() -> None:
    with pytest.raises(DockerfileError, match="failed to parse stage name"):
        plan("FROM Upper/Case\n")


def test_stage_name_validation() -> None:
    with pytest.raises(DockerfileError, match="invalid name for build stage"):
        plan("FROM scratch AS 1abc\n")
    with pytest.raises(DockerfileError, match="FROM requires either one or three arguments"):
        plan("FROM scratch AS\n")


def test_instruction_before_from() -> None:
    with pytest.raises(DockerfileError, match="no build stage in current context"):
        plan("RUN x\nFROM scratch\n")


def test_onbuild_heredocs_travel_with_the_trigger() -> None:
    p = plan("FROM scratch AS p\nONBUILD COPY <<A /d/a\nbody\nA\nFROM p\n")
    assert p.stages[0].image.config_dict()["OnBuild"] == ["COPY <<A /d/a\nbody\nA"]
    step = p.target_stage.steps[0]
    assert step.contents[0].data == "body\n" and step.onbuild


def test_multi_platform_vertex_names_show_the_platform_and_cross_target() -> None:
    p = plan(
        f"FROM --platform=$BUILDPLATFORM {BUSYBOX}\nARG TARGETARCH\nRUN build\n",
        platform="linux/arm64",
        multi_platform=True,
    )
    assert p.target_stage.steps[-1].description == "[linux/amd64->arm64 2/2] RUN build"


def test_target_context_continues_from_the_planned_target() -> None:
    base = plan(f"FROM {BUSYBOX}\nRUN one\n")
    child = plan("FROM base\nENV A=1\n", named_contexts={"base": NamedContext("target", "base", plan=base)})
    assert child.layer_count == 2
    assert [h.created_by for h in child.exported_history()] == [
        "RUN /bin/sh -c one # buildkit",
        "ENV A=1",
        "mount / from exec /bin/sh -c one",
    ]


def test_per_platform_named_context_wins() -> None:
    contexts = {"base": NamedContext("local", "/any"), "base::linux/arm64": NamedContext("local", "/arm")}
    p = plan("FROM base\n", named_contexts=contexts, platform="linux/arm64")
    assert p.stages[0].base.kind == "named-context"
    assert (
        plan(
            "FROM base\n",
            named_contexts={"base::linux/arm64": NamedContext("local", "/arm")},
            platform="linux/amd64",
            base_image_configs={},
        )
        .stages[0]
        .base.kind
        == "image"
    )


def test_outline_lists_used_args_secrets_and_ssh() -> None:
    text = (
        "# IMG the base image\nARG IMG=127.0.0.1:5000/busybox:latest\nARG UNUSED=1\nFROM $IMG AS build\n"
        "# MODE build mode\nARG MODE=release\nRUN --mount=type=secret,id=tok,required --mount=type=ssh make\n"
    )
    got = plan(text, build_args={"MODE": "debug"}).outline()
    assert got == {
        "name": "build",
        "args": [
            {"name": "IMG", "description": "the base image", "value": BUSYBOX},
            {"name": "MODE", "description": "build mode", "value": "debug"},
        ],
        "secrets": [{"name": "tok", "required": True}],
        "ssh": [{"name": "default"}],
    }
