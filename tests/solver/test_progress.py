"""Progress: typed events, one id allocator, renderers (bakec-json one object per event, rawjson
BuildKit's SolveStatus, plain as buildx, failures with their output and Dockerfile lines)."""

from __future__ import annotations

import base64
import io
import json

import pytest

from bakec.progress.events import Log, Source, Summary, TargetSummary, Vertex, vertex_name
from bakec.progress.render import bakec_json, plain, quiet, rawjson
from bakec.progress.reporter import Progress
from bakec.progress.tty import Board

EVENTS = [
    Vertex(1, "[app 1/2] FROM busybox", "cached"),
    Vertex(2, "[app 2/2] RUN echo hi", "started", emulated=True),
    Log(2, "stdout", "hi\nthere\n"),
    Vertex(2, "[app 2/2] RUN echo hi", "done", seconds=0.25),
    Summary({"app": TargetSummary("done", 0.3)}, 0.4),
]


def test_bakec_json_writes_one_object_per_event():
    out = io.StringIO()
    progress = Progress(bakec_json(out))
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


DOCKERFILE = "FROM busybox\nWORKDIR /src\nRUN for i in $(seq 12); do echo line $i; done; exit 3\nCOPY . .\n"
FAILING = [
    Vertex(1, "[app 1/3] FROM busybox", "cached", digest="sha256:aa"),
    Vertex(2, "[app 3/3] RUN for i in ...", "started", digest="sha256:bb", inputs=("sha256:aa",), time=100.0),
    Log(2, "stdout", "".join(f"line {i}\n" for i in range(1, 8)), time=100.5),
    Log(2, "stdout", "".join(f"line {i}\n" for i in range(8, 12)) + "line", time=101.0),
    Log(2, "stderr", " 12\n", time=101.0),
    Vertex(
        2,
        "[app 3/3] RUN for i in ...",
        "failed",
        digest="sha256:bb",
        seconds=1.5,
        error='process "/bin/sh -c ..." did not complete successfully: exit code: 3',
        source=Source("app/Dockerfile", 3, DOCKERFILE),
        time=101.5,
    ),
    Summary({"app": TargetSummary("failed", 1.5)}, 2.0),
]

FAILURE_BLOCK = (
    "------\n"
    " > [app 3/3] RUN for i in ...:\n"
    + "".join(f"0.500 line {i}\n" for i in range(3, 8))
    + "".join(f"1.000 line {i}\n" for i in range(8, 12))
    + "1.000 line 12\n"
    "------\n"
)


@pytest.mark.parametrize("render", [plain, quiet])
def test_a_failed_step_shows_its_last_ten_lines(render):
    out = io.StringIO()
    progress = Progress(render(out))
    for event in FAILING:
        progress.emit(event)
    text = out.getvalue()
    assert FAILURE_BLOCK in text
    assert text.count("------\n > ") == 1
    if render is plain:
        assert "#2 ERROR: process" in text and text.index(FAILURE_BLOCK) < text.index("TARGET")


def test_rawjson_is_buildkit_solve_status():
    out = io.StringIO()
    progress = Progress(rawjson(out))
    for event in FAILING:
        progress.emit(event)
    lines = out.getvalue().splitlines()
    statuses = [json.loads(line) for line in lines]
    assert len(statuses) == 6  # the summary has no SolveStatus form
    assert all(set(s) <= {"vertexes", "statuses", "logs", "warnings"} and s for s in statuses)
    cached = statuses[0]["vertexes"][0]
    assert cached["cached"] is True and cached["digest"] == "sha256:aa"
    assert cached["started"] == cached["completed"]
    started = statuses[1]["vertexes"][0]
    assert started == {
        "digest": "sha256:bb",
        "inputs": ["sha256:aa"],
        "name": "[app 3/3] RUN for i in ...",
        "started": "1970-01-01T00:01:40Z",
    }
    logs = [log for s in statuses for log in s.get("logs", [])]
    assert {log["vertex"] for log in logs} == {"sha256:bb"} and [log["stream"] for log in logs] == [1, 1, 2]
    assert logs[0]["timestamp"] == "1970-01-01T00:01:40.5Z"
    data = b"".join(base64.b64decode(log["data"]) for log in logs)
    assert data.decode() == "".join(f"line {i}\n" for i in range(1, 12)) + "line 12\n"
    failed = statuses[-1]["vertexes"][0]
    assert failed["started"] == "1970-01-01T00:01:40Z" and failed["completed"] == "1970-01-01T00:01:41.5Z"
    assert failed["error"].endswith("exit code: 3") and "cached" not in failed
    assert '"name":"[app 3/3] RUN for i in ..."' in lines[1]  # compact, as Go's json.Encoder


def test_rawjson_escapes_as_go_does():
    out = io.StringIO()
    rawjson(out)(Vertex(1, "[app 2/2] RUN a && b > c", "started", digest="sha256:cc", time=0.0))
    assert "RUN a \\u0026\\u0026 b \\u003e c" in out.getvalue()


def test_tty_board_fits_the_terminal_and_keeps_running_steps_in_view():
    board = Board()
    for vid in range(1, 40):
        board.update(
            Vertex(vid, f"[app {vid}/60] RUN a step with a name longer than the screen " * 2, "started")
        )
        board.update(Vertex(vid, "", "done", seconds=0.5))
    board.update(Vertex(40, "[app 40/60] RUN make", "started"))
    board.update(Log(40, "stdout", "one\ntwo\nthree\nfour\n"))
    lines = [text for text, _ in board.lines(60, 10)]
    assert len(lines) == 10 and all(len(line) <= 60 for line in lines)
    assert lines[0].startswith("[+] Building ") and lines[0].endswith("(39/40)")
    assert lines[-4].startswith(" => [app 40/60] RUN make ") and lines[-4].endswith("s")
    assert lines[-3:] == [" => => # two", " => => # three", " => => # four"]
    assert lines[1].endswith("... 0.5s") and len(lines[1]) == 60
    board.update(Vertex(40, "", "failed", seconds=1.0, error="exit code: 1"))
    board.finish()
    lines = [text for text, _ in board.lines(60, None)]
    assert lines[0].endswith("(40/40) FINISHED") and len(lines) == 41
    assert lines[-1].startswith(" => ERROR [app 40/60] RUN make")
