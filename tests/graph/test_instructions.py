"""Each instruction and flag that shapes an op, as a table: Dockerfile lines in, last op's key fields out."""

from __future__ import annotations

import pytest
from graph_helpers import write

from bakec.bake.model import Target
from bakec.graph import build_graph, to_dict
from bakec.graph.context import ContextHasher


def _last_op(tmp_path, lines: str, args: dict[str, str] | None = None) -> tuple[dict, list[dict]]:
    root = write(tmp_path / "ctx", {"a.txt": "a", "dir/b.txt": "b", "dir/skip1": "s"})
    target = Target(name="t", context=".", dockerfile_inline="FROM busybox AS s0\n" + lines, args=args)
    graph = build_graph(
        {"t": target}, cwd=root, hasher=ContextHasher(persist=False), build_platform="linux/amd64"
    )
    nodes = to_dict(graph)["nodes"]
    output = graph.builds[0].output
    return next(n for n in nodes if n["id"] == output), nodes


CASES = [
    ("run_shell_form", "RUN echo hi", "exec", {"args": ["/bin/sh", "-c", "echo hi"], "network": "default"}),
    ("run_exec_form", 'RUN ["/bin/echo", "hi"]', "exec", {"args": ["/bin/echo", "hi"]}),
    ("run_network_none", "RUN --network=none true", "exec", {"network": "none"}),
    ("run_network_host", "RUN --network=host true", "exec", {"network": "host"}),
    ("run_security_insecure", "RUN --security=insecure true", "exec", {"security": "insecure"}),
    ("shell", 'SHELL ["/bin/bash", "-c"]\nRUN true', "exec", {"args": ["/bin/bash", "-c", "true"]}),
    (
        "env_and_arg_in_exec_env",
        "ARG A=1\nENV B=2\nRUN true",
        "exec",
        {"env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "A=1", "B=2"]},
    ),
    ("user_and_workdir", "WORKDIR /w\nUSER app:0\nRUN true", "exec", {"user": "app:0", "cwd": "/w"}),
    (
        "workdir_mkdir_owned_by_user",
        "USER 1000:1000\nWORKDIR /w",
        "file",
        {
            "actions": [
                {"type": "mkdir", "path": "/w", "mode": 0o755, "owner": "1000:1000", "make_parents": True}
            ]
        },
    ),
    (
        "copy_chown_chmod",
        "COPY --chown=1:2 --chmod=640 a.txt /x",
        "file",
        {
            "actions": [
                {
                    "type": "copy",
                    "source": 0,
                    "src": "a.txt",
                    "dest": "/x",
                    "owner": "1:2",
                    "mode": "640",
                    "follow_symlinks": True,
                    "contents_only": True,
                    "allow_wildcard": True,
                    "allow_empty_wildcard": True,
                    "create_dest_path": True,
                    "parents": False,
                    "exclude": [],
                    "unpack": False,
                }
            ]
        },
    ),
    (
        "copy_parents_exclude",
        "COPY --parents --exclude=skip* dir/ /d/",
        "file",
        {
            "actions": [
                {
                    "type": "copy",
                    "source": 0,
                    "src": "dir/",
                    "dest": "/d/",
                    "owner": "",
                    "mode": "",
                    "follow_symlinks": True,
                    "contents_only": True,
                    "allow_wildcard": True,
                    "allow_empty_wildcard": True,
                    "create_dest_path": True,
                    "parents": True,
                    "exclude": ["skip*"],
                    "unpack": False,
                }
            ]
        },
    ),
    ("copy_from_stage", "FROM busybox AS s1\nRUN echo x > /x\nFROM s0\nCOPY --from=s1 /x /y", "file", {}),
    ("copy_link_is_a_merge", "COPY --link a.txt /x", "merge", {}),
    ("copy_link_with_chmod_is_a_plain_copy", "COPY --link --chmod=600 a.txt /x", "file", {}),
    ("add_local_archive_unpacks", "ADD a.txt /x/", "file", {}),
    ("add_url_checksum", "ADD --checksum=sha256:" + "0" * 64 + " https://example.com/f /f", "file", {}),
    (
        "heredoc_run_script",
        "RUN <<EOF\n#!/bin/sh\necho hi\nEOF",
        "exec",
        {
            "args": ["/bin/sh", "-c", "/dev/pipes/EOF"],
            "files": [{"name": "EOF", "data": "#!/bin/sh\necho hi\n", "mode": 0o755}],
        },
    ),
    (
        "cache_mount_options",
        "RUN --mount=type=cache,target=/c,id=x,sharing=locked,mode=0700,uid=1,gid=2 true",
        "exec",
        {
            "mounts": [
                {
                    "type": "cache",
                    "target": "/c",
                    "input": "",
                    "selector": "",
                    "readonly": False,
                    "id": "x",
                    "sharing": "locked",
                    "required": False,
                    "mode": 0o700,
                    "uid": 1,
                    "gid": 2,
                    "size": 0,
                    "env": None,
                }
            ]
        },
    ),
    (
        "tmpfs_size",
        "RUN --mount=type=tmpfs,target=/t,size=1m true",
        "exec",
        {
            "mounts": [
                {
                    "type": "tmpfs",
                    "target": "/t",
                    "input": "",
                    "selector": "",
                    "readonly": False,
                    "id": "",
                    "sharing": "",
                    "required": False,
                    "mode": None,
                    "uid": None,
                    "gid": None,
                    "size": 1048576,
                    "env": None,
                }
            ]
        },
    ),
    (
        "secret_ids_only",
        "RUN --mount=type=secret,id=npm,required=true true",
        "exec",
        {
            "mounts": [
                {
                    "type": "secret",
                    "target": "/run/secrets/npm",
                    "input": "",
                    "selector": "",
                    "readonly": True,
                    "id": "npm",
                    "sharing": "",
                    "required": True,
                    "mode": None,
                    "uid": None,
                    "gid": None,
                    "size": 0,
                    "env": None,
                }
            ]
        },
    ),
]


@pytest.mark.parametrize(("lines", "kind", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_instruction_becomes_op(tmp_path, lines, kind, expected):
    node, _ = _last_op(tmp_path, lines)
    assert node["kind"] == kind
    for key, value in expected.items():
        assert node["op"][key] == value, key


def test_add_url_is_an_http_source_copied_without_a_mode(tmp_path):
    # the download is a 0600 file; a copy mode would also apply to the parents it creates
    node, nodes = _last_op(tmp_path, "ADD --checksum=sha256:" + "0" * 64 + " https://example.com/f /d/f")
    (http,) = [n for n in nodes if n["kind"] == "http"]
    assert http["op"] == {"url": "https://example.com/f", "checksum": "sha256:" + "0" * 64, "filename": "f"}
    assert node["op"]["sources"] == [http["id"]] and node["op"]["actions"][0]["mode"] == ""


def test_add_local_unpacks_but_copy_does_not(tmp_path):
    add, _ = _last_op(tmp_path, "ADD a.txt /x/")
    copy, _ = _last_op(tmp_path, "COPY a.txt /x/")
    assert add["op"]["actions"][0]["unpack"] is True and copy["op"]["actions"][0]["unpack"] is False
    assert add["id"] != copy["id"]


def test_copy_from_stage_reads_that_stage_output(tmp_path):
    node, nodes = _last_op(tmp_path, "FROM busybox AS s1\nRUN echo x > /x\nFROM s0\nCOPY --from=s1 /x /y")
    run = next(n for n in nodes if n["description"] == "RUN echo x > /x")
    assert node["op"]["sources"] == [run["id"]]


def test_copy_link_merges_a_copy_onto_scratch(tmp_path):
    merge, nodes = _last_op(tmp_path, "COPY --link a.txt /x")
    root, copied = merge["op"]["layers"]
    copy = next(n for n in nodes if n["id"] == copied)
    assert copy["op"]["root"] == "" and next(n for n in nodes if n["id"] == root)["kind"] == "image"


def test_bind_mount_from_stage_and_context(tmp_path):
    node, nodes = _last_op(
        tmp_path,
        "FROM busybox AS s1\nFROM s0\nRUN --mount=from=s1,source=/etc,target=/e --mount=source=dir,target=/d true",
    )
    stage_mount, ctx_mount = node["op"]["mounts"]
    assert next(n for n in nodes if n["id"] == stage_mount["input"])["kind"] == "image"
    assert stage_mount["selector"] == "/etc" and stage_mount["readonly"] is True
    ctx = next(n for n in nodes if n["id"] == ctx_mount["input"])
    assert ctx["kind"] == "local" and ctx["op"]["include"] == ["dir"]


def test_undeclared_build_args_and_config_only_instructions_do_not_change_the_key(tmp_path):
    a, _ = _last_op(tmp_path, "RUN true")
    b, _ = _last_op(tmp_path, 'LABEL x=y\nEXPOSE 80\nCMD ["sh"]\nRUN true', args={"UNUSED": "1"})
    assert a["id"] == b["id"]
    declared, _ = _last_op(tmp_path, "ARG UNUSED\nRUN true", args={"UNUSED": "1"})
    assert declared["id"] != a["id"] and "UNUSED=1" in declared["op"]["env"]


def test_an_add_url_password_is_not_in_the_step_name(tmp_path):
    target = Target(
        name="t",
        context=".",
        dockerfile_inline="FROM busybox\nADD https://user:hunter2@example.invalid/x.tgz /dl/",
    )
    graph = build_graph(
        {"t": target},
        cwd=write(tmp_path / "ctx", {}),
        hasher=ContextHasher(persist=False),
        build_platform="linux/amd64",
    )
    source = next(n for n in graph.nodes.values() if n["op"].kind == "http")
    assert source["description"] == "https://user:xxxxx@example.invalid/x.tgz"
    assert source["label"] == "[t internal] https https://user:xxxxx@example.invalid/x.tgz"
    assert source["op"].url == "https://user:hunter2@example.invalid/x.tgz"  # fetched with it
