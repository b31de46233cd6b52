"""Fixtures for the fleet-plan tests (helpers in fleet_helpers.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fleet_helpers import BASE, Planner, generator


@pytest.fixture
def planner(monkeypatch, capsys, tmp_path):
    return Planner(monkeypatch, capsys, tmp_path / "cache")


@pytest.fixture
def make_monorepo(tmp_path):
    def make(name: str = "monorepo") -> Path:
        root = tmp_path / name
        generator().monorepo(str(root), BASE)
        return root

    return make
