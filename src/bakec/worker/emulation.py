"""RUN steps of a foreign platform: QEMU user-mode emulation through binfmt_misc.

bakec does what BuildKit's OCI worker relies on: the kernel runs a foreign ELF
binary through the interpreter of the first enabled binfmt_misc handler whose
magic matches the binary's header. Debian's ``qemu-user-static`` registers its
handlers with the F (fix-binary) flag, so the kernel opens the interpreter at
registration and it works inside the container's root: runc just execs the
arm64 ``/bin/sh`` and the kernel hands it to ``qemu-aarch64``.

:func:`emulated` says whether a platform's RUN steps go through an emulator
(progress shows them as "(emulated)"); :func:`require` checks, before such a
step runs, that the handler is there and usable, and otherwise raises a
:class:`BuildError` naming what is missing and the command that fixes it.
BuildKit itself only finds out when the exec fails with "exec format error".
"""

from __future__ import annotations

import functools
import platform as _host
import shutil
from dataclasses import dataclass
from pathlib import Path

from bakec.errors import BuildError

BINFMT_DIR = Path("/proc/sys/fs/binfmt_misc")
DEBIAN_FORMATS = Path("/usr/share/binfmts")  # update-binfmts' format files (binfmt-support)

_HOST_ARCH = {
    "x86_64": "amd64",
    "amd64": "amd64",
    "aarch64": "arm64",
    "arm64": "arm64",
    "i686": "386",
    "i386": "386",
    "armv7l": "arm",
    "armv6l": "arm",
    "riscv64": "riscv64",
    "s390x": "s390x",
    "ppc64le": "ppc64le",
    "loongarch64": "loong64",
    "mips64": "mips64",
}

# 32-bit architectures a 64-bit host usually runs without an emulator (compat mode). They
# count as emulated only when a binfmt handler claims their binaries (binfmt_misc is asked
# before the kernel's own ELF loaders).
_COMPAT = {"amd64": {"386"}, "arm64": {"arm"}}


@dataclass(frozen=True)
class Arch:
    """How an architecture's ELF executables start, and QEMU's name for it."""

    elf_class: int  # 1: 32-bit, 2: 64-bit
    big_endian: bool
    machine: int  # e_machine
    qemu: str

    def header(self) -> bytes:
        """The first bytes of a static executable of this architecture (zeros past e_machine)."""
        order = "big" if self.big_endian else "little"
        ident = b"\x7fELF" + bytes([self.elf_class, 2 if self.big_endian else 1, 1]) + bytes(9)
        return ident + (2).to_bytes(2, order) + self.machine.to_bytes(2, order) + bytes(108)


ARCHES: dict[str, Arch] = {
    "amd64": Arch(2, False, 62, "x86_64"),
    "386": Arch(1, False, 3, "i386"),
    "arm64": Arch(2, False, 183, "aarch64"),
    "arm": Arch(1, False, 40, "arm"),
    "riscv64": Arch(2, False, 243, "riscv64"),
    "s390x": Arch(2, True, 22, "s390x"),
    "ppc64le": Arch(2, False, 21, "ppc64le"),
    "ppc64": Arch(2, True, 21, "ppc64"),
    "mips64le": Arch(2, False, 8, "mips64el"),
    "mips64": Arch(2, True, 8, "mips64"),
    "mipsle": Arch(1, False, 8, "mipsel"),
    "mips": Arch(1, True, 8, "mips"),
    "loong64": Arch(2, False, 258, "loongarch64"),
}


@dataclass(frozen=True)
class Handler:
    """One registered binfmt_misc entry (``/proc/sys/fs/binfmt_misc/<name>``)."""

    name: str
    enabled: bool
    interpreter: str
    flags: str
    offset: int
    magic: bytes
    mask: bytes

    def matches(self, header: bytes) -> bool:
        """Whether the kernel would hand an executable starting with ``header`` to this handler."""
        window = header[self.offset : self.offset + len(self.magic)]
        if len(window) != len(self.magic):
            return False
        mask = self.mask or b"\xff" * len(self.magic)
        return all((h & m) == (g & m) for h, m, g in zip(window, mask, self.magic, strict=False))

    @classmethod
    def read(cls, path: Path) -> Handler | None:
        """Parse a handler file; ``None`` for extension-matching entries and unreadable files."""
        try:
            lines = path.read_text().splitlines()
        except OSError:
            return None
        fields: dict[str, str] = {}
        for line in lines[1:]:
            key, _, value = line.partition(" ")
            fields[key.rstrip(":")] = value.strip()
        if "magic" not in fields:
            return None
        return cls(
            path.name,
            bool(lines) and lines[0] == "enabled",
            fields.get("interpreter", ""),
            fields.get("flags", ""),
            int(fields.get("offset", "0") or 0),
            bytes.fromhex(fields["magic"]),
            bytes.fromhex(fields.get("mask", "")),
        )


def host_arch() -> str:
    """The host's architecture as OCI names it (``amd64``, ``arm64``, ...)."""
    machine = _host.machine().lower()
    return _HOST_ARCH.get(machine, machine)


