"""Entitlements through ``bakec build``: refused without ``--allow`` (exit 1, buildx's message), real with it."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

from .helpers import bakec, cli_env
from .test_remote import (
    _commit,
    git_server,  # noqa: F401 - the git daemon fixture, for the remote definition test
)

BUSYBOX = "127.0.0.1:5000/busybox:latest"
CAP_SYS_ADMIN = 21
HEADER = "Your build is requesting privileges for following possibly insecure capabilities:"


def _project(root: Path, dockerfile: str, bake: str, files: dict[str, str] | None = None) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "Dockerfile").write_text(textwrap.dedent(dockerfile))
    (root / "docker-bake.hcl").write_text(textwrap.dedent(bake))
    for name, text in (files or {}).items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def _refused(proc, *lines: str) -> None:  # type: ignore[no-untyped-def]
    assert proc.returncode == 1, proc.stderr
    assert HEADER in proc.stderr
    for line in lines:
        assert line in proc.stderr, proc.stderr
    assert proc.stderr.rstrip().endswith("ERROR: additional privileges requested")


def _interfaces(proc_net_dev: str) -> set[str]:
    """Interface names from /proc/net/dev (two header lines, then ``name: counters``)."""
    return {line.split(":", 1)[0].strip() for line in proc_net_dev.splitlines()[2:] if ":" in line}


def test_network_host_is_refused_without_allow_and_shares_the_hosts_interfaces_with_it(tmp_path, state_dir):
    host = _interfaces(Path("/proc/net/dev").read_text())
    if host <= {"lo"}:
        pytest.skip("this machine has no network interface besides lo to tell the namespaces apart")
    project = _project(
        tmp_path / "p",
        f"""\
        FROM {BUSYBOX}
        RUN --network=host cat /proc/net/dev > /host-net && readlink /proc/self/ns/net > /host-ns
        RUN cat /proc/net/dev > /own-net && readlink /proc/self/ns/net > /own-ns
        """,
        """\
        target "default" {
          entitlements = ["network.host"]
          output = ["type=local,dest=out"]
        }
        """,
    )
    refused = bakec(project, state_dir, "build")
    _refused(
        refused,
        " - Running build containers that can access host network",
        'Pass "--allow=network.host" to grant requested privileges.',
    )
    assert not (project / "out").exists()

    built = bakec(project, state_dir, "build", "--allow", "network.host")
    assert built.returncode == 0, built.stderr
    out = project / "out"
    seen_host, seen_own = (
        _interfaces((out / "host-net").read_text()),
        _interfaces((out / "own-net").read_text()),
    )
    # builds running beside this one add and remove veth pairs and bridges on the host: compare the rest
    lasting = {name for name in host if not name.startswith(("veth", "bk"))}
    assert lasting <= seen_host
    assert lasting - seen_own, "the default RUN has a namespace of its own, without the host's interfaces"
    assert (out / "host-ns").read_text().strip() == os.readlink("/proc/self/ns/net")
    assert (out / "own-ns").read_text().strip() != os.readlink("/proc/self/ns/net")


def test_security_insecure_is_refused_without_allow_and_grants_cap_sys_admin_with_it(tmp_path, state_dir):
    project = _project(
        tmp_path / "p",
        f"""\
        FROM {BUSYBOX}
        RUN --security=insecure grep CapEff /proc/self/status > /insecure
        RUN grep CapEff /proc/self/status > /sandbox
        """,
        """\
        target "default" {
          entitlements = ["security.insecure"]
          output = ["type=local,dest=out"]
        }
        """,
    )
    refused = bakec(project, state_dir, "build")
    _refused(
        refused,
        " - Running privileged containers that can make system changes",
        'Pass "--allow=security.insecure" to grant requested privileges.',
    )

    built = bakec(project, state_dir, "build", "--allow=security.insecure")
    assert built.returncode == 0, built.stderr

    def cap_eff(name: str) -> int:
        return int((project / "out" / name).read_text().split()[1], 16)

    assert cap_eff("insecure") >> CAP_SYS_ADMIN & 1
    assert not cap_eff("sandbox") >> CAP_SYS_ADMIN & 1


def test_a_context_outside_the_working_directory_needs_fs_read(tmp_path, state_dir):
    _project(
        tmp_path / "ctx",
        f"""\
        FROM {BUSYBOX}
        COPY hello.txt /hello.txt
        """,
        "",
        {"hello.txt": "from outside\n"},
    )
    project = tmp_path / "p"
    project.mkdir()
    (project / "docker-bake.hcl").write_text(
        'target "default" {\n  context = "../ctx"\n  output = ["type=local,dest=out"]\n}\n'
    )

    refused = bakec(project, state_dir, "build")
    _refused(
        refused,
        " - Read access to path ../ctx\n",
        'Pass "--allow=fs.read=../ctx" to grant requested privileges.',
        "To disable filesystem entitlements checks, you can set BUILDX_BAKE_ENTITLEMENTS_FS=0 .",
    )
    assert not (project / "out").exists()

    built = bakec(project, state_dir, "build", f"--allow=fs.read={tmp_path / 'ctx'}")
    assert built.returncode == 0, built.stderr
    assert (project / "out" / "hello.txt").read_text() == "from outside\n"
    assert bakec(project, state_dir, "build", "--allow", "fs=*").returncode == 0


def test_a_symlink_in_the_working_directory_counts_where_it_points(tmp_path, state_dir):
    _project(tmp_path / "ctx", f"FROM {BUSYBOX}\n", "")
    project = tmp_path / "p"
    project.mkdir()
    (project / "link").symlink_to(tmp_path / "ctx")
    (project / "docker-bake.hcl").write_text('target "default" {\n  context = "link"\n}\n')

    refused = bakec(project, state_dir, "build")
    _refused(refused, " - Read access to path ../ctx\n")
    assert bakec(project, state_dir, "build", "--allow", "fs.read=../ctx").returncode == 0


def test_an_output_outside_the_working_directory_needs_fs_write(tmp_path, state_dir):
    project = _project(
        tmp_path / "p",
        f"""\
        FROM {BUSYBOX}
        RUN echo built > /built
        """,
        """\
        target "default" {
          output = ["type=local,dest=../out"]
        }
        """,
    )
    refused = bakec(project, state_dir, "build")
    # a dest that does not exist yet needs write access to its nearest existing parent
    _refused(
        refused, " - Write access to path ..\n", 'Pass "--allow=fs.write=.." to grant requested privileges.'
    )
    assert not (tmp_path / "out").exists()

    (tmp_path / "out").mkdir()
    refused = bakec(project, state_dir, "build", "--allow", "fs.read=../out")
    _refused(refused, " - Write access to path ../out\n")
    assert list((tmp_path / "out").iterdir()) == []

    built = bakec(project, state_dir, "build", "--allow", "fs.write=../out")
    assert built.returncode == 0, built.stderr
    assert (tmp_path / "out" / "built").read_text() == "built\n"


def test_a_path_named_with_set_grants_itself_and_fs_checks_can_be_turned_off(tmp_path, state_dir):
    project = _project(tmp_path / "p", f"FROM {BUSYBOX}\nRUN echo x > /x\n", 'target "default" {}\n')
    # as in buildx, a dest that does not exist yet still needs its existing parent: make it first
    (tmp_path / "from-set").mkdir()
    built = bakec(project, state_dir, "build", "--set", "*.output=type=local,dest=../from-set")
    assert built.returncode == 0, built.stderr
    assert (tmp_path / "from-set" / "x").read_text() == "x\n"

    (project / "docker-bake.hcl").write_text('target "default" {\n  output = ["type=local,dest=../off"]\n}\n')
    warned = bakec(project, state_dir, "build", env={"BUILDX_BAKE_ENTITLEMENTS_FS": "0"})
    assert warned.returncode == 0, warned.stderr
    assert " - Write access to path ..\n" in warned.stderr
    assert "To disable filesystem entitlements checks" not in warned.stderr
    assert (tmp_path / "off" / "x").read_text() == "x\n"


def test_read_and_write_of_the_same_path_ask_for_fs(tmp_path, state_dir):
    shared = tmp_path / "shared"
    shared.mkdir()
    project = _project(
        tmp_path / "p",
        f"FROM {BUSYBOX}\n",
        """\
        target "default" {
          cache-from = ["type=local,src=../shared"]
          cache-to = ["type=local,dest=../shared"]
          output = ["type=cacheonly"]
        }
        """,
    )
    refused = bakec(project, state_dir, "build")
    _refused(
        refused,
        " - Read and write access to path ../shared\n",
        'Pass "--allow=fs=../shared" to grant requested privileges.',
    )
    built = bakec(project, state_dir, "build", "--allow", "fs=../shared")
    assert built.returncode == 0, built.stderr
    assert (shared / "index.json").exists()


def _on_terminal(project: Path, state: Path, answer: str) -> tuple[int, str]:
    """Run ``bakec build`` with a terminal as stdin and stderr; answer its question with ``answer``."""
    import pty
    import subprocess
    import sys

    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "bakec.cli.main", "build", "--state-dir", str(state)],
        cwd=project,
        env=cli_env(project),
        stdin=follower,
        stdout=subprocess.DEVNULL,
        stderr=follower,
    )
    os.close(follower)
    seen = b""
    try:
        while b"[y/N] " not in seen:
            chunk = os.read(leader, 4096)
            if not chunk:
                break
            seen += chunk
        os.write(leader, answer.encode() + b"\n")
        code = proc.wait(timeout=300)
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # the terminal closed with the process
                break
            if not chunk:
                break
            seen += chunk
    finally:
        os.close(leader)
    return code, seen.decode(errors="replace").replace("\r\n", "\n")


@pytest.mark.parametrize(("answer", "code"), [("y", 0), ("n", 1)])
def test_on_a_terminal_bakec_asks_and_the_answer_decides(tmp_path, state_dir, answer, code):
    _project(tmp_path / "ctx", f"FROM {BUSYBOX}\n", "")
    project = tmp_path / "p"
    project.mkdir()
    (project / "docker-bake.hcl").write_text('target "default" {\n  context = "../ctx"\n}\n')
    got, text = _on_terminal(project, state_dir, answer)
    assert 'In order to not see this message in the future pass "--allow=fs.read=../ctx"' in text
    assert "Do you want to grant requested privileges and continue? [y/N] " in text
    assert got == code, text


def test_a_remote_definition_writing_outside_the_working_directory_is_refused(
    tmp_path,
    state_dir,
    git_server,  # noqa: F811 - the fixture imported above
):

    repo = git_server.repo("ent-remote")
    _commit(
        repo,
        {
            "docker-bake.hcl": 'target "default" {\n  context = "svc"\n  output = ["type=local,dest=../escaped"]\n}\n',
            "svc/Dockerfile": f"FROM {BUSYBOX}\nCOPY hello.txt /hello.txt\n",
            "svc/hello.txt": "from the repository\n",
        },
        "one",
    )
    work = tmp_path / "work"
    work.mkdir()
    url = git_server.url("ent-remote", "main")
    refused = bakec(work, state_dir, "build", url)
    # the repository's context is no local read; the dest outside the working directory is a write
    _refused(refused, " - Write access to path ..\n")
    assert "Read access" not in refused.stderr
    assert not (tmp_path / "escaped").exists()

    allowed = bakec(work, state_dir, "build", url, env={"BAKE_ALLOW_REMOTE_FS_ACCESS": "1"})
    assert allowed.returncode == 0, allowed.stderr
    assert (tmp_path / "escaped" / "hello.txt").read_text() == "from the repository\n"
