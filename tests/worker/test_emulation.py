"""Which RUN steps need an emulator, and errors naming what is missing (binfmt_misc, qemu-user-static).

The error cases read handler files shaped as the kernel writes them into a temporary
directory standing in for /proc/sys/fs/binfmt_misc; the live registration is exercised
end to end in tests/build/test_multiplatform.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bakec.errors import BuildError
from bakec.worker import emulation

# The first 20 bytes of Debian qemu-user-static's aarch64 handler (its magic/mask in /usr/share/binfmts).
AARCH64_MAGIC = "7f454c460201010000000000000000000200b700"
AARCH64_MASK = "ffffffffffffff00fffffffffffffffffeffffff"
RISCV64_MAGIC = "7f454c460201010000000000000000000200f300"


def _foreign() -> str:
    """An architecture that is not the host's (and not a compat one), for the error cases."""
    return "riscv64" if emulation.host_arch() != "riscv64" else "s390x"


Handlers = dict[str, tuple[str, str, str]]


def _binfmt(tmp: Path, status: str = "enabled", handlers: Handlers | None = None) -> Path:
    """A binfmt_misc-like directory: ``handlers`` maps an arch to (state, flags, magic)."""
    tmp.mkdir(exist_ok=True)
    (tmp / "status").write_text(status + "\n")
    (tmp / "register").write_text("")
    for arch, (state, flags, magic) in (handlers or {}).items():
        (tmp / f"qemu-{arch}").write_text(
            f"{state}\ninterpreter /usr/libexec/qemu-binfmt/{arch}-binfmt-P\nflags: {flags}\noffset 0\n"
            f"magic {magic}\nmask {AARCH64_MASK}\n"
        )
    return tmp


def _magic(arch: str) -> str:
    return emulation.ARCHES[arch].header()[:20].hex()


def test_elf_headers_match_the_kernel_handlers_debian_registers():
    handler = emulation.Handler(
        "qemu-aarch64", True, "", "PF", 0, bytes.fromhex(AARCH64_MAGIC), bytes.fromhex(AARCH64_MASK)
    )
    assert handler.matches(emulation.ARCHES["arm64"].header())
    assert not handler.matches(emulation.ARCHES["riscv64"].header())
    assert not handler.matches(emulation.ARCHES["amd64"].header())
    assert _magic("riscv64") == RISCV64_MAGIC


def test_binfmt_format_names_the_update_binfmts_format():
    if not emulation.DEBIAN_FORMATS.is_dir():
        pytest.skip("binfmt-support's formats are not installed")
    expected = {
        "arm64": "qemu-aarch64",
        "arm": "qemu-arm",
        "riscv64": "qemu-riscv64",
        "s390x": "qemu-s390x",
        "ppc64le": "qemu-ppc64le",
    }
    assert {arch: emulation.binfmt_format(arch) for arch in expected} == expected


def test_native_and_platformless_steps_need_nothing(tmp_path):
    empty = _binfmt(tmp_path / "binfmt")
    emulation.require("", empty)
    emulation.require(f"linux/{emulation.host_arch()}", empty)
    assert not emulation.emulated(f"linux/{emulation.host_arch()}")
    assert not emulation.emulated("")


def test_a_registered_fix_binary_handler_is_enough(tmp_path):
    arch = _foreign()
    binfmt = _binfmt(tmp_path / "binfmt", handlers={arch: ("enabled", "PF", _magic(arch))})
    emulation.require(f"linux/{arch}", binfmt)
    assert [h.name for h in emulation.handlers(binfmt)] == [f"qemu-{arch}"]
    assert emulation.emulated(f"linux/{arch}")


def test_no_handler_names_the_arch_and_the_fix(tmp_path):
    arch = _foreign()
    binfmt = _binfmt(tmp_path / "binfmt", handlers={"aarch64": ("enabled", "PF", AARCH64_MAGIC)})
    with pytest.raises(BuildError) as err:
        emulation.require(f"linux/{arch}", binfmt)
    assert err.value.summary.startswith(
        f"RUN for linux/{arch} needs emulation, but no binfmt_misc handler for {arch} binaries is registered"
    )
    assert err.value.detail.endswith(f"update-binfmts --enable {emulation.binfmt_format(arch)}")
    if "not installed" in err.value.summary:
        assert "apt-get install qemu-user-static binfmt-support" in err.value.detail


def test_disabled_handler(tmp_path):
    arch = _foreign()
    binfmt = _binfmt(tmp_path / "binfmt", handlers={arch: ("disabled", "PF", _magic(arch))})
    with pytest.raises(BuildError) as err:
        emulation.require(f"linux/{arch}", binfmt)
    assert err.value.message == (
        f"RUN for linux/{arch} needs emulation, but the binfmt_misc handler qemu-{arch} for {arch} "
        f"is disabled; enable it: update-binfmts --enable qemu-{arch}"
    )


def test_handler_without_fix_binary_flag(tmp_path):
    arch = _foreign()
    binfmt = _binfmt(tmp_path / "binfmt", handlers={arch: ("enabled", "P", _magic(arch))})
    with pytest.raises(BuildError) as err:
        emulation.require(f"linux/{arch}", binfmt)
    assert "has no F (fix-binary) flag" in err.value.summary
    interpreter = f"/usr/libexec/qemu-binfmt/{arch}-binfmt-P"
    assert f"{interpreter} is not visible inside the build container" in err.value.summary
    assert "apt-get install qemu-user-static binfmt-support" in err.value.detail


def test_binfmt_misc_not_mounted_or_disabled(tmp_path):
    arch = _foreign()
    unmounted = tmp_path / "unmounted"
    unmounted.mkdir()
    with pytest.raises(BuildError) as err:
        emulation.require(f"linux/{arch}", unmounted)
    assert err.value.summary == f"RUN for linux/{arch} needs emulation, but binfmt_misc is not mounted"
    assert err.value.detail.startswith(f"mount -t binfmt_misc binfmt_misc {unmounted}, then apt-get install")
    disabled = _binfmt(tmp_path / "off", status="disabled")
    with pytest.raises(BuildError) as err:
        emulation.require(f"linux/{arch}", disabled)
    assert err.value.summary.endswith("but binfmt_misc is disabled")


def test_unknown_architecture():
    with pytest.raises(BuildError) as err:
        emulation.require("linux/sparc64")
    assert err.value.message == (
        "RUN for linux/sparc64 needs emulation, but bakec knows no QEMU emulator for the sparc64 architecture"
    )
