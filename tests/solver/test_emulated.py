"""Emulated steps: only processes count, their time is summed per target and shown in the summary."""

from __future__ import annotations

from bakec import ops as o
from bakec.graph.build import Graph
from bakec.progress.events import Summary, TargetSummary
from bakec.progress.summary import render_summary
from bakec.solver.emulated import emulated_seconds, is_emulated
from bakec.solver.scheduler import NodeResult, RunOutcome, State


def _arm(platform: str) -> bool:
    return platform == "linux/arm64"


def test_only_processes_of_an_emulated_platform_are_emulated():
    image = o.ImageSource("busybox", "linux/arm64")
    run = o.Exec(image.digest, ("true",), platform="linux/arm64")
    copy = o.FileOp(run.digest, (o.Mkdir("/x"),), (), "linux/arm64")
    assert [is_emulated(op, _arm) for op in (image, run, copy)] == [False, True, False]
    assert not is_emulated(o.Exec(image.digest, ("true",), platform="linux/amd64"), _arm)


def test_emulated_seconds_per_target():
    nodes = {}
    shared = o.Exec("", ("make",), platform="linux/arm64")
    only_api = o.Exec(shared.digest, ("test",), platform="linux/arm64")
    native = o.Exec("", ("make",), platform="linux/amd64")
    cached = o.Exec("", ("cached",), platform="linux/arm64")
    for op, targets in ((shared, {"api", "web"}), (only_api, {"api"}), (native, {"web"}), (cached, {"web"})):
        nodes[op.digest] = {"op": op, "targets": targets}
    outcome = RunOutcome(
        {
            shared.digest: NodeResult(State.DONE, started=10.0, finished=12.5),
            only_api.digest: NodeResult(State.FAILED, started=12.5, finished=13.0),
            native.digest: NodeResult(State.DONE, started=10.0, finished=11.0),
            cached.digest: NodeResult(State.CACHED, started=10.0, finished=10.25),
        }
    )
    assert emulated_seconds(Graph(nodes, {}, []), outcome, _arm) == {"api": 3.0, "web": 2.5}


def test_summary_shows_emulated_time():
    text = render_summary(
        Summary({"api": TargetSummary("done", 4.0, 3.4), "web": TargetSummary("done", 1.0, 0.0)}, 4.5)
    )
    lines = text.splitlines()
    assert lines[2] == "api".ljust(32) + "done".ljust(10) + "4.0s (emulated 3.4s)"
    assert lines[3] == "web".ljust(32) + "done".ljust(10) + "1.0s"
