"""Fleet-plan helpers: the benchmark monorepo and ``bakec plan`` through the real CLI entry point."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

from bakec.cli.main import main
from corpus import GEN_WORKLOADS

BASE = "127.0.0.1:5000/busybox:latest"
REPO = "127.0.0.1:5000/fleet"


def generator():
    spec = importlib.util.spec_from_file_location("gen_workloads", GEN_WORKLOADS)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Planner:
    """Runs ``bakec plan`` in a directory with a private cache dir (a clean checkout's)."""

    def __init__(self, monkeypatch, capsys, cache: Path) -> None:
        self.monkeypatch = monkeypatch
        self.capsys = capsys
        self.cache = cache

    def run(self, root: Path, *args: str) -> tuple[int, str, str]:
        self.monkeypatch.chdir(root)
        self.monkeypatch.setenv("XDG_CACHE_HOME", str(self.cache / root.name))
        self.capsys.readouterr()
        code = main(["plan", *args])
        out, err = self.capsys.readouterr()
        return code, out, err

    def text(self, root: Path, *args: str) -> str:
        code, out, err = self.run(root, *args)
        assert code == 0, err
        return out

    def plan(self, root: Path, *args: str, shards: int = 4) -> dict:
        return json.loads(
            self.text(root, "--shards", str(shards), "--cache-repo", REPO, "--resolve", "offline", *args)
        )

    def graph(self, root: Path, *args: str) -> dict:
        return json.loads(self.text(root, "--format", "json", "--resolve", "offline", *args))
