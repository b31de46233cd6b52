"""The OCI runtime spec bakec writes for a RUN step.

It follows containerd's default Linux spec (which BuildKit also starts from): Docker's
default capabilities, proc/dev/devpts/shm/mqueue/sysfs/cgroup mounts, masked and
read-only /proc paths, a deny-all device rule (runc adds its default devices back), fresh
pid/ipc/uts/mount namespaces (and cgroup on cgroup v2, as in BuildKit), plus a network
namespace unless the network is "host" (for "default", the pooled CNI namespace that
bakec.worker.network attached to its bridge), and containerd's default seccomp profile
(:func:`default_seccomp`). As in BuildKit, setuid programs work (``noNewPrivileges`` is off).
``security="insecure"`` is BuildKit's insecure mode: every capability, no seccomp filter, no
masked or read-only paths, writable /sys and cgroupfs, all devices allowed.
"""

from __future__ import annotations

import fcntl
import functools
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

Network = Literal["default", "none", "host"]
Security = Literal["sandbox", "insecure"]

DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
DEFAULT_HOSTNAME = "buildkitsandbox"
CGROUP_PREFIX = "bakec-"
"""Each RUN's cgroup is ``/<id>`` (ids start with this), directly under the root: no shared
parent that one daemon's cleanup could remove while another daemon's runc creates a child in it."""

CAPABILITIES = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
]

MASKED_PATHS = [
    "/proc/acpi",
    "/proc/asound",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",  # containerd 2 (BuildKit's current base) masks it too: RAPL energy counters
]

READONLY_PATHS = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]

# BuildKit's WithInsecureSpec adds these to the default set.
INSECURE_CAPABILITIES = [
    "CAP_MAC_ADMIN",
    "CAP_MAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_SYS_PTRACE",
    "CAP_SYS_MODULE",
    "CAP_SYSLOG",
    "CAP_SYS_RAWIO",
    "CAP_SYS_ADMIN",
    "CAP_LINUX_IMMUTABLE",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_PACCT",
    "CAP_SYS_TTY_CONFIG",
    "CAP_SYS_TIME",
    "CAP_WAKE_ALARM",
    "CAP_AUDIT_READ",
    "CAP_AUDIT_CONTROL",
    "CAP_SYS_RESOURCE",
    "CAP_BLOCK_SUSPEND",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_LEASE",
    "CAP_NET_ADMIN",
    "CAP_NET_BROADCAST",
]

# Linux capability numbers (linux/capability.h), to filter by what this host can grant.
CAPABILITY_NUMBERS = {
    "CAP_CHOWN": 0,
    "CAP_DAC_OVERRIDE": 1,
    "CAP_DAC_READ_SEARCH": 2,
    "CAP_FOWNER": 3,
    "CAP_FSETID": 4,
    "CAP_KILL": 5,
    "CAP_SETGID": 6,
    "CAP_SETUID": 7,
    "CAP_SETPCAP": 8,
    "CAP_LINUX_IMMUTABLE": 9,
    "CAP_NET_BIND_SERVICE": 10,
    "CAP_NET_BROADCAST": 11,
    "CAP_NET_ADMIN": 12,
    "CAP_NET_RAW": 13,
    "CAP_IPC_LOCK": 14,
    "CAP_IPC_OWNER": 15,
    "CAP_SYS_MODULE": 16,
    "CAP_SYS_RAWIO": 17,
    "CAP_SYS_CHROOT": 18,
    "CAP_SYS_PTRACE": 19,
    "CAP_SYS_PACCT": 20,
    "CAP_SYS_ADMIN": 21,
    "CAP_SYS_BOOT": 22,
    "CAP_SYS_NICE": 23,
    "CAP_SYS_RESOURCE": 24,
    "CAP_SYS_TIME": 25,
    "CAP_SYS_TTY_CONFIG": 26,
    "CAP_MKNOD": 27,
    "CAP_LEASE": 28,
    "CAP_AUDIT_WRITE": 29,
    "CAP_AUDIT_CONTROL": 30,
    "CAP_SETFCAP": 31,
    "CAP_MAC_OVERRIDE": 32,
    "CAP_MAC_ADMIN": 33,
    "CAP_SYSLOG": 34,
    "CAP_WAKE_ALARM": 35,
    "CAP_BLOCK_SUSPEND": 36,
    "CAP_AUDIT_READ": 37,
}

# (path, major, minor) of the character devices BuildKit's insecure mode creates.
INSECURE_DEVICES = [
    ("/dev/kmsg", 1, 11),
    ("/dev/cuse", 10, 203),
    ("/dev/fuse", 10, 229),
    ("/dev/kvm", 10, 232),
    ("/dev/net/tun", 10, 200),
    ("/dev/loop-control", 10, 237),
]


