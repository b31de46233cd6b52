"""util/compression's two readers: layer blobs by media type, archives by magic bytes."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
from pathlib import Path

import pytest

from bakec.util.compression import GZIP, ZSTD, Compression, kind_of, open_decompressed, open_sniffed

DATA = b"bakec " * 50_000


def _zstd(data: bytes) -> bytes:
    comp = Compression(ZSTD).compressor()
    return comp.compress(data) + comp.flush()


@pytest.mark.parametrize(
    "pack",
    [gzip.compress, bz2.compress, lzma.compress, _zstd, lambda d: d],
    ids=["gz", "bz2", "xz", "zst", "raw"],
)
def test_open_sniffed_reads_every_archive_compression(tmp_path: Path, pack) -> None:
    path = tmp_path / "blob"
    path.write_bytes(pack(DATA))
    with open(path, "rb") as f:
        assert open_sniffed(f).read() == DATA


def test_layer_reader_takes_concatenated_gzip_members() -> None:
    blob = gzip.compress(DATA[:1000]) + gzip.compress(DATA[1000:])
    assert kind_of("application/vnd.oci.image.layer.v1.tar+gzip") == GZIP
    assert open_decompressed(io.BytesIO(blob), GZIP).read() == DATA
