"""Ops, keys and the combined graph on small bake projects."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from graph_helpers import write

from bakec import ops as o
from bakec.bake.definition import load
from bakec.bake.model import Target
from bakec.dockerfile import ResolvedImage
from bakec.errors import SpecError
from bakec.graph import build_graph, plan, to_dict
from bakec.graph.context import ContextHasher
from bakec.graph.resolve import RegistryResolver, StaticResolver


def _graph(root: Path, cache_dir: Path, names=(), **kwargs):
    definition = load([], env=dict(os.environ), cwd=str(root))
    return plan(definition, names, cache_dir=cache_dir, **kwargs)


def _nodes(graph, kind=None):
    data = to_dict(graph)["nodes"]
    return [n for n in data if kind is None or n["kind"] == kind]


# -- ops ---------------------------------------------------------------------------


def test_description_and_location_do_not_enter_the_digest():
    a = o.LocalSource("sha256:x", ("src",), (), name="context", path="/home/a/proj")
    b = o.LocalSource("sha256:x", ("src",), (), name="other", path="/tmp/elsewhere")
    assert a.digest == b.digest
    assert a == b
    assert o.LocalSource("sha256:y", ("src",)).digest != a.digest


def test_exec_digest_covers_inputs_and_definition_but_not_proxy_env():
    base = o.ImageSource("busybox", "linux/amd64")
    run = o.Exec(base.digest, ("/bin/sh", "-c", "true"), ("PATH=/bin",), proxy_env=("HTTP_PROXY=http://p",))
    assert run.digest == o.Exec(base.digest, ("/bin/sh", "-c", "true"), ("PATH=/bin",)).digest
    assert run.digest != o.Exec(base.digest, ("/bin/sh", "-c", "false"), ("PATH=/bin",)).digest
    other = o.ImageSource("busybox", "linux/arm64")
    assert run.digest != o.Exec(other.digest, ("/bin/sh", "-c", "true"), ("PATH=/bin",)).digest
    assert run.inputs == (base.digest,)


def test_image_source_is_keyed_by_pinned_manifest_not_config():
    a = o.ImageSource("busybox:latest", "linux/amd64", "sha256:aa", config='{"a":1}')
    assert a.digest == o.ImageSource("busybox:latest", "linux/amd64", "sha256:aa", config="{}").digest
    assert a.digest != o.ImageSource("busybox:latest", "linux/amd64", "sha256:bb").digest


# -- the graph on small projects -----------------------------------------------------


def test_copy_key_depends_only_on_the_files_it_selects(tmp_path, cache_dir):
    root = write(
        tmp_path / "p",
        {
            "Dockerfile": "FROM scratch AS a\nCOPY a.txt /a\nFROM scratch AS b\nCOPY b.txt /b\n"
            "FROM scratch\nCOPY --from=a /a /a\nCOPY --from=b /b /b\n",
            "a.txt": "a\n",
            "b.txt": "b\n",
            "docker-bake.hcl": 'target "default" {}\n',
        },
    )
    before = {n["description"]: n["id"] for n in _nodes(_graph(root, cache_dir))}
    (root / "b.txt").write_text("b changed\n")
    after = {n["description"]: n["id"] for n in _nodes(_graph(root, cache_dir))}
    assert before["COPY a.txt /a"] == after["COPY a.txt /a"]
    assert before["COPY --from=a /a /a"] == after["COPY --from=a /a /a"]
    assert before["COPY b.txt /b"] != after["COPY b.txt /b"]
    assert before["COPY --from=b /b /b"] != after["COPY --from=b /b /b"]


def test_same_command_in_two_dockerfiles_is_one_node(tmp_path, cache_dir):
    root = write(
        tmp_path / "p",
        {
            "one/Dockerfile": "FROM busybox AS first\nRUN echo hi > /x\n",
            "two/Dockerfile": "FROM busybox\nLABEL other=stage\nRUN echo hi > /x\nRUN echo two\n",
            "docker-bake.hcl": 'target "one" { context = "one" }\ntarget "two" { context = "two" }\n'
            'group "default" { targets = ["one", "two"] }\n',
        },
    )
    graph = _graph(root, cache_dir)
    runs = _nodes(graph, "exec")
    echo = [n for n in runs if n["op"]["args"][-1] == "echo hi > /x"]
    assert len(echo) == 1 and echo[0]["targets"] == ["one", "two"]
    assert len(runs) == 2
    text = graph_text(graph)
    assert "x2   [one 2/2] RUN echo hi > /x" in text
    assert "2 targets, 5 operations requested, 3 unique (2 shared)" in text


def graph_text(graph) -> str:
    from bakec.graph.plan import render_text

    return render_text(graph)


def test_instruction_kinds_become_the_closed_vocabulary(tmp_path, cache_dir):
    dockerfile = (
        "FROM busybox AS tools\n"
        "WORKDIR /w\n"
        "COPY --link --chown=1:1 a.txt /opt/\n"
        "ADD https://example.com/x.tgz /dl/\n"
        "COPY <<EOF /etc/conf\nhello\nEOF\n"
        "RUN --mount=type=cache,target=/root/.cache,id=c1 --mount=type=bind,source=b.txt,target=/b "
        "--mount=type=tmpfs,target=/t --mount=type=ssh --network=none true\n"
    )
    root = write(
        tmp_path / "p",
        {"Dockerfile": dockerfile, "a.txt": "a", "b.txt": "b", "docker-bake.hcl": 'target "default" {}\n'},
    )
    nodes = _nodes(_graph(root, cache_dir))
    kinds = [n["kind"] for n in nodes]
    assert kinds.count("merge") == 1 and kinds.count("http") == 1 and kinds.count("image") == 1
    mkdir = next(n for n in nodes if n["description"] == "WORKDIR /w")
    assert mkdir["op"]["actions"] == [
        {"make_parents": True, "mode": 0o755, "owner": "", "path": "/w", "type": "mkdir"}
    ]
    link_copy = next(n for n in nodes if n["kind"] == "file" and n["description"].startswith("COPY --link"))
    assert link_copy["op"]["root"] == "" and link_copy["op"]["actions"][0]["owner"] == "1:1"
    heredoc = next(n for n in nodes if n["description"].startswith("COPY <<EOF"))
    assert heredoc["op"]["actions"] == [
        {"data": "hello\n", "mode": 0o644, "owner": "", "path": "/etc/conf", "type": "mkfile"}
    ]
    run = next(n for n in nodes if n["kind"] == "exec")
    mounts = {m["type"]: m for m in run["op"]["mounts"]}
    assert set(mounts) == {"cache", "bind", "tmpfs", "ssh"}
    assert mounts["cache"]["id"] == "c1" and mounts["cache"]["input"] == ""
    bind_src = next(n for n in nodes if n["id"] == mounts["bind"]["input"])
    assert bind_src["kind"] == "local" and bind_src["op"]["include"] == ["b.txt"]
    assert run["op"]["network"] == "none" and run["op"]["cwd"] == "/w"
    assert set(run["deps"]) == {mounts["bind"]["input"], run["op"]["root"]}


def test_secret_content_never_enters_keys_or_plan(tmp_path, cache_dir):
    secret = tmp_path / "token.txt"
    secret.write_text("s3cr3t-value")
    root = write(
        tmp_path / "p",
        {
            "Dockerfile": "FROM busybox\nRUN --mount=type=secret,id=tok,env=TOK cat /run/secrets/tok\n",
            "docker-bake.hcl": f'target "default" {{\n  secret = ["id=tok,src={secret}"]\n}}\n',
        },
    )
    graph = _graph(root, cache_dir)
    text = json.dumps(to_dict(graph))
    assert "s3cr3t" not in text and str(secret) not in text
    run = _nodes(graph, "exec")[0]
    (mount,) = run["op"]["mounts"]
    assert mount["type"] == "secret" and mount["id"] == "tok" and mount["input"] == ""
    secret.write_text("another value")
    assert _nodes(_graph(root, cache_dir), "exec")[0]["id"] == run["id"]


def test_platforms_are_separate_nodes_and_builds(tmp_path, cache_dir):
    root = write(
        tmp_path / "p",
        {
            "Dockerfile": "FROM busybox\nCOPY a /a\nRUN true\n",
            "a": "a",
            "docker-bake.hcl": 'target "default" {\n  platforms = ["linux/amd64", "linux/arm64"]\n}\n',
        },
    )
    data = to_dict(_graph(root, cache_dir))
    assert set(data["targets"]["default"]["platforms"]) == {"linux/amd64", "linux/arm64"}
    runs = [n for n in data["nodes"] if n["kind"] == "exec"]
    assert sorted(n["platform"] for n in runs) == ["linux/amd64", "linux/arm64"]
    assert "[default linux/arm64 3/3] RUN true" in [n["name"] for n in runs]
    # one context selection serves both platforms
    assert len([n for n in data["nodes"] if n["kind"] == "local"]) == 1


def test_target_cycle_names_the_path(tmp_path):
    def target(name, link):
        return Target(name=name, context=".", dockerfile_inline="FROM x\n", contexts={"x": f"target:{link}"})

    targets = {"a": target("a", "b"), "b": target("b", "c"), "c": target("c", "a")}
    with pytest.raises(SpecError, match=r"target cycle: a -> b -> c -> a"):
        build_graph(targets, cwd=tmp_path, hasher=ContextHasher(persist=False))


def test_cli_reports_a_target_cycle(tmp_path, capsys, monkeypatch):
    from bakec.cli.main import main

    write(
        tmp_path,
        {
            "docker-bake.hcl": 'target "a" {\n  dockerfile-inline = "FROM x"\n  contexts = { x = "target:b" }\n}\n'
            'target "b" {\n  dockerfile-inline = "FROM x"\n  contexts = { x = "target:a" }\n}\n'
        },
    )
    monkeypatch.chdir(tmp_path)
    assert main(["plan", "a"]) == 1
    err = capsys.readouterr().err
    assert "ERROR:" in err and "a" in err and "b" in err


def test_stage_cycle_is_a_spec_error(tmp_path, cache_dir):
    root = write(
        tmp_path / "p",
        {
            "Dockerfile": "FROM busybox AS a\nCOPY --from=b /x /x\nFROM busybox AS b\nCOPY --from=a /y /y\n",
            "docker-bake.hcl": 'target "default" {\n  target = "b"\n}\n',
        },
    )
    with pytest.raises(SpecError) as info:
        _graph(root, cache_dir)
    assert "stage" in str(info.value)


# -- image resolution ----------------------------------------------------------------


def _busybox(digest: str) -> ResolvedImage:
    config = {
        "architecture": "amd64",
        "os": "linux",
        "config": {"Env": ["PATH=/bin"]},
        "rootfs": {"type": "layers", "diff_ids": ["sha256:" + "1" * 64]},
        "history": [{"created_by": "x"}],
    }
    return ResolvedImage.from_config("127.0.0.1:5000/busybox:latest", digest, config)


def test_resolver_pins_digest_and_config_into_the_plan(make_monorepo, cache_dir):
    root = make_monorepo()
    pinned = "sha256:" + "a" * 64
    resolver = StaticResolver({"127.0.0.1:5000/busybox:latest": _busybox(pinned)})
    data = to_dict(_graph(root, cache_dir, resolver=resolver, build_platform="linux/amd64"))
    (image,) = [n for n in data["nodes"] if n["kind"] == "image"]
    assert image["op"]["manifest"] == pinned
    assert data["images"][0]["digest"] == pinned and data["images"][0]["config"]["config"]["Env"] == [
        "PATH=/bin"
    ]
    offline = to_dict(_graph(root, cache_dir, build_platform="linux/amd64"))
    assert {n["id"] for n in offline["nodes"] if n["kind"] == "image"} != {image["id"]}


def test_registry_resolver_asks_once_per_reference_and_platform(make_monorepo, cache_dir):
    calls = []

    class FakeClient:
        def resolve_image(self, ref, platform):
            calls.append((ref, platform))
            return "sha256:" + "b" * 64, _busybox("").config_dict()

    _graph(make_monorepo(), cache_dir, resolver=RegistryResolver(FakeClient()), build_platform="linux/amd64")
    assert calls == [("127.0.0.1:5000/busybox:latest", "linux/amd64")]


# -- lazy imports --------------------------------------------------------------------


def test_build_print_does_not_import_the_graph(make_monorepo):
    root = make_monorepo()
    code = (
        "import sys, io, contextlib\n"
        "from bakec.cli.main import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    assert main(['build', '--print']) == 0\n"
        "print(sorted(m for m in sys.modules if m.startswith(('bakec.graph', 'networkx', 'jinja2'))))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_registry_resolution_pins_the_loopback_busybox(
    make_monorepo, cache_dir, busybox_image, capsys, monkeypatch
):
    from bakec.cli.main import main

    root = make_monorepo()
    monkeypatch.chdir(root)
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache_dir))
    args = [
        "plan",
        "--format",
        "json",
        "--resolve",
        "registry",
        "--set",
        "*.platform=linux/amd64",
        "api-dev-slim",
    ]
    assert main(args) == 0, capsys.readouterr().err
    data = json.loads(capsys.readouterr().out)
    (image,) = [n for n in data["nodes"] if n["kind"] == "image"]
    assert image["op"]["manifest"].startswith("sha256:")
    (pinned,) = data["images"]
    assert pinned["digest"] == image["op"]["manifest"]
    assert pinned["config"]["architecture"] == "amd64" and pinned["config"]["rootfs"]["diff_ids"]
    assert data["targets"]["api-dev-slim"]["platforms"]["linux/amd64"]["layers"] > 1


def test_no_cache_filter_marks_the_stage_ops_of_that_target(tmp_path, cache_dir):
    root = write(
        tmp_path / "p",
        {
            "Dockerfile": "FROM busybox AS deps\nRUN echo deps\nFROM deps AS build\nRUN echo build\n",
            "docker-bake.hcl": 'target "a" {\n  no-cache-filter = ["build"]\n}\ntarget "b" {\n  target = "deps"\n}\n'
            'group "default" { targets = ["a", "b"] }\n',
        },
    )
    nodes = {n["description"]: n for n in _nodes(_graph(root, cache_dir))}
    assert nodes["RUN echo build"]["no_cache"] is True
    assert nodes["RUN echo deps"]["no_cache"] is False
    assert nodes["RUN echo deps"]["targets"] == ["a", "b"]


def test_dockerfile_specific_ignore_file_replaces_the_root_one(tmp_path, cache_dir):
    root = write(
        tmp_path / "p",
        {
            "build/app.Dockerfile": "FROM scratch\nCOPY . /\n",
            "build/app.Dockerfile.dockerignore": "secret.txt\n",
            ".dockerignore": "keep.txt\n",
            "secret.txt": "s",
            "keep.txt": "k",
            "docker-bake.hcl": 'target "default" {\n  dockerfile = "build/app.Dockerfile"\n}\n',
        },
    )
    before = _nodes(_graph(root, cache_dir))
    (root / "secret.txt").write_text("changed")
    assert _nodes(_graph(root, cache_dir)) == before
    (root / "keep.txt").write_text("changed")
    assert [n["id"] for n in _nodes(_graph(root, cache_dir))] != [n["id"] for n in before]
    (local,) = [n for n in before if n["kind"] == "local"]
    assert local["op"]["exclude"] == ["secret.txt"]


def test_linked_target_with_one_platform_keeps_it(tmp_path, cache_dir):
    root = write(
        tmp_path / "p",
        {
            "docker-bake.hcl": 'target "base" {\n  dockerfile-inline = "FROM busybox\\nRUN echo base"\n'
            '  platforms = ["linux/arm64"]\n}\n'
            'target "app" {\n  dockerfile-inline = "FROM base\\nRUN echo app"\n  contexts = { base = "target:base" }\n}\n'
        },
    )
    data = to_dict(_graph(root, cache_dir, ["app"]))
    assert list(data["targets"]["base"]["platforms"]) == ["linux/arm64"]
    base_run = next(n for n in data["nodes"] if n["description"] == "RUN echo base")
    assert base_run["platform"] == "linux/arm64" and base_run["targets"] == ["app", "base"]
