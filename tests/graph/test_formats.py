"""The text, dot and HTML views of a plan (the HTML one rendered in headless Chromium)."""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from pathlib import Path

import pytest

from bakec.bake.definition import load
from bakec.graph import plan
from bakec.graph.plan import render_dot, render_html, render_text

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


def test_html_is_self_contained(monorepo_graph):
    html = render_html(monorepo_graph)
    assert (
        "<script src" not in html
        and "<link" not in html
        and "http://" not in html.replace("http://www.w3.org/2000/svg", "")
    )
    assert html.count('"critical":true') == len(monorepo_graph.critical_path())


@pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is absent (installed by scripts/setup)")
def test_html_renders_one_element_per_node_in_chromium(monorepo_graph, tmp_path):
    page = tmp_path / "plan.html"
    page.write_text(render_html(monorepo_graph))
    with tempfile.TemporaryDirectory() as profile:
        out = subprocess.run(
            [
                str(CHROMIUM),
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                f"--user-data-dir={profile}",
                "--dump-dom",
                page.as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    dom = out.stdout
    assert out.returncode == 0, out.stderr[-2000:]
    n = monorepo_graph.graph.number_of_nodes()
    ids = re.findall(r'<g class="node[^"]*" data-node-id="(sha256:[0-9a-f]{64})"', dom)
    assert sorted(ids) == sorted(monorepo_graph.graph.nodes) and len(ids) == n
    critical = re.findall(r'data-node-id="(sha256:[0-9a-f]{64})"[^>]*data-critical="true"', dom)
    assert critical == [i for i in ids if i in set(monorepo_graph.critical_path())]
    assert len(critical) == len(monorepo_graph.critical_path())
    assert len(re.findall(r'class="edge critical"', dom)) == len(critical) - 1
    shared = re.findall(r'<g class="node shared', dom)
    assert len(shared) == monorepo_graph.summary()["shared"]
    assert f'data-rendered="{n}"' in dom
