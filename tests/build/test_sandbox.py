"""The RUN sandbox on real runc: containerd's default seccomp profile, dropped only by ``--security=insecure``.

Calls busybox cannot make (``keyctl``, ``bpf``, ``process_vm_readv``) come from a tiny static C
program compiled here with gcc, which makes the raw syscalls and prints each errno.
"""

from __future__ import annotations

import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest

from .helpers import BUSYBOX, bakec, write_project

PROBE_C = r"""
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

static void report(const char *name, long ret) {
    printf("%s %s\n", name, ret == -1 ? strerrorname_np(errno) : "OK");
}

int main(void) {
    char here[8] = "x", there[8];
    struct iovec local = {there, 1}, remote = {here, 1};
    pid_t child = fork();
    if (child == 0) { pause(); _exit(0); }
    /* KEYCTL_JOIN_SESSION_KEYRING: would give the RUN a fresh keyring */
    report("keyctl", syscall(SYS_keyctl, 1, 0, 0, 0, 0));
    /* BPF_PROG_LOAD with no program: EINVAL if the call got through, EPERM from the filter */
    report("bpf", syscall(SYS_bpf, 5, NULL, 0));
    /* read another process's memory (needs CAP_SYS_PTRACE, and seccomp lets it through only then) */
    report("process_vm_readv", syscall(SYS_process_vm_readv, child, &local, 1, &remote, 1, 0));
    report("unshare", syscall(SYS_unshare, 0x10000000 | 0x00020000)); /* CLONE_NEWUSER|CLONE_NEWNS */
    kill(child, 9);
    return 0;
}
"""


@pytest.fixture(scope="module")
def probe(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The static syscall probe, built with gcc for this test run."""
    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.skip("gcc is not installed: the syscall probe (a static C program) cannot be built")
    work = tmp_path_factory.mktemp("probe")
    (work / "probe.c").write_text(PROBE_C)
    subprocess.run(
        [gcc, "-static", "-O1", "-o", str(work / "probe"), str(work / "probe.c")],
        check=True,
        capture_output=True,
    )
    return work / "probe"


def _build(tmp: Path, state_dir: Path, probe: Path, security: str) -> dict[str, str]:
    flag = " --security=insecure" if security == "insecure" else ""
    project = write_project(
        tmp,
        textwrap.dedent(f"""\
        FROM {BUSYBOX}
        COPY probe /probe
        RUN{flag} grep -E '^(Seccomp|NoNewPrivs):' /proc/self/status > /status; \\
            mkdir /x; (unshare -Urm sh -c 'mount -t tmpfs none /x' 2>&1 && echo mounted || echo refused) > /unshare; \\
            /probe > /calls
        """),
        'target "default" {\n  output = ["type=local,dest=out"]\n}\n',
    )
    shutil.copy(probe, project / "probe")
    args = ("--allow", "security.insecure") if security == "insecure" else ()
    proc = bakec(project, state_dir, "build", *args)
    assert proc.returncode == 0, proc.stderr
    out = project / "out"
    return {name: (out / name).read_text() for name in ("status", "unshare", "calls")}


def test_a_run_is_filtered_by_the_default_seccomp_profile(tmp_path, state_dir, probe):
    seen = _build(tmp_path, state_dir, probe, "sandbox")
    assert "Seccomp:\t2\n" in seen["status"]
    assert "NoNewPrivs:\t0\n" in seen["status"]  # as in BuildKit: setuid programs work
    assert seen["unshare"].rstrip().endswith("refused"), seen["unshare"]
    assert seen["calls"].splitlines() == [
        "keyctl EPERM",
        "bpf EPERM",
        "process_vm_readv EPERM",
        "unshare EPERM",
    ]


def test_an_insecure_run_has_no_seccomp_filter(tmp_path, state_dir, probe):
    seen = _build(tmp_path, state_dir, probe, "insecure")
    assert "Seccomp:\t0\n" in seen["status"]
    assert seen["unshare"].rstrip().endswith("mounted"), seen["unshare"]
    calls = dict(line.split() for line in seen["calls"].splitlines())
    # every call reaches the kernel now: bpf's empty attribute is refused as malformed, not forbidden
    assert calls["bpf"] not in ("EPERM", "OK") and calls["process_vm_readv"] == "OK", calls
    assert calls["keyctl"] == "OK" and calls["unshare"] == "OK", calls
