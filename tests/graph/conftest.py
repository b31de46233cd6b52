"""Workloads for the graph tests: the benchmark monorepo generator (bench/) and small bake projects."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from corpus import GEN_WORKLOADS

BASE = "127.0.0.1:5000/busybox:latest"


def _generator():
    spec = importlib.util.spec_from_file_location("gen_workloads", GEN_WORKLOADS)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def make_monorepo(tmp_path):
    """``make_monorepo(name)`` writes the 25-target monorepo under tmp_path/name."""

    def make(name: str = "monorepo") -> Path:
        root = tmp_path / name
        _generator().monorepo(str(root), BASE)
        return root

    return make


@pytest.fixture
def make_matrix(tmp_path):
    """``make_matrix(apps)`` writes the bench matrix workload (apps x 5 OS x 8 arch targets) under tmp_path/matrix."""

    def make(apps: int) -> Path:
        root = tmp_path / "matrix"
        _generator().matrix2k(str(root), apps=apps)
        return root

    return make


@pytest.fixture
def cache_dir(tmp_path):
    return tmp_path / "cache"
