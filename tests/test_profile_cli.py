"""`tui-perf profile`: a real program run under the sampler, files written, bad input refused."""

from __future__ import annotations

import dataclasses
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
    script.write_text(PROGRAM)
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path / "data")}
    done = cli(str(script), env=env)
    assert done.returncode == 3, done.stderr
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
        (["--max-cost", "0", "x.py"], "--max-cost must be in (0, 100] percent"),
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
    assert profile_status(p).startswith("sampling 100 Hz · cost 0.4% of a core")  # before #31
    timed = dataclasses.replace(p, sampler="cpu-timer", mode="fixed", achieved_hz=97.4)
    assert profile_status(timed).startswith(
        "CPU-timer sampler, 100 Hz fixed, achieved 97 Hz of CPU time · cost 0.4% of a core"
    )
    adaptive = dataclasses.replace(p, sampler="thread", mode="adaptive", rate_hz=50.0)
    assert profile_status(adaptive).startswith(
        "thread sampler, at most 100 Hz, achieved 0 Hz of wall time (adapted down to 50 Hz)"
    )
    assert profile_status(None).startswith("sampler off")


def test_the_summary_says_which_sampler_ran_at_what_rate_and_the_rate_is_fixed(
    tmp_path: Path,
) -> None:
    script = tmp_path / "prog.py"
    script.write_text(PROGRAM)
    out = tmp_path / "out.folded"
    done = cli("--rate", "50", "-o", str(out), str(script))
    assert done.returncode == 3, done.stderr
    assert "CPU-timer sampler, 50 Hz fixed, achieved" in done.stderr, done.stderr
    adaptive = cli("--max-cost", "2", "-o", str(out), str(script))
    assert "CPU-timer sampler, at most 100 Hz, achieved" in adaptive.stderr, adaptive.stderr


def test_a_run_with_no_samples_says_why_and_writes_no_file(tmp_path: Path) -> None:
    """speedscope refuses a file with no profiles: better none, and the reason."""
    script = tmp_path / "quick.py"
    script.write_text("print('hi')\n")
    out = tmp_path / "out.speedscope.json"
    done = cli("-o", str(out), str(script))
    assert done.returncode == 0, done.stderr
    assert "no file written: the program ended before the first sample" in done.stderr
    assert not out.exists()


def test_m_finds_a_package_in_the_current_folder_as_python_m_does(tmp_path: Path) -> None:
    """Under the `tui-perf` console script, sys.path[0] is the script's folder, not the
    current one: `-m mypkg.server` must still find ./mypkg as `python -m` would."""
    project = tmp_path / "project"
    (project / "mypkg").mkdir(parents=True)
    (project / "mypkg" / "__init__.py").write_text("")
    (project / "mypkg" / "server.py").write_text(
        "def serve():\n    return sum(i * i for i in range(2_000_000))\n\n"
        "if __name__ == '__main__':\n    serve()\n    print('served')\n"
    )
    launcher = tmp_path / "bin" / "tui-perf"  # what pip writes: a script in another folder
    launcher.parent.mkdir()
    launcher.write_text("import sys\nfrom tui_perf.cli.main import main\nsys.exit(main())\n")
    out = tmp_path / "out.folded"
    done = subprocess.run(
        [sys.executable, str(launcher), "profile", "-o", str(out), "-m", "mypkg.server"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert done.returncode == 0, done.stderr
    assert "served" in done.stdout
    stacks = parse_folded(out.read_text())
    assert any("serve (" in frame for s in stacks for frame in s), stacks
