"""`tui-perf profile`: a real program run under the sampler, files written, bad input refused."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.helpers.dashboard import profile_stats
from tests.test_profile_tree import parse_folded
from tui_perf.views.profile import profile_rows, profile_status

PROGRAM = """
import sys

def crunch():
    return sum(i * i for i in range(300_000))

for _ in range(40):
    crunch()
print("args", sys.argv[1:])
sys.exit(3)
"""


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tui_perf", "profile", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def test_a_script_is_profiled_with_its_arguments_and_exit_code(tmp_path: Path) -> None:
    script = tmp_path / "prog.py"
    script.write_text(PROGRAM)
    out = tmp_path / "out.folded"
    done = cli("--rate", "200", "-o", str(out), str(script), "--its", "-o", "x")
    assert done.returncode == 3, done.stderr
    assert "args ['--its', '-o', 'x']" in done.stdout  # its options were not ours
    assert f"folded written to {out}" in done.stderr and "of a core" in done.stderr
    stacks = parse_folded(out.read_text())
    assert any(s[-1].startswith("crunch.<locals>.<genexpr>") or "crunch (" in s[-1] for s in stacks)
    # the program's own stacks, as py-spy shows them: not tui-perf's launcher above them
    main = [s for s in stacks if s[0] == "MainThread"]
    assert main and all(s[1].startswith("<module> (") and "prog.py" in s[1] for s in main)
    assert not any("tui_perf" in frame or "runpy" in frame for s in main for frame in s)


def test_without_o_the_file_is_private_in_the_data_dir(tmp_path: Path) -> None:
    script = tmp_path / "prog.py"
    script.write_text("print('hi')\n")
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path / "data")}
    done = cli(str(script), env=env)
    assert done.returncode == 0, done.stderr
    (path,) = (tmp_path / "data" / "tui-perf" / "profiles").glob("*.speedscope.json")
    assert oct(path.stat().st_mode & 0o777) == "0o600"


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--rate", "0", "x.py"], "--rate must be in 1..1000"),
        (["nowhere.py"], "no script at nowhere.py"),
        ([], "give a script, -m MODULE, or --pid N"),
        (["--pid", "999999999"], "no agent for pid 999999999"),
        (["--duration", "-1", "x.py"], "--duration must be above 0"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args: list[str], needle: str) -> None:
    done = cli(*args)
    assert done.returncode == 2
    assert needle in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert "Traceback" not in done.stderr


def test_the_pane_view_sorts_and_states_the_cost() -> None:
    p = profile_stats(0.0)
    by_own = profile_rows(p, "own")
    by_total = profile_rows(p, "total")
    assert by_own[0].function == "render_template" and by_total[0].function == "<module>"
    assert by_own[0].own_share == pytest.approx(9.6 / 32.0)
    assert all(r.total_share <= 1.0 for r in by_total)
    assert profile_status(p).startswith("sampling 100 Hz · cost 0.4% of a core")
    assert profile_status(None).startswith("sampler off")
