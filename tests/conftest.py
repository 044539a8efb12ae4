"""Shared pytest configuration: the ``--full`` flag for slow exhaustive runs, and the path to the
third-party reference vectors in ``../shared/vectors`` (tests fail, not skip, if absent)."""
from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
VECTORS = ROOT.parent / "shared" / "vectors"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--full", action="store_true", help="also run tests marked slow (exhaustive sets)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--full") or "slow" in (config.getoption("-m") or ""):
        return
    skip_slow = pytest.mark.skip(reason="slow: exhaustive run, enable with --full")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip_slow)


@pytest.fixture(scope="session")
def vectors() -> Path:
    """The shared reference-vector folder; a missing folder is a failure, not a skip."""
    assert VECTORS.is_dir(), f"reference vectors not found at {VECTORS}"
    return VECTORS
