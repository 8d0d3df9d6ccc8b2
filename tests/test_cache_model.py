"""The cache against a model (#29): random sequences of operations, faults and a second
process on the same L2, every read checked (see `tests/helpers/cache_model.py`).

Both tiers, a bounded number of examples here; `benchmarks/soak_cache_model.py` runs the
same machine for ten minutes. Written before the fixes, it failed on #29's defects (keys
equal across types, bulk invalidations lost in an outage, coherence across a Redis
restart) and found two more: overwrites were not announced to other processes, and a
write-through set that failed in an outage let L2's older value back once L1 lost it,
and so did a tag invalidation that dropped a queued write-behind write.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis.stateful import run_state_machine_as_test

from tests.helpers.cache_model import CacheModel, ModelEnv, Scenario
from tests.helpers.cache_peer import Peer

PLAIN_WRITE_THROUGH = Scenario(aliases=False, outages=False, peer=True, write_behind=False)
PLAIN = Scenario(aliases=False, outages=False, peer=True)
FULL = Scenario(aliases=True, outages=True, peer=True)


def _settings(*, shrink: bool) -> settings:
    phases = [Phase.explicit, Phase.generate] + ([Phase.shrink] if shrink else [])
    return settings(
        max_examples=25,  # CI: the soak in benchmarks/ runs the depth
        stateful_step_count=30,
        deadline=None,
        database=None,
        phases=phases,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


@pytest.fixture
def peer() -> Iterator[Peer]:
    p = Peer()
    yield p
    p.close()


def _env(request: pytest.FixtureRequest, tier: str, scenario: Scenario, peer: Peer) -> ModelEnv:
    workdir = request.getfixturevalue("tmp_path")
    redis = request.getfixturevalue("redis_server") if tier == "redis" else None
    return ModelEnv(tier, workdir, scenario, redis=redis, peer=peer)


def _run(env: ModelEnv, *, shrink: bool) -> None:
    # a factory, not the class: the machine takes its environment (hypothesis' stub says type)
    run_state_machine_as_test(
        lambda: CacheModel(env),  # type: ignore[arg-type]
        settings=_settings(shrink=shrink),
    )


@pytest.mark.parametrize("tier", ["sqlite", "redis"])
def test_the_cache_keeps_to_the_model_writing_through_with_l2_up(
    request: pytest.FixtureRequest, tier: str, peer: Peer
) -> None:
    """set/get/delete/tags/prefixes/clear/evictions and a second process reading."""
    _run(_env(request, tier, PLAIN_WRITE_THROUGH, peer), shrink=True)


@pytest.mark.parametrize("tier", ["sqlite", "redis"])
def test_the_cache_keeps_to_the_model_with_l2_up(
    request: pytest.FixtureRequest, tier: str, peer: Peer
) -> None:
    """The same, with write-behind caches and their flushes too."""
    _run(_env(request, tier, PLAIN, peer), shrink=True)


@pytest.mark.parametrize("tier", ["sqlite", "redis"])
def test_the_cache_keeps_to_the_model_through_outages_and_equal_keys(
    request: pytest.FixtureRequest, tier: str, peer: Peer
) -> None:
    """The same, with 1, 1.0, True and Decimal(1) as one key, outages and Redis restarts."""
    _run(_env(request, tier, FULL, peer), shrink=True)
