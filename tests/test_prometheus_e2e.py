"""The fleet path end to end: a real Prometheus server scrapes a real agent, evaluates the
shipped rules, and the memory alert fires while the program is at tier HIGH and goes away
when it is back to NORMAL. promtool's unit tests (test_prometheus_rules.py) pin the rules'
logic; this pins that the exporter, the scrape and the rules fit together on a live server.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, _free_port
from tests.helpers.processes import end

RULES = ROOT / "deploy" / "prometheus" / "tui-perf.rules.yml"
ALERT = "TuiPerfMemoryTierHigh"
#: what the test waits for at most, each time; a healthy run takes a few seconds
PATIENCE_S = 30.0

pytest.importorskip("prometheus_client")


def prometheus_binary() -> str:
    path = shutil.which("prometheus")
    if path is None:
        pytest.skip("the prometheus server is not installed (.ci/run installs Debian's)")
    return path


def short_for_alerts(rules: str) -> str:
    """The shipped alerting group with every `for:` cut to 1 s, in a file of its own.

    The shipped `for: 2m` is right for users (a tier that flickers should not page anyone)
    and too long for a test; everything else (expressions, labels, names) is the shipped
    text. The recording group stays in the shipped file only, so no series is written twice.
    """
    start = rules.index("  - name: tui-perf-alerts\n")
    group = rules[start:].replace(
        "  - name: tui-perf-alerts\n", "  - name: tui-perf-alerts-short-for\n", 1
    )
    short, n = re.subn(r"(?m)^(\s+)for: \d+[smh]$", r"\1for: 1s", group)
    assert n >= 1 and f"alert: {ALERT}" in short
    return "groups:\n" + short


def wait_for(what: str, check: Callable[[], bool], timeout: float = PATIENCE_S) -> None:
    """Poll `check` (a question to Prometheus) until it holds; fail naming `what`."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:.0f} s: {what}")
        time.sleep(0.2)


class Target:
    """The host program (tests/helpers/tier_target.py) with its agent and exporter."""

    def __init__(self, tmp_path: Path) -> None:
        self.port = _free_port()
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.helpers.tier_target",
                str(self.port),
                str(tmp_path / "agent.sock"),
            ],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.expect("ready")

    def expect(self, word: str) -> None:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().strip()
        assert line == word, f"the target said {line!r} (exit {self.proc.poll()})"

    def command(self, word: str, answer: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(word + "\n")
        self.proc.stdin.flush()
        self.expect(answer)

    def stop(self) -> None:
        if self.proc.stdin is not None and not self.proc.stdin.closed:
            self.proc.stdin.close()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class Prometheus:
    """A Prometheus server on a free loopback port scraping one target every second."""

    def __init__(self, binary: str, tmp_path: Path, target_port: int, rule_files: list[Path]):
        self.port = _free_port()
        config = tmp_path / "prometheus.yml"
        config.write_text(
            "global:\n"
            "  scrape_interval: 1s\n"
            "  evaluation_interval: 1s\n"
            f"rule_files: {json.dumps([str(p) for p in rule_files])}\n"
            "scrape_configs:\n"
            "  - job_name: tui-perf\n"
            "    static_configs:\n"
            f"      - targets: ['127.0.0.1:{target_port}']\n"
        )
        self.log = tmp_path / "prometheus.log"
        with self.log.open("w") as log:
            self.proc = subprocess.Popen(
                [
                    binary,
                    f"--config.file={config}",
                    f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                    f"--web.listen-address=127.0.0.1:{self.port}",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def get(self, path: str, **params: str) -> Any:
        url = f"http://127.0.0.1:{self.port}{path}"
        if params:
            url += "?" + urllib.parse.urlencode(params)
        with urllib.request.urlopen(url, timeout=5) as resp:
            body = json.loads(resp.read())
        assert body["status"] == "success", body
        return body["data"]

    def ready(self) -> bool:
        assert self.proc.poll() is None, self.log.read_text()[-2000:]
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/-/ready", timeout=2):
                return True
        except OSError:
            return False

    def value(self, expr: str) -> float | None:
        """The instant value of `expr`, None when it has no series."""
        result = self.get("/api/v1/query", query=expr)["result"]
        return float(result[0]["value"][1]) if result else None

    def rule_states(self, name: str) -> dict[str, str]:
        """Each loaded rule file's state of the alerting rule `name`, by file name."""
        return {
            Path(group["file"]).name: rule["state"]
            for group in self.get("/api/v1/rules", type="alert")["groups"]
            for rule in group["rules"]
            if rule["name"] == name
        }

    def active_alerts(self, name: str) -> list[dict[str, Any]]:
        return [a for a in self.get("/api/v1/alerts")["alerts"] if a["labels"]["alertname"] == name]

    def stop(self) -> None:
        end(self.proc)


@pytest.fixture
def target(tmp_path: Path) -> Iterator[Target]:
    t = Target(tmp_path)
    try:
        yield t
    finally:
        t.stop()


@pytest.fixture
def server(tmp_path: Path, target: Target) -> Iterator[Prometheus]:
    binary = prometheus_binary()
    short = tmp_path / "tui-perf.short-for.rules.yml"
    short.write_text(short_for_alerts(RULES.read_text()))
    prom = Prometheus(binary, tmp_path, target.port, [RULES, short])
    try:
        wait_for("prometheus is ready", prom.ready)
        yield prom
    finally:
        prom.stop()


def test_the_memory_alert_fires_at_tier_high_and_clears_back_at_normal(
    target: Target, server: Prometheus
) -> None:
    instance = f"127.0.0.1:{target.port}"
    tier = 'tui_perf_memory_tier{tier="%s", job="tui-perf"}'
    wait_for("the agent is scraped at tier NORMAL", lambda: server.value(tier % "NORMAL") == 1)
    assert server.value(f'up{{instance="{instance}"}}') == 1
    assert server.rule_states(ALERT) == {
        RULES.name: "inactive",
        "tui-perf.short-for.rules.yml": "inactive",
    }

    target.command("grow", "grown")
    wait_for(
        f"{ALERT} is firing",
        lambda: server.rule_states(ALERT)["tui-perf.short-for.rules.yml"] == "firing",
    )
    # The shipped rule saw the same series and waits out its `for: 2m`: pending, not firing.
    assert server.rule_states(ALERT)[RULES.name] == "pending"
    firing = [a for a in server.active_alerts(ALERT) if a["state"] == "firing"]
    assert len(firing) == 1, firing
    assert firing[0]["labels"] == {
        "alertname": ALERT,
        "instance": instance,
        "job": "tui-perf",
        "severity": "warning",
        "tier": "HIGH",
    }
    assert firing[0]["annotations"]["summary"] == f"{instance}: memory tier HIGH for 2 minutes"
    assert server.value(tier % "HIGH") == 1

    target.command("free", "freed")
    wait_for("the tier is back to NORMAL", lambda: server.value(tier % "NORMAL") == 1)
    wait_for(f"{ALERT} is no longer active", lambda: not server.active_alerts(ALERT))
    assert set(server.rule_states(ALERT).values()) == {"inactive"}
