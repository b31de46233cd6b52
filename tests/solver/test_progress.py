"""Progress renderers: rawjson is one JSON object per event, plain follows buildx's shape."""

from __future__ import annotations

import io
import json

from bakec.progress.events import Progress, plain, rawjson

EVENTS = [
    {"type": "vertex", "id": 1, "name": "[app 1/2] FROM busybox", "state": "cached"},
    {"type": "vertex", "id": 2, "name": "[app 2/2] RUN echo hi", "state": "started", "emulated": True},
    {"type": "log", "id": 2, "stream": "stdout", "data": "hi\nthere\n"},
    {"type": "vertex", "id": 2, "name": "[app 2/2] RUN echo hi", "state": "done", "seconds": 0.25},
    {"type": "summary", "targets": {"app": {"state": "done", "seconds": 0.3}}, "seconds": 0.4},
]


def test_rawjson_writes_one_object_per_event():
    out = io.StringIO()
    progress = Progress(rawjson(out))
    for event in EVENTS:
        progress.emit(dict(event))
    lines = out.getvalue().splitlines()
    assert len(lines) == len(EVENTS)
    decoded = [json.loads(line) for line in lines]
    assert [e["type"] for e in decoded] == ["vertex", "vertex", "log", "vertex", "summary"]
    assert all("time" in e for e in decoded)


def test_plain_looks_like_buildx():
    out = io.StringIO()
    progress = Progress(plain(out))
    for event in EVENTS:
        progress.emit(dict(event))
    text = out.getvalue()
    assert "#1 [app 1/2] FROM busybox\n#1 CACHED\n" in text
    assert "#2 [app 2/2] RUN echo hi (emulated)\n" in text
    log_lines = [line for line in text.splitlines() if line.startswith("#2 0.")]
    assert [line.split(" ", 2)[2] for line in log_lines] == ["hi", "there"]
    assert "#2 DONE 0.2s" in text or "#2 DONE 0.3s" in text
    assert "app" in text.splitlines()[-2] and "done" in text.splitlines()[-2]


def test_vertex_names_carry_the_target_only_when_several_targets_are_built():
    from bakec.progress.events import vertex_name

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
