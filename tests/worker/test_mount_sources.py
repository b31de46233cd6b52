"""The host side of RUN mounts without a build: secret sources, log redaction, cache-dir sharing, ssh relay."""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bakec.errors import BuildError
from bakec.worker.cachemounts import CacheKey, CacheMounts
from bakec.worker.mounts import Redactor
from bakec.worker.secrets import SecretStore
from bakec.worker.ssh import SshForwards, relay

# -- secrets ------------------------------------------------------------------------------------


def test_secret_sources_follow_buildkits_lookup(tmp_path):
    (tmp_path / "file.txt").write_bytes(b"from-file")
    (tmp_path / "BARE").write_bytes(b"bare-file")
    environ = {"VAR": "from-env", "SAME": "same-name-env"}
    store = SecretStore.from_entries(
        [
            {"id": "a", "src": "file.txt"},
            {"id": "b", "env": "VAR"},
            {"id": "SAME"},
            {"id": "BARE"},
            {"id": "a", "src": "other"},
        ],
        environ,
        str(tmp_path),
    )
    assert store.read("a") == b"from-file"  # the first entry of an id wins
    assert store.read("b") == b"from-env"
    assert store.read("SAME") == b"same-name-env"  # no src/env: the variable named like the id when set
    assert store.read("BARE") == b"bare-file"  # else the file named like it
    assert store.read("unknown") is None
    assert "from-env" not in repr(store) and "same-name-env" not in repr(store)


def test_secret_from_an_environment_variable_that_is_not_utf8_is_its_bytes(tmp_path):
    environ = {"RAW": os.fsdecode(b"pw-\xff\xfe")}  # as os.environ holds such a value
    store = SecretStore.from_entries([{"id": "raw", "env": "RAW"}], environ, str(tmp_path))
    assert store.read("raw") == b"pw-\xff\xfe"


def test_secret_larger_than_buildkits_limit_fails(tmp_path):
    (tmp_path / "big").write_bytes(b"x" * (500 * 1024 + 1))
    store = SecretStore.from_entries([{"id": "big", "src": "big"}], {}, str(tmp_path))
    with pytest.raises(BuildError, match="secret big too big"):
        store.read("big")


def test_redactor_masks_values_split_across_chunks_and_lines():
    out: list[tuple[int, bytes]] = []
    redactor = Redactor(
        lambda stream, data: out.append((stream, data)), [b"hunter22", b"-----KEY\nsecond-line\n"]
    )
    for chunk in (b"pw=hun", b"ter22 ok\nnext", b" line\n", b"second-line\n", b"tail hunter"):
        redactor(1, chunk)
    redactor(2, b"err hunter22\n")
    redactor.flush()
    text = b"".join(data for _, data in out)
    assert b"hunter22" not in text and b"second-line" not in text
    assert out[0] == (1, b"pw=**** ok\n")
    assert (2, b"err ****\n") in out
    assert out[-1] == (1, b"tail hunter")  # not a value: passed on at the end


# -- cache directories --------------------------------------------------------------------------


