"""The text, dot and HTML views of a plan (the HTML one rendered in headless Chromium)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
from pathlib import Path

import pytest

from bakec.bake.definition import load
from bakec.graph import plan
from bakec.graph.plan import render_dot, render_html, render_text
from bakec.graph.report import critical_path_by_time, report_data, step_name

CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture
def monorepo_graph(make_monorepo, cache_dir):
    root = make_monorepo()
    return plan(load([], env=dict(os.environ), cwd=str(root)), cache_dir=cache_dir)


def test_text_lists_ops_in_build_order_with_share_counts_and_summary(monorepo_graph):
    text = render_text(monorepo_graph)
    lines = text.splitlines()
    assert lines[0] == "#1  x25  [base 1/3] FROM 127.0.0.1:5000/busybox:latest"
    assert lines[1].startswith("#2  x25  [base 2/3] RUN mkdir -p /opt/tools && busybox dd")
    assert any(
        re.fullmatch(r"#\d+ +x1 +\[api-dev-slim build 2/2\] RUN busybox tar .*echo slim > /variant", ln)
        for ln in lines
    )
    summary = next(ln for ln in lines if "operations requested" in ln)
    s = monorepo_graph.summary()
    assert (
        summary
        == f"25 targets, {s['requested']} operations requested, {s['unique']} unique ({s['shared']} shared)"
    )
    assert len([ln for ln in lines if ln.startswith("#")]) == s["unique"]
    tail = lines[lines.index(summary) + 1 :]
    assert tail[0] == "critical path: 7 operations"
    assert tail[1] == "  [base 1/3] FROM 127.0.0.1:5000/busybox:latest"
    assert len(tail) == 8 and all(t.startswith("  -> ") for t in tail[2:])


def test_dot_has_every_node_and_edge_and_marks_the_critical_path(monorepo_graph):
    dot = render_dot(monorepo_graph)
    g = monorepo_graph.graph
    assert dot.startswith("digraph plan {") and dot.rstrip().endswith("}")
    assert len(re.findall(r'^  "sha256:[0-9a-f]+" \[label=', dot, re.MULTILINE)) == g.number_of_nodes()
    assert len(re.findall(r"^  \"sha256:[0-9a-f]+\" -> ", dot, re.MULTILINE)) == g.number_of_edges()
    critical_edges = re.findall(r' -> "[^"]+" \[color="#d62728"', dot)
    assert len(critical_edges) == len(monorepo_graph.critical_path()) - 1


def _data(html: str) -> dict:
    return json.loads(
        re.search(r'<script type="application/json" id="plan-data">(.*?)</script>', html).group(1)
    )


def test_html_is_self_contained(monorepo_graph):
    html = render_html(monorepo_graph)
    assert (
        "<script src" not in html
        and "<link" not in html
        and "http://" not in html.replace("http://www.w3.org/2000/svg", "")
        and "https://" not in html
    )
    data = _data(html)
    assert data["critical"] == monorepo_graph.critical_path() and data["critical_by"] == "steps"
    assert len(html) < 150_000


def test_html_names_shared_steps_by_stage_and_links_their_dockerfile_line(monorepo_graph, tmp_path):
    root = tmp_path / "monorepo"
    nodes = {n["id"]: n for n in _data(render_html(monorepo_graph, cwd=root))["nodes"]}
    deps = [n for n in nodes.values() if n["step"].startswith("[deps 1/2] RUN mkdir -p /deps")]
    assert [len(n["targets"]) for n in deps] == [12, 12]  # dev and prod flavours, 6 services each
    assert deps[0]["src"]["file"] == "services/api/Dockerfile" and deps[0]["src"]["line"] == 3
    assert deps[0]["src"]["href"] == (root / "services/api/Dockerfile").as_uri() + "#L3"
    assert deps[0]["src"]["text"].startswith("RUN mkdir -p /deps && echo deps-$FLAVOUR")
    assert step_name("[api-dev-slim build 2/2] RUN make", "api-dev-slim") == "[build 2/2] RUN make"
    assert step_name("[app internal] load build context", "app") == "[internal] load build context"
    assert step_name("merge [app] COPY --link a /", "app") == "merge COPY --link a /"
    assert not any(n["step"].startswith("[api-") for n in nodes.values())


def test_critical_path_by_time_follows_the_slow_steps(monorepo_graph):
    count = monorepo_graph.critical_path()  # base, then api-dev-slim's chain (the first planned)
    slow = next(b for b in monorepo_graph.builds if b.target == "search-prod-full")
    chain = monorepo_graph.ancestors(slow.output) | {slow.output}
    steps = {
        n: {"state": "ran", "start": 0.0, "end": 5.0 if n in chain else 1.0} for n in monorepo_graph.nodes
    }
    by_time = critical_path_by_time(monorepo_graph, steps)
    assert by_time[-1] == slow.output and len(by_time) == len(count) and by_time != count
    cached = {n: dict(s, state="cached") for n, s in steps.items()}  # a cache hit costs no time
    assert critical_path_by_time(monorepo_graph, cached) == count
    data = report_data(monorepo_graph, steps)
    assert data["critical"] == by_time and data["critical_by"] == "time"
    assert data["critical_seconds"] == sum(steps[n]["end"] for n in by_time) == 5.0 * len(by_time)


def _chromium(url: str, profile: str, *flags: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            str(CHROMIUM),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--hide-scrollbars",
            f"--user-data-dir={profile}",
            *flags,
            url,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _page(page: Path, fragment: str = "", width: int = 1280) -> tuple[dict[str, str], str]:
    """The page as Chromium left it after its scripts ran: ``<body>``'s attributes and the DOM."""
    with tempfile.TemporaryDirectory() as profile:
        out = _chromium(page.as_uri() + fragment, profile, f"--window-size={width},900", "--dump-dom")
    assert out.returncode == 0, out.stderr[-2000:]
    body = re.search(r"<body([^>]*)>", out.stdout).group(1)
    return dict(re.findall(r'(data-[a-z-]+)="([^"]*)"', body)), out.stdout


needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="/usr/bin/chromium is absent (installed by scripts/setup)"
)


@needs_chromium
def test_html_renders_one_element_per_node_in_chromium(monorepo_graph, tmp_path):
    page = tmp_path / "plan.html"
    page.write_text(render_html(monorepo_graph))
    attrs, dom = _page(page)
    n = len(monorepo_graph.nodes)
    ids = re.findall(r'<div class="node[^"]*" data-node-id="(sha256:[0-9a-f]{64})"', dom)
    assert sorted(ids) == sorted(monorepo_graph.nodes) and len(ids) == n
    critical = re.findall(r'data-node-id="(sha256:[0-9a-f]{64})"[^>]*data-critical="true"', dom)
    assert critical == [i for i in ids if i in set(monorepo_graph.critical_path())]
    assert len(re.findall(r'class="edge critical"', dom)) == len(critical) - 1
    assert len(re.findall(r'<div class="node shared', dom)) == monorepo_graph.summary()["shared"]
    assert len(re.findall(r'<span class="chip[^"]*" [^>]*data-target=', dom)) == 25
    assert attrs["data-rendered"] == str(n) and attrs["data-visible-nodes"] == str(n)
    assert attrs["data-fits"] == "true"  # no horizontal scrolling

    api = [b for b in monorepo_graph.builds if "api" in b.target]
    used = {node for node, d in monorepo_graph.nodes.items() if any("api" in t for t in d["targets"])}
    attrs, dom = _page(page, "#target=api")
    assert (attrs["data-visible-targets"], attrs["data-visible-nodes"]) == (str(len(api)), str(len(used)))
    assert len(used) < n
    assert attrs["data-fits"] == "true"

    one = next(b for b in api if b.target == "api-dev-slim")
    attrs, dom = _page(page, "#highlight=api-dev-slim")
    assert attrs["data-highlighted"] == str(one.ops) == str(len(monorepo_graph.ancestors(one.output)) + 1)
    assert attrs["data-visible-nodes"] == str(n)
    assert re.search(r'<span class="chip selected lit"[^>]*data-target="api-dev-slim"', dom)


@needs_chromium
@pytest.mark.parametrize("width", [1280, 760])
def test_html_keeps_200_targets_in_the_window_width(make_matrix, tmp_path, cache_dir, width):
    graph = plan(load([], env=dict(os.environ), cwd=str(make_matrix(apps=5))), cache_dir=cache_dir)
    assert len({b.target for b in graph.builds}) == 200
    page = tmp_path / "plan.html"
    page.write_text(render_html(graph))
    attrs, dom = _page(page, width=width)
    assert attrs["data-fits"] == "true" and attrs["data-visible-targets"] == "200"
    assert attrs["data-visible-nodes"] == str(len(graph.nodes))
    # one COPY per platform: each names its platform and the 25 targets of that platform wait below it
    assert len(re.findall(r'<div class="group"', dom)) == 8
    assert len(re.findall(r'<span class="plat">', dom)) == 8
    attrs, _ = _page(page, "#target=arm64&highlight=svc-app000-alpine-arm64", width=width)
    assert (attrs["data-visible-targets"], attrs["data-visible-nodes"], attrs["data-highlighted"]) == (
        "25",
        "2",
        "2",
    )
    with tempfile.TemporaryDirectory() as profile:
        shot = tmp_path / "report.png"
        out = _chromium(page.as_uri(), profile, f"--screenshot={shot}", f"--window-size={width},1400")
    assert out.returncode == 0, out.stderr[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
