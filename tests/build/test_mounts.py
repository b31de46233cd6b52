"""RUN --mount end to end: secret, ssh, cache, bind and tmpfs mounts on real containerd/runc builds."""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import subprocess
import tarfile
import tempfile
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from .helpers import bakec, vertices

BASE = "FROM 127.0.0.1:5000/busybox:latest\n"


def _project(tmp: Path, dockerfile: str, hcl: str) -> Path:
    (tmp / "Dockerfile").write_text(BASE + textwrap.dedent(dockerfile))
    (tmp / "docker-bake.hcl").write_text(textwrap.dedent(hcl))
    return tmp


def _layer_payloads(oci_tar: Path) -> Iterator[bytes]:
    """Every blob of an OCI archive, decompressed when it is a gzip layer."""
    with tarfile.open(oci_tar) as tar:
        for member in tar.getmembers():
            if not member.isfile():
                continue
            data = tar.extractfile(member).read()  # type: ignore[union-attr]
            yield data
            if data[:2] == b"\x1f\x8b":
                yield gzip.decompress(data)


def _files_containing(root: Path, needle: bytes) -> list[str]:
    """Every regular file under ``root`` whose bytes contain ``needle`` (symlinks not followed)."""
    found = []
    for directory, _, files in os.walk(root):
        for name in files:
            path = os.path.join(directory, name)
            try:
                if not os.path.isfile(path) or os.path.islink(path):
                    continue
                with open(path, "rb") as handle:
                    if needle in handle.read():
                        found.append(path)
            except OSError:
                continue  # sockets, namespace files
    return found


# -- secrets ---------------------------------------------------------------------------------


SECRET_DOCKERFILE = """\
RUN --mount=type=secret,id=tok busybox sha256sum /run/secrets/tok | busybox cut -d' ' -f1 > /sha && busybox stat -c '%a %u %g' /run/secrets/tok > /stat
RUN --mount=type=secret,id=tok,env=TOK,target=/etc/tok,mode=0440,uid=1000,gid=1001 sh -c 'busybox stat -c "%a %u %g" /etc/tok > /stat2; echo ${#TOK} > /envlen'
RUN --mount=type=secret,id=tok cat /run/secrets/tok
RUN --mount=type=secret,id=fromenv,required=true busybox sha256sum /run/secrets/fromenv | busybox cut -d' ' -f1 > /sha-env
RUN --mount=type=secret,id=nope busybox test ! -e /run/secrets/nope && echo skipped > /skipped
"""


def test_secret_reaches_the_run_and_nowhere_else(tmp_path, state_dir):
    value = f"bakec-secret-{uuid.uuid4().hex}".encode()
    env_value = f"bakec-envsecret-{uuid.uuid4().hex}"
    project = _project(
        tmp_path,
        SECRET_DOCKERFILE,
        """\
        target "default" {
          secret = ["id=tok,src=token.txt"]
          output = ["type=oci,dest=out/img.tar", "type=local,dest=out/fs"]
        }
        """,
    )
    (project / "token.txt").write_bytes(value)
    env = {"MY_TOKEN": env_value}
    args = ("build", "--set", "*.secrets+=id=fromenv,env=MY_TOKEN", "--metadata-file", "out/meta.json")
    first = bakec(project, state_dir, *args, "--progress", "bakec-json", env=env)
    assert first.returncode == 0, first.stderr
    second = bakec(project, state_dir, *args, "--no-cache", "--progress", "plain", env=env)
    assert second.returncode == 0, second.stderr

    fs = project / "out" / "fs"
    assert (fs / "sha").read_text().strip() == hashlib.sha256(value).hexdigest()
    assert (fs / "sha-env").read_text().strip() == hashlib.sha256(env_value.encode()).hexdigest()
    assert (fs / "stat").read_text() == "400 0 0\n"
    assert (fs / "stat2").read_text() == "440 1000 1001\n"
    assert (fs / "envlen").read_text() == f"{len(value)}\n"
    assert (fs / "skipped").read_text() == "skipped\n"
    assert not (fs / "run").exists() and not (fs / "etc").exists()  # mount stubs removed

    # the RUN that prints the secret: masked in both log formats
    assert "****" in second.stderr
    # the scanners below do find what is there
    assert _files_containing(project, value) == [str(project / "token.txt")]
    sha = hashlib.sha256(value).hexdigest().encode()
    assert any(sha in payload for payload in _layer_payloads(project / "out" / "img.tar"))
    for needle in (value, env_value.encode()):
        assert needle not in first.stderr.encode()
        assert needle not in second.stderr.encode()
        assert needle not in (project / "out" / "meta.json").read_bytes()
        assert not any(needle in payload for payload in _layer_payloads(project / "out" / "img.tar"))
        assert _files_containing(state_dir, needle) == []
        printed = bakec(project, state_dir, "build", "--print", env=env)
        assert printed.returncode == 0 and needle not in printed.stdout.encode()

    # keys hold ids only: another value is a cache hit, as in BuildKit
    (project / "token.txt").write_bytes(b"another value entirely")
    third = bakec(project, state_dir, *args, "--progress", "bakec-json", env=env)
    assert third.returncode == 0, third.stderr
    assert not [name for name in vertices(third.stderr, "started") if "RUN" in name]


