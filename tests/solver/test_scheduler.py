"""The scheduler runs each node once, in dependency order, in parallel, with failure semantics."""

from __future__ import annotations

import threading
import time

from bakec.solver.scheduler import Cached, Scheduler, State

DIAMOND = {"base": [], "left": ["base"], "right": ["base"], "top": ["left", "right"]}


def test_each_node_runs_once_after_its_dependencies():
    order: list[str] = []
    lock = threading.Lock()

    def execute(node):
        with lock:
            order.append(node)
        return node.upper()

    outcome = Scheduler(max_parallelism=4).run(DIAMOND, execute)
    assert outcome.ok
    assert sorted(order) == sorted(DIAMOND) and len(order) == 4
    assert order[0] == "base" and order[-1] == "top"
    assert outcome.results["top"].value == "TOP"


def test_independent_nodes_run_in_parallel():
    barrier = threading.Barrier(2, timeout=5)

    def execute(node):
        if node in ("left", "right"):
            barrier.wait()  # deadlocks (and times out) unless both run at once
        return node

    assert Scheduler(max_parallelism=2).run(DIAMOND, execute).ok


def test_max_parallelism_is_respected():
    active = []
    peak = [0]
    lock = threading.Lock()

    def execute(node):
        with lock:
            active.append(node)
            peak[0] = max(peak[0], len(active))
        time.sleep(0.02)
        with lock:
            active.remove(node)

    graph = {f"n{i}": [] for i in range(8)}
    assert Scheduler(max_parallelism=3).run(graph, execute).ok
    assert peak[0] == 3


def test_failure_skips_dependents_and_stops_without_keep_going():
    graph = {"a": [], "b": ["a"], "slow": [], "after_slow": ["slow"]}

    def execute(node):
        if node == "a":
            raise RuntimeError("boom")
        if node == "slow":
            time.sleep(0.05)
        return node

    outcome = Scheduler(max_parallelism=1).run(graph, execute)
    assert outcome.results["a"].state is State.FAILED
    assert str(outcome.results["a"].error) == "boom"
    assert outcome.results["b"].state is State.SKIPPED
    assert outcome.results["after_slow"].state is State.SKIPPED  # nothing new starts after a failure


def test_keep_going_lets_independent_branches_finish():
    graph = {"a": [], "b": ["a"], "c": [], "d": ["c"]}

    def execute(node):
        if node == "a":
            raise RuntimeError("boom")
        return node

    outcome = Scheduler(max_parallelism=1, keep_going=True).run(graph, execute)
    assert outcome.results["b"].state is State.SKIPPED
    assert outcome.results["d"].state is State.DONE
    assert outcome.failed() == ["a"]


def test_cached_results_count_as_success():
    outcome = Scheduler().run({"a": [], "b": ["a"]}, lambda n: Cached(n) if n == "a" else n)
    assert outcome.results["a"].state is State.CACHED and outcome.results["b"].state is State.DONE


def test_cancel_marks_unstarted_nodes_cancelled():
    scheduler = Scheduler(max_parallelism=1)

    def execute(node):
        scheduler.cancelled.set()
        return node

    outcome = scheduler.run({"a": [], "b": ["a"]}, execute)
    assert outcome.results["b"].state is State.CANCELLED


def test_light_nodes_run_beside_a_full_set_of_heavy_ones():
    # both heavy nodes hold their slots until the light one has run: it must not wait for a slot
    light_ran = threading.Event()
    peak_heavy = [0]
    active: list[str] = []
    lock = threading.Lock()

    def execute(node):
        if node.startswith("heavy"):
            with lock:
                active.append(node)
                peak_heavy[0] = max(peak_heavy[0], len(active))
            assert light_ran.wait(5), "the light node waited for a heavy slot"
            with lock:
                active.remove(node)
        else:
            light_ran.set()
        return node

    graph = {"heavy1": [], "heavy2": [], "heavy3": [], "copy": []}
    outcome = Scheduler(max_parallelism=2).run(graph, execute, light=lambda n: n == "copy")
    assert outcome.ok
    assert peak_heavy[0] == 2  # the heavy ones still respect the limit