@dataclass(frozen=True)
class SpecMount:
    """A mount inside the container (OCI ``mounts`` entry)."""

    destination: str
    source: str
    type: str = "bind"
    options: tuple[str, ...] = ("rbind", "ro")

    def to_oci(self) -> dict[str, Any]:
        return {
            "destination": self.destination,
            "type": self.type,
            "source": self.source,
            "options": list(self.options),
        }


@dataclass(frozen=True)
class Rlimit:
    """One ``ulimit``: e.g. ``Rlimit("nofile", 1024, 1024)``."""

    name: str
    soft: int
    hard: int

    def to_oci(self) -> dict[str, Any]:
        return {"type": f"RLIMIT_{self.name.upper()}", "soft": self.soft, "hard": self.hard}


@dataclass(frozen=True)
class ProcessSpec:
    """What to run and as whom (user already resolved to numbers)."""

    args: Sequence[str]
    env: Sequence[str] = ()
    cwd: str = "/"
    uid: int = 0
    gid: int = 0
    additional_gids: Sequence[int] = ()
    # containerd's default; raising the hard limit needs CAP_SYS_RESOURCE outside, which sandboxes lack.
    rlimits: Sequence[Rlimit] = field(default_factory=lambda: [Rlimit("nofile", 1024, 1024)])


def system_mounts(shm_size: int = 64 << 20) -> list[SpecMount]:
    """The kernel filesystems every container gets."""
    return [
        SpecMount("/proc", "proc", "proc", ("nosuid", "noexec", "nodev")),
        SpecMount("/dev", "tmpfs", "tmpfs", ("nosuid", "strictatime", "mode=755", "size=65536k")),
        SpecMount(
            "/dev/pts",
            "devpts",
            "devpts",
            ("nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"),
        ),
        SpecMount(
            "/dev/shm",
            "shm",
            "tmpfs",
            ("nosuid", "noexec", "nodev", "mode=1777", f"size={shm_size // 1024}k"),
        ),
        SpecMount("/dev/mqueue", "mqueue", "mqueue", ("nosuid", "noexec", "nodev")),
        SpecMount("/sys", "sysfs", "sysfs", ("nosuid", "noexec", "nodev", "ro")),
        SpecMount("/sys/fs/cgroup", "cgroup", "cgroup", ("nosuid", "noexec", "nodev", "relatime", "ro")),
    ]


