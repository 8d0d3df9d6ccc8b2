"""The cache against a model (#29): random sequences of operations, faults and a second
process on the same L2, every read checked (see `tests/helpers/cache_model.py`).

Both tiers, a bounded number of examples here; `benchmarks/soak_cache_model.py` runs the
same machine for ten minutes. The plain scenario (one spelling per key, L2 up), writing
through, holds today over SQLite. The rest fail on a defect, each marked xfail with the
defects it shows until their fixes land: over Redis, coherence does not announce
overwrites; with write-behind, a tag invalidation of a queued write brings L2's older value
back; the full scenario (keys equal across types, outages, Redis restarts) meets the defects
#29 lists. Shrinking is
off for them: a known failure need not be made small on every CI run.
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

# Found by this model, not in #29's list (reproductions in the closing note of #29):
OVERWRITES_NOT_ANNOUNCED = (
    "coherence publishes deletes and invalidations, not overwrites: the other process keeps "
    "an overwritten value in its L1 for good"
)
QUEUED_WRITE_INVALIDATED_REASON = (
    "write-behind: invalidate_tag drops a queued write carrying the tag, and L2's older "
    "value of that key (written without the tag) is served again"
)
FAILED_SET_IN_OUTAGE = (
    "a write-through set that fails in an outage leaves the older L2 value to be served "
    "once L1 lets go of the key"
)
OVERWRITES = pytest.mark.xfail(strict=False, reason=OVERWRITES_NOT_ANNOUNCED)
QUEUED_WRITE_INVALIDATED = pytest.mark.xfail(strict=False, reason=QUEUED_WRITE_INVALIDATED_REASON)
KNOWN_DEFECTS = pytest.mark.xfail(
    strict=False,
    reason="issue #29, fixes on other branches: keys equal in Python are two L2 keys (#29.3); "
    "bulk invalidations during an outage are lost (#29.1); coherence misses invalidations "
    "around a Redis restart (#29.2); and, found by this model: "
    + "; ".join([FAILED_SET_IN_OUTAGE, QUEUED_WRITE_INVALIDATED_REASON, OVERWRITES_NOT_ANNOUNCED]),
)


def _settings(*, shrink: bool) -> settings:
    phases = [Phase.explicit, Phase.generate] + ([Phase.shrink] if shrink else [])
    return settings(
        max_examples=50,
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


@pytest.mark.parametrize("tier", ["sqlite", pytest.param("redis", marks=OVERWRITES)])
def test_the_cache_keeps_to_the_model_writing_through_with_l2_up(
    request: pytest.FixtureRequest, tier: str, peer: Peer
) -> None:
    """set/get/delete/tags/prefixes/clear/evictions and a second process reading."""
    _run(_env(request, tier, PLAIN_WRITE_THROUGH, peer), shrink=tier == "sqlite")


@QUEUED_WRITE_INVALIDATED
@pytest.mark.parametrize("tier", ["sqlite", pytest.param("redis", marks=OVERWRITES)])
def test_the_cache_keeps_to_the_model_with_l2_up(
    request: pytest.FixtureRequest, tier: str, peer: Peer
) -> None:
    """The same, with write-behind caches and their flushes too."""
    _run(_env(request, tier, PLAIN, peer), shrink=False)


@KNOWN_DEFECTS
@pytest.mark.parametrize("tier", ["sqlite", "redis"])
def test_the_cache_keeps_to_the_model_through_outages_and_equal_keys(
    request: pytest.FixtureRequest, tier: str, peer: Peer
) -> None:
    """The same, with 1, 1.0, True and Decimal(1) as one key, outages and Redis restarts."""
    _run(_env(request, tier, FULL, peer), shrink=False)
