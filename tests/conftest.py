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


def _apt_install(packages: list[str], present) -> str:
    """Install Debian ``packages`` with apt-get unless ``present()``; returns why it failed ("")."""
    import subprocess
    import tempfile

    from filelock import FileLock

    if present():
        return ""
    env = {"DEBIAN_FRONTEND": "noninteractive", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
    # one apt-get at a time across the xdist workers (dpkg holds one lock); the second finds the
    # packages the first installed
    with FileLock(Path(tempfile.gettempdir()) / "lowbit-tests-apt-get.lock"):
        if present():
            return ""
        try:
            for cmd in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", *packages]):
                proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900, env=env)
                if proc.returncode:
                    return f"{' '.join(cmd)} exited {proc.returncode}: {proc.stderr.strip()[-300:]}"
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"apt-get could not run: {exc}"
    return "" if present() else "installed, but still not found"


@pytest.fixture(scope="session")
def standard_cells() -> str:
    """The standard-cell flow's Debian packages (``opensta``, ``qflow-tech-osu018``), installed
    with apt-get when missing; returns the library name. Missing tools fail the test, never skip."""
    import shutil

    from hw.flow._liberty import LIBRARIES

    def present() -> bool:
        return shutil.which("sta") is not None and LIBRARIES["osu018"].liberty_path.is_file()

    reason = _apt_install(["opensta", "qflow-tech-osu018"], present)
    if reason:
        pytest.fail(f"Debian packages opensta and qflow-tech-osu018 are needed and could not be installed ({reason})")
    return "osu018"


@pytest.fixture
def no_opensta(monkeypatch):
    """This machine as one without the Debian packages: ``sta`` is not on PATH for ``hw.flow``
    (its memoised version is cleared before and after, so the test order does not matter)."""
    import hw.flow._sta as sta

    monkeypatch.setattr(sta.shutil, "which", lambda name: None)
    sta.sta_version.cache_clear()
    yield
    sta.sta_version.cache_clear()
