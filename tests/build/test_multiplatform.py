"""Multi-platform builds end to end: one target, several platforms, foreign RUNs under qemu-user-static."""

from __future__ import annotations

import json
import shutil
import textwrap
from pathlib import Path

import pytest

from bakec.errors import BuildError
from bakec.worker import emulation

from .helpers import OciArchive, bakec, events, registry_json

MULTI = "127.0.0.1:5000/busybox-multi:latest"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
ACCEPT = ", ".join(
    [
        OCI_INDEX,
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    ]
)


def _runnable(*platforms: str) -> None:
    """Skip unless RUN steps of every platform can execute on this machine."""
    for platform in platforms:
        try:
            emulation.require(platform)
        except BuildError as err:
            pytest.skip(str(err))


def _project(tmp: Path, dockerfile: str, platforms: list[str], outputs: str) -> Path:
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / "Dockerfile").write_text(textwrap.dedent(dockerfile))
    (tmp / "docker-bake.hcl").write_text(
        textwrap.dedent(f"""\
        target "default" {{
          tags = ["example.local/multi:1"]
          platforms = {json.dumps(platforms)}
          output = [{outputs}]
        }}
        """)
    )
    return tmp


def _instruction(name: str) -> str:
    """``FROM``/``RUN``/... of a vertex name, with or without buildx's ``[target platform n/m]`` prefix."""
    return name.split("] ", 1)[-1].split(" ", 1)[0]


def test_each_platform_runs_its_own_binaries_and_the_oci_output_is_an_index(tmp_path, state_dir):
    _runnable("linux/amd64", "linux/arm64")
    project = _project(
        tmp_path,
        f"""\
        FROM {MULTI}
        RUN busybox uname -m > /arch
        """,
        ["linux/amd64", "linux/arm64"],
        '"type=oci,dest=out/multi.tar", "type=local,dest=out/rootfs"',
    )
    proc = bakec(project, state_dir, "build", "--progress", "bakec-json", "--no-cache")
    assert proc.returncode == 0, proc.stderr

    rootfs = project / "out" / "rootfs"
    assert (rootfs / "linux_amd64" / "arch").read_text() == "x86_64\n"
    assert (rootfs / "linux_arm64" / "arch").read_text() == "aarch64\n"

    # index.json -> the image index -> one manifest per platform, as BuildKit's oci exporter writes it
    archive = OciArchive(project / "out" / "multi.tar")
    top = archive.index
    assert [m["mediaType"] for m in top["manifests"]] == [OCI_INDEX]
    index = archive.json(top["manifests"][0]["digest"])
    assert index["mediaType"] == OCI_INDEX
    assert [m["platform"] for m in index["manifests"]] == [
        {"architecture": "amd64", "os": "linux"},
        {"architecture": "arm64", "os": "linux"},
    ]

    # each platform's image starts from that platform's manifest in the base image's index
    base_index = registry_json("busybox-multi/manifests/latest", ACCEPT)
    for entry in index["manifests"]:
        arch = entry["platform"]["architecture"]
        manifest = archive.json(entry["digest"])
        assert archive.json(manifest["config"]["digest"])["architecture"] == arch
        base_entry = next(m for m in base_index["manifests"] if m["platform"]["architecture"] == arch)
        base = registry_json(f"busybox-multi/manifests/{base_entry['digest']}", ACCEPT)
        assert manifest["layers"][0]["digest"] == base["layers"][0]["digest"]
        assert len(manifest["layers"]) == 2

    # only the arm64 RUN is emulated; the summary carries the emulated time per target
    progress = events(proc.stderr)
    started = [e for e in progress if e.get("type") == "vertex" and e["state"] == "started"]
    assert [e["name"] for e in started if e["name"].startswith("exporting")] == [
        "exporting to oci image format",
        "exporting to client directory",
    ]
    started = [e for e in started if not e["name"].startswith("exporting")]
    emulated = sorted((_instruction(e["name"]), e["emulated"]) for e in started)
    assert emulated == [("FROM", False), ("FROM", False), ("RUN", False), ("RUN", True)]
    # several platforms: buildx's names carry the platform (one target: no target name)
    assert sorted(e["name"] for e in started if _instruction(e["name"]) == "RUN") == [
        "[linux/amd64 2/2] RUN busybox uname -m > /arch",
        "[linux/arm64 2/2] RUN busybox uname -m > /arch",
    ]
    assert sorted(e["name"].split(" FROM ")[0] for e in started if _instruction(e["name"]) == "FROM") == [
        "[linux/amd64 1/2]",
        "[linux/arm64 1/2]",
    ]
    summary = next(e for e in progress if e.get("type") == "summary")
    assert summary["targets"]["default"]["emulated_seconds"] > 0


