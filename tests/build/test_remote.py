"""Git contexts and remote bake definitions, fetched from a repository served by ``git daemon`` on loopback."""

from __future__ import annotations

import http.server
import json
import os
import signal
import socket
import subprocess
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from .helpers import bakec, instruction, vertices

BASE = "127.0.0.1:5000/busybox:latest"


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), "-c", "user.email=t@example.com", "-c", "user.name=t", *args],
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def _commit(repo: Path, files: dict[str, str], message: str) -> str:
    for name, text in files.items():
        path = repo / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", message)
    return _git(repo, "rev-parse", "HEAD").strip()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class GitServer:
    def __init__(self, base: Path, port: int) -> None:
        self.base = base
        self.port = port

    def url(self, repo: str, fragment: str = "") -> str:
        return f"git://127.0.0.1:{self.port}/{repo}" + (f"#{fragment}" if fragment else "")

    def repo(self, name: str) -> Path:
        path = self.base / name
        if not path.exists():
            path.mkdir(parents=True)
            subprocess.run(["git", "init", "-q", "-b", "main", str(path)], check=True)
        return path


@pytest.fixture(scope="module")
def git_server(tmp_path_factory) -> Iterator[GitServer]:
    base = tmp_path_factory.mktemp("git-served")
    port = _free_port()
    proc = subprocess.Popen(
        [
            "git",
            "daemon",
            "--export-all",
            f"--base-path={base}",
            "--listen=127.0.0.1",
            f"--port={port}",
            "--reuseaddr",
            str(base),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        yield GitServer(base, port)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)


class _GitHttpHandler(http.server.BaseHTTPRequestHandler):
    """Smart HTTP through ``git http-backend`` (CGI), as a web server in front of git would run it."""

    root = ""

    def _cgi(self) -> None:
        path, _, query = self.path.partition("?")
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "GIT_PROJECT_ROOT": self.root,
            "GIT_HTTP_EXPORT_ALL": "1",
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "REQUEST_METHOD": self.command,
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)),
            "REMOTE_ADDR": "127.0.0.1",
            "GIT_PROTOCOL": self.headers.get("Git-Protocol", ""),
        }
        out = subprocess.run(
            ["git", "http-backend"], input=body, env=env, capture_output=True, check=False
        ).stdout
        head, _, payload = out.partition(b"\r\n\r\n")
        headers = [line.split(":", 1) for line in head.decode().split("\r\n") if ":" in line]
        status = next((int(v.split()[0]) for k, v in headers if k.lower() == "status"), 200)
        self.send_response(status)
        for key, value in headers:
            if key.lower() != "status":
                self.send_header(key, value.strip())
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = _cgi

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def git_http(tmp_path_factory) -> Iterator[tuple[Path, int]]:
    """(repositories dir, port) of ``git http-backend`` served on loopback."""
    base = tmp_path_factory.mktemp("git-http")
    handler = type("Handler", (_GitHttpHandler,), {"root": str(base)})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield base, server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def _bake(project: Path, body: str) -> Path:
    project.mkdir(parents=True, exist_ok=True)
    (project / "docker-bake.hcl").write_text(textwrap.dedent(body))
    return project


def _started(stderr: str) -> list[str]:
    """The RUN, COPY and ADD steps that ran (vertex names without a ``[target n/m]`` prefix)."""
    names = [instruction(name) for name in vertices(stderr, "started")]
    return [name for name in names if name.startswith(("RUN", "COPY", "ADD"))]


