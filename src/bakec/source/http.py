"""``ADD <http url>``: download one file into a snapshot's root, as BuildKit's http source does.

The file is named after the URL's last path segment (``index.html`` when there is
none), the name the graph copies from. It gets mode 0600 (``ADD --chmod`` changes it
in the copy) and the ``Last-Modified`` time, or the Unix epoch when the server sends
none. ``--checksum`` is verified before anything is written, with BuildKit's message.
"""

from __future__ import annotations

import hashlib
import os
import posixpath

from bakec.errors import BuildError
from bakec.ops import HttpSource

CHUNK = 1 << 20


def filename(url: str) -> str:
    """The file's name in the source snapshot (the graph's copy source is ``/<name>``)."""
    return posixpath.basename(url.split("?")[0].rstrip("/")) or "index.html"


def download(op: HttpSource, root: str, *, timeout: float = 60) -> str:
    """Fetch ``op.url`` into ``root``; the path of the file written."""
    import email.utils
    import http.client
    import tempfile
    import urllib.error
    import urllib.request

    algo, _, expected = op.checksum.partition(":")
    if op.checksum and algo not in hashlib.algorithms_available:
        raise BuildError(f"unsupported digest algorithm {algo!r} in --checksum={op.checksum}")
    digest = hashlib.new(algo if op.checksum else "sha256")
    path = os.path.join(root, filename(op.url))
    fd, tmp = tempfile.mkstemp(prefix=".http-", dir=root)
    try:
        try:
            with (
                urllib.request.urlopen(urllib.request.Request(op.url), timeout=timeout) as resp,
                os.fdopen(fd, "wb") as out,
            ):
                while chunk := resp.read(CHUNK):
                    digest.update(chunk)
                    out.write(chunk)
                modified = resp.headers.get("Last-Modified")
        except urllib.error.HTTPError as err:
            raise BuildError(f"invalid response status {err.code}") from None
        except (urllib.error.URLError, http.client.HTTPException, OSError) as err:  # HTTPException: not HTTP
            reason = getattr(err, "reason", err)
            raise BuildError(f"failed to load {op.url}: {reason}") from None
        actual = f"{algo or 'sha256'}:{digest.hexdigest()}"
        if op.checksum and digest.hexdigest() != expected:
            raise BuildError(f"digest mismatch {actual}: {op.checksum}")
        mtime = 0
        if modified:
            try:
                mtime = int(email.utils.parsedate_to_datetime(modified).timestamp())
            except (TypeError, ValueError):
                mtime = 0
        os.chmod(tmp, 0o600)
        os.utime(tmp, (mtime, mtime))
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def checksum(url: str, *, timeout: float = 60) -> str:
    """``sha256:<hex>`` of what ``url`` serves now: the value ``ADD --checksum`` takes."""
    import http.client
    import urllib.error
    import urllib.request

    digest = hashlib.sha256()
    try:
        with urllib.request.urlopen(urllib.request.Request(url), timeout=timeout) as resp:
            while chunk := resp.read(CHUNK):
                digest.update(chunk)
    except urllib.error.HTTPError as err:
        raise BuildError(f"failed to load {url}: invalid response status {err.code}") from None
    except (urllib.error.URLError, http.client.HTTPException, OSError) as err:
        raise BuildError(f"failed to load {url}: {getattr(err, 'reason', err)}") from None
    return f"sha256:{digest.hexdigest()}"