def test_plain_progress_marks_emulated_steps_and_their_time(tmp_path, state_dir):
    _runnable("linux/arm64")
    project = _project(
        tmp_path,
        f"""\
        FROM {MULTI}
        RUN busybox uname -m > /arch
        """,
        ["linux/arm64"],
        '"type=cacheonly"',
    )
    proc = bakec(project, state_dir, "build", "--progress", "plain", "--no-cache")
    assert proc.returncode == 0, proc.stderr
    run_lines = [line for line in proc.stderr.splitlines() if "RUN busybox uname -m" in line]
    assert run_lines and all(line.endswith(" (emulated)") for line in run_lines)
    # one platform, one target: the name is the frontend's own, without platform or target
    assert [line.split(" ", 1)[1] for line in run_lines] == ["[2/2] RUN busybox uname -m > /arch (emulated)"]
    assert not [
        line
        for line in proc.stderr.splitlines()
        if line.startswith("#") and "FROM" in line and line.endswith("(emulated)")
    ]
    summary = next(line for line in proc.stderr.splitlines() if line.startswith("default "))
    assert "(emulated " in summary


def test_docker_exporter_refuses_several_platforms_before_building(tmp_path, state_dir):
    project = _project(
        tmp_path,
        f"""\
        FROM {MULTI}
        COPY Dockerfile /
        """,
        ["linux/amd64", "linux/arm64"],
        '"type=docker,dest=out/multi.tar"',
    )
    proc = bakec(project, state_dir, "build", "--progress", "bakec-json")
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1] == (
        "ERROR: docker exporter does not support exporting manifest lists, use the oci exporter instead"
    )
    assert not [e for e in events(proc.stderr) if e.get("type") == "vertex"]  # nothing was built
    assert not (project / "out" / "multi.tar").exists()

    no_output = 'target "default" {\n  platforms = ["linux/amd64", "linux/arm64"]\n}\n'
    (project / "docker-bake.hcl").write_text(no_output)  # --load adds the docker output
    load = bakec(project, state_dir, "build", "--progress", "bakec-json", "--load")
    assert load.returncode == 1
    assert load.stderr.strip().splitlines()[-1] == (
        "ERROR: docker exporter does not currently support exporting manifest lists"
    )
    assert not [e for e in events(load.stderr) if e.get("type") == "vertex"]
    assert "Traceback" not in proc.stderr + load.stderr


def test_buildplatform_stage_cross_builds_for_every_target_platform(tmp_path, state_dir):
    names = [
        "TARGETPLATFORM",
        "TARGETOS",
        "TARGETARCH",
        "TARGETVARIANT",
        "BUILDPLATFORM",
        "BUILDOS",
        "BUILDARCH",
    ]
    values = "|".join(f"${n}" for n in names)
    project = _project(
        tmp_path,
        f"""\
        FROM --platform=$BUILDPLATFORM {MULTI} AS build
        ARG {" ".join(names)}
        RUN echo "{values}" > /args && busybox uname -m > /build-arch
        FROM scratch
        ARG {" ".join(names)}
        COPY --from=build /args /build-args
        COPY --from=build /build-arch /build-arch
        """,
        ["linux/amd64", "linux/arm64", "linux/arm/v7"],
        '"type=local,dest=out/rootfs", "type=oci,dest=out/multi.tar"',
    )
    proc = bakec(project, state_dir, "build", "--progress", "bakec-json")
    assert proc.returncode == 0, proc.stderr

    host = emulation.host_arch()
    build = f"linux/{host}|linux|{host}"
    machine = {"amd64": "x86_64", "arm64": "aarch64"}.get(host, host)
    rootfs = project / "out" / "rootfs"
    assert (rootfs / "linux_amd64" / "build-args").read_text() == f"linux/amd64|linux|amd64||{build}\n"
    assert (rootfs / "linux_arm64" / "build-args").read_text() == f"linux/arm64|linux|arm64||{build}\n"
    assert (rootfs / "linux_arm_v7" / "build-args").read_text() == f"linux/arm/v7|linux|arm|v7|{build}\n"
    for platform in ("linux_amd64", "linux_arm64", "linux_arm_v7"):
        assert (rootfs / platform / "build-arch").read_text() == machine + "\n"  # ran natively

    # the build stage runs on the build platform: nothing is emulated
    assert not [e for e in events(proc.stderr) if e.get("type") == "vertex" and e.get("emulated")]
    archive = OciArchive(project / "out" / "multi.tar")
    index = archive.root()
    assert [m["platform"] for m in index["manifests"]] == [
        {"architecture": "amd64", "os": "linux"},
        {"architecture": "arm64", "os": "linux"},
        {"architecture": "arm", "os": "linux", "variant": "v7"},
    ]
    for entry in index["manifests"]:
        config = archive.json(archive.json(entry["digest"])["config"]["digest"])
        assert (config["architecture"], config.get("variant", "")) == (
            entry["platform"]["architecture"],
            entry["platform"].get("variant", ""),
        )