def test_git_context_is_the_checked_out_subdir_with_dockerignore_applied(tmp_path, state_dir, git_server):
    repo = git_server.repo("ctx-basic")
    _commit(
        repo,
        {
            "sub/Dockerfile": f"FROM {BASE}\nCOPY . /ctx/\n",
            "sub/a.txt": "a\n",
            "sub/ignored.txt": "no\n",
            "sub/.dockerignore": "ignored.txt\n",
            "top.txt": "top\n",
        },
        "one",
    )
    project = _bake(
        tmp_path,
        f"""\
        target "default" {{
          context = "{git_server.url("ctx-basic", "main:sub")}"
          output = ["type=local,dest=out"]
        }}
        """,
    )
    proc = bakec(project, state_dir, "build", "--progress", "plain")
    assert proc.returncode == 0, proc.stderr
    ctx = project / "out" / "ctx"
    assert sorted(p.name for p in ctx.iterdir()) == [".dockerignore", "Dockerfile", "a.txt"]
    assert (ctx / "a.txt").read_text() == "a\n"
    # fetched into the state dir, one bare repository per URL and ref, no .git in the checkout
    checkouts = list((state_dir / "git").glob("*/trees/*"))
    assert checkouts and all(not (c / ".git").exists() for c in checkouts)


def test_a_new_commit_reruns_only_what_its_files_change(tmp_path, state_dir, git_server):
    repo = git_server.repo("ctx-commits")
    _commit(
        repo,
        {
            "Dockerfile": f"FROM {BASE}\nRUN echo base > /base\nCOPY app/ /app/\n",
            "app/a.txt": "one\n",
            "notes.md": "x\n",
            ".dockerignore": "notes.md\n",
        },
        "one",
    )
    project = _bake(
        tmp_path,
        f"""\
        target "default" {{
          context = "{git_server.url("ctx-commits")}"
          output = ["type=local,dest=out"]
        }}
        """,
    )
    first = bakec(project, state_dir, "build", "--progress", "bakec-json")
    assert first.returncode == 0, first.stderr
    assert (project / "out" / "app" / "a.txt").read_text() == "one\n"
    again = bakec(project, state_dir, "build", "--progress", "bakec-json")
    assert again.returncode == 0, again.stderr
    assert _started(again.stderr) == []
    _commit(repo, {"notes.md": "only ignored files change\n"}, "two")
    ignored = bakec(project, state_dir, "build", "--progress", "bakec-json")
    assert ignored.returncode == 0, ignored.stderr
    assert _started(ignored.stderr) == []
    _commit(repo, {"app/a.txt": "two\n"}, "three")
    changed = bakec(project, state_dir, "build", "--progress", "bakec-json")
    assert changed.returncode == 0, changed.stderr
    assert _started(changed.stderr) == ["COPY app/ /app/"]
    assert (project / "out" / "app" / "a.txt").read_text() == "two\n"


def test_named_git_contexts_at_a_tag_and_a_commit(tmp_path, state_dir, git_server):
    repo = git_server.repo("ctx-named")
    first = _commit(repo, {"lib/v.txt": "v1\n"}, "one")
    _git(repo, "tag", "v1")
    _commit(repo, {"lib/v.txt": "v2\n"}, "two")
    (tmp_path / "Dockerfile").write_text(
        f"FROM {BASE}\nCOPY --from=tagged v.txt /tagged.txt\n"
        "COPY --from=pinned v.txt /pinned.txt\nCOPY --from=head lib/v.txt /head.txt\n"
    )
    project = _bake(
        tmp_path,
        f"""\
        target "default" {{
          contexts = {{
            tagged = "{git_server.url("ctx-named", "v1:lib")}"
            pinned = "{git_server.url("ctx-named", first + ":lib")}"
            head = "{git_server.url("ctx-named")}"
          }}
          output = ["type=local,dest=out"]
        }}
        """,
    )
    proc = bakec(project, state_dir, "build", "--progress", "plain")
    assert proc.returncode == 0, proc.stderr
    out = project / "out"
    assert (out / "tagged.txt").read_text() == "v1\n"
    assert (out / "pinned.txt").read_text() == "v1\n"
    assert (out / "head.txt").read_text() == "v2\n"


