from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Clock times on screen (the dead-target banner) come out the same on every machine.
os.environ["TZ"] = "UTC"
time.tzset()

try:  # snapshots live in <repo>/snapshots/<test module>, not tests/__snapshots__
    import pytest_textual_snapshot as _snapshot_plugin

    class _SnapshotsInRepo(_snapshot_plugin.SVGImageExtension):  # type: ignore[misc,name-defined]
        @classmethod
        def dirname(cls, *, test_location):  # type: ignore[no-untyped-def]
            return str(ROOT / "snapshots" / Path(test_location.filepath).stem)

    _snapshot_plugin.SVGImageExtension = _SnapshotsInRepo
except ImportError:  # pragma: no cover
    pass


@pytest.fixture
def tmp_db(tmp_path: Path) -> Path:
    return tmp_path / "history.db"


@pytest.fixture(autouse=True)
def _isolated_data_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Never write into the real user's data directory from a test.
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path_factory.mktemp("xdg")))


def is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """A real redis-server on a free loopback port, for the whole session."""
    from tests.helpers.redis_server import RedisServer

    try:
        server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    except FileNotFoundError:
        pytest.skip("redis-server is not installed (.ci/run installs it from Debian's packages)")
    yield server.url
    server.stop()


@pytest.fixture
def redis_server(tmp_path: Path):  # type: ignore[no-untyped-def]
    """A redis-server of this test's own, to stop and restart (an outage)."""
    from tests.helpers.redis_server import RedisServer

    try:
        server = RedisServer(tmp_path).start()
    except FileNotFoundError:
        pytest.skip("redis-server is not installed (.ci/run installs it from Debian's packages)")
    yield server
    server.stop()


#: files a test keeps for people to look at (a browser screenshot), listed after the run
ARTIFACTS: list[str] = []


def pytest_terminal_summary(terminalreporter) -> None:  # type: ignore[no-untyped-def]
    for path in ARTIFACTS:
        terminalreporter.write_line(f"artifact: {path}")
