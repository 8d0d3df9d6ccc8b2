"""The Prometheus rules and the Grafana dashboard in deploy/: promtool checks them, their unit
tests pass and can fail, and every metric they name is one the exporter really serves."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import ROOT, _free_port
from tests.helpers.scripted import MiB, ScriptedProbe
from tui_perf import capabilities
from tui_perf.caches.multilevel import MultiLevelCache
from tui_perf.engine.core import Engine, EngineConfig
from tui_perf.engine.registry import Registry
from tui_perf.engine.sampler import Sampler
from tui_perf.pools.objects import ObjectPool

RULES = ROOT / "deploy" / "prometheus" / "tui-perf.rules.yml"
RULE_TESTS = ROOT / "deploy" / "prometheus" / "tui-perf.rules.test.yml"
DASHBOARD = ROOT / "deploy" / "grafana" / "tui-perf.json"
METRIC = re.compile(r"\btui_perf_[a-z0-9_]+\b")
RECORDED = re.compile(r"\btui_perf:[a-z0-9_:]+\b")


def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.skip("promtool is not installed (.ci/run installs Debian's prometheus)")
    return path


def run(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in args], capture_output=True, text=True, timeout=60, cwd=cwd
    )


def dashboard_queries() -> list[str]:
    dash = json.loads(DASHBOARD.read_text())
    return [t["expr"] for p in dash["panels"] for t in p["targets"]]


def test_the_rules_pass_promtool_check_rules() -> None:
    out = run(promtool(), "check", "rules", RULES)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "SUCCESS" in out.stdout


def test_the_rules_unit_tests_pass() -> None:
    out = run(promtool(), "test", "rules", RULE_TESTS.name, cwd=RULE_TESTS.parent)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "SUCCESS" in out.stdout


@pytest.mark.parametrize(
    ("before", "after", "what"),
    [
        # the fewest misses across tiers are the real ones: the most would count L2's
        # misses of what L1 already missed twice
        (
            "min by (job, instance, cache) (rate(tui_perf_cache_misses_total[5m]))",
            "max by (job, instance, cache) (rate(tui_perf_cache_misses_total[5m]))",
            "tui_perf:cache_hit_ratio:rate5m",
        ),
        ("for: 2m", "for: 0m", "TuiPerfMemoryTierHigh"),
        ("increase(tui_perf_pool_leaks_total[15m]) > 0", "tui_perf_pool_leaks_total > 0", "Leaks"),
    ],
)
def test_the_unit_tests_catch_a_broken_rule(
    tmp_path: Path, before: str, after: str, what: str
) -> None:
    """The rule tests are worth what they catch: each of these mistakes fails them."""
    text = RULES.read_text()
    assert before in text
    (tmp_path / RULES.name).write_text(text.replace(before, after, 1))
    shutil.copy(RULE_TESTS, tmp_path / RULE_TESTS.name)
    out = run(promtool(), "test", "rules", RULE_TESTS.name, cwd=tmp_path)
    assert out.returncode != 0 and "FAILED" in out.stdout + out.stderr, what


def test_every_dashboard_query_parses(tmp_path: Path) -> None:
    """promtool has no offline query parser, so each query goes in as a recording rule."""
    lines = ["groups:", "  - name: dashboard", "    rules:"]
    for i, expr in enumerate(dashboard_queries()):
        lines += [f"      - record: dashboard:q{i}", f"        expr: {json.dumps(expr)}"]
    rules = tmp_path / "dashboard.rules.yml"
    rules.write_text("\n".join(lines) + "\n")
    out = run(promtool(), "check", "rules", rules)
    assert out.returncode == 0, out.stdout + out.stderr


def test_the_dashboard_is_well_formed() -> None:
    dash = json.loads(DASHBOARD.read_text())
    panels = dash["panels"]
    assert len({p["id"] for p in panels}) == len(panels)
    cells: set[tuple[int, int]] = set()
    for p in panels:
        g = p["gridPos"]
        assert g["x"] + g["w"] <= 24, p["title"]  # Grafana's grid is 24 wide
        mine = {
            (x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])
        }
        assert not cells & mine, f"{p['title']} overlaps another panel"
        cells |= mine
        assert p["targets"] and all(t["expr"] and t["refId"] for t in p["targets"]), p["title"]
    assert {v["name"] for v in dash["templating"]["list"]} == {"datasource", "job", "instance"}


def scrape() -> set[str]:
    """The metric names a real exporter serves for an engine with every section filled."""
    pytest.importorskip("prometheus_client")
    from prometheus_client.parser import text_string_to_metric_families

    from tui_perf.agent.exporter import serve_metrics

    sampler = Sampler(ScriptedProbe(rss=100 * MiB), budget=1000 * MiB)
    eng = Engine(EngineConfig(), sampler=sampler, registry=Registry())
    cache = MultiLevelCache("pages", registry=eng.registry)
    cache.set("k", 1)
    cache.get("k")
    pool = ObjectPool(dict, name="buffers", registry=eng.registry)
    pool.put(pool.get())
    eng.__dict__["keep"] = (cache, pool)
    capabilities.attach(eng)
    eng.tick()
    port = _free_port()
    serve_metrics(eng, port)
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    return {s.name for f in text_string_to_metric_families(text) for s in f.samples}


def test_every_metric_the_rules_and_the_dashboard_name_is_served() -> None:
    served = scrape()
    rules = RULES.read_text()
    named = set(METRIC.findall(rules)) | {m for q in dashboard_queries() for m in METRIC.findall(q)}
    assert named - served == set(), f"named but never served: {sorted(named - served)}"
    # and every recorded series a query uses is one the rules record
    recorded = set(re.findall(r"record: (tui_perf:[a-z0-9_:]+)", rules))
    used = set(RECORDED.findall(rules)) | {
        m for q in dashboard_queries() for m in RECORDED.findall(q)
    }
    assert used <= recorded, sorted(used - recorded)
    assert {"tui_perf_memory_tier", "tui_perf_gc_time_ratio", "tui_perf_pool_leaks_total"} <= named
