#!/usr/bin/env python3
"""Layer creation + OCI tarball export of the ``bigimage`` workload, timed.

The upper dir is what ``bench/gen_workloads.py``'s bigimage RUN leaves behind:
``/blob`` (256 MiB from /dev/urandom) and ``/text`` (``seq 1 2000000``, about 15 MB), over
a busybox base layer. Each round makes the layer into a fresh content store and writes
the OCI tarball; the medians are printed.

    PYTHONPATH=src python3 bench/bigimage.py [--rounds 5] [--compression gzip|zstd|uncompressed]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from bakec.content.layers import write_layer
from bakec.content.store import ContentStore
from bakec.export import oci
from bakec.export.image import ExportOptions, Image
from bakec.util.compression import Compression


def make_tree(root: Path, mib: int) -> tuple[Path, Path]:
    base = root / "base"
    (base / "bin").mkdir(parents=True)
    shutil.copy2("/bin/busybox", base / "bin/busybox")
    upper = root / "upper"
    upper.mkdir()
    with open(upper / "blob", "wb") as f:
        f.writelines(os.urandom(1 << 20) for _ in range(mib))
    with open(upper / "text", "w") as f:
        f.write("".join(f"{i}\n" for i in range(1, 2_000_001)))
    return base, upper


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--mib", type=int, default=256)
    ap.add_argument("--compression", default="gzip")
    ap.add_argument("--level", type=int, default=None)
    ap.add_argument("--dir", default=None, help="scratch dir (default: a temp dir)")
    args = ap.parse_args()

    root = Path(tempfile.mkdtemp(prefix="bigimage-", dir=args.dir))
    try:
        base, upper = make_tree(root, args.mib)
        size = sum(p.stat().st_size for p in upper.iterdir())
        comp = Compression(args.compression, args.level)
        base_store = ContentStore(root / "basestore")
        base_layer = write_layer(base_store, base)
        layer_t, export_t, total_t = [], [], []
        blob_size = 0
        for i in range(args.rounds):
            store = ContentStore(root / f"store{i}")
            shutil.copy(base_store.path(base_layer.digest), store.path(base_layer.digest))
            t0 = time.perf_counter()
            layer = write_layer(store, upper, [base], compression=comp)
            t1 = time.perf_counter()
            image = Image(config={"config": {"Env": ["PATH=/bin"]}}, layers=[base_layer, layer])
            opts = ExportOptions.parse(
                {
                    "dest": str(root / f"out{i}.tar"),
                    "compression": args.compression,
                    "name": "bigimage:latest",
                }
            )
            oci.export(store, [image], opts)
            t2 = time.perf_counter()
            layer_t.append(t1 - t0)
            export_t.append(t2 - t1)
            total_t.append(t2 - t0)
            blob_size = layer.size
            shutil.rmtree(root / f"store{i}")
            (root / f"out{i}.tar").unlink()
        med = statistics.median
        print(f"upper dir: {size / 1e6:.0f} MB, layer blob: {blob_size / 1e6:.0f} MB ({args.compression})")
        print(f"layer creation: median {med(layer_t):.2f} s  ({size / med(layer_t) / 1e6:.0f} MB/s)")
        print(f"OCI tarball:    median {med(export_t):.2f} s")
        print(f"layer + export: median {med(total_t):.2f} s  (min {min(total_t):.2f}, n={args.rounds})")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
