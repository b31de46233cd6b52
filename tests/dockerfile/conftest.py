"""Fixtures of the Dockerfile frontend tests."""

from __future__ import annotations

import pytest
from dockerfile_support import busybox_images

from bakec.dockerfile import ResolvedImage


@pytest.fixture
def images() -> dict[str, ResolvedImage]:
    return busybox_images()