def arch_of(platform: str) -> str:
    """The architecture of an ``os/arch[/variant]`` platform string ("" when there is none)."""
    parts = platform.split("/")
    return parts[1] if len(parts) > 1 else ""


def handlers(binfmt_dir: Path = BINFMT_DIR) -> list[Handler]:
    """The magic-matching handlers registered in ``binfmt_dir``, in the kernel's order of names."""
    if not binfmt_dir.is_dir():
        return []
    found = []
    for path in sorted(binfmt_dir.iterdir()):
        if path.name in ("register", "status"):
            continue
        handler = Handler.read(path)
        if handler is not None:
            found.append(handler)
    return found


def handler_for(arch: str, binfmt_dir: Path = BINFMT_DIR) -> Handler | None:
    """The handler the kernel would pick for ``arch``'s executables (an enabled one first)."""
    spec = ARCHES.get(arch)
    if spec is None:
        return None
    matching = [h for h in handlers(binfmt_dir) if h.matches(spec.header())]
    matching.sort(key=lambda h: not h.enabled)
    return matching[0] if matching else None


@functools.cache
def emulated(platform: str) -> bool:
    """Whether RUN steps for ``platform`` execute through an emulator on this host."""
    arch = arch_of(platform)
    host = host_arch()
    if not arch or arch == host:
        return False
    if arch in _COMPAT.get(host, ()):
        handler = handler_for(arch)
        return handler is not None and handler.enabled
    return True


def require(platform: str, binfmt_dir: Path = BINFMT_DIR) -> None:
    """Raise :class:`BuildError` unless ``platform``'s binaries can run here (natively or emulated)."""
    arch = arch_of(platform)
    host = host_arch()
    if not arch or arch == host or arch in _COMPAT.get(host, ()):
        return
    what = f"RUN for {platform} needs emulation"
    spec = ARCHES.get(arch)
    if spec is None:
        raise BuildError(f"{what}, but bakec knows no QEMU emulator for the {arch} architecture")
    fmt = binfmt_format(arch)
    enable = f"update-binfmts --enable {fmt}"
    install = f"apt-get install qemu-user-static binfmt-support && {enable}"
    status = binfmt_dir / "status"
    if not status.exists():
        raise BuildError(
            f"{what}, but binfmt_misc is not mounted",
            f"mount -t binfmt_misc binfmt_misc {binfmt_dir}, then {install}",
        )
    if _read(status) == "disabled":
        raise BuildError(f"{what}, but binfmt_misc is disabled", f"echo 1 > {status}, then {enable}")
    handler = handler_for(arch, binfmt_dir)
    if handler is None:
        missing = f"{what}, but no binfmt_misc handler for {arch} binaries is registered"
        if _qemu_installed(spec):
            raise BuildError(missing, f"register qemu-user-static's: {enable}")
        raise BuildError(
            f"{missing} and qemu-user-static is not installed", f"install and register it: {install}"
        )
    if not handler.enabled:
        raise BuildError(
            f"{what}, but the binfmt_misc handler {handler.name} for {arch} is disabled",
            f"enable it: update-binfmts --enable {handler.name}",
        )
    if "F" not in handler.flags:
        raise BuildError(
            f"{what}, but the binfmt_misc handler {handler.name} has no F (fix-binary) flag, so its "
            f"interpreter {handler.interpreter} is not visible inside the build container",
            f"register qemu-user-static's instead: update-binfmts --disable {handler.name}, then {install}",
        )


def binfmt_format(arch: str) -> str:
    """The binfmt-support format that registers ``arch``'s handler (``qemu-aarch64`` ...)."""
    spec = ARCHES[arch]
    for path in sorted(DEBIAN_FORMATS.glob("qemu-*")) if DEBIAN_FORMATS.is_dir() else ():
        handler = _debian_format(path)
        if handler is not None and handler.matches(spec.header()):
            return path.name
    return f"qemu-{spec.qemu}"


def _debian_format(path: Path) -> Handler | None:
    """An update-binfmts format file (``magic``/``mask`` with ``\\xNN`` escapes) as a handler."""
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return None
    fields = dict(line.partition(" ")[::2] for line in lines)

    def unescape(text: str) -> bytes:
        return text.strip().encode("latin-1").decode("unicode_escape").encode("latin-1")

    if "magic" not in fields:
        return None
    return Handler(
        path.name,
        True,
        fields.get("interpreter", "").strip(),
        "",
        int(fields.get("offset", "0").strip() or 0),
        unescape(fields["magic"]),
        unescape(fields.get("mask", "")),
    )


def _qemu_installed(spec: Arch) -> bool:
    static = shutil.which(f"qemu-{spec.qemu}-static")
    return static is not None or Path(f"/usr/libexec/qemu-binfmt/{spec.qemu}-binfmt-P").exists()


def _read(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError:
        return ""


__all__ = [
    "ARCHES",
    "Arch",
    "Handler",
    "arch_of",
    "binfmt_format",
    "emulated",
    "handler_for",
    "handlers",
    "host_arch",
    "require",
]
