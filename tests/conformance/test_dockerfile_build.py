"""The Dockerfile conformance corpus through bakec's real executor (issue 4's acceptance check).

Every case of ``tests/data/conformance/dockerfile`` is built with ``bakec.builder.build``
on the session's embedded containerd (one state dir for all cases) from a bake file
carrying the case's dockerfile, target, platform, build args, named contexts,
secrets, ssh and exporter options, with ``type=oci,tar=false`` and ``type=local``
outputs. The OCI
layout is then read back the way the corpus README derives its expected files:

* ``expected-fs.json``: the final root filesystem (a ``type=local`` output of the
  same build) with owners and mtimes taken from the image's layers, diffed against
  the busybox base when the image is built on it;
* ``expected-config.json``: config, history (base digest as ``{BASE_DIGEST}``),
  platform, layer count, author, and timestamps for ``record_times`` cases;
* ``expected-layers.json``: the tar entries of every layer the build added.

Failing cases must fail with ``expected-error.txt`` in the error. ``test_corpus``
prints ``dockerfile conformance (executor): N/M cases match`` with a reason per
failing case, and fails on any failing case not listed in tests/known_failures.py
(``dockerfile-executor``).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from conformance.dockerfile_oracle import (
    CORPUS,
    case_spec,
    cases,
    config_view,
    copy_normalised,
    expected_fs,
    expected_layers,
    exported_fs,
    image_fs,
    layer_entries,
    listing,
    make_context,
    strip_mtimes,
)
from known_failures import expected_to_fail, unexpected

CASES = cases()


@dataclass
class Outcome:
    ok: bool
    reason: str = ""


@pytest.fixture(scope="session")
def ssh_agent() -> Iterator[str]:
    """An empty ssh-agent's socket (case 037 forwards it; keys are never used)."""
    if shutil.which("ssh-agent") is None:
        yield ""
        return
    tmp = Path(tempfile.mkdtemp(prefix="bkssh", dir="/tmp"))
    sock = tmp / "agent.sock"
    proc = subprocess.Popen(
        ["ssh-agent", "-D", "-a", str(sock)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        for _ in range(500):  # the agent creates its socket before it serves
            if sock.exists() or proc.poll() is not None:
                break
            time.sleep(0.01)
        yield str(sock)
    finally:
        proc.terminate()
        proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)


class Corpus:
    """Builds cases on one state dir and compares them; results are memoised per case."""

    def __init__(self, state_dir: Path, base_digest: str, ssh_sock: str) -> None:
        self.state_dir = state_dir
        self.base_digest = base_digest
        self.ssh_sock = ssh_sock
        self.results: dict[str, Outcome] = {}
        self._base_layer: str | None = None

    def base_layer(self) -> str:
        """Digest of the busybox base image's one layer."""
        if self._base_layer is None:
            import urllib.request

            req = urllib.request.Request(
                f"http://127.0.0.1:5000/v2/busybox/manifests/{self.base_digest}",
                headers={"Accept": "application/vnd.oci.image.manifest.v1+json"},
            )
            with urllib.request.urlopen(req, timeout=10) as resp:
                self._base_layer = json.loads(resp.read())["layers"][0]["digest"]
        return self._base_layer

    def outcome(self, case: Path) -> Outcome:
        if case.name not in self.results:
            try:
                self.results[case.name] = self._check(case)
            except Exception as exc:  # noqa: BLE001 - any crash is this case's failure reason
                self.results[case.name] = Outcome(False, f"runner crashed: {type(exc).__name__}: {exc}")
        return self.results[case.name]

    # -- one case ---------------------------------------------------------------------------

    def _bake_file(self, case: Path, tmp: Path, out: Path) -> Path:
        spec = case_spec(case)
        ctx = make_context(case, tmp)
        target: dict[str, Any] = {
            "context": str(ctx),
            "dockerfile": spec.get("dockerfile", "Dockerfile"),
            "args": spec.get("build_args", {}),
            "output": [
                ",".join(
                    ["type=oci", f"dest={out / 'oci'}", "tar=false"]
                    + ([spec["oci_opts"]] if spec.get("oci_opts") else [])
                ),
                f"type=local,dest={out / 'rootfs'}",
            ],
        }
        if spec.get("target"):
            target["target"] = spec["target"]
        if spec.get("platform"):
            target["platforms"] = [spec["platform"]]
        if spec.get("contexts"):
            target["contexts"] = {}
            for name, rel in spec["contexts"].items():
                target["contexts"][name] = str(copy_normalised(case / rel, tmp / "named" / name))
        if spec.get("secrets"):
            target["secret"] = [f"id={sid},src={case / rel}" for sid, rel in spec["secrets"].items()]
        if spec.get("ssh"):
            target["ssh"] = ["default"]
        bake = tmp / "docker-bake.json"
        bake.write_text(json.dumps({"target": {"default": target}}))
        return bake

    def _build(self, case: Path, tmp: Path, out: Path) -> str | None:
        """Build the case; the error text when the build failed, else None."""
        import bakec
        from bakec.builder import BuildOptions, build
        from bakec.errors import BakecError

        spec = case_spec(case)
        bake = self._bake_file(case, tmp, out)
        # buildctl, which made the corpus, adds no provenance: neither do these builds
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(tmp),
            "BUILDX_NO_DEFAULT_ATTESTATIONS": "1",
        }
        if self.ssh_sock:
            env["SSH_AUTH_SOCK"] = self.ssh_sock
        log = io.StringIO()
        try:
            with contextlib.redirect_stderr(log):
                definition = bakec.load([str(bake)], env=env, cwd=str(tmp))
                build(
                    definition,
                    ["default"],
                    options=BuildOptions(
                        state_dir=str(self.state_dir), progress="plain", allow=spec.get("allow", [])
                    ),
                )
        except BakecError as err:
            return f"{err.message}\n{log.getvalue()}"
        return None

    def _check(self, case: Path) -> Outcome:
        spec = case_spec(case)
        with tempfile.TemporaryDirectory(prefix="bkcase") as tmpname:
            tmp = Path(tmpname)
            out = tmp / "out"
            error = self._build(case, tmp, out)
            if spec.get("expect_error"):
                phrase = (case / "expected-error.txt").read_text().strip()
                if error is None:
                    return Outcome(False, f"built, expected an error containing {phrase!r}")
                if phrase not in error.splitlines()[0]:
                    return Outcome(False, f"error {error.splitlines()[0][:200]!r} lacks {phrase!r}")
                return Outcome(True)
            if error is not None:
                return Outcome(False, "build failed: " + error.splitlines()[0][:300])
            return self._compare(case, spec, out)

    def _compare(self, case: Path, spec: dict[str, Any], out: Path) -> Outcome:
        times = bool(spec.get("record_times"))
        blobs = out / "oci" / "blobs" / "sha256"
        manifest = _image_manifest(blobs, json.loads((out / "oci" / "index.json").read_text()))
        config = json.loads((blobs / manifest["config"]["digest"][7:]).read_bytes())
        layers = [
            layer_entries((blobs / d["digest"][7:]).read_bytes(), mtimes=True) for d in manifest["layers"]
        ]
        on_base = bool(manifest["layers"]) and manifest["layers"][0]["digest"] == self.base_layer()
        reasons = []

        want_config = json.loads((case / "expected-config.json").read_text())
        got_config = config_view(config, len(manifest["layers"]), self.base_digest, times=times)
        for key in ("config", "platform", "layer_count", "author", "history", "created", "history_created"):
            if want_config.get(key) != got_config.get(key):
                reasons.append(
                    f"{key}: got {json.dumps(got_config.get(key))[:240]} "
                    f"want {json.dumps(want_config.get(key))[:240]}"
                )

        base = image_fs(layers[:1]) if on_base else None
        got_fs = listing(exported_fs(out / "rootfs", image_fs(layers)), base, mtimes=times)
        want_fs = expected_fs(case)
        if got_fs != want_fs:
            reasons.append("fs: " + _diff(got_fs, want_fs))

        added = layers[1:] if on_base else layers
        got_layers = added if times else strip_mtimes(added)
        want_layers = expected_layers(case)
        if got_layers != want_layers:
            reasons.append("layers: " + _layers_diff(got_layers, want_layers))
        return Outcome(not reasons, "; ".join(reasons))


