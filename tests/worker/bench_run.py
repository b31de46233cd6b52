"""Per-RUN overhead of both executors, interleaved: ``PYTHONPATH=src python3 -m tests.worker.bench_run [N]``.

One RUN = Snapshots.Prepare + run ``busybox true`` + Snapshots.Commit, on the busybox
base, in a private daemon. Prints the median and per-phase medians of each executor.
"""

from __future__ import annotations

import shutil
import statistics
import sys
import time
import uuid

from bakec.worker.client import Descriptor
from bakec.worker.daemon import Daemon
from bakec.worker.run import ContainerdExecutor, RunRequest
from bakec.worker.runc import RuncExecutor

from .busybox_layer import LAYER_MEDIA_TYPE, busybox_layer
from .conftest import short_state_dir


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 30
    state = short_state_dir()
    daemon = Daemon(state)
    try:
        with daemon.ensure() as client, client.lease() as lc:
            blob = busybox_layer()
            digest = lc.write_content("bench-layer", blob)
            lc.prepare("bench-extract")
            applied = lc.apply(
                Descriptor(media_type=LAYER_MEDIA_TYPE, digest=digest, size=len(blob)),
                lc.mounts("bench-extract"),
            )
            lc.commit(applied.digest, "bench-extract")
            executors = {
                "containerd": ContainerdExecutor(lc, daemon.paths),
                "runc": RuncExecutor(lc, daemon.paths),
            }
            totals: dict[str, list[float]] = {k: [] for k in executors}
            phases: dict[str, list[dict[str, float]]] = {k: [] for k in executors}
            for i in range(n + 2):
                for name, executor in executors.items():
                    started = time.perf_counter()
                    key = f"bench-{uuid.uuid4().hex}"
                    result = executor.run(lc.prepare(key, applied.digest), RunRequest(["busybox", "true"]))
                    lc.commit(f"{key}-c", key)
                    assert result.exit_code == 0
                    if i >= 2:  # warm-up
                        totals[name].append((time.perf_counter() - started) * 1000)
                        phases[name].append(result.timings)
            for name in executors:
                per_phase = {
                    k: round(statistics.median(p[k] for p in phases[name]), 1) for k in phases[name][0]
                }
                print(
                    f"{name}: median {statistics.median(totals[name]):.1f} ms, min {min(totals[name]):.1f} ms "
                    f"(n={n}) phases {per_phase}"
                )
    finally:
        daemon.stop()
        shutil.rmtree(state, ignore_errors=True)


if __name__ == "__main__":
    main()
