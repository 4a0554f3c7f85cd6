import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from sqid.retry import RetryPolicy, backoff_delay, decide, parse_retry_after

NO_JITTER = RetryPolicy(max_attempts=4, backoff_base=1.0, backoff_factor=2.0, jitter=0.0)


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
def test_transient_statuses_are_retried_with_exponential_backoff(status):
    delays = [decide(NO_JITTER, a, status=status).delay for a in (1, 2, 3)]
    assert delays == [1.0, 2.0, 4.0]
    assert all(decide(NO_JITTER, a, status=status).retry for a in (1, 2, 3))


def test_gives_up_after_max_attempts_with_a_named_reason():
    decision = decide(NO_JITTER, 4, status=503)
    assert not decision.retry
    assert decision.reason == "gave_up_http_503"


@pytest.mark.parametrize("status", [400, 403, 404, 410])
def test_client_errors_are_terminal(status):
    decision = decide(NO_JITTER, 1, status=status)
    assert (decision.retry, decision.reason) == (False, f"http_{status}")


def test_success_is_never_retried():
    assert decide(NO_JITTER, 1, status=200).retry is False


@pytest.mark.parametrize("error", ["connection", "timeout", "truncated"])
def test_network_errors_are_retried(error):
    assert decide(NO_JITTER, 1, error=error).retry


def test_unknown_error_kind_is_terminal():
    assert not decide(NO_JITTER, 1, error="tls").retry


def test_retry_after_seconds_wins_over_shorter_backoff():
    assert decide(NO_JITTER, 1, status=429, retry_after="30").delay == 30.0


def test_retry_after_http_date():
    now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    header = format_datetime(now + timedelta(seconds=90), usegmt=True)
    assert parse_retry_after(header, now) == pytest.approx(90.0)
    assert decide(NO_JITTER, 1, status=503, retry_after=header, now=now).delay == pytest.approx(90)


def test_retry_after_is_capped_and_garbage_ignored():
    policy = RetryPolicy(jitter=0.0, max_retry_after=60.0)
    assert decide(policy, 1, status=503, retry_after="60").delay == 60.0
    # A server asking for more than the cap gets no retry now (a later run asks again).
    too_long = decide(policy, 1, status=503, retry_after="86400")
    assert not too_long.retry and too_long.reason == "http_503_retry_after_86400s"
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def test_backoff_is_capped_and_jitter_stays_in_band():
    policy = RetryPolicy(backoff_base=1.0, backoff_factor=10.0, backoff_max=50.0, jitter=0.5)
    rng = random.Random(3)
    for attempt in range(1, 8):
        delay = backoff_delay(policy, attempt, rng)
        ceiling = min(50.0, 10.0 ** (attempt - 1))
        assert ceiling * 0.5 <= delay <= ceiling


def test_decide_needs_an_outcome():
    with pytest.raises(ValueError):
        decide(NO_JITTER, 1)