def test_each_target_reads_its_own_secret_entries(tmp_path, state_dir):
    for name in ("a", "b"):
        (tmp_path / f"{name}.Dockerfile").write_text(
            BASE + f"RUN --mount=type=secret,id=tok cp /run/secrets/tok /got-{name}\n"
        )
        (tmp_path / f"{name}.txt").write_text(f"value for {name}\n")
    (tmp_path / "docker-bake.hcl").write_text(
        textwrap.dedent("""\
        group "default" { targets = ["a", "b"] }
        target "a" {
          dockerfile = "a.Dockerfile"
          secret = ["id=tok,src=a.txt"]
          output = ["type=local,dest=out/a"]
        }
        target "b" {
          dockerfile = "b.Dockerfile"
          secret = ["id=tok,src=b.txt"]
          output = ["type=local,dest=out/b"]
        }
        """)
    )
    proc = bakec(tmp_path, state_dir, "build")
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "out" / "a" / "got-a").read_text() == "value for a\n"
    assert (tmp_path / "out" / "b" / "got-b").read_text() == "value for b\n"
    # --set target.secret.<id> re-points a declared secret
    proc = bakec(
        tmp_path,
        state_dir,
        "build",
        "--no-cache",
        "--set",
        "b.secret.tok=env=B_TOKEN",
        env={"B_TOKEN": "from the environment"},
    )
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "out" / "a" / "got-a").read_text() == "value for a\n"
    assert (tmp_path / "out" / "b" / "got-b").read_text() == "from the environment"


def test_a_failing_run_with_a_secret_leaks_it_nowhere(tmp_path, state_dir):
    value = f"bakec-failing-{uuid.uuid4().hex}"
    project = _project(
        tmp_path,
        "RUN --mount=type=secret,id=tok,env=TOK sh -c 'echo \"token: $TOK\"; exit 3'\n",
        'target "default" {\n  secret = ["id=tok,env=TOK_SOURCE"]\n  output = ["type=cacheonly"]\n}\n',
    )
    for progress in ("plain", "bakec-json"):
        proc = bakec(project, state_dir, "build", "--progress", progress, env={"TOK_SOURCE": value})
        assert proc.returncode == 1
        assert "exit code: 3" in proc.stderr and "token: ****" in proc.stderr
        assert value not in proc.stderr + proc.stdout
    assert _files_containing(state_dir, value.encode()) == []


def test_missing_required_secret_fails_with_buildkits_message(tmp_path, state_dir):
    project = _project(
        tmp_path,
        "RUN --mount=type=secret,id=nope,required=true true\n",
        'target "default" {\n  output = ["type=cacheonly"]\n}\n',
    )
    proc = bakec(project, state_dir, "build")
    assert proc.returncode == 1
    assert "secret nope: not found" in proc.stderr
    assert "Traceback" not in proc.stderr


# -- ssh -------------------------------------------------------------------------------------