def build_spec(
    container_id: str,
    process: ProcessSpec,
    *,
    hostname: str = DEFAULT_HOSTNAME,
    mounts: Sequence[SpecMount] = (),
    network: Network = "none",
    netns: str | None = None,
    security: Security = "sandbox",
    shm_size: int = 64 << 20,
    annotations: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The full OCI spec as a dict; ``mounts`` come after the system mounts (so they win).

    ``netns`` is the path of a network namespace to join; without it a fresh one is made
    (only loopback), unless ``network`` is "host".
    """
    env = list(process.env)
    if not any(e.startswith("PATH=") for e in env):
        env.insert(0, DEFAULT_PATH)
    namespaces = [{"type": t} for t in ("pid", "ipc", "uts", "mount")]
    if network != "host":
        # runc brings up loopback in a fresh network namespace; nothing else is reachable.
        namespaces.append({"type": "network", "path": netns} if netns else {"type": "network"})
    if _cgroup_v2():
        namespaces.append({"type": "cgroup"})  # BuildKit's cgroupV2NamespaceSupported: own cgroup as root
    caps = list(CAPABILITIES)
    spec: dict[str, Any] = {
        "ociVersion": "1.0.2-dev",
        "process": {
            "terminal": False,
            "user": {"uid": process.uid, "gid": process.gid, "additionalGids": list(process.additional_gids)},
            "args": list(process.args),
            "env": env,
            "cwd": process.cwd or "/",
            "capabilities": {"bounding": caps, "effective": caps, "permitted": caps},
            "rlimits": [r.to_oci() for r in process.rlimits],
            "noNewPrivileges": False,  # BuildKit's oci.WithNewPrivileges: setuid programs (su, sudo) work
        },
        "root": {"path": "rootfs", "readonly": False},
        "annotations": dict(annotations or {}),
        "hostname": hostname,
        "mounts": [m.to_oci() for m in [*system_mounts(shm_size), *mounts]],
        "linux": {
            "resources": {"devices": [{"allow": False, "access": "rwm"}]},
            "cgroupsPath": "/"
            + (container_id if container_id.startswith(CGROUP_PREFIX) else CGROUP_PREFIX + container_id),
            "namespaces": namespaces,
            "maskedPaths": MASKED_PATHS,
            "readonlyPaths": READONLY_PATHS,
        },
    }
    if security == "insecure":
        _make_insecure(spec)
    elif seccomp_supported():
        spec["linux"]["seccomp"] = default_seccomp(caps)
    return spec


def _make_insecure(spec: dict[str, Any]) -> None:
    """BuildKit's insecure mode (WithInsecureSpec, writable sysfs and cgroupfs)."""
    # Only what this process may grant: runc fails on a capability outside our bounding set
    # (sandboxed hosts drop e.g. CAP_SYS_RESOURCE), where BuildKit would fail the RUN.
    bounding = _bounding_set()
    caps = [c for c in CAPABILITIES + INSECURE_CAPABILITIES if bounding >> CAPABILITY_NUMBERS[c] & 1]
    spec["process"]["capabilities"] = {
        k: list(caps) for k in ("bounding", "effective", "permitted", "inheritable", "ambient")
    }
    linux = spec["linux"]
    linux["maskedPaths"] = []
    linux["readonlyPaths"] = []
    linux["resources"]["devices"] = [
        {"allow": True, "type": "c", "access": "rwm"},
        {"allow": True, "type": "b", "access": "rwm"},
    ]
    devices = [{"path": p, "type": "c", "major": ma, "minor": mi} for p, ma, mi in INSECURE_DEVICES]
    devices += [
        {"path": f"/dev/loop{i}", "type": "b", "major": 7, "minor": i} for i in range(_free_loop() + 8)
    ]
    linux["devices"] = devices
    for m in spec["mounts"]:
        if m["destination"] in ("/sys", "/sys/fs/cgroup"):
            m["options"] = [o for o in m["options"] if o != "ro"] + ["rw"]


SECCOMP_PROFILE = "seccomp_default.json"
"""containerd's default seccomp profile as data (source and version: worker/README.md)."""

_GOARCH = {"x86_64": "amd64", "aarch64": "arm64", "i686": "386", "i386": "386", "armv7l": "arm"}


@functools.cache
def _profile() -> dict[str, Any]:
    with open(os.path.join(os.path.dirname(__file__), SECCOMP_PROFILE), encoding="utf-8") as handle:
        return json.load(handle)


def default_seccomp(
    capabilities: Sequence[str], *, arch: str | None = None, kernel: str | None = None
) -> dict[str, Any]:
    """The OCI ``linux.seccomp`` section for a process whose bounding set is ``capabilities``.

    containerd's ``seccomp.DefaultProfile``: an entry applies when its ``includes`` all hold
    (one of its capabilities is granted, the machine is one of its architectures, the kernel
    is at least ``minKernel``) and none of its ``excludes`` does. ``arch`` is Go's name for
    the machine (default: this one's), ``kernel`` a release such as "6.1.0" (default: this one's).
    """
    profile = _profile()
    arch = arch or _GOARCH.get(os.uname().machine, os.uname().machine)
    kernel_version = _version(kernel or os.uname().release)
    granted = set(capabilities)

    def conditions(rule: dict[str, Any]) -> list[bool]:
        """Whether each condition of an ``includes`` or ``excludes`` rule holds here."""
        held = []
        if "caps" in rule:
            held.append(bool(granted & set(rule["caps"])))
        if "arches" in rule:
            held.append(arch in rule["arches"])
        if "minKernel" in rule:
            held.append(kernel_version >= _version(rule["minKernel"]))
        return held

    syscalls = []
    for entry in profile["syscalls"]:
        if all(conditions(entry.get("includes", {}))) and not any(conditions(entry.get("excludes", {}))):
            syscalls.append({k: v for k, v in entry.items() if k not in ("includes", "excludes")})
    return {
        "defaultAction": profile["defaultAction"],
        "architectures": list(profile["archMap"].get(arch, [])),
        "syscalls": syscalls,
    }


def _version(release: str) -> tuple[int, ...]:
    """A kernel release's (major, minor): "6.1.0-18-amd64" -> (6, 1)."""
    numbers = []
    for part in release.split("-", 1)[0].split(".")[:2]:
        digits = "".join(c for c in part if c.isdigit())
        numbers.append(int(digits or 0))
    return tuple(numbers)


@functools.cache
def _cgroup_v2() -> bool:
    return os.path.exists("/proc/self/ns/cgroup") and os.path.exists("/sys/fs/cgroup/cgroup.subtree_control")


@functools.cache
def seccomp_supported() -> bool:
    """Whether this kernel has seccomp (containerd's ``seccomp.IsEnabled``, which BuildKit checks)."""
    try:
        with open("/proc/self/status") as status:
            return any(line.startswith("Seccomp:") for line in status)
    except OSError:
        return False


def _bounding_set() -> int:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("CapBnd:"):
                    return int(line.split()[1], 16)
    except OSError:
        pass
    return (1 << 64) - 1


def _free_loop() -> int:
    """The first free loop device number (LOOP_CTL_GET_FREE), 0 if unknown."""
    try:
        fd = os.open("/dev/loop-control", os.O_RDWR | os.O_CLOEXEC)
    except OSError:
        return 0
    try:
        return max(fcntl.ioctl(fd, 0x4C82), 0)
    except OSError:
        return 0
    finally:
        os.close(fd)


def spec_json(spec: dict[str, Any]) -> bytes:
    """The spec as containerd stores it in ``Container.spec``."""
    return json.dumps(spec, separators=(",", ":")).encode()
