"""A target's ``platforms`` as buildx reads them: commas, ``local``, normalization, duplicates."""

from __future__ import annotations

from bakec.graph.platforms import target_platforms


def test_no_platforms_is_the_default():
    assert target_platforms(None, "linux/amd64") == [""]
    assert target_platforms([], "linux/amd64") == [""]


def test_commas_local_and_normalization():
    assert target_platforms(["linux/amd64,linux/arm64/v8", "local", "linux/arm"], "linux/riscv64") == [
        "linux/amd64",
        "linux/arm64",
        "linux/riscv64",
        "linux/arm/v7",
    ]


def test_a_platform_named_twice_is_built_once():
    assert target_platforms(["linux/arm64", "linux/arm64/v8", "linux/amd64", "local"], "linux/amd64") == [
        "linux/arm64",
        "linux/amd64",
    ]


def test_an_unparsable_value_is_kept_for_the_compiler_to_report():
    assert target_platforms(["linux/amd64", "not a platform"], "linux/amd64") == [
        "linux/amd64",
        "not a platform",
    ]


class _Target:
    def __init__(self, platforms, output):
        self.platforms, self.output = platforms, output


def test_docker_outputs_of_several_platforms_are_refused_as_buildx_does():
    from bakec.errors import BuildError
    from bakec.graph.platforms import refuse_docker_manifest_lists

    refuse_docker_manifest_lists(
        [
            _Target(["linux/amd64"], [{"type": "docker"}]),
            _Target(["linux/amd64", "linux/arm64"], [{"type": "oci", "dest": "x"}]),
        ]
    )
    for platforms, out, message in (
        (
            ["linux/amd64,linux/arm64"],
            {"type": "docker", "dest": "x.tar"},
            "docker exporter does not support exporting manifest lists, use the oci exporter instead",
        ),
        (
            ["linux/amd64", "linux/amd64"],
            {"type": "docker"},
            "docker exporter does not currently support exporting manifest lists",
        ),
    ):
        try:
            refuse_docker_manifest_lists([_Target(platforms, [out])])
        except BuildError as err:
            assert err.message == message
        else:
            raise AssertionError(f"{platforms} {out} accepted")