def _unregistered_arch() -> str:
    for arch in ("riscv64", "s390x", "ppc64le", "mips64le", "loong64"):
        if arch != emulation.host_arch() and emulation.handler_for(arch) is None:
            return arch
    pytest.skip("every candidate architecture has a binfmt_misc handler on this machine")


def test_missing_emulator_fails_before_the_step_runs(tmp_path, state_dir):
    arch = _unregistered_arch()
    # The RUN executes the host's own busybox: without the check it would simply succeed natively.
    shutil.copy("/bin/busybox", tmp_path / "busybox")
    project = _project(
        tmp_path,
        """\
        FROM scratch
        COPY busybox /bin/busybox
        RUN ["/bin/busybox", "true"]
        """,
        [f"linux/{arch}"],
        '"type=local,dest=out"',
    )
    proc = bakec(project, state_dir, "build", "--progress", "plain")
    assert proc.returncode == 1, proc.stderr
    fmt = emulation.binfmt_format(arch)
    expected = (
        f"RUN for linux/{arch} needs emulation, but no binfmt_misc handler for {arch} binaries is registered"
    )
    error = proc.stderr.strip().splitlines()[-1]
    assert error.startswith(f"ERROR: target default: failed to solve: {expected}")
    assert error.endswith(f"update-binfmts --enable {fmt}")
    assert "Traceback" not in proc.stderr
    assert not (project / "out").exists()


def test_image_output_keeps_the_whole_index_in_containerd(tmp_path, state_dir):
    from bakec.worker.daemon import Daemon

    project = _project(
        tmp_path,
        f"""\
        FROM {MULTI}
        COPY Dockerfile /
        """,
        ["linux/amd64", "linux/arm64"],
        '"type=image"',
    )
    proc = bakec(project, state_dir, "build", "--progress", "quiet")
    assert proc.returncode == 0, proc.stderr
    # the build's lease is gone (deleted with a synchronous GC): the image's labels alone keep its blobs
    client = Daemon(state_dir).ensure()
    try:
        root = client.get_image("example.local/multi:1").target
        assert root.media_type == OCI_INDEX
        index = json.loads(client.read_blob(root.digest))
        assert [m["platform"]["architecture"] for m in index["manifests"]] == ["amd64", "arm64"]
        for entry in index["manifests"]:
            manifest = json.loads(client.read_blob(entry["digest"]))
            config = json.loads(client.read_blob(manifest["config"]["digest"]))
            assert config["architecture"] == entry["platform"]["architecture"]
            assert all(client.has_content(layer["digest"]) for layer in manifest["layers"])
    finally:
        client.close()


