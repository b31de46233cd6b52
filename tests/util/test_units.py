"""docker/go-units sizes, checked against go-units' own size_test.go tables."""

from __future__ import annotations

import pytest

from bakec.solver.cache_index import parse_size
from bakec.util.units import bytes_size, from_human_size, human_size, ram_in_bytes

KB, MB, GB, TB, PB = (1000**n for n in range(1, 6))
KIB, MIB, GIB, TIB, PIB = (1024**n for n in range(1, 6))

FROM_HUMAN_SIZE = [
    ("32", 32),
    ("32b", 32),
    ("32B", 32),
    ("32k", 32 * KB),
    ("32K", 32 * KB),
    ("32kb", 32 * KB),
    ("32Kb", 32 * KB),
    ("32Mb", 32 * MB),
    ("32Gb", 32 * GB),
    ("32Tb", 32 * TB),
    ("32Pb", 32 * PB),
    ("32.5kB", int(32.5 * KB)),
    ("32.5 kB", int(32.5 * KB)),
    ("32.5 B", 32),
    ("0.3 K", 300),
]
RAM_IN_BYTES = [
    ("32", 32),
    ("32b", 32),
    ("32B", 32),
    ("32k", 32 * KIB),
    ("32K", 32 * KIB),
    ("32kb", 32 * KIB),
    ("32Kb", 32 * KIB),
    ("32Kib", 32 * KIB),
    ("32KIB", 32 * KIB),
    ("32Mb", 32 * MIB),
    ("32Gb", 32 * GIB),
    ("32Tb", 32 * TIB),
    ("32Pb", 32 * PIB),
    ("32PB", 32 * PIB),
    ("32P", 32 * PIB),
    ("32.3", 32),
    ("32.3 mb", int(32.3 * MIB)),
    ("0.3MB", int(0.3 * MIB)),
]
INVALID = ["", "hello", "-32", ".3kB", " 32 ", "32m b", "32bm", "32\n", "\u0663\u0662"]


@pytest.mark.parametrize(("text", "want"), FROM_HUMAN_SIZE)
def test_from_human_size(text: str, want: int) -> None:
    assert from_human_size(text) == want


@pytest.mark.parametrize(("text", "want"), RAM_IN_BYTES)
def test_ram_in_bytes(text: str, want: int) -> None:
    assert ram_in_bytes(text) == want


@pytest.mark.parametrize("text", INVALID)
def test_invalid_sizes(text: str) -> None:
    for parse in (ram_in_bytes, from_human_size):
        with pytest.raises(ValueError) as err:
            parse(text)
        assert str(err.value) == f"invalid size: '{text}'"


def test_a_number_with_two_points_fails_as_parse_float() -> None:
    with pytest.raises(ValueError, match=r'strconv.ParseFloat: parsing "1.2.3": invalid syntax'):
        ram_in_bytes("1.2.3k")


@pytest.mark.parametrize(
    ("size", "want"),
    [(1024, "1KiB"), (1024 * 1024, "1MiB"), (2 * MIB, "2MiB"), (3.42 * GIB, "3.42GiB"),
     (5.372 * TIB, "5.372TiB"), (2.22 * PIB, "2.22PiB"), (KIB**5 * PIB, "1.049e+06YiB")],
)  # fmt: skip
def test_bytes_size(size: float, want: str) -> None:
    assert bytes_size(size) == want


@pytest.mark.parametrize(
    ("size", "want"),
    [(1000, "1kB"), (1024, "1.024kB"), (1000000, "1MB"), (1048576, "1.049MB"), (2 * MB, "2MB"),
     (3.42 * GB, "3.42GB"), (5.372 * TB, "5.372TB"), (2.22 * PB, "2.22PB"), (10000000000000 * PB, "1e+04YB")],
)  # fmt: skip
def test_human_size(size: float, want: str) -> None:
    assert human_size(size) == want


def test_keep_storage_reads_decimal_spellings_as_binary_like_buildx() -> None:
    # buildx's --keep-storage is an opts.MemBytes (RAMInBytes): "512MB" is 512 MiB, not 512 000 000.
    assert parse_size("512MB") == 512 * MIB
    with pytest.raises(ValueError, match="invalid size"):
        parse_size(" 1g")
