"""`profile_export` writes only where the agent chooses (issue 30, 4).

Any token holder may send `profile_export`; a path from them would let a peer overwrite any
file the host user can write. Exports go under the agent's private folder, with names the
agent makes, created 0600 and exclusively, never through a link; the reply says where.
`tui-perf profile -o FILE` asks for the text inline and writes the user's own file itself.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.scripted import MiB, ScriptedProbe
from tui_perf import capabilities
from tui_perf.engine.core import Engine, EngineConfig
from tui_perf.engine.registry import Registry
from tui_perf.engine.sampler import Sampler
from tui_perf.model.errors import ConfigError
from tui_perf.profile.commands import ProfileState
from tui_perf.profile.export import SUFFIX


@pytest.fixture
def engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Engine:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    sampler = Sampler(ScriptedProbe(rss=100 * MiB), budget=1000 * MiB)
    engine = Engine(EngineConfig(), sampler=sampler, registry=Registry(), wall=lambda: 1.7e9)
    engine.extension("profile", lambda e: ProfileState(e, alloc_every=0))
    capabilities.attach(engine)
    return engine


def _folder(tmp_path: Path) -> Path:
    return tmp_path / "data" / "tui-perf" / "profiles"


@pytest.mark.parametrize("where", ["victim.txt", "../escape/victim.txt", "new/dir/victim.txt"])
def test_a_path_from_the_caller_is_refused_and_nothing_is_written(
    engine: Engine, tmp_path: Path, where: str
) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("the user's own file")
    target = tmp_path / "sub" / where
    with pytest.raises(ConfigError, match="takes no path"):
        engine.command("profile_export", format="folded", path=str(target))
    assert victim.read_text() == "the user's own file"
    assert not (tmp_path / "escape").exists() and not (tmp_path / "sub").exists()


def test_exports_are_private_exclusive_and_say_where(engine: Engine, tmp_path: Path) -> None:
    first = Path(engine.command("profile_export", format="folded")["path"])
    second = Path(engine.command("profile_export", format="folded")["path"])
    folder = _folder(tmp_path)
    assert first.parent == folder and second.parent == folder
    assert first != second  # the same second: a new name, the first file kept
    assert first.exists()
    assert oct(folder.stat().st_mode & 0o777) == "0o700"
    assert oct(first.stat().st_mode & 0o777) == "0o600"
    assert oct(second.stat().st_mode & 0o777) == "0o600"


def test_a_folder_made_wider_is_made_private_again(engine: Engine, tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    folder.mkdir(parents=True)
    folder.chmod(0o755)
    path = Path(engine.command("profile_export", format="folded")["path"])
    assert path.parent == folder
    assert oct(folder.stat().st_mode & 0o777) == "0o700"


def test_a_link_in_place_of_the_folder_is_not_followed(engine: Engine, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    folder = _folder(tmp_path)
    folder.parent.mkdir(parents=True)
    folder.symlink_to(elsewhere)
    with pytest.raises(ConfigError, match="cannot write"):
        engine.command("profile_export", format="folded")
    assert list(elsewhere.iterdir()) == []


def test_links_planted_at_the_names_are_not_followed(engine: Engine, tmp_path: Path) -> None:
    first = Path(engine.command("profile_export", format="folded")["path"])
    victim = tmp_path / "victim.txt"
    victim.write_text("the user's own file")
    # the clock stands still: every export wants the same name, then -1, -2, ...
    first.unlink()
    first.symlink_to(victim)
    stem = first.name.removesuffix(SUFFIX["folded"])
    for n in range(1, 4):
        (first.parent / f"{stem}-{n}{SUFFIX['folded']}").symlink_to(victim)
    second = Path(engine.command("profile_export", format="folded")["path"])
    assert victim.read_text() == "the user's own file"
    assert second.name == f"{stem}-4{SUFFIX['folded']}"
    assert second.parent == first.parent and not second.is_symlink()