@pytest.fixture
def ssh_agent(tmp_path) -> Iterator[str]:
    """A real ssh-agent, as a user's SSH_AUTH_SOCK."""
    if shutil.which("ssh-agent") is None:
        pytest.skip("openssh-client is not installed")
    directory = tempfile.mkdtemp(prefix="bkagent", dir="/tmp")
    sock = os.path.join(directory, "agent.sock")
    agent = subprocess.Popen(
        ["ssh-agent", "-D", "-a", sock], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    assert agent.stdout is not None
    agent.stdout.readline()  # printed once the socket listens
    try:
        yield sock
    finally:
        agent.terminate()
        agent.wait()
        agent.stdout.close()
        shutil.rmtree(directory, ignore_errors=True)


def test_ssh_mounts_forward_the_agent_and_key_files(tmp_path, state_dir, ssh_agent):
    project = _project(
        tmp_path,
        """\
        RUN --mount=type=ssh test -S "$SSH_AUTH_SOCK" && echo "$SSH_AUTH_SOCK" > /sock
        RUN --mount=type=ssh,id=deploy,target=/agent.sock,mode=0660,uid=1000,gid=1001 busybox stat -c '%a %u %g %F' /agent.sock > /deploy
        RUN --mount=type=ssh,id=unknown echo skipped > /skipped
        """,
        """\
        target "default" {
          ssh = ["default", "deploy=deploy_key"]
          output = ["type=local,dest=out"]
        }
        """,
    )
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(project / "deploy_key")], check=True
    )
    proc = bakec(project, state_dir, "build", env={"SSH_AUTH_SOCK": ssh_agent})
    assert proc.returncode == 0, proc.stderr
    out = project / "out"
    assert (out / "sock").read_text() == "/run/buildkit/ssh_agent.0\n"
    assert (out / "deploy").read_text() == "660 1000 1001 socket\n"
    assert (out / "skipped").read_text() == "skipped\n"
    assert not (out / "run").exists() and not (out / "agent.sock").exists()
    assert not list((state_dir / "tmp").glob("ssh*"))  # the private agent for the key file is gone


def test_missing_required_ssh_id_fails(tmp_path, state_dir, ssh_agent):
    project = _project(
        tmp_path,
        "RUN --mount=type=ssh,id=nokey,required=true true\n",
        'target "default" {\n  ssh = ["default"]\n  output = ["type=cacheonly"]\n}\n',
    )
    proc = bakec(project, state_dir, "build", env={"SSH_AUTH_SOCK": ssh_agent})
    assert proc.returncode == 1
    assert "unset ssh forward key nokey" in proc.stderr


# -- cache -----------------------------------------------------------------------------------


def test_cache_mount_persists_across_builds_even_with_no_cache(tmp_path, state_dir):
    cache_id = f"counter-{uuid.uuid4().hex[:8]}"
    project = _project(
        tmp_path,
        f"""\
        RUN --mount=type=cache,id={cache_id},target=/c sh -c 'n=$(cat /c/n 2>/dev/null || echo 0); echo $((n+1)) > /c/n; cp /c/n /count'
        RUN --mount=type=cache,id={cache_id},target=/c,ro sh -c 'touch /c/x 2>/dev/null || echo read-only > /ro'
        RUN --mount=type=cache,id={cache_id},target=/s,source=sub sh -c 'echo in-sub > /s/f'
        RUN --mount=type=cache,id={cache_id},target=/c cat /c/sub/f > /sub-f
        """,
        'target "default" {\n  output = ["type=local,dest=out"]\n}\n',
    )
    assert bakec(project, state_dir, "build").returncode == 0
    assert (project / "out" / "count").read_text() == "1\n"
    proc = bakec(project, state_dir, "build", "--no-cache")
    assert proc.returncode == 0, proc.stderr
    assert (project / "out" / "count").read_text() == "2\n"
    assert (project / "out" / "ro").read_text() == "read-only\n"
    assert (project / "out" / "sub-f").read_text() == "in-sub\n"
    assert not (project / "out" / "c").exists()


