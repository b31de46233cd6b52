"""The seccomp section generated from containerd's default profile (data in worker/seccomp_default.json)."""

from __future__ import annotations

from bakec.worker.runtime_spec import CAPABILITIES, ProcessSpec, build_spec, default_seccomp

CLONE_NAMESPACES = 0x7E020000  # CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET


def _allowed(section: dict) -> set[str]:
    return {n for s in section["syscalls"] if s["action"] == "SCMP_ACT_ALLOW" for n in s["names"]}


def _rules(section: dict, name: str) -> list[dict]:
    return [s for s in section["syscalls"] if name in s["names"]]


def test_the_default_capabilities_get_containerds_list_and_no_admin_calls() -> None:
    section = default_seccomp(CAPABILITIES, arch="amd64", kernel="6.1.0-18-amd64")
    assert section["defaultAction"] == "SCMP_ACT_ERRNO"
    assert section["architectures"] == ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]
    allowed = _allowed(section)
    assert {"read", "execve", "chroot", "arch_prctl", "ptrace"} <= allowed  # chroot: CAP_SYS_CHROOT
    assert not {"mount", "unshare", "setns", "bpf", "keyctl", "reboot", "process_vm_readv"} & allowed
    assert not {"s390_runtime_instr", "set_tls"} & allowed  # other architectures' entries
    # clone only without namespace flags; clone3 says ENOSYS so libc falls back to clone
    (clone,) = _rules(section, "clone")
    assert clone["args"] == [
        {"index": 0, "value": CLONE_NAMESPACES, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}
    ]
    (clone3,) = _rules(section, "clone3")
    assert clone3["action"] == "SCMP_ACT_ERRNO" and clone3["errnoRet"] == 38
    assert all("includes" not in s and "excludes" not in s for s in section["syscalls"])


def test_capabilities_architectures_and_kernel_choose_entries() -> None:
    admin = default_seccomp([*CAPABILITIES, "CAP_SYS_ADMIN", "CAP_SYS_PTRACE"], arch="amd64", kernel="6.1")
    assert {"mount", "unshare", "setns", "bpf", "clone", "clone3", "process_vm_readv"} <= _allowed(admin)
    assert all(not s.get("args") for s in _rules(admin, "clone"))  # no masked clone, no ENOSYS clone3
    s390 = default_seccomp(CAPABILITIES, arch="s390x", kernel="6.1")
    (clone,) = _rules(s390, "clone")
    assert clone["args"][0]["index"] == 1  # s390's clone takes the flags second
    assert "s390_runtime_instr" in _allowed(s390) and "arch_prctl" not in _allowed(s390)
    assert "ptrace" not in _allowed(default_seccomp(CAPABILITIES, arch="amd64", kernel="4.4.0"))


def test_the_sandbox_spec_carries_the_profile_and_the_insecure_one_none() -> None:
    sandbox = build_spec("bakec-x", ProcessSpec(["true"]))
    assert sandbox["linux"]["seccomp"]["defaultAction"] == "SCMP_ACT_ERRNO"
    assert sandbox["process"]["noNewPrivileges"] is False
    assert "seccomp" not in build_spec("bakec-x", ProcessSpec(["true"]), security="insecure")["linux"]
