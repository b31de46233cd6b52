"""``ADD <url>`` downloads against the loopback registry's version endpoint (body ``{}``)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from bakec.errors import BuildError
from bakec.ops import HttpSource
from bakec.source.http import download, filename

BODY_SHA = hashlib.sha256(b"{}").hexdigest()


def test_names_follow_the_last_path_segment() -> None:
    assert filename("http://h/v2/") == "v2"
    assert filename("http://h/a/b.tar.gz?x=1") == "b.tar.gz"
    assert filename("http://h") == "h"
    assert filename("http://h/") == "h"


def test_download_writes_0600_at_the_epoch_without_last_modified(tmp_path: Path, registry) -> None:  # type: ignore[no-untyped-def]
    path = download(HttpSource(f"{registry.url}/v2/", f"sha256:{BODY_SHA}"), str(tmp_path))
    assert path == str(tmp_path / "v2")
    st = os.stat(path)
    assert (Path(path).read_bytes(), st.st_mode & 0o7777, st.st_mtime) == (b"{}", 0o600, 0)
    assert os.listdir(tmp_path) == ["v2"]


def test_checksum_mismatch_is_buildkits_error_and_writes_nothing(tmp_path: Path, registry) -> None:  # type: ignore[no-untyped-def]
    wrong = "sha256:" + "0" * 64
    with pytest.raises(BuildError, match=f"digest mismatch sha256:{BODY_SHA}: {wrong}"):
        download(HttpSource(f"{registry.url}/v2/", wrong), str(tmp_path))
    assert os.listdir(tmp_path) == []


def test_http_error_status(tmp_path: Path, registry) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(BuildError, match="invalid response status 404"):
        download(HttpSource(f"{registry.url}/nope"), str(tmp_path))


def test_a_server_that_does_not_speak_http_is_a_build_error(tmp_path: Path) -> None:
    import socket
    import threading

    listener = socket.create_server(("127.0.0.1", 0))

    def answer() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.recv(4096)
            conn.sendall(b"SSH-2.0-OpenSSH\r\n")

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{listener.getsockname()[1]}/file"
    try:
        with pytest.raises(BuildError, match=f"failed to load {url}"):
            download(HttpSource(url), str(tmp_path))
    finally:
        thread.join(5)
        listener.close()
    assert os.listdir(tmp_path) == []