def test_cache_mount_seeded_from_a_stage_leaves_the_stage_alone(tmp_path, state_dir):
    cache_id = f"seeded-{uuid.uuid4().hex[:8]}"
    project = _project(
        tmp_path,
        f"""\
        FROM 127.0.0.1:5000/busybox:latest AS seed
        RUN mkdir /s && echo seeded > /s/f
        FROM 127.0.0.1:5000/busybox:latest
        RUN --mount=type=cache,id={cache_id},from=seed,source=/s,target=/c,sharing=locked cat /c/f > /seeded && echo more > /c/g
        RUN --mount=type=bind,from=seed,source=/s,target=/b ls /b > /seed-list
        """,
        'target "default" {\n  output = ["type=local,dest=out"]\n}\n',
    )
    proc = bakec(project, state_dir, "build")
    assert proc.returncode == 0, proc.stderr
    assert (project / "out" / "seeded").read_text() == "seeded\n"
    assert (project / "out" / "seed-list").read_text() == "f\n"


# -- bind and tmpfs --------------------------------------------------------------------------


def test_bind_mounts_rw_writes_are_discarded(tmp_path, state_dir):
    project = _project(
        tmp_path,
        """\
        FROM 127.0.0.1:5000/busybox:latest AS src
        RUN mkdir /d && echo original > /d/f
        FROM 127.0.0.1:5000/busybox:latest
        RUN --mount=type=bind,from=src,source=/d,target=/m,rw echo changed > /m/f && echo new > /m/g && cat /m/f > /rw-saw
        RUN --mount=type=bind,from=src,source=/d,target=/m cat /m/f > /after && ls /m > /after-list
        RUN --mount=type=bind,target=/ctx,rw echo changed > /ctx/a.txt && rm /ctx/b.txt
        RUN --mount=type=bind,target=/ctx ls /ctx > /ctx-list
        RUN --mount=type=bind,source=a.txt,target=/one cat /one > /single
        RUN --mount=type=bind,from=extra,target=/e cat /e/x > /from-named
        RUN --mount=type=tmpfs,target=/t,size=2m busybox df -k /t | busybox tail -n 1 | busybox awk '{print $2}' > /tsize
        COPY --from=src /d /copied
        """,
        'target "default" {\n  contexts = { extra = "./extra" }\n  output = ["type=local,dest=out"]\n}\n',
    )
    (project / "extra").mkdir()
    (project / "extra" / "x").write_text("named\n")
    (project / "a.txt").write_text("context a\n")
    (project / "b.txt").write_text("context b\n")
    (project / "private.env").write_text("ignored\n")
    (project / ".dockerignore").write_text("private.env\n")
    proc = bakec(project, state_dir, "build")
    assert proc.returncode == 0, proc.stderr
    out = project / "out"
    assert (out / "rw-saw").read_text() == "changed\n"
    assert (out / "after").read_text() == "original\n"
    assert (out / "after-list").read_text() == "f\n"
    assert (out / "copied" / "f").read_text() == "original\n"
    listing = (out / "ctx-list").read_text().split()
    assert "a.txt" in listing and "b.txt" in listing and "private.env" not in listing
    assert (out / "single").read_text() == "context a\n"
    assert (out / "tsize").read_text() == "2048\n"
    assert (out / "from-named").read_text() == "named\n"
    assert (project / "a.txt").read_text() == "context a\n" and (project / "b.txt").exists()
    assert not (out / "m").exists() and not (out / "ctx").exists() and not (out / "t").exists()


def test_one_cache_mounted_twice_in_a_run_with_different_sharing(tmp_path, state_dir):
    cache_id = f"twice-{uuid.uuid4().hex[:8]}"
    project = _project(
        tmp_path,
        f"""\
        RUN --mount=type=cache,id={cache_id},target=/a,sharing=locked --mount=type=cache,id={cache_id},target=/b echo x > /a/f && cat /b/f > /same
        """,
        'target "default" {\n  output = ["type=local,dest=out"]\n}\n',
    )
    proc = bakec(project, state_dir, "build", timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert (project / "out" / "same").read_text() == "x\n"
