"""Entitlements: buildx's/BuildKit's messages, and their effect on real runc."""

from __future__ import annotations

import uuid

import pytest

from bakec.errors import BuildError, UsageError
from bakec.worker.client import Client
from bakec.worker.daemon import Daemon
from bakec.worker.entitlements import Entitlements, grant
from bakec.worker.run import ContainerdExecutor, RunRequest
from bakec.worker.runc import RuncExecutor

from .conftest import requires_containerd

CAP_SYS_ADMIN = 21


def test_parse_allow_values_as_buildx() -> None:
    allowed = Entitlements.parse(["network.host", "security.insecure,fs.read=/a", "fs=/b"])
    assert allowed == Entitlements(True, True, ("/a", "/b"), ("/b",))
    assert allowed.names == ["network.host", "security.insecure"]
    with pytest.raises(UsageError, match='unknown entitlement key "network.bridge"'):
        Entitlements.parse(["network.bridge"])


@pytest.mark.parametrize(
    ("network", "security", "message"),
    [
        ("host", "sandbox", "network.host is not allowed"),
        ("default", "insecure", "security.insecure is not allowed"),
    ],
)
def test_exec_check_uses_buildkits_wording(network: str, security: str, message: str) -> None:
    with pytest.raises(BuildError) as failure:
        Entitlements().check_exec(network, security)
    assert str(failure.value) == message
    Entitlements(network_host=True, security_insecure=True).check_exec(network, security)
    Entitlements().check_exec("none", "sandbox")  # network=none needs nothing


def test_missing_entitlement_fails_at_once_without_a_terminal() -> None:
    printed: list[str] = []

    def ask(prompt: str) -> str:
        raise AssertionError("must not prompt without a terminal")

    with pytest.raises(BuildError) as failure:
        grant(
            ["network.host", "security.insecure"],
            Entitlements(),
            argv=["bakec", "bake", "release"],
            interactive=False,
            ask=ask,
            out=printed.append,
        )
    assert str(failure.value) == "additional privileges requested"
    assert printed == [
        (
            "Your build is requesting privileges for following possibly insecure capabilities:\n"
            "\n"
            " - Running build containers that can access host network\n"
            " - Running privileged containers that can make system changes\n"
            "\n"
            'Pass "--allow=network.host --allow=security.insecure" to grant requested privileges.\n'
            "\n"
            "Your full command with requested privileges:\n"
            "\n"
            "bakec bake --allow=network.host --allow=security.insecure release\n"
            "\n"
        )
    ]


def test_granted_entitlements_pass_and_a_terminal_may_accept() -> None:
    grant(["network.host"], Entitlements(network_host=True))
    grant(["network.host"], Entitlements(), interactive=True, ask=lambda _: "y", out=lambda _: None)
    with pytest.raises(BuildError, match="additional privileges requested"):
        grant(["security.insecure"], Entitlements(), interactive=True, ask=lambda _: "n", out=lambda _: None)


@pytest.fixture(params=[RuncExecutor, ContainerdExecutor], ids=["runc", "containerd"])
def executor_cls(request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    return request.param


def _run(executor_cls, client: Client, daemon: Daemon, base: str, allow: Entitlements, req: RunRequest):  # type: ignore[no-untyped-def]
    executor = executor_cls(client, daemon.paths, allow=allow)
    return executor.run(client.prepare(f"ent-{uuid.uuid4().hex}", base), req)


def _cap_eff(status: bytes) -> int:
    line = next(x for x in status.decode().splitlines() if x.startswith("CapEff:"))
    return int(line.split()[1], 16)


@requires_containerd
def test_security_insecure_grants_cap_sys_admin(
    executor_cls, client: Client, daemon: Daemon, base_snapshot: str
) -> None:  # type: ignore[no-untyped-def]
    allow = Entitlements(security_insecure=True)
    insecure = _run(
        executor_cls,
        client,
        daemon,
        base_snapshot,
        allow,
        RunRequest(["cat", "/proc/self/status"], security="insecure"),
    )
    sandbox = _run(
        executor_cls, client, daemon, base_snapshot, allow, RunRequest(["cat", "/proc/self/status"])
    )
    assert _cap_eff(insecure.stdout) >> CAP_SYS_ADMIN & 1
    assert not _cap_eff(sandbox.stdout) >> CAP_SYS_ADMIN & 1


@requires_containerd
def test_insecure_mode_makes_sys_writable(client: Client, daemon: Daemon, base_snapshot: str) -> None:
    req = RunRequest(
        ["sh", "-c", "grep ' /sys ' /proc/mounts"],
        security="insecure",
    )
    out = _run(
        RuncExecutor, client, daemon, base_snapshot, Entitlements(security_insecure=True), req
    ).stdout.decode()
    assert " /sys sysfs rw," in out


@requires_containerd
@pytest.mark.parametrize(
    ("req", "message"),
    [
        (RunRequest(["true"], network="host"), "network.host is not allowed"),
        (RunRequest(["true"], security="insecure"), "security.insecure is not allowed"),
    ],
)
def test_refused_without_the_entitlement_before_anything_runs(
    executor_cls, client: Client, daemon: Daemon, base_snapshot: str, req: RunRequest, message: str
) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(BuildError) as failure:
        _run(executor_cls, client, daemon, base_snapshot, Entitlements(), req)
    assert str(failure.value) == message
    assert not list(daemon.paths.runs_dir.iterdir())
