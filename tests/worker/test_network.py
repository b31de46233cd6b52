"""RUN networking on real runc: the CNI bridge (default), none, host, the pool, the fallback.

Traffic goes only to loopback or to the gateway address of the bridge these tests create.
The network state lives in a state dir of this module, torn down (and checked clean:
namespaces, veths, bridge, iptables rules, mounts) at the end.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from bakec.worker import network
from bakec.worker.client import Client
from bakec.worker.daemon import Daemon
from bakec.worker.entitlements import Entitlements
from bakec.worker.network import NetPaths, NetworkProvider, resolv_conf
from bakec.worker.run import ContainerdExecutor, RunRequest
from bakec.worker.runc import RuncExecutor

from .conftest import requires_containerd, short_state_dir

pytestmark = requires_containerd
needs_cni = pytest.mark.skipif(
    network.plugin_dir() is None, reason="CNI plugins missing (apt-get install containernetworking-plugins)"
)
ALLOW_ALL = Entitlements(network_host=True, security_insecure=True)


def _iptables_rules() -> str:
    return "".join(
        subprocess.run(["iptables", "-w", *t, "-S"], capture_output=True, text=True, check=False).stdout
        for t in ((), ("-t", "nat"))
    )


def _links() -> set[str]:
    return set(os.listdir("/sys/class/net"))


def _mounts_under(path: Path) -> list[str]:
    return [line for line in Path("/proc/self/mountinfo").read_text().splitlines() if str(path) in line]


def _interfaces(proc_net_dev: bytes) -> list[str]:
    return [line.split(":")[0].strip() for line in proc_net_dev.decode().splitlines() if ":" in line]


@pytest.fixture(scope="module")
def net_state() -> Iterator[Path]:
    """A state dir for the network only; torn down and checked clean afterwards."""
    state = short_state_dir()
    rules, links = _iptables_rules(), _links()
    forward = Path("/proc/sys/net/ipv4/ip_forward").read_text()
    try:
        yield state
    finally:
        network.teardown(state)
        leftovers = {
            "links": _links() - links,
            "mounts": _mounts_under(state),
            "iptables": _iptables_rules() != rules,
            "ip_forward": Path("/proc/sys/net/ipv4/ip_forward").read_text() != forward,
        }
        shutil.rmtree(state, ignore_errors=True)
        assert not any(leftovers.values()), leftovers


@pytest.fixture(scope="module")
def provider(net_state: Path) -> NetworkProvider:
    return NetworkProvider(net_state)


@pytest.fixture(params=[RuncExecutor, ContainerdExecutor], ids=["runc", "containerd"])
def run(request: pytest.FixtureRequest, client: Client, daemon: Daemon, base_snapshot: str, provider):  # type: ignore[no-untyped-def]
    """``run(RunRequest) -> RunResult`` on a fresh snapshot, sharing the module's network pool."""
    executor = request.param(client, daemon.paths, allow=ALLOW_ALL, network=provider)

    def _run(req: RunRequest):  # type: ignore[no-untyped-def]
        return executor.run(client.prepare(f"net-{uuid.uuid4().hex}", base_snapshot), req)

    return _run


@pytest.fixture
def runc_run(client: Client, daemon: Daemon, base_snapshot: str, provider):  # type: ignore[no-untyped-def]
    executor = RuncExecutor(client, daemon.paths, allow=ALLOW_ALL, network=provider)
    return lambda req: executor.run(client.prepare(f"net-{uuid.uuid4().hex}", base_snapshot), req)


class _Server:
    """A one-shot-per-connection TCP server on the bridge gateway: reads a line, answers."""

    def __init__(self, host: str) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind((host, 0))
        self.sock.listen(4)
        self.sock.settimeout(20)
        self.port = self.sock.getsockname()[1]
        self.peers: list[str] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        try:
            conn, peer = self.sock.accept()
        except OSError:
            return
        with conn:
            self.peers.append(peer[0])
            conn.settimeout(10)
            data = conn.recv(100)
            conn.sendall(b"pong:" + data)

    def close(self) -> None:
        self.sock.close()
        self.thread.join(5)


