"""``--load`` into a Docker daemon: stream the ``type=docker`` archive to ``POST /images/load``.

Only when a daemon answers on its socket (``DOCKER_HOST=unix://...``, else
``/var/run/docker.sock``); without one, loading into Docker is skipped with a warning
that says where the image is: bakec's containerd store.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import sys
import threading
from collections.abc import Iterator, Mapping, Sequence

from bakec.content.store import ContentStore
from bakec.errors import BuildError
from bakec.export._archive import ArchiveOut
from bakec.export.containerd_store import store_image
from bakec.export.docker import docker_files
from bakec.export.image import Committed, ExportOptions, commit_images
from bakec.export.oci import write_layout_tar
from bakec.export.request import ExportRequest, Metadata, image_metadata

DEFAULT_SOCKET = "/var/run/docker.sock"
CONTAINERD_NAMESPACE = "bakec"  # bakec.worker.client.NAMESPACE (grpc stays unloaded here)
_API = "/v1.41"  # Docker 20.10; every newer daemon accepts it


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self._path)
        self.sock = sock


def socket_path(env: Mapping[str, str] | None = None) -> str | None:
    """The daemon's socket: ``DOCKER_HOST`` when it is ``unix://``, else the default; None for tcp hosts."""
    env = os.environ if env is None else env
    host = env.get("DOCKER_HOST", "")
    if not host:
        return DEFAULT_SOCKET
    if host.startswith("unix://"):
        return host.removeprefix("unix://")
    return None


def answers(path: str, timeout: float = 2.0) -> bool:
    """True when a Docker daemon answers ``GET /_ping`` on ``path``."""
    if not os.path.exists(path):
        return False
    conn = _UnixConnection(path, timeout)
    try:
        conn.request("GET", "/_ping")
        resp = conn.getresponse()
        return resp.status == 200 and resp.read(16).strip() == b"OK"
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()


def load(
    store: ContentStore, committed: Committed, names: Sequence[str], *, env: Mapping[str, str] | None = None
) -> bool:
    """``docker load`` the image if a daemon answers; False (nothing done) when none does.

    The archive is written into a pipe by a thread and sent as it is written
    (chunked), so no copy of the image lands on disk.
    """
    path = socket_path(env)
    if path is None or not answers(path):
        return False
    read_fd, write_fd = os.pipe()
    failure: list[BaseException] = []

    def produce() -> None:
        try:
            out = ArchiveOut(write_fd)
            write_layout_tar(out, store, committed, names, docker_files(committed, names))
            out.close()
        except BaseException as err:  # noqa: BLE001 - reported by the caller (a closed pipe after its own error)
            failure.append(err)
        finally:
            os.close(write_fd)

    writer = threading.Thread(target=produce, name="bakec-docker-load", daemon=True)
    writer.start()
    with os.fdopen(read_fd, "rb") as archive:
        try:
            _post(path, iter(lambda: archive.read(1 << 20), b""))
        finally:
            archive.close()  # unblocks the writer if the daemon stopped reading
            writer.join()
    if failure:
        raise BuildError("loading the image into docker failed", f"writing the archive: {failure[0]}")
    return True


def _post(path: str, body: Iterator[bytes]) -> None:
    conn = _UnixConnection(path, timeout=600)
    try:
        conn.request(
            "POST",
            f"{_API}/images/load?quiet=1",
            body=body,
            headers={"Content-Type": "application/x-tar"},
            encode_chunked=True,
        )
        resp = conn.getresponse()
        text = resp.read().decode("utf-8", "replace")
    except (OSError, http.client.HTTPException) as err:
        raise BuildError("loading the image into docker failed", str(err)) from None
    finally:
        conn.close()
    if resp.status != 200:
        raise BuildError(f"loading the image into docker failed: {resp.status} {resp.reason}", _message(text))
    for line in text.splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict) and event.get("error"):
            raise BuildError("loading the image into docker failed", str(event["error"]))


def _message(text: str) -> str:
    try:
        return str(json.loads(text).get("message", text))
    except (ValueError, AttributeError):
        return text.strip()


def write_loaded(request: ExportRequest) -> Metadata:
    """``type=docker`` without ``dest`` (``--load``): into bakec's containerd, and docker's daemon if one answers."""
    if len(request.images) != 1:
        raise BuildError("docker exporter does not currently support exporting manifest lists")
    request = request.named_by_tags()
    opts = ExportOptions.parse(request.attrs, kind="docker", source_date_epoch=request.source_date_epoch)
    committed = commit_images(request.store, request.images, opts)
    store_image(request.containerd, request.store, committed, opts.names)
    if not load(request.store, committed, opts.names):
        sys.stderr.write(not_loaded_warning(opts.names or [committed.root.digest]))
    return image_metadata(committed, opts)


def not_loaded_warning(names: Sequence[str], env: Mapping[str, str] | None = None) -> str:
    """What ``--load`` says when no Docker daemon answers: where the image went instead."""
    where = socket_path(env) or (os.environ if env is None else env).get("DOCKER_HOST", "")
    return (
        f"WARNING: --load: no Docker daemon answers on {where}; {', '.join(names)} is in bakec's "
        f"containerd only (namespace {CONTAINERD_NAMESPACE}: "
        f"ctr --address <state dir>/c.sock -n {CONTAINERD_NAMESPACE} images ls)\n"
    )
