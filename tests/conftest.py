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


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "timing: judges real wall-clock times; skipped while the machine is busy (see "
        "machine_busy), run anyway with TUI_PERF_TIMING=always",
    )


def machine_busy() -> str | None:
    """Why timing tests cannot judge now (load above one per core), or None."""
    if os.environ.get("TUI_PERF_TIMING") == "always":
        return None
    load, cores = os.getloadavg()[0], os.cpu_count() or 1
    if load > cores:
        return f"timing test: the machine is busy (load {load:.1f} on {cores} cores)"
    return None


def pytest_runtest_setup(item: pytest.Item) -> None:
    # What depends on the machine's speed says so with @pytest.mark.timing; the rest of the
    # suite asserts counts and orderings that hold whatever the load.
    if item.get_closest_marker("timing") is not None and (why := machine_busy()):
        pytest.skip(why)


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