def test_a_stage_pinned_to_a_foreign_platform_runs_emulated_in_a_native_build(tmp_path, state_dir):
    _runnable("linux/arm64")
    (tmp_path / "Dockerfile").write_text(
        textwrap.dedent(f"""\
        FROM --platform=linux/arm64 {MULTI} AS tool
        ARG TARGETPLATFORM
        RUN busybox uname -m > /tool-arch && echo "$TARGETPLATFORM" > /tool-target
        FROM {MULTI}
        COPY --from=tool /tool-arch /tool-target /
        """)
    )
    (tmp_path / "docker-bake.hcl").write_text('target "default" {\n  output = ["type=local,dest=out"]\n}\n')
    proc = bakec(tmp_path, state_dir, "build", "--progress", "bakec-json", "--no-cache")
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "out" / "tool-arch").read_text() == "aarch64\n"
    host = emulation.host_arch()
    # TARGETPLATFORM stays the target's
    assert (tmp_path / "out" / "tool-target").read_text() == f"linux/{host}\n"
    runs = [
        e
        for e in events(proc.stderr)
        if e.get("type") == "vertex" and e["state"] == "started" and _instruction(e["name"]) == "RUN"
    ]
    assert [e["emulated"] for e in runs] == [host != "arm64"]
    assert [e["name"] for e in runs] == [
        f'[tool 2/2] RUN busybox uname -m > /tool-arch && echo "linux/{host}" > /tool-target'
    ]


SPLIT_DOCKERFILE = f"""\
    FROM --platform=$BUILDPLATFORM {MULTI} AS build
    ARG TARGETOS TARGETARCH
    RUN mkdir /out && echo foo > /out/hello-$TARGETOS-$TARGETARCH
    FROM scratch
    COPY --from=build /out /
    """


def test_local_platform_split_false_merges_the_platforms(tmp_path, state_dir):
    project = _project(
        tmp_path,
        SPLIT_DOCKERFILE,
        ["linux/amd64", "linux/arm64"],
        '"type=local,dest=out,platform-split=false"',
    )
    proc = bakec(project, state_dir, "build", "--progress", "quiet")
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in (project / "out").iterdir()) == ["hello-linux-amd64", "hello-linux-arm64"]
    assert (project / "out" / "hello-linux-arm64").read_text() == "foo\n"
    assert not list(project.glob(".bakec-merge-*"))  # the per-platform trees are gone


def test_local_platform_split_false_refuses_a_file_both_platforms_have(tmp_path, state_dir):
    project = _project(
        tmp_path,
        """\
        FROM scratch
        COPY Dockerfile /same
        """,
        ["linux/amd64", "linux/arm64"],
        '"type=local,dest=out,platform-split=false"',
    )
    proc = bakec(project, state_dir, "build", "--progress", "quiet")
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1] == (
        "ERROR: cannot overwrite same from linux/amd64 with linux/arm64 when split option is disabled"
    )


def test_local_platform_split_true_for_one_platform_makes_its_directory(tmp_path, state_dir):
    project = _project(
        tmp_path, SPLIT_DOCKERFILE, ["linux/arm64"], '"type=local,dest=out,platform-split=true"'
    )
    proc = bakec(project, state_dir, "build", "--progress", "quiet")
    assert proc.returncode == 0, proc.stderr
    assert (project / "out" / "linux_arm64" / "hello-linux-arm64").read_text() == "foo\n"


def test_a_build_platform_stage_without_target_args_runs_once_for_every_platform(tmp_path, state_dir):
    project = _project(
        tmp_path,
        f"""\
        FROM --platform=$BUILDPLATFORM {MULTI} AS build
        RUN echo compiled > /out
        FROM scratch
        COPY --from=build /out /out
        """,
        ["linux/amd64", "linux/arm64", "linux/arm/v7"],
        '"type=local,dest=out"',
    )
    proc = bakec(project, state_dir, "build", "--progress", "bakec-json", "--no-cache")
    assert proc.returncode == 0, proc.stderr
    started = [
        e["name"] for e in events(proc.stderr) if e.get("type") == "vertex" and e["state"] == "started"
    ]
    host = emulation.host_arch()
    assert [n for n in started if _instruction(n) == "RUN"] == [
        f"[linux/{host} build 2/2] RUN echo compiled > /out"
    ]
    assert sorted(n for n in started if _instruction(n) == "COPY") == [
        f"[{p} stage-1 1/1] COPY --from=build /out /out"
        for p in ("linux/amd64", "linux/arm/v7", "linux/arm64")
    ]
    for platform in ("linux_amd64", "linux_arm64", "linux_arm_v7"):
        assert (project / "out" / platform / "out").read_text() == "compiled\n"