def _image_manifest(blobs: Path, index: dict[str, Any]) -> dict[str, Any]:
    """The image manifest an OCI layout's index leads to (attestation manifests skipped)."""
    for desc in index["manifests"]:
        if desc.get("annotations", {}).get("vnd.docker.reference.type") == "attestation-manifest":
            continue
        doc = json.loads((blobs / desc["digest"][7:]).read_bytes())
        if "manifests" in doc:
            return _image_manifest(blobs, doc)
        return doc
    raise AssertionError("no image manifest in the OCI layout")


def _diff(got: list[dict[str, Any]], want: list[dict[str, Any]]) -> str:
    g = {e["path"]: e for e in got}
    w = {e["path"]: e for e in want}
    parts = []
    for path in sorted(set(g) | set(w)):
        if g.get(path) != w.get(path):
            if path not in g:
                parts.append(f"missing {path}")
            elif path not in w:
                parts.append(f"extra {path}")
            else:
                keys = sorted(k for k in set(g[path]) | set(w[path]) if g[path].get(k) != w[path].get(k))
                parts.append(
                    f"{path} " + ",".join(f"{k}={g[path].get(k)!r}!={w[path].get(k)!r}" for k in keys)
                )
    return "; ".join(parts[:6]) + (f" (+{len(parts) - 6} more)" if len(parts) > 6 else "")


