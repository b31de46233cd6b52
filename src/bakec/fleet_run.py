"""Running a fleet plan: one shard (``bakec build --plan FILE --shard ID``) or the publish job (``--publish``).

The plan (:mod:`bakec.fleet.document`) says which shard owns each op. A shard recomputes the graph
from the plan's recorded inputs and pinned base images, refuses the plan when an op it owns is no
longer in that graph, imports the cache refs of the shards it needs (and its own, left by an
earlier attempt), runs exactly the ops it owns and exports them to its own ref (``mode=max``),
also when it fails. The publish job imports every shard's ref, checks that every result the
targets' outputs need is there (naming the shard when one is not, before any tag moves) and
exports the outputs through the ordinary path. :func:`bakec.builder.build` does the building;
:class:`FleetJob` is what it asks at each of those points.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from bakec._version import __version__
from bakec.builder import BuildOptions, BuildReport, build
from bakec.errors import BakecError, BuildError, EnvironmentProblem, UsageError
from bakec.fleet.document import FORMAT_VERSION
from bakec.registry.errors import RegistryError
from bakec.remotecache.export import push_ops
from bakec.remotecache.import_ import ImportedCache, load_ref

__all__ = ["CacheRepoUnreachable", "FleetJob", "PinnedResolver", "StalePlan", "load_plan", "run_job"]

_SHOWN = 3  # changed steps named in a stale-plan message


class StalePlan(BuildError):
    """The plan no longer matches the bake files, Dockerfiles, contexts or variables."""


class CacheRepoUnreachable(EnvironmentProblem):
    """The registry of the plan's cache repo cannot be reached from this runner (exit code 3)."""


def load_plan(path: str) -> dict[str, Any]:
    """The plan document at ``path``, checked: readable, of this bakec, and not edited since planning."""
    try:
        document = json.loads(Path(path).read_text())
    except OSError as err:
        raise UsageError(f"cannot read the plan {path}: {err.strerror or err}") from None
    except ValueError as err:
        raise UsageError(f"{path} is not a bakec fleet plan: invalid JSON ({err})") from None
    if not isinstance(document, dict) or "shards" not in document or "plan" not in document:
        raise UsageError(f"{path} is not a bakec fleet plan (write one with bakec plan --shards N)")
    if document.get("version") != FORMAT_VERSION or document.get("bakec") != __version__:
        raise UsageError(
            f"{path} was planned by bakec {document.get('bakec')} (plan format {document.get('version')}); "
            f"this is bakec {__version__}: plan again with this version"
        )
    body = {k: v for k, v in document.items() if k != "plan"}
    digest = (
        "sha256:"
        + hashlib.sha256(
            json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
        ).hexdigest()
    )
    if digest != document["plan"]:
        raise UsageError(
            f"{path} was edited after planning (its content does not match plan {document['plan']})"
        )
    return document


class PinnedResolver:
    """Base images at the digests the plan pinned: a shard never resolves a tag again."""

    def __init__(self, images: Sequence[Mapping[str, Any]], inner: Any) -> None:
        self.pins = {(i["ref"], i["platform"]): i.get("digest") for i in images}
        self.inner = inner

    def resolve(self, ref: str, platform: str) -> Any:
        if (ref, platform) not in self.pins:
            return self.inner.resolve(ref, platform)
        digest = self.pins[(ref, platform)]
        if digest is None:  # planned from the reference as written (registry unreachable then)
            return None
        found = self.inner.resolve(f"{ref}@{digest}", platform)
        return None if found is None else type(found)(ref, digest, found.config)


class _ShardResults:
    """The imported results a shard may use, and the ops it runs: its own and what they read."""

    def __init__(self, imported: ImportedCache, keep: set[str]) -> None:
        self.imported = imported
        self.keep = keep

    def lookup(self, digest: str) -> Any:
        return self.imported.lookup(digest)

    def needed(self, graph: Any, uncached: Callable[[str], bool]) -> set[str]:
        return self.keep

    def materialise(self, result: Any, runner: Any) -> Any:
        return self.imported.materialise(result, runner)


class _Exporter:
    """Pushes a shard's finished ops to its ref as they finish, so a killed runner loses only what ran.

    One push at a time, from a thread of its own; ops finishing during a push go in the next one.
    A failed push is left to the final export to report.
    """

    def __init__(
        self, graph: Any, results: Mapping[str, Any], *, ref: str, store: Any, registry: Any
    ) -> None:
        self.graph, self.ref, self.store, self.registry = graph, ref, store, registry
        self.results = dict(results)
        self._cond = threading.Condition()
        self._dirty = False
        self._closed = False
        self._thread = threading.Thread(target=self._loop, name="bakec-fleet-export", daemon=True)
        self._thread.start()

    def finished(self, node: str, result: Any) -> None:
        with self._cond:
            self.results[node] = result
            self._dirty = True
            self._cond.notify()

    def close(self) -> None:
        """Wait for the pushes asked for so far."""
        with self._cond:
            self._closed = True
            self._cond.notify()
        self._thread.join()

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._dirty and not self._closed:
                    self._cond.wait()
                if not self._dirty:
                    return
                self._dirty = False
                results = dict(self.results)
            try:
                push_ops(self.graph, results, ref=self.ref, store=self.store, registry=self.registry)
            except (BakecError, OSError):
                pass  # the registry may be back for the next push; the final export says if not


