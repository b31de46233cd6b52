"""Image config and history, computed as BuildKit computes them."""

from __future__ import annotations

import pytest
from dockerfile_support import BASE_DIGEST, BUSYBOX, history, plan

from bakec.dockerfile import DockerfileError, ResolvedImage

BASE = f"FROM {BUSYBOX}\n"


def config(p) -> dict:
    return p.image.config_dict()


def test_scratch_gets_default_path_and_workdir() -> None:
    p = plan("FROM scratch\n")
    assert config(p) == {
        "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
        "WorkingDir": "/",
    }
    assert p.layer_count == 0 and p.exported_history() == []


def test_path_is_added_when_the_base_has_none() -> None:
    images = {
        "img:1": ResolvedImage.from_config(
            "docker.io/library/img:1",
            "sha256:" + "1" * 64,
            {"os": "linux", "architecture": "amd64", "config": {}},
        )
    }
    p = plan("FROM img:1\n", base_image_configs=images)
    assert config(p)["Env"][0].startswith("PATH=/usr/local/sbin")


def test_cmd_always_sets_args_escaped_and_shell_form_uses_shell() -> None:
    p = plan(BASE + 'SHELL ["/bin/sh", "-e", "-c"]\nCMD echo hi\n')
    assert config(p)["Cmd"] == ["/bin/sh", "-e", "-c", "echo hi"]
    assert config(p)["ArgsEscaped"] is True
    assert history(p) == ["SHELL [/bin/sh -e -c]", 'CMD ["/bin/sh" "-e" "-c" "echo hi"]']


def test_exec_form_cmd_also_sets_args_escaped() -> None:
    assert config(plan(BASE + 'CMD ["true"]\n'))["ArgsEscaped"] is True


def test_non_json_brackets_fall_back_to_shell_form() -> None:
    p = plan(BASE + "CMD ['single', 'quotes']\n")
    assert config(p)["Cmd"] == ["/bin/sh", "-c", "['single', 'quotes']"]


def test_entrypoint_resets_inherited_cmd_but_not_one_set_in_the_stage() -> None:
    p = plan(BASE + 'ENTRYPOINT ["/bin/echo"]\n')
    assert "Cmd" not in config(p) and "ArgsEscaped" not in config(p)
    p = plan(BASE + 'CMD ["a"]\nENTRYPOINT echo\n')
    assert config(p)["Cmd"] == ["a"]
    assert config(p)["Entrypoint"] == ["/bin/sh", "-c", "echo"]


def test_empty_exec_entrypoint_is_removed() -> None:
    p = plan(BASE + 'ENTRYPOINT ["x"]\nENTRYPOINT []\n')
    assert "Entrypoint" not in config(p)
    assert history(p)[-1] == "ENTRYPOINT []"


def test_go_quoting_in_cmd_history() -> None:
    p = plan(BASE + 'CMD ["a\\tb", "q\\"uote", "back\\\\slash"]\n')
    assert history(p)[-1] == 'CMD ["a\\tb" "q\\"uote" "back\\\\slash"]'


def test_healthcheck_durations_and_history() -> None:
    p = plan(BASE + "HEALTHCHECK --interval=1m30s --timeout=500ms --retries=3 CMD curl -f x\n")
    assert config(p)["Healthcheck"] == {
        "Test": ["CMD-SHELL", "curl -f x"],
        "Interval": 90_000_000_000,
        "Timeout": 500_000_000,
        "Retries": 3,
    }
    assert history(p) == [
        "HEALTHCHECK {Test:[CMD-SHELL curl -f x] Interval:1m30s Timeout:500ms StartPeriod:0s StartInterval:0s Retries:3}"
    ]


def test_healthcheck_none_and_errors() -> None:
    assert config(plan(BASE + "HEALTHCHECK NONE\n"))["Healthcheck"] == {"Test": ["NONE"]}
    with pytest.raises(DockerfileError, match="HEALTHCHECK NONE takes no arguments"):
        plan(BASE + "HEALTHCHECK NONE x\n")
    with pytest.raises(DockerfileError, match="Unknown type"):
        plan(BASE + "HEALTHCHECK RUN x\n")


def test_expose_ranges_protocols_and_sorted_history() -> None:
    p = plan(BASE + "ARG P=9000\nEXPOSE 80 443/tcp 53/udp 8000-8002 $P\n")
    assert sorted(config(p)["ExposedPorts"]) == [
        "443/tcp",
        "53/udp",
        "80/tcp",
        "8000/tcp",
        "8001/tcp",
        "8002/tcp",
        "9000/tcp",
    ]
    assert history(p)[-1] == "EXPOSE [9000/tcp 443/tcp 53/udp 80/tcp 8000/tcp 8001/tcp 8002/tcp]"


def test_volume_label_user_stopsignal_maintainer() -> None:
    p = plan(
        BASE + 'ARG V=1\nVOLUME /a $V\nVOLUME ["/b"]\nLABEL "x y"="z" v=$V s=\'$V\'\nUSER app:$V\n'
        "STOPSIGNAL SIGUSR1\nMAINTAINER Jane <j@x>\n"
    )
    cfg = config(p)
    assert cfg["Volumes"] == {"/a": {}, "1": {}, "/b": {}}
    assert cfg["Labels"] == {"x y": "z", "v": "1", "s": "$V"}
    assert cfg["User"] == "app:1"
    assert cfg["StopSignal"] == "SIGUSR1"
    assert p.image.author == "Jane <j@x>"
    assert history(p)[1:] == [
        "VOLUME [/a 1]",
        "VOLUME [/b]",
        "LABEL x y=z v=1 s=$V",
        "USER app:1",
        "STOPSIGNAL SIGUSR1",
        "MAINTAINER Jane <j@x>",
    ]