def test_remote_definition_reads_the_bake_file_and_contexts_from_the_repository(
    tmp_path, state_dir, git_server
):
    repo = git_server.repo("def-remote")
    _commit(
        repo,
        {
            "docker-bake.hcl": textwrap.dedent("""\
            group "default" { targets = ["app", "local"] }
            target "app" {
              context = "svc"
              output = ["type=local,dest=out/app"]
            }
            target "local" {
              context = BAKE_CMD_CONTEXT
              dockerfile-inline = "FROM 127.0.0.1:5000/busybox:latest\\nCOPY mine.txt /mine.txt\\n"
              output = ["type=local,dest=out/local"]
            }
            """),
            "svc/Dockerfile": f"FROM {BASE}\nCOPY hello.txt /hello.txt\n",
            "svc/hello.txt": "from the repository\n",
        },
        "one",
    )
    work = tmp_path / "work"
    work.mkdir()
    (work / "mine.txt").write_text("from the working directory\n")
    url = git_server.url("def-remote", "main")
    printed = bakec(work, state_dir, "build", url, "--print")
    assert printed.returncode == 0, printed.stderr
    targets = json.loads(printed.stdout)["target"]
    assert targets["app"]["context"] == url + ":svc"
    assert targets["local"]["context"] == "."
    proc = bakec(work, state_dir, "build", url, "--progress", "plain")
    assert proc.returncode == 0, proc.stderr
    assert (work / "out" / "app" / "hello.txt").read_text() == "from the repository\n"
    assert (work / "out" / "local" / "mine.txt").read_text() == "from the working directory\n"
    only = bakec(work, state_dir, "build", url, "app", "--print")
    assert list(json.loads(only.stdout)["target"]) == ["app"]


def test_remote_definition_with_a_local_file_and_no_files_in_the_repository(tmp_path, state_dir, git_server):
    repo = git_server.repo("def-empty")
    _commit(repo, {"Dockerfile": f"FROM {BASE}\nCOPY . /src/\n", "x.txt": "x\n"}, "one")
    url = git_server.url("def-empty")
    missing = bakec(tmp_path, state_dir, "build", url, "--print")
    assert missing.returncode == 1
    assert "couldn't find a bake definition" in missing.stderr and "Traceback" not in missing.stderr
    (tmp_path / "local.hcl").write_text('target "default" {\n  output = ["type=local,dest=out"]\n}\n')
    proc = bakec(tmp_path, state_dir, "build", url, "-f", "cwd://local.hcl", "--progress", "plain")
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "out" / "src" / "x.txt").read_text() == "x\n"


def test_unknown_ref_and_unreachable_remote_fail_with_a_message(tmp_path, state_dir, git_server):
    repo = git_server.repo("ctx-errors")
    _commit(repo, {"Dockerfile": f"FROM {BASE}\n"}, "one")
    project = _bake(
        tmp_path,
        f"""\
        target "default" {{
          context = "{git_server.url("ctx-errors", "no-such-branch")}"
        }}
        target "creds" {{
          context = "http://user:s3cr3t-token@127.0.0.1:{_free_port()}/repo.git"
        }}
        """,
    )
    proc = bakec(project, state_dir, "build")
    assert proc.returncode == 1
    assert "failed to fetch git context" in proc.stderr and "no-such-branch" in proc.stderr
    assert "Traceback" not in proc.stderr
    creds = bakec(project, state_dir, "build", "creds")
    assert creds.returncode == 1
    assert "failed to fetch git context http://user:xxxxx@127.0.0.1" in creds.stderr
    assert "s3cr3t-token" not in creds.stderr + creds.stdout
    assert not any(
        "s3cr3t-token" in p.read_text(errors="replace")
        for p in (state_dir / "git").rglob("config")
        if p.is_file()
    )
    assert os.path.isdir(state_dir / "git")


def test_https_style_git_url_over_smart_http_keeps_credentials_out_of_the_state_dir(
    tmp_path, state_dir, git_http
):
    base, port = git_http
    repo = base / "web.git"
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    _commit(repo, {"Dockerfile": f"FROM {BASE}\nCOPY page.html /srv/\n", "page.html": "<p>hi</p>\n"}, "one")
    url = f"http://builder:pa55w0rd-xyz@127.0.0.1:{port}/web.git#main"
    project = _bake(
        tmp_path,
        f"""\
        target "default" {{
          context = "{url}"
          output = ["type=local,dest=out"]
        }}
        """,
    )
    proc = bakec(project, state_dir, "build", "--progress", "plain")
    assert proc.returncode == 0, proc.stderr
    assert (project / "out" / "srv" / "page.html").read_text() == "<p>hi</p>\n"
    assert "pa55w0rd-xyz" not in proc.stderr + proc.stdout
    printed = bakec(project, state_dir, "build", "--print")
    assert json.loads(printed.stdout)["target"]["default"]["context"] == url  # --print shows what was written
    leaked = [p for p in (state_dir / "git").rglob("*") if p.is_file() and b"pa55w0rd-xyz" in p.read_bytes()]
    assert leaked == []