class _ReportingRunner:
    """The worker's runner, telling the exporter about each op of the shard that finished."""

    def __init__(self, inner: Any, owned: set[str], exporter: _Exporter) -> None:
        self.inner, self.owned, self.exporter = inner, owned, exporter

    @property
    def store(self) -> Any:
        return self.inner.store

    def run(self, op: Any, inputs: Any, log: Any = None) -> Any:
        result = self.inner.run(op, inputs, log)
        if op.digest in self.owned:
            self.exporter.finished(op.digest, result)
        return result

    def snapshot_exists(self, name: str) -> bool:
        return self.inner.snapshot_exists(name)

    def unpack(self, blobs: Any, top: str = "") -> str:
        return self.inner.unpack(blobs, top)


class FleetJob:
    """One job of a fleet plan: shard ``shard``, or the publish job when ``shard`` is None."""

    def __init__(self, plan: Mapping[str, Any], shard: str | None, plan_path: str = "plan.json") -> None:
        self.plan = plan
        self.plan_path = plan_path
        self.shards = {s["id"]: s for s in plan["shards"]}
        self.owner = {op: s["id"] for s in plan["shards"] for op in s["ops"]}
        if shard is not None and shard not in self.shards:
            raise UsageError(
                f"unknown shard {shard!r}: {plan_path} has shards {', '.join(self.shards) or '(none)'}"
            )
        self.shard: Any = self.shards[shard] if shard is not None else None
        self.publishing = shard is None
        self.imported: ImportedCache | None = None
        self.exporter: _Exporter | None = None

    # -- before anything runs -------------------------------------------------------------

    def resolver(self, inner: Any) -> PinnedResolver:
        return PinnedResolver(self.plan["base_images"]["images"], inner)

    def entitlements(self, requested: set[str]) -> set[str]:
        """What the targets request that this job's own steps need (the plan lists it per shard)."""
        return requested & set(self.shard["entitlements"]) if self.shard is not None else set()

    def check(self, graph: Any) -> None:
        """Refuse a stale plan: an op this job needs is not in the graph of today's inputs."""
        planned = set(self.owner)
        wanted = set(self.shard["ops"]) if self.shard is not None else planned
        nodes = set(graph.nodes)
        if wanted <= nodes and (self.shard is not None or nodes <= planned):
            return
        changed = [n for n in graph.order() if n not in planned]
        roots = [n for n in changed if all(d in planned for d in graph.inputs[n] if d)]
        mine = set(self.shard["targets"]) if self.shard is not None else set()
        named = [n for n in roots if mine & set(graph.nodes[n].get("targets", ()))] or roots or changed
        steps = [_step_name(graph.nodes[n]) for n in named[:_SHOWN]]
        more = f" (and {len(named) - _SHOWN} more)" if len(named) > _SHOWN else ""
        who = f"shard {self.shard['id']}" if self.shard is not None else "the publish job"
        what = "; ".join(steps) + more if steps else "steps of the plan are no longer in the graph"
        raise StalePlan(
            f"{self.plan_path} is stale for {who}: the inputs changed since planning ({what}); "
            f"plan again (bakec plan --shards N) and run the new plan"
        )

    # -- cache import ---------------------------------------------------------------------

    def imports(self, *, store: Any, registry: Any, steps: Any, graph: Any) -> Any:
        """The results this job starts from, as the solver asks for them."""
        imported = ImportedCache(store)
        self.imported = imported
        if self.shard is None:
            for sid in self.shards:
                self._import(imported, sid, registry, steps, required=False)
            self._refuse_missing(graph, imported)
            return imported
        for sid in self.shard["needs"]:
            self._import(imported, sid, registry, steps, required=True)
        self._import(imported, self.shard["id"], registry, steps, required=False)  # an earlier attempt's
        return _ShardResults(imported, self._keep(graph, imported))

    def _import(
        self, imported: ImportedCache, sid: str, registry: Any, steps: Any, *, required: bool
    ) -> None:
        ref = self.shards[sid]["cache_ref"]
        found: list[bool] = []

        def read() -> None:
            try:
                imported.add_loaded(load_ref(registry, ref))
            except BakecError as err:
                if getattr(err, "status", None) != 404:
                    raise
                return  # no such tag: that shard has not exported yet
            found.append(True)

        try:
            steps(f"importing cache manifest from {ref}", read)
        except RegistryError as err:
            if err.status is None and "cannot reach" in err.summary:
                raise self._unreachable(err) from None
            raise BuildError(f"cannot read the cache of shard {sid} from {ref}: {err}") from None
        except BakecError as err:
            raise BuildError(f"cannot read the cache of shard {sid} from {ref}: {err}") from None
        if required and not found:
            raise BuildError(
                f"shard {sid}'s results are not in {ref}: shard {self.shard['id']} needs them; "
                f"run shard {sid} first"
            )

    def _unreachable(self, err: RegistryError) -> CacheRepoUnreachable:
        """Imports come first: nothing ran yet, nothing was pushed and no tag moved."""
        who = f"shard {self.shard['id']}" if self.shard is not None else "publish"
        outcome = "nothing was run or pushed" if self.shard is not None else "no tag was moved"
        reason = err.summary.rpartition(": ")[2] + (f": {err.detail}" if err.detail else "")
        return CacheRepoUnreachable(
            f"{who}: cannot reach the plan's cache repo {self.plan['cache_repo']} ({reason}); {outcome}",
            "check that this runner reaches that registry, or plan again with another --cache-repo",
        )

    def _keep(self, graph: Any, imported: ImportedCache) -> set[str]:
        """The shard's own ops plus what they read; an input nobody provides names its shard."""
        own = list(self.shard["ops"])
        keep = set(own)
        for node in own:
            for dep in graph.inputs[node]:
                if not dep or dep in keep:
                    continue
                if dep not in imported.chains and graph.nodes[dep]["op"].kind != "local":
                    who = self.owner.get(dep, "?")
                    raise BuildError(
                        f"shard {self.shard['id']} needs {_step_name(graph.nodes[dep])} from shard {who}, "
                        f"and it is not in {self.shards.get(who, {}).get('cache_ref', 'its cache ref')}: "
                        f"run shard {who} first"
                    )
                keep.add(dep)
        return keep

    def _refuse_missing(self, graph: Any, imported: ImportedCache) -> None:
        """Publish moves no tag unless every result the outputs need was imported."""
        needed = imported.needed(graph, lambda node: graph.nodes[node]["op"].kind == "local")
        missing: dict[str, str] = {}
        for node in graph.order():
            if node in needed and node not in imported.chains and graph.nodes[node]["op"].kind != "local":
                missing.setdefault(self.owner.get(node, "?"), _step_name(graph.nodes[node]))
        if missing:
            named = "; ".join(
                f"shard {sid} ({self.shards[sid]['cache_ref'] if sid in self.shards else 'no shard'}: {step})"
                for sid, step in sorted(missing.items())
            )
            raise BuildError(
                f"publish: results of {named} are missing; run "
                + ", ".join(f"shard {s}" for s in sorted(missing))
                + " (again), then publish: no tag was moved"
            )

    def runner(self, inner: Any, graph: Any, *, store: Any, registry: Any) -> Any:
        """The runner the solver drives: a shard's reports its finished ops to :class:`_Exporter`."""
        if self.shard is None or self.imported is None:
            return inner
        own = set(self.shard["ops"])
        earlier = {n: self.imported.lookup(n) for n in own if n in self.imported.chains}
        self.exporter = _Exporter(graph, earlier, ref=self.shard["cache_ref"], store=store, registry=registry)
        return _ReportingRunner(inner, own, self.exporter)

    # -- after solving --------------------------------------------------------------------

    def export(self, graph: Any, solved: Any, *, store: Any, registry: Any, steps: Any) -> None:
        """A shard's finished ops to its own cache ref (mode=max); nothing when it ran nothing new."""
        if self.shard is None:
            return
        if self.exporter is not None:
            self.exporter.close()
        own = set(self.shard["ops"])
        if not own & set(solved.executed):
            return  # everything came from this shard's ref already: it is complete
        ref = self.shard["cache_ref"]
        results = {n: r for n, r in solved.results.items() if n in own}
        steps(
            f"exporting cache to {ref}",
            lambda: push_ops(graph, results, ref=ref, store=store, registry=registry),
        )


def _step_name(data: Mapping[str, Any]) -> str:
    name = data.get("label") or data.get("description") or data["op"].kind
    targets = sorted(data.get("targets", ()))
    return f"{name!r} of target {', '.join(targets)}" if targets else repr(name)


def run_job(
    definition: Any,
    plan: Mapping[str, Any],
    *,
    shard: str | None,
    options: BuildOptions,
    plan_path: str,
    flag_overrides: Sequence[str] = (),
) -> BuildReport:
    """Run shard ``shard`` of ``plan`` (or its publish job, ``shard`` None) with ``options``."""
    inputs = plan["inputs"]
    options.fleet = FleetJob(plan, shard, plan_path)
    names = list(inputs["targets"]) or ["default"]
    return build(definition, names, list(inputs["set"]), flag_overrides=flag_overrides, options=options)
