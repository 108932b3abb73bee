"""System tier: real namespaces, mounts and users. Needs root; never skipped."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(autouse=True, scope="session")
def _require_root() -> None:
    if os.geteuid() != 0:
        pytest.fail("the system tier needs root (namespaces, mounts); run ./scripts/test as root")
