"""RUN execution in a container on an overlay snapshot of the busybox rootfs."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from bakec.errors import BuildError
from bakec.worker import rootfs
from bakec.worker.client import Client
from bakec.worker.daemon import Daemon
from bakec.worker.run import ContainerdExecutor, RunRequest
from bakec.worker.runc import RuncExecutor

from .busybox_layer import BUSYBOX
from .conftest import requires_containerd

pytestmark = requires_containerd


@pytest.fixture(params=[ContainerdExecutor, RuncExecutor], ids=["containerd", "runc"])
def run(request: pytest.FixtureRequest, client: Client, daemon: Daemon, base_snapshot: str) -> Iterator:
    """``run(request) -> (RunResult, Layers)`` on a fresh active snapshot, with each executor."""
    executor = request.param(client, daemon.paths)

    def _run(request: RunRequest, **kw):  # type: ignore[no-untyped-def]
        mounts = client.prepare(f"run-{uuid.uuid4().hex}", base_snapshot)
        return executor.run(mounts, request, **kw), rootfs.layers(mounts)

    yield _run


def test_echo_hi(run) -> None:  # type: ignore[no-untyped-def]
    result, _ = run(RunRequest(["busybox", "echo", "hi"]))
    assert (result.exit_code, result.stdout, result.stderr) == (0, b"hi\n", b"")


@pytest.mark.parametrize("code", [1, 3, 127, 255])
def test_exit_code_propagates(run, code: int) -> None:  # type: ignore[no-untyped-def]
    result, _ = run(RunRequest(["sh", "-c", f"echo out; echo err >&2; exit {code}"]))
    assert (result.exit_code, result.stdout, result.stderr) == (code, b"out\n", b"err\n")


def test_env_and_cwd(run) -> None:  # type: ignore[no-untyped-def]
    result, _ = run(RunRequest(["sh", "-c", 'echo "$FOO|$PATH"; pwd'], env=["FOO=bar baz"], cwd="/tmp"))
    assert result.stdout == b"bar baz|/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n/tmp\n"


def test_missing_cwd_is_created(run) -> None:  # type: ignore[no-untyped-def]
    result, _ = run(RunRequest(["pwd"], cwd="/work/dir"))
    assert result.stdout == b"/work/dir\n"


@pytest.mark.parametrize(
    ("user", "expected"),
    [
        ("", b"uid=0(root) gid=0(root) groups=0(root)"),
        ("builder", b"uid=1000(builder) gid=1000(builder) groups=1000(builder),2000(extra)"),
        ("builder:root", b"uid=1000(builder) gid=0(root) groups=0(root)"),
        ("1000", b"uid=1000(builder) gid=1000(builder) groups=1000(builder),2000(extra)"),
        ("4242:4343", b"uid=4242 gid=4343 groups=4343"),
    ],
)
def test_user(run, user: str, expected: bytes) -> None:  # type: ignore[no-untyped-def]
    result, _ = run(RunRequest(["id"], user=user))
    assert result.stdout.strip() == expected


def test_unknown_user_fails_like_buildkit(run) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(BuildError, match="unable to find user nobody: no matching entries in passwd file"):
        run(RunRequest(["id"], user="nobody"))


def test_missing_executable_is_a_build_error(run) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(BuildError, match="executable file not found"):
        run(RunRequest(["no-such-tool"]))


def test_hostname_hosts_and_isolated_network(run) -> None:  # type: ignore[no-untyped-def]
    request = RunRequest(
        ["sh", "-c", "hostname; cat /etc/hosts; cat /proc/net/dev"], extra_hosts=[("db", "10.1.2.3")]
    )
    result, _ = run(request)
    lines = result.stdout.decode().splitlines()
    assert lines[0] == "buildkitsandbox"
    assert "10.1.2.3\tdb" in lines
    interfaces = [line.split(":")[0].strip() for line in lines if ":" in line and "|" not in line]
    assert interfaces[-1] == "lo" and "eth0" not in interfaces


def test_written_files_land_in_upperdir_with_buildkits_mount_stubs(run) -> None:  # type: ignore[no-untyped-def]
    result, lay = run(RunRequest(["sh", "-c", "echo data > /tmp/out.txt; touch /created"]))
    assert result.exit_code == 0
    assert (lay.upper / "tmp" / "out.txt").read_text() == "data\n"
    assert (lay.upper / "created").exists()
    # runc made /etc/hosts and /etc/resolv.conf stubs; they are gone again.
    for stub in ("etc/hosts", "etc/resolv.conf"):
        assert not (lay.upper / stub).exists(), stub
    # /proc, /dev and /sys stay as empty dirs, as in BuildKit's layers
    for stub in ("proc", "dev", "sys"):
        assert (lay.upper / stub).is_dir() and not any((lay.upper / stub).iterdir()), stub


def test_output_callback_streams(run) -> None:  # type: ignore[no-untyped-def]
    chunks: list[tuple[int, bytes]] = []
    result, _ = run(
        RunRequest(["sh", "-c", "echo a; echo b >&2"]), on_output=lambda s, d: chunks.append((s, d))
    )
    assert b"".join(d for s, d in chunks if s == 1) == result.stdout == b"a\n"
    assert b"".join(d for s, d in chunks if s == 2) == result.stderr == b"b\n"


def test_large_output_is_fully_captured(run) -> None:  # type: ignore[no-untyped-def]
    result, _ = run(
        RunRequest(["sh", "-c", "i=0; while [ $i -lt 20000 ]; do echo line-$i; i=$((i+1)); done"])
    )
    lines = result.stdout.splitlines()
    assert len(lines) == 20000 and lines[-1] == b"line-19999"


def test_no_containers_or_tasks_left(client: Client, run) -> None:  # type: ignore[no-untyped-def]
    run(RunRequest(["true"]))
    assert not [t for t in client.list_tasks()]
    assert not [c for c in client.list_containers()]


def test_failure_while_running_kills_and_cleans_up(run, client: Client, daemon: Daemon) -> None:  # type: ignore[no-untyped-def]
    def explode(stream: int, data: bytes) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(RunRequest(["sh", "-c", "echo started; sleep 60"]), on_output=explode)
    assert not client.list_tasks() and not client.list_containers()
    assert not list(daemon.paths.runs_dir.iterdir())
    direct = daemon.paths.direct_runc_root
    assert not direct.exists() or not list(direct.iterdir())


def test_parallel_runs(run) -> None:  # type: ignore[no-untyped-def]
    import time
    from concurrent.futures import ThreadPoolExecutor

    def timed(i: int):  # type: ignore[no-untyped-def]
        began = time.monotonic()
        result = run(RunRequest(["sh", "-c", f"sleep 1; echo {i}"]))[0]
        return result, began, time.monotonic()

    with ThreadPoolExecutor(4) as pool:
        outcomes = list(pool.map(timed, range(4)))
    assert [r.stdout for r, _, _ in outcomes] == [b"0\n", b"1\n", b"2\n", b"3\n"]
    # all four were running at one moment: the last to start began before the first ended
    assert max(began for _, began, _ in outcomes) < min(ended for _, _, ended in outcomes)


@pytest.mark.parametrize("executor", [ContainerdExecutor, RuncExecutor], ids=["containerd", "runc"])
def test_snapshot_without_parent_is_a_bind_mount(executor, client: Client, daemon: Daemon) -> None:  # type: ignore[no-untyped-def]
    key = f"scratch-{uuid.uuid4().hex}"
    mounts = client.prepare(key)
    assert mounts[0].type == "bind"
    upper = rootfs.layers(mounts).upper
    assert upper is not None
    (upper / "bin").mkdir()
    (upper / "bin" / "busybox").write_bytes(BUSYBOX.read_bytes())
    (upper / "bin" / "busybox").chmod(0o755)
    result = executor(client, daemon.paths).run(mounts, RunRequest(["/bin/busybox", "echo", "ok"]))
    assert result.stdout == b"ok\n"


@pytest.mark.parametrize("executor", [ContainerdExecutor, RuncExecutor], ids=["containerd", "runc"])
def test_deep_layer_chain_beyond_one_page_of_mount_options(
    executor, client: Client, daemon: Daemon, base_snapshot: str
) -> None:  # type: ignore[no-untyped-def]
    parent = base_snapshot
    for i in range(60):
        key = f"deep-{uuid.uuid4().hex}"
        upper = rootfs.layers(client.prepare(key, parent)).upper
        assert upper is not None
        (upper / f"layer-{i}").write_text(str(i))
        client.commit(f"{key}-c", key)
        parent = f"{key}-c"
    mounts = client.prepare(f"deep-run-{uuid.uuid4().hex}", parent)
    assert len(",".join(mounts[0].options)) > 4096
    result = executor(client, daemon.paths).run(mounts, RunRequest(["cat", "/layer-0", "/layer-59"]))
    assert (result.exit_code, result.stdout) == (0, b"059")