def test_invalid_stopsignal() -> None:
    with pytest.raises(DockerfileError, match="Invalid signal: NOPE"):
        plan(BASE + "STOPSIGNAL NOPE\n")


def test_env_sees_values_from_before_the_instruction_and_keeps_order() -> None:
    p = plan(BASE + "ENV A=1\nENV A=2 D=$A\nENV PATH=/x:$PATH\nENV K L M\n")
    assert config(p)["Env"] == ["PATH=/x:/bin", "A=2", "D=1", "K=L M"]


def test_workdir_chains_and_root_workdir_has_no_layer() -> None:
    p = plan(BASE + "WORKDIR /a\nWORKDIR b\nWORKDIR /\n")
    assert config(p)["WorkingDir"] == "/"
    assert [(h.created_by, h.empty_layer) for h in p.image.history] == [
        ("WORKDIR /a", False),
        ("WORKDIR /a/b", False),
        ("WORKDIR /", True),
    ]
    assert p.layer_count == 3


def test_onbuild_is_recorded_without_history_and_cleared_for_children() -> None:
    p = plan(BASE + "ONBUILD RUN echo hi\nONBUILD COPY --from=x a b\n")
    assert config(p)["OnBuild"] == ["RUN echo hi", "COPY --from=x a b"]
    assert history(p) == []


def test_onbuild_triggers_of_a_base_image_run_after_from() -> None:
    images = {
        "parent:1": ResolvedImage.from_config(
            "docker.io/library/parent:1",
            "sha256:" + "2" * 64,
            {
                "os": "linux",
                "architecture": "amd64",
                "config": {"Env": ["PATH=/bin"], "OnBuild": ["ENV FROM_TRIGGER=1"]},
                "rootfs": {"diff_ids": ["sha256:" + "3" * 64]},
                "history": [{"created_by": "base layer"}],
            },
        )
    }
    p = plan("FROM parent:1\nENV MINE=2\n", base_image_configs=images)
    assert config(p)["Env"] == ["PATH=/bin", "FROM_TRIGGER=1", "MINE=2"]
    assert "OnBuild" not in config(p)
    assert [h.created_by for h in p.exported_history()] == ["base layer", "ENV FROM_TRIGGER=1", "ENV MINE=2"]


def test_synthesized_history_for_base_layers_without_history() -> None:
    p = plan(BASE + "ENV A=1\n")
    assert [(h.created_by, h.empty_layer, h.comment) for h in p.exported_history()] == [
        ("ENV A=1", True, "buildkit.dockerfile.v0"),
        (f"pulled from {BUSYBOX}@{BASE_DIGEST}", False, "buildkit.exporter.image.v0"),
    ]


def test_synthesized_entry_describes_the_top_layer() -> None:
    p = plan(BASE + "WORKDIR /x\nCOPY a /b\n")
    assert p.exported_history()[-1].created_by == "[3/3] COPY a /b"
    p = plan(BASE + "RUN echo hi\n")
    assert p.exported_history()[-1].created_by == "mount / from exec /bin/sh -c echo hi"


def test_vertex_names_carry_stage_names_and_width_in_multi_stage_builds() -> None:
    body = "".join(f"RUN echo {i}\n" for i in range(10))
    p = plan(f"FROM scratch AS other\nFROM {BUSYBOX}\n{body}COPY --from=other / /\n")
    assert p.target_stage.steps[0].description == "[stage-1  2/12] RUN echo 0"
    assert p.exported_history()[-1].created_by == "[stage-1 12/12] COPY --from=other / /"


def test_labels_option_and_target_platform_override() -> None:
    p = plan(BASE, labels={"org.opencontainers.image.source": "x"}, platform="linux/arm64")
    assert config(p)["Labels"] == {"org.opencontainers.image.source": "x"}
    assert p.image.platform == "linux/arm64"


def test_implicit_platform_comes_from_the_base_image() -> None:
    images = {"armimg:1": {"os": "linux", "architecture": "arm", "variant": "v7", "config": {}}}
    p = plan("FROM armimg:1\n", base_image_configs=images)
    assert p.image.platform == "linux/arm/v7"


def test_expected_config_subset_includes_author() -> None:
    got = plan("FROM scratch\nMAINTAINER me\n").expected_config()
    assert got["author"] == "me"
    assert got["history"] == [{"created_by": "MAINTAINER me", "empty_layer": True}]


def test_expose_sorts_raw_arguments_before_expansion_and_keeps_duplicates() -> None:
    p = plan(BASE + "ARG P=9000\nEXPOSE 80 $P 80 1.2.3.4:8080:81/UDP\n")
    assert history(p)[-1] == "EXPOSE [9000/tcp 81/udp 80/tcp 80/tcp]"
    with pytest.raises(DockerfileError, match="invalid proto: icmp"):
        plan(BASE + "EXPOSE 80/icmp\n")
    with pytest.raises(DockerfileError, match="invalid containerPort: 99999"):
        plan(BASE + "EXPOSE 99999\n")