def _probe(path: Path, flags: int) -> bool:
    """Whether a lock on ``path`` could be taken right now."""
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(fd, flags | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
    finally:
        os.close(fd)


def test_cache_sharing_modes(tmp_path):
    caches = CacheMounts(tmp_path)
    key = CacheKey("go-build")
    base = tmp_path / key.digest()
    with caches.hold(key, "shared") as first, caches.hold(key, "shared") as second:
        assert first == second == str(base / "0")
        with caches.hold(key, "private") as private:
            assert private == str(base / "1")  # the shared copy is in use
        assert not _probe(base / "0.lock", fcntl.LOCK_EX)  # a locked user waits for shared ones
    with caches.hold(key, "locked") as locked:
        assert locked == str(base / "0")
        assert not _probe(base / "0.lock", fcntl.LOCK_SH)
        with caches.hold(key, "private") as private:
            assert private == str(base / "1")
    with caches.hold(key, "private") as private:
        assert private == str(base / "0")  # nobody holds the main copy: private takes it
    assert _probe(base / "0.lock", fcntl.LOCK_EX)


def test_fresh_cache_dir_gets_mode_and_owner_once(tmp_path):
    caches = CacheMounts(tmp_path)
    key = CacheKey("owned", mode=0o700, uid=1000, gid=1001)
    with caches.hold(key, "shared") as directory:
        st = os.stat(directory)
        assert (st.st_mode & 0o7777, st.st_uid, st.st_gid) == (0o700, 1000, 1001)
        os.chmod(directory, 0o755)  # a RUN may change it; later RUNs keep what it left
    with caches.hold(key, "shared") as directory:
        assert os.stat(directory).st_mode & 0o7777 == 0o755
    assert CacheKey("owned").digest() != key.digest()  # as BuildKit: another base, another cache


def test_cache_seeded_from_a_directory(tmp_path):
    seed = tmp_path / "seed"
    (seed / "sub").mkdir(parents=True)
    (seed / "sub" / "f").write_text("seeded\n")
    caches = CacheMounts(tmp_path / "caches")
    calls = []

    def source() -> str:
        calls.append(1)
        return str(seed)

    key = CacheKey("s", seed="sha256:abc", source="/")
    with caches.hold(key, "shared", source) as directory:
        assert Path(directory, "sub", "f").read_text() == "seeded\n"
        Path(directory, "sub", "f").write_text("changed\n")
    with caches.hold(key, "shared", source) as directory:
        assert Path(directory, "sub", "f").read_text() == "changed\n"
    assert calls == [1] and (seed / "sub" / "f").read_text() == "seeded\n"


# -- ssh --------------------------------------------------------------------------------------------


def test_key_files_are_served_by_a_private_agent_through_a_relay(tmp_path):
    if shutil.which("ssh-agent") is None or shutil.which("ssh-keygen") is None:
        pytest.skip("openssh-client is not installed")
    key = tmp_path / "id"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "bakec-test", "-f", str(key)], check=True
    )
    fingerprint = subprocess.run(
        ["ssh-keygen", "-lf", f"{key}.pub"], capture_output=True, text=True, check=True
    ).stdout.split()[1]
    key.chmod(0o644)  # a checkout's mode: ssh-add would refuse the file, buildx's Go agent does not
    forwards = SshForwards.from_entries(
        [{"id": "deploy", "paths": ["id"]}], {}, str(tmp_path), tmp_path / "scratch"
    )
    assert forwards.socket("other") is None
    assert str(forwards.missing_error("other")).startswith("unset ssh forward key other")
    try:
        upstream = forwards.socket("deploy")
        assert upstream is not None and forwards.socket("deploy") == upstream  # one agent per id
        path = str(tmp_path / "relay.sock")
        with relay(path, upstream, mode=0o660, uid=0, gid=0):
            st = os.stat(path)
            assert st.st_mode & 0o777 == 0o660
            for _ in range(2):  # each connection is relayed on its own
                listed = subprocess.run(
                    ["ssh-add", "-l"],
                    env={"SSH_AUTH_SOCK": path},
                    capture_output=True,
                    text=True,
                    check=False,
                )
                assert listed.returncode == 0, listed.stderr
                assert fingerprint in listed.stdout
        assert not os.path.exists(path)
        agent = next(iter(forwards._agents.values()))
    finally:
        forwards.close()
    assert not list((tmp_path / "scratch").glob("ssh*"))
    assert agent.watcher.returncode == 0 and not os.path.exists(f"/proc/{agent.pid}")  # stopped and reaped


def test_private_agent_stops_when_bakec_dies(tmp_path):
    """A killed bakec cannot run close(): its agents must not outlive it with the keys loaded."""
    if shutil.which("ssh-agent") is None or shutil.which("ssh-keygen") is None:
        pytest.skip("openssh-client is not installed")
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "id")], check=True)
    script = (
        "import os, sys\n"
        "from bakec.worker.ssh import SshForwards\n"
        "f = SshForwards.from_entries([{'id': 'k', 'paths': ['id']}], {}, sys.argv[1], None)\n"
        "f.socket('k')\n"
        "print(next(iter(f._agents.values())).pid, flush=True)\n"
        "os.kill(os.getpid(), 9)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")},
    )
    assert proc.returncode == -9, proc.stderr
    pid = int(proc.stdout.strip())
    # the watcher saw its stdin close and reaped the agent: poll until /proc says so
    for _ in range(1000):
        if not os.path.exists(f"/proc/{pid}"):
            break
        time.sleep(0.01)
    assert not os.path.exists(f"/proc/{pid}")


def test_no_ssh_forwards_at_all_is_buildkits_other_message():
    assert str(SshForwards().missing_error("default")).startswith(
        'no SSH key "default" forwarded from the client'
    )


# -- crash leftovers --------------------------------------------------------------------------------


def test_sweep_unmounts_what_a_dead_process_left_and_keeps_live_ones(tmp_path):
    from bakec.worker.client import Mount, owner_label
    from bakec.worker.leftovers import sweep_scratch
    from bakec.worker.mount import mount, unmount

    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    dead = tmp_path / "mounts-999999999-1" / "s1"  # no such process
    live = tmp_path / ("mounts-" + owner_label().replace(":", "-")) / "s1"
    for point in (dead, live):
        point.mkdir(parents=True)
        mount(Mount(type="tmpfs", source="tmpfs", options=["mode=0700"]), point)
        (point / "secret").write_text("value")
    try:
        sweep_scratch(tmp_path)
        assert not dead.parent.exists()
        assert (live / "secret").read_text() == "value"
    finally:
        for point in (dead, live):
            if os.path.ismount(point):
                unmount(point)


