"""The agent: `tui_perf.agent.start()` in a process lets `tui-perf attach` watch it.

import tui_perf.agent
agent = tui_perf.agent.start()        # a Unix socket in a private runtime directory
print(agent.address)                  # tui-perf attach <that>  /  tui-perf ps

Owns the server (sockets, tokens, one selector loop for every connection), the wire
protocol, the client the dashboard uses (`RemoteSource`), the bootstrap `tui-perf run`
injects, and the Prometheus exporter. It imports the layers below it (model, engine,
capabilities), never the dashboard or the CLI; nothing it runs raises into the host.
"""

from __future__ import annotations

import logging
from pathlib import Path

from tui_perf.agent.server import Agent, runtime_dir, socket_path_for
from tui_perf.engine.core import Engine, EngineConfig
from tui_perf.engine.gc_control import GCConfig

__all__ = ["Agent", "runtime_dir", "socket_path_for", "start"]

log = logging.getLogger("tui_perf.agent")


def start(
    *,
    socket_path: str | Path | None = None,
    tcp: tuple[str, int] | None = None,
    token: str | None = None,
    interval: float = 1.0,
    allow_remote: bool = False,
    prometheus_port: int | None = None,
    engine: Engine | None = None,
    measure_gc_pauses: bool = True,
    tune: bool = False,
    profile: str = "auto",
) -> Agent:
    """Run an engine on a daemon thread in this process and serve it; returns the `Agent`.

    Bad arguments raise `ConfigError` here, once (a busy `prometheus_port` among them, before
    anything starts); after that nothing the agent does raises into this process.
    `measure_gc_pauses=False` skips timing every collection (about 2 µs each) for hosts that
    allocate so much that this shows; the GC pane then has no pause figures.
    `tune=True` turns the tuner on (`tui_perf.tune`) with `profile`: "auto", a shipped or
    user profile's name, or a TOML file's path.
    """
    if prometheus_port is not None:
        from tui_perf.agent.exporter import check_port_free

        check_port_free(prometheus_port)  # before any thread starts: nothing to roll back
    if profile != "auto":
        from tui_perf.tune.profiles import load_profile

        load_profile(profile)  # a bad profile is a ConfigError here, before anything starts
    engine = engine or Engine(
        EngineConfig(
            interval=interval,
            gc=GCConfig(measure_pauses=measure_gc_pauses),
            tune=tune,
            profile=profile,
        )
    )
    agent = Agent(
        engine, socket_path=socket_path, tcp=tcp, token=token, allow_remote=allow_remote
    ).start()
    if prometheus_port is not None:
        from tui_perf.agent.exporter import serve_metrics

        try:
            serve_metrics(engine, prometheus_port)
        except BaseException:
            agent.stop()  # taken between the check and now: leave nothing running
            raise
    log.info("tui-perf agent serving %s", agent.address)
    return agent
