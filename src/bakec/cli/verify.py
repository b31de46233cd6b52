"""``bakec verify [TARGET...]``: rebuild without any cache and compare with the last build.

The targets are rebuilt in a scratch state dir (its own containerd, an empty cache, outputs
replaced by ``cacheonly``), base images resolved to the lockfile's pins or, without one, to
the digests the last build used. Every output image is then compared layer by layer with the
last build's (recorded in ``<state>/builds/``). Exit 0: identical; exit 1: a report of what
differs. ``SOURCE_DATE_EPOCH`` and ``rewrite-timestamp`` apply as in the build.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from bakec.cli.common import expand_all, load_definition
from bakec.errors import BakecError


def _last_record(state: Path, names: list[str]) -> dict[str, Any]:
    from bakec.solver.records import read_records

    for record in read_records(state):
        if all(name in record.get("images", {}) for name in names):
            return record
    raise BakecError(
        f"no recorded build of {', '.join(names)} in {state}: build before verifying "
        "(builds made before bakec recorded their layers do not count)"
    )


def _pins(record: dict[str, Any]) -> Any:
    """The base images the recorded build used, as a lockfile."""
    from bakec.lock.model import ImagePin, Lockfile

    lock = Lockfile()
    for entry in record["ops"].values():
        op = entry.get("op", {})
        if entry.get("kind") == "image" and op.get("manifest"):
            lock.images.setdefault(op["ref"], ImagePin()).platforms[op["platform"]] = op["manifest"]
    return lock


def _rewrite_epochs(targets: dict[str, Any]) -> dict[str, int | None]:
    """Per target: SOURCE_DATE_EPOCH when an output rewrites timestamps to it, else None."""
    from bakec.bake.definition import local_platform
    from bakec.graph.target_options import target_build_specs
    from bakec.util.golang import parse_bool

    out: dict[str, int | None] = {}
    for name, target in targets.items():
        spec = target_build_specs(target, local_platform())[0]
        rewrite = any(parse_bool(str(o.get("rewrite-timestamp", "false"))) for o in spec.outputs or [])
        out[name] = spec.source_date_epoch if rewrite else None
    return out


def run_verify(args, sources: dict[str, bytes]) -> int:
    from bakec.builder import BuildOptions, build
    from bakec.cli.build import _progress_mode
    from bakec.cli.lock import build_lock
    from bakec.content.store import ContentStore
    from bakec.explain.verify import compare_image, render
    from bakec.solver.records import read_records
    from bakec.state import resolve_state_dir
    from bakec.worker.daemon import Daemon

    definition = load_definition(args, sources)
    targets = list(args.targets)
    if "all" in targets:
        targets = expand_all(definition, targets)
    resolved = definition.resolve(targets, args.overrides)
    names = list(resolved.targets)
    state = resolve_state_dir(args.state_dir, definition.env)
    last = _last_record(state, names)
    args.frozen = False
    lock = build_lock(args, definition, None) or _pins(last)
    epochs = _rewrite_epochs(resolved.targets)
    scratch = Path(tempfile.mkdtemp(prefix="bkverify-", dir="/tmp"))  # short: containerd's socket path
    try:
        options = BuildOptions(
            state_dir=str(scratch),
            progress=_progress_mode(args.progress, os.environ),
            no_cache=True,
            allow=args.allow,
            check_fs=True,
            lock=lock,
        )
        build(definition, targets, [*args.overrides, "*.output=type=cacheonly"], options=options)
        rebuilt = next(read_records(scratch))
        old_store, new_store = ContentStore(state / "content"), ContentStore(scratch / "content")
        mismatches = []
        checked = 0
        for name in names:
            for platform, layers in sorted(last["images"][name].items()):
                checked += 1
                found = compare_image(
                    name,
                    platform,
                    layers,
                    rebuilt["images"].get(name, {}).get(platform, []),
                    old_ops=last["ops"],
                    old_store=old_store,
                    new_store=new_store,
                    rewrite_timestamp=epochs.get(name),
                )
                if found is not None:
                    mismatches.append(found)
    finally:
        Daemon(scratch).stop()
        shutil.rmtree(scratch, ignore_errors=True)
    sys.stdout.write(render(mismatches, checked))
    return 1 if mismatches else 0