def test_redactor_masks_a_value_longer_than_a_line_that_arrives_in_a_long_line():
    # a single-line value longer than the 64 KiB a line is held back to: the part of it already
    # seen must not be passed on before the rest arrives
    out: list[tuple[int, bytes]] = []
    value = bytes(range(65, 91)) * 4000  # 104000 bytes, no newline
    redactor = Redactor(lambda stream, data: out.append((stream, data)), [value])
    redactor(1, b"a" * 10000 + value[:60000])
    redactor(1, value[60000:] + b" tail\n")
    redactor.flush()
    assert b"".join(data for _, data in out) == b"a" * 10000 + b"**** tail\n"


def test_redactor_leaves_output_alone_when_values_are_too_short_to_mask():
    out: list[tuple[int, bytes]] = []
    redactor = Redactor(lambda stream, data: out.append((stream, data)), [b"ab"])
    redactor(1, b"ab partial")
    redactor.flush()
    assert out == [(1, b"ab partial")]


def test_each_target_reads_its_own_secret_and_ssh_entries(tmp_path):
    (tmp_path / "a.txt").write_bytes(b"for-a")
    (tmp_path / "b.txt").write_bytes(b"for-b")
    store = SecretStore.from_targets(
        {"a": [{"id": "npmrc", "src": "a.txt"}], "b": [{"id": "npmrc", "src": "b.txt"}], "c": []},
        {},
        str(tmp_path),
    )
    assert (store.read("npmrc", "a"), store.read("npmrc", "b"), store.read("npmrc", "c")) == (
        b"for-a",
        b"for-b",
        None,
    )
    assert store.read("npmrc") == b"for-a"  # no scope: the first target's
    forwards = SshForwards.from_targets({"a": [{"id": "default"}], "b": []}, {"SSH_AUTH_SOCK": "/agent"}, "/")
    assert forwards.socket("default", "a") == "/agent" and forwards.socket("default", "b") is None
    assert str(forwards.missing_error("default", "b")).startswith('no SSH key "default" forwarded')
    assert str(forwards.missing_error("other", "a")).startswith("unset ssh forward key other")


# -- a local context behind .dockerignore ------------------------------------------------------------


def _tree(root: Path, files: list[str]) -> None:
    for rel in files:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(rel)


def test_hidden_entries_follow_dockerignore_semantics(tmp_path):
    from bakec.worker.contextview import hidden_entries, is_hidden

    _tree(
        tmp_path,
        [
            "a.txt",
            "x.log",
            "src/b.txt",
            "src/deep/c.log",
            "build/out.bin",
            "keep/drop.txt",
            "keep/keep.txt",
            "gone/only.txt",
        ],
    )
    patterns = ["**/*.log", "build", "keep", "!keep/keep.txt", "gone", "!gone/other.txt"]
    assert hidden_entries(str(tmp_path), "", patterns) == [
        "build",
        "gone",
        "keep/drop.txt",
        "src/deep/c.log",
        "x.log",
    ]
    assert hidden_entries(str(tmp_path), "src", patterns) == ["deep/c.log"]
    assert is_hidden("build/out.bin", patterns, False) and not is_hidden("keep/keep.txt", patterns, False)
    assert hidden_entries(str(tmp_path), "", []) == []


def test_overlay_with_whiteouts_shows_the_context_as_sent(tmp_path):
    from bakec.worker.client import Mount
    from bakec.worker.contextview import hidden_entries, prepare_upper
    from bakec.worker.mount import mount, unmount

    if os.geteuid() != 0:
        pytest.skip("mounting an overlay needs root")
    ctx = tmp_path / "ctx"
    _tree(ctx, ["a.txt", "secret.env", "src/b.txt", "src/c.log"])
    os.chmod(ctx / "src", 0o750)
    os.utime(ctx / "src", (1_000_000, 1_000_000))
    upper, work, merged = (tmp_path / d for d in ("u", "w", "m"))
    for d in (upper, work, merged):
        d.mkdir()
    prepare_upper(str(ctx), str(upper), hidden_entries(str(ctx), "", ["secret.env", "**/*.log"]))
    mount(
        Mount(
            type="overlay",
            source="overlay",
            options=[f"lowerdir={ctx}", f"upperdir={upper}", f"workdir={work}"],
        ),
        merged,
    )
    try:
        assert sorted(os.listdir(merged)) == ["a.txt", "src"] and os.listdir(merged / "src") == ["b.txt"]
        st, lower = os.stat(merged / "src"), os.stat(ctx / "src")
        assert (st.st_mode, st.st_uid, st.st_mtime) == (lower.st_mode, lower.st_uid, lower.st_mtime)
        assert os.stat(merged).st_mode == os.stat(ctx).st_mode
        (merged / "a.txt").write_text("changed")
    finally:
        unmount(merged)
    assert (ctx / "a.txt").read_text() == "a.txt" and (ctx / "secret.env").exists()