def _layers_diff(got: list[list[dict[str, Any]]], want: list[list[dict[str, Any]]]) -> str:
    if len(got) != len(want):
        return f"{len(got)} layers, want {len(want)}"
    for i, (g, w) in enumerate(zip(got, want, strict=False)):
        if g != w:
            gp, wp = [e["path"] for e in g], [e["path"] for e in w]
            if gp != wp:
                return f"layer {i}: paths {gp[:8]} want {wp[:8]}"
            return f"layer {i}: " + _diff(g, w)
    return "?"


@pytest.fixture(scope="session")
def corpus(state_dir: Path, busybox_image: Any, ssh_agent: str) -> Corpus:
    return Corpus(state_dir, busybox_image.digest, ssh_agent)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_case(corpus: Corpus, case: Path) -> None:
    outcome = corpus.outcome(case)
    known = expected_to_fail("dockerfile-executor", case.name)
    if known and not outcome.ok:
        pytest.xfail(known)
    assert not known, "passes now: remove it from tests/known_failures.py"
    assert outcome.ok, outcome.reason


def test_corpus(corpus: Corpus, capsys: pytest.CaptureFixture[str]) -> None:
    """The acceptance bar: every case reproduced exactly, but the known failures."""
    assert CASES, f"no cases in {CORPUS}"
    failing = {}
    for case in CASES:
        outcome = corpus.outcome(case)
        if not outcome.ok:
            failing[case.name] = outcome.reason
    passed = len(CASES) - len(failing)
    with capsys.disabled():
        print(f"\ndockerfile conformance (executor): {passed}/{len(CASES)} cases match")
        for name, reason in failing.items():
            print(f"  FAIL {name}: {reason[:400]}")
    problems = unexpected("dockerfile-executor", [c.name for c in CASES], failing)
    assert not problems, "dockerfile conformance (executor):\n" + "\n".join(problems)