def test_add_git_url_copies_the_tree_and_reruns_when_the_branch_moves(tmp_path, state_dir, git_server):
    repo = git_server.repo("add-git")
    (repo / "lib" / "bin").mkdir(parents=True)
    (repo / "lib" / "bin" / "run.sh").write_text("#!/bin/sh\n")
    (repo / "lib" / "bin" / "run.sh").chmod(0o755)
    _commit(repo, {"lib/a.txt": "one\n", "top.txt": "top\n"}, "one")
    (tmp_path / "Dockerfile").write_text(
        f"FROM {BASE}\nADD {git_server.url('add-git', 'main:lib')} /opt/lib/\n"
        "RUN busybox ls /opt/lib > /listing\n"
    )
    project = _bake(
        tmp_path,
        """\
        target "default" {
          output = ["type=local,dest=out"]
        }
        """,
    )
    proc = bakec(project, state_dir, "build", "--progress", "bakec-json")
    assert proc.returncode == 0, proc.stderr
    out = project / "out"
    assert (out / "opt/lib/a.txt").read_text() == "one\n"
    assert os.access(out / "opt/lib/bin/run.sh", os.X_OK)
    assert not (out / "opt/lib/top.txt").exists() and not (out / "opt/lib/.git").exists()
    again = bakec(project, state_dir, "build", "--progress", "bakec-json")
    assert _started(again.stderr) == []
    _commit(repo, {"lib/a.txt": "two\n"}, "two")
    moved = bakec(project, state_dir, "build", "--progress", "bakec-json")
    assert moved.returncode == 0, moved.stderr
    assert (out / "opt/lib/a.txt").read_text() == "two\n"
    assert [name.split(" ")[0] for name in _started(moved.stderr)] == ["ADD", "RUN"]


def test_add_ssh_and_scp_style_git_urls_are_git_sources(tmp_path, state_dir, git_server):
    # ssh on loopback: git runs GIT_SSH_COMMAND with the host and "git-upload-pack '<path>'" as its
    # last argument; this stand-in runs that command locally, so the fetch is a real ssh-transport one
    repo = git_server.repo("add-ssh")
    _commit(repo, {"lib/a.txt": "ssh\n", "top.txt": "top\n"}, "one")
    ssh = tmp_path / "fake-ssh"
    ssh.write_text('#!/bin/sh\nfor arg; do last=$arg; done\nexec sh -c "$last"\n')
    ssh.chmod(0o755)
    (tmp_path / "Dockerfile").write_text(
        f"FROM scratch\nADD ssh://git@127.0.0.1{repo}#main:lib /ssh/\nADD git@127.0.0.1:{repo}#main /scp/\n"
    )
    project = _bake(
        tmp_path,
        """\
        target "default" {
          output = ["type=local,dest=out"]
        }
        """,
    )
    proc = bakec(project, state_dir, "build", "--progress", "bakec-json", env={"GIT_SSH_COMMAND": str(ssh)})
    assert proc.returncode == 0, proc.stderr
    out = project / "out"
    assert (out / "ssh/a.txt").read_text() == "ssh\n" and not (out / "ssh/top.txt").exists()
    assert (out / "scp/lib/a.txt").read_text() == "ssh\n" and (out / "scp/top.txt").read_text() == "top\n"
    assert not (out / "scp/.git").exists()