@needs_cni
def test_default_network_gets_eth0_on_the_bridge_and_reaches_the_host(run, provider: NetworkProvider) -> None:  # type: ignore[no-untyped-def]
    with provider.sandbox("default") as probe:  # attaches the bridge, tells us its gateway
        assert probe.mode == "default" and probe.gateway and probe.address
    gateway = probe.gateway
    subnet = ipaddress.ip_network(probe.address, strict=False)
    server = _Server(gateway)
    try:
        script = f"busybox ip -4 addr show eth0; busybox ip route; echo ping | busybox nc -w 10 {gateway} {server.port}; echo"
        result = run(RunRequest(["sh", "-c", script], network="default"))
    finally:
        server.close()
    out = result.stdout.decode()
    assert result.exit_code == 0, (out, result.stderr)
    address = re.search(r"inet (\d+\.\d+\.\d+\.\d+)/24", out)
    assert address and ipaddress.ip_address(address.group(1)) in subnet, out
    assert "pong:ping" in out
    assert f"default via {gateway} dev eth0" in out
    assert server.peers == [address.group(1)]  # reached from the RUN's own address, not the host's
    # Outbound traffic is masqueraded (checked on the rules: the tests send nothing outside).
    nat = subprocess.run(
        ["iptables", "-w", "-t", "nat", "-S"], capture_output=True, text=True, check=True
    ).stdout
    chain = re.search(rf"-A POSTROUTING -s {re.escape(address.group(1))}/32 .* -j (CNI-\w+)", nat)
    assert chain and f"-A {chain.group(1)} ! -d 224.0.0.0/4" in nat and "MASQUERADE" in nat


@needs_cni
def test_namespaces_are_reused_across_runs(runc_run, provider: NetworkProvider) -> None:  # type: ignore[no-untyped-def]
    first = runc_run(RunRequest(["busybox", "ip", "-4", "-o", "addr", "show", "eth0"], network="default"))
    second = runc_run(RunRequest(["busybox", "ip", "-4", "-o", "addr", "show", "eth0"], network="default"))
    assert first.stdout and first.stdout.split()[3] == second.stdout.split()[3]
    assert len(list(provider.paths.ns_dir.glob("*.json"))) >= 1


@needs_cni
def test_parallel_runs_get_their_own_namespaces(runc_run) -> None:  # type: ignore[no-untyped-def]
    from concurrent.futures import ThreadPoolExecutor

    cmd = ["sh", "-c", "busybox ip -4 -o addr show eth0; sleep 1"]
    with ThreadPoolExecutor(3) as pool:
        results = list(pool.map(lambda _: runc_run(RunRequest(cmd, network="default")), range(3)))
    addresses = {r.stdout.split()[3] for r in results}
    assert len(addresses) == 3


@needs_cni
def test_insecure_runs_do_not_return_their_namespace_to_the_pool(runc_run, provider: NetworkProvider) -> None:  # type: ignore[no-untyped-def]
    before = {p.stem for p in provider.paths.ns_dir.glob("*.json")}
    # With CAP_NET_ADMIN the RUN can change its namespace: here it takes eth0 down.
    result = runc_run(
        RunRequest(["busybox", "ip", "link", "set", "eth0", "down"], network="default", security="insecure")
    )
    assert result.exit_code == 0, result.stderr
    after = {p.stem for p in provider.paths.ns_dir.glob("*.json")}
    assert after <= before  # the namespace it used (pooled or new) is gone
    ok = runc_run(RunRequest(["cat", "/sys/class/net/eth0/operstate"], network="default"))
    assert ok.stdout.strip() == b"up"


def test_none_has_only_loopback(run) -> None:  # type: ignore[no-untyped-def]
    result = run(RunRequest(["cat", "/proc/net/dev"], network="none"))
    assert _interfaces(result.stdout) == ["lo"]


