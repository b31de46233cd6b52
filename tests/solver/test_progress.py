"""Progress: typed events, one id allocator, renderers (rawjson one object per event, plain as buildx)."""

from __future__ import annotations

import io
import json

import pytest

from bakec.progress.events import Log, Summary, TargetSummary, Vertex, vertex_name
from bakec.progress.render import plain, rawjson
from bakec.progress.reporter import Progress

EVENTS = [
    Vertex(1, "[app 1/2] FROM busybox", "cached"),
    Vertex(2, "[app 2/2] RUN echo hi", "started", emulated=True),
    Log(2, "stdout", "hi\nthere\n"),
    Vertex(2, "[app 2/2] RUN echo hi", "done", seconds=0.25),
    Summary({"app": TargetSummary("done", 0.3)}, 0.4),
]


def test_rawjson_writes_one_object_per_event():
    out = io.StringIO()
    progress = Progress(rawjson(out))
    for event in EVENTS:
        progress.emit(event)
    decoded = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [e["type"] for e in decoded] == ["vertex", "vertex", "log", "vertex", "summary"]
    assert all("time" in e for e in decoded)
    assert decoded[1]["emulated"] is True and decoded[3]["seconds"] == 0.25
    assert decoded[4]["targets"] == {"app": {"state": "done", "seconds": 0.3, "emulated_seconds": 0.0}}


def test_plain_looks_like_buildx():
    out = io.StringIO()
    progress = Progress(plain(out))
    for event in EVENTS:
        progress.emit(event)
    text = out.getvalue()
    assert "#1 [app 1/2] FROM busybox\n#1 CACHED\n" in text
    assert "#2 [app 2/2] RUN echo hi (emulated)\n" in text
    log_lines = [line for line in text.splitlines() if line.startswith("#2 0.")]
    assert [line.split(" ", 2)[2] for line in log_lines] == ["hi", "there"]
    assert "#2 DONE 0.2s" in text or "#2 DONE 0.3s" in text
    assert "app" in text.splitlines()[-2] and "done" in text.splitlines()[-2]


def test_ids_come_from_one_allocator_and_never_repeat():
    progress = Progress(lambda event: None)
    graph = progress.reserve(3)
    with progress.step("exporting cache") as step_id:
        pass
    assert list(graph) == [1, 2, 3] and step_id == 4
    assert list(progress.reserve(2)) == [5, 6]


def test_step_reports_started_then_done_or_failed_with_its_time():
    events: list[object] = []
    progress = Progress(events.append)
    with progress.step("pushing layers", targets=["b", "a"]) as vid:
        progress.log(vid, "stderr", "pushing blob\n")
    with pytest.raises(OSError), progress.step("pushing manifests"):
        raise OSError("registry went away")
    states = [(e.name, e.state) for e in events if isinstance(e, Vertex)]
    assert states == [
        ("pushing layers", "started"),
        ("pushing layers", "done"),
        ("pushing manifests", "started"),
        ("pushing manifests", "failed"),
    ]
    assert events[0].targets == ("a", "b") and events[0].digest.startswith("sha256:")
    assert events[1] == Log(1, "stderr", "pushing blob\n", events[1].time)
    assert events[-1].error == "registry went away" and events[-1].seconds is not None


def test_vertex_names_carry_the_target_only_when_several_targets_are_built():
    # one target: buildx shows the frontend's name (platform prefix when it builds several platforms)
    assert (
        vertex_name("[api linux/arm64 build 2/3] RUN make", "api", False)
        == "[linux/arm64 build 2/3] RUN make"
    )
    assert vertex_name("[api 2/2] RUN make", "api", False) == "[2/2] RUN make"
    assert vertex_name("[api internal] load build context", "api", False) == "[internal] load build context"
    assert vertex_name("[api] merge", "api", False) == "merge"
    # several targets: bake's prefix stays, the step's first target names it
    assert (
        vertex_name("[api linux/arm64 build 2/3] RUN make", "api", True)
        == "[api linux/arm64 build 2/3] RUN make"
    )
    # a target whose name is a prefix of the label's first word is not stripped by accident
    assert vertex_name("[apiserver 2/2] RUN make", "api", False) == "[apiserver 2/2] RUN make"
