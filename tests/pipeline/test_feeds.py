"""Poll planning and feed-state transitions (pure functions, tiny inputs)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pipeline.feeds import (
    PROBE_REASON,
    RETRY_REASON,
    is_skipped,
    next_state,
    plan_polls,
)
from pipeline.records import FeedPoll, FeedState, FetchOutcome

URL = "http://x/rss"
NOW = datetime(2026, 11, 21, 12, tzinfo=UTC)
HOURS, PROBE_DAYS = 24.0, 7.0


def state(**changes: object) -> FeedState:
    base = {
        "url": URL,
        "source_id": "s1",
        "etag": '"v1"',
        "last_modified": "Fri, 20 Nov 2026 10:00:00 GMT",
        "last_full_fetch": NOW - timedelta(hours=2),
        "last_success": NOW - timedelta(hours=1),
        "consecutive_failures": 0,
        "disabled_at": None,
        "last_attempt": NOW - timedelta(hours=1),
    }
    return FeedState(**{**base, **changes})  # type: ignore[arg-type]


def plan(s: FeedState | None) -> FeedPoll:
    states = {} if s is None else {URL: s}
    return plan_polls(states, [URL], NOW, HOURS, PROBE_DAYS)[URL]


def outcome(status: int | None, error: str | None = None, **kw: object) -> FetchOutcome:
    at = kw.pop("at", NOW)
    return FetchOutcome("s1", URL, "feed", status, error, at, **kw)  # type: ignore[arg-type]


def test_a_new_feed_is_fetched_in_full() -> None:
    assert plan(None) == FeedPoll(URL)


def test_fresh_validators_are_sent() -> None:
    poll = plan(state())
    assert (poll.skip, poll.etag, poll.last_modified) == (
        False,
        '"v1"',
        "Fri, 20 Nov 2026 10:00:00 GMT",
    )


def test_stale_validators_are_not_sent() -> None:
    poll = plan(state(last_full_fetch=NOW - timedelta(hours=25)))
    assert (poll.skip, poll.etag, poll.last_modified) == (False, None, None)
    assert poll.reason == "full fetch: validators older than 24 h"


def test_a_feed_without_validators_is_fetched_in_full_without_a_reason() -> None:
    assert plan(state(etag=None, last_modified=None)) == FeedPoll(URL)


def test_a_disabled_feed_is_skipped_until_its_probe_is_due() -> None:
    disabled = state(
        consecutive_failures=50,
        disabled_at=datetime(2026, 11, 1, 6, tzinfo=UTC),
        last_attempt=NOW - timedelta(days=3),
    )
    poll = plan(disabled)
    assert poll.skip and poll.etag is None
    assert poll.reason == "skipped: disabled after 50 consecutive failures since 2026-11-01"
    probe = plan(FeedState(**{**disabled.__dict__, "last_attempt": NOW - timedelta(days=8)}))
    assert not probe.skip and probe.etag is None and probe.last_modified is None
    assert probe.reason == PROBE_REASON


def test_naive_stored_times_compare_with_an_aware_clock() -> None:
    naive = state(last_full_fetch=datetime(2026, 11, 21, 11), last_attempt=None)
    assert plan(naive).etag == '"v1"'


def test_a_200_stores_the_validators_it_carries_and_clears_absent_ones() -> None:
    first = next_state(None, outcome(200, etag='"a"', last_modified="L1"), 48)
    assert (first.etag, first.last_modified, first.last_full_fetch) == ('"a"', "L1", NOW)
    later = NOW + timedelta(hours=1)
    second = next_state(first, outcome(200, at=later, etag='"b"'), 48)
    assert (second.etag, second.last_modified, second.last_full_fetch) == ('"b"', None, later)


def test_a_304_keeps_the_validators_and_the_last_full_fetch() -> None:
    full = next_state(None, outcome(200, etag='"a"', last_modified="L1"), 48)
    later = NOW + timedelta(hours=3)
    kept = next_state(full, outcome(304, at=later), 48)
    assert (kept.etag, kept.last_modified, kept.last_full_fetch) == ('"a"', "L1", NOW)
    assert kept.last_success == later and kept.consecutive_failures == 0


def test_failures_disable_a_feed_and_a_success_revives_it() -> None:
    s: FeedState | None = None
    for i in range(3):
        s = next_state(s, outcome(None, "timeout", at=NOW + timedelta(hours=i)), 3)
        assert s.consecutive_failures == i + 1
    assert s is not None and s.disabled_at == NOW + timedelta(hours=2)
    assert s.last_error == "timeout"
    again = next_state(s, outcome(503, "HTTP 503", at=NOW + timedelta(days=8)), 3)
    assert again.disabled_at == s.disabled_at  # disabled since the first time
    back = next_state(again, outcome(200, at=NOW + timedelta(days=15)), 3)
    assert (back.consecutive_failures, back.disabled_at) == (0, None)
    assert back.last_success == NOW + timedelta(days=15)


def test_a_200_that_does_not_parse_is_a_failure() -> None:
    s = next_state(None, outcome(200, "malformed feed: no entries"), 48)
    assert s.consecutive_failures == 1 and s.last_success is None
    assert s.last_error == "malformed feed: no entries"


def test_an_error_status_without_a_message_is_named() -> None:
    assert next_state(None, outcome(410), 48).last_error == "HTTP 410"


def test_only_a_poll_the_crawler_did_not_make_counts_as_skipped() -> None:
    assert is_skipped(outcome(None, note="skipped: disabled after 50 consecutive failures"))
    assert not is_skipped(outcome(None, "DNS lookup failed"))
    assert not is_skipped(outcome(304, note="not modified"))


def test_a_failure_keeps_the_validators_and_lengthens_the_streak() -> None:
    plain = FeedState(URL, "s1", '"a"', None, NOW, NOW, 2, None)
    s = next_state(plain, outcome(None, "timeout"), 48)
    assert (s.etag, s.consecutive_failures, s.last_attempt) == ('"a"', 3, NOW)


def test_feeds_of_outlets_whose_articles_failed_are_fetched_in_full() -> None:
    other = state(url="http://y/rss", source_id="s2")
    states = {URL: state(), "http://y/rss": other}
    urls = [URL, "http://y/rss", "http://new/rss"]
    polls = plan_polls(states, urls, NOW, HOURS, PROBE_DAYS, full_fetch_sources={"s1"})
    assert polls[URL] == FeedPoll(URL, reason=RETRY_REASON)
    assert RETRY_REASON == "full fetch: articles failed in the last run"
    assert polls["http://y/rss"].etag == '"v1"'  # another outlet: still conditional
    assert polls["http://new/rss"] == FeedPoll("http://new/rss")  # no state: full anyway


def test_a_retry_does_not_wake_a_disabled_feed_or_rename_a_full_fetch() -> None:
    disabled = state(disabled_at=NOW - timedelta(days=1), consecutive_failures=50)
    stale = state(url="http://x/atom", last_full_fetch=NOW - timedelta(hours=25))
    polls = plan_polls(
        {URL: disabled, "http://x/atom": stale},
        [URL, "http://x/atom"],
        NOW,
        HOURS,
        PROBE_DAYS,
        full_fetch_sources=["s1"],
    )
    assert polls[URL].skip
    assert polls["http://x/atom"].reason == "full fetch: validators older than 24 h"