def test_host_sees_the_host_interfaces(run) -> None:  # type: ignore[no-untyped-def]
    result = run(RunRequest(["cat", "/proc/net/dev"], network="host"))
    inside = set(_interfaces(result.stdout))
    outside = set(_interfaces(Path("/proc/net/dev").read_bytes()))
    # Compare the stable ones: veths of parallel RUNs may come and go in between.
    assert {i for i in outside if not i.startswith("veth")} <= inside
    assert inside - {"lo"}


def test_without_cni_default_falls_back_to_the_host_with_one_warning(
    client: Client, daemon: Daemon, base_snapshot: str, caplog: pytest.LogCaptureFixture, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(network, "PLUGIN_DIRS", (Path("/nonexistent/cni"),))
    state = short_state_dir()
    try:
        executor = RuncExecutor(client, daemon.paths, network=NetworkProvider(state))
        with caplog.at_level(logging.WARNING, logger="bakec.worker.network"):
            outputs = [
                executor.run(
                    client.prepare(f"net-{uuid.uuid4().hex}", base_snapshot),
                    RunRequest(["cat", "/proc/net/dev"], network="default"),
                ).stdout
                for _ in range(2)
            ]
        warnings = [r.getMessage() for r in caplog.records if r.name == "bakec.worker.network"]
        assert len(warnings) == 1 and "containernetworking-plugins" in warnings[0]
        assert "\n" not in warnings[0] and "host network" in warnings[0]
        host = {i for i in _interfaces(Path("/proc/net/dev").read_bytes()) if not i.startswith("veth")}
        assert host <= set(_interfaces(outputs[0]))
    finally:
        network.teardown(state)
        shutil.rmtree(state, ignore_errors=True)


@needs_cni
def test_failing_cni_setup_falls_back_and_leaves_nothing(
    client: Client, daemon: Daemon, base_snapshot: str, caplog: pytest.LogCaptureFixture
) -> None:  # type: ignore[no-untyped-def]
    state = short_state_dir()
    paths = NetPaths(state)
    paths.base.mkdir(parents=True)
    # A bridge whose IPAM has no subnet: the bridge plugin fails.
    paths.config.write_text(
        '{"cniVersion": "1.0.0", "name": "bakec-broken", "plugins": [{"type": "loopback"},'
        ' {"type": "bridge", "bridge": "bkbroken0", "ipam": {"type": "host-local", "ranges": []}}]}'
    )
    links = _links()
    try:
        executor = RuncExecutor(client, daemon.paths, network=NetworkProvider(state))
        with caplog.at_level(logging.WARNING, logger="bakec.worker.network"):
            result = executor.run(
                client.prepare(f"net-{uuid.uuid4().hex}", base_snapshot),
                RunRequest(["cat", "/proc/net/dev"], network="default"),
            )
        assert result.exit_code == 0
        assert any("CNI bridge ADD" in r.getMessage() for r in caplog.records)
        assert not list(paths.ns_dir.iterdir())  # the half-made namespace is gone
        assert not _mounts_under(state)
    finally:
        network.teardown(state)
        shutil.rmtree(state, ignore_errors=True)
    assert not {i for i in _links() - links if i == "bkbroken0" or i.startswith("veth")}


@needs_cni
def test_teardown_removes_namespaces_bridge_and_rules() -> None:
    state = short_state_dir()
    rules, links = _iptables_rules(), _links()
    provider = NetworkProvider(state)
    try:
        with provider.sandbox("default") as sandbox:
            assert sandbox.netns and _mounts_under(state)
        assert _links() - links  # bridge and veth exist while pooled
        assert _iptables_rules() != rules
    finally:
        network.teardown(state)
    try:
        assert _links() == links
        assert _iptables_rules() == rules
        assert not _mounts_under(state)
        assert not NetPaths(state).ns_dir.exists()
    finally:
        shutil.rmtree(state, ignore_errors=True)


@needs_cni
def test_namespaces_lost_in_a_reboot_are_replaced(runc_run, provider: NetworkProvider) -> None:  # type: ignore[no-untyped-def]
    with provider.sandbox("default"):
        pass
    pooled = [p.with_suffix("") for p in provider.paths.ns_dir.glob("*.json")]
    assert pooled
    for path in pooled:  # what a reboot does: the mounts go, the files stay
        subprocess.run(["umount", "-l", str(path)], check=True)
    result = runc_run(RunRequest(["busybox", "ip", "-4", "-o", "addr", "show", "eth0"], network="default"))
    assert result.exit_code == 0 and b"inet" in result.stdout
    assert not any(p.exists() for p in pooled)


@needs_cni
def test_pool_is_shared_across_processes_and_survives_a_killed_owner(provider: NetworkProvider) -> None:
    script = (
        "import sys; from pathlib import Path; from bakec.worker.network import NetworkProvider\n"
        f"s = NetworkProvider(Path({str(provider.paths.state_dir)!r})).acquire('default')\n"
        "print(s.netns, flush=True); sys.stdin.read()"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", script],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(Path(network.__file__).parents[2])},
    )
    try:
        assert holder.stdout is not None
        held = holder.stdout.readline().strip()
        assert held.startswith(str(provider.paths.ns_dir))
        with provider.sandbox("default") as mine:
            assert mine.netns != held  # in use by the other process
    finally:
        holder.kill()  # no release: the flock goes with the process
        holder.wait()
    taken = [provider.acquire("default") for _ in range(len(list(provider.paths.ns_dir.glob("*.json"))))]
    try:
        assert held in {s.netns for s in taken}
    finally:
        for sandbox in taken:
            provider.release(sandbox)


@needs_cni
def test_daemon_stop_tears_the_network_down(client: Client, base_snapshot: str) -> None:
    """The executor's default pool lives in the daemon's state dir; ``Daemon.stop()`` removes it."""
    state = short_state_dir()
    rules, links = _iptables_rules(), _links()
    own = Daemon(state)
    try:
        with own.ensure() as c, c.lease() as lc:
            blob_key = f"net-{uuid.uuid4().hex}"
            lc.prepare(blob_key)  # an empty snapshot: the executor only needs a rootfs with busybox
            upper = Path(lc.mounts(blob_key)[0].source)
            (upper / "bin").mkdir()
            shutil.copy2("/bin/busybox", upper / "bin" / "busybox")
            result = RuncExecutor(lc, own.paths).run(
                lc.mounts(blob_key),
                RunRequest(["/bin/busybox", "cat", "/proc/net/dev"], network="default"),
            )
            assert "eth0" in _interfaces(result.stdout)
            assert _links() - links and _mounts_under(state)
    finally:
        own.stop()
        try:
            assert _links() == links
            assert _iptables_rules() == rules
            assert not _mounts_under(state)
        finally:
            shutil.rmtree(state, ignore_errors=True)


def test_sweep_removes_half_made_namespaces_only(net_state: Path) -> None:
    paths = NetPaths(net_state)
    paths.ns_dir.mkdir(parents=True, exist_ok=True)
    (paths.ns_dir / "deadbeef00000000").touch()  # a crash between unshare and CNI ADD
    (paths.ns_dir / "deadbeef00000000.lock").touch()
    pooled = {p.name for p in paths.ns_dir.iterdir() if not p.name.startswith("deadbeef")}
    network.sweep(net_state)
    assert {p.name for p in paths.ns_dir.iterdir()} == pooled


@pytest.mark.parametrize(
    ("host", "mode", "expected"),
    [
        ("nameserver 10.0.0.2\nsearch example\n", "default", "nameserver 10.0.0.2\nsearch example\n"),
        (
            "nameserver 127.0.0.53\noptions edns0\n",
            "default",
            "options edns0\nnameserver 8.8.8.8\nnameserver 8.8.4.4\n",
        ),
        ("nameserver 127.0.0.53\n", "none", "nameserver 8.8.8.8\nnameserver 8.8.4.4\n"),
        ("nameserver 127.0.0.53\n", "host", "nameserver 127.0.0.53\n"),
        ("nameserver ::1\nnameserver 10.0.0.2\n", "default", "nameserver 10.0.0.2\n"),
    ],
)
def test_resolv_conf_drops_loopback_resolvers_outside_the_host_network(
    host: str, mode, expected: str
) -> None:  # type: ignore[no-untyped-def]
    assert resolv_conf(host, mode) == expected