def test_submodules_are_checked_out_at_the_recorded_commit(tmp_path, state_dir, git_server):
    sub = git_server.repo("sm-lib")
    pinned = _commit(sub, {"lib.txt": "pinned\n"}, "one")
    _commit(sub, {"lib.txt": "newer\n"}, "two")
    top = git_server.repo("sm-top")
    _commit(top, {"Dockerfile": f"FROM {BASE}\nCOPY . /src/\n"}, "one")
    subprocess.run(
        [
            "git",
            "-C",
            str(top),
            "-c",
            "protocol.allow=always",
            "submodule",
            "add",
            "-q",
            "../sm-lib",
            "vendor/lib",
        ],
        check=True,
        capture_output=True,
    )
    # the superproject records the older commit, with a relative URL
    subprocess.run(["git", "-C", str(top / "vendor/lib"), "checkout", "-q", pinned], check=True)
    _commit(top, {}, "submodule")
    project = _bake(
        tmp_path,
        f"""\
        target "default" {{
          context = "{git_server.url("sm-top", "main")}"
          output = ["type=local,dest=out"]
        }}
        """,
    )
    proc = bakec(project, state_dir, "build", "--progress", "plain")
    assert proc.returncode == 0, proc.stderr
    src = project / "out" / "src"
    assert (src / "vendor/lib/lib.txt").read_text() == "pinned\n"
    assert not (src / "vendor/lib/.git").exists() and not (src / ".git").exists()


def test_second_url_is_bake_cmd_context(tmp_path, state_dir, git_server):
    repo = git_server.repo("def-cmdctx")
    _commit(repo, {"docker-bake.hcl": 'target "default" {\n  context = BAKE_CMD_CONTEXT\n}\n'}, "one")
    definition, context = git_server.url("def-cmdctx"), git_server.url("ctx-elsewhere", "v2:app")
    printed = bakec(tmp_path, state_dir, "build", definition, context, "--print")
    assert printed.returncode == 0, printed.stderr
    assert json.loads(printed.stdout)["target"]["default"]["context"] == context
    local = bakec(tmp_path, state_dir, "build", definition, "--print")
    assert json.loads(local.stdout)["target"]["default"]["context"] == "."  # cwd:// is the local directory


def test_lock_pins_a_git_context_and_add_git_url_to_commits(tmp_path, state_dir, git_server):
    ctx = git_server.repo("lock-ctx")
    lib = git_server.repo("lock-lib")
    lib_url = git_server.url("lock-lib", "main")
    ctx_old = _commit(
        ctx,
        {"Dockerfile": f"FROM {BASE}\nCOPY v.txt /ctx.txt\nADD {lib_url} /lib/\n", "v.txt": "ctx one\n"},
        "one",
    )
    lib_old = _commit(lib, {"v.txt": "lib one\n"}, "one")
    ctx_url = git_server.url("lock-ctx", "main")
    project = _bake(
        tmp_path,
        f"""\
        target "default" {{
          context = "{ctx_url}"
          output = ["type=local,dest=out"]
        }}
        """,
    )
    proc = bakec(project, state_dir, "lock")
    assert proc.returncode == 0, proc.stderr
    assert json.loads((project / "bakec.lock").read_text())["git"] == {ctx_url: ctx_old, lib_url: lib_old}

    ctx_new = _commit(ctx, {"v.txt": "ctx two\n"}, "two")
    lib_new = _commit(lib, {"v.txt": "lib two\n"}, "two")
    proc = bakec(project, state_dir, "build", "--progress", "plain")
    assert proc.returncode == 0, proc.stderr
    out = project / "out"
    assert (out / "ctx.txt").read_text() == "ctx one\n"
    assert (out / "lib" / "v.txt").read_text() == "lib one\n"

    proc = bakec(project, state_dir, "lock", "--check", "--remote")
    assert proc.returncode == 1
    assert proc.stdout.splitlines()[1:] == [
        f"  ~ git {ctx_url}: pinned {ctx_old}, now {ctx_new}",
        f"  ~ git {lib_url}: pinned {lib_old}, now {lib_new}",
    ]

    assert bakec(project, state_dir, "lock", "--update").returncode == 0
    proc = bakec(project, state_dir, "build", "--progress", "plain")
    assert proc.returncode == 0, proc.stderr
    assert (out / "ctx.txt").read_text() == "ctx two\n"
    assert (out / "lib" / "v.txt").read_text() == "lib two\n"
