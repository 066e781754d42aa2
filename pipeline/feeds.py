"""How to poll each feed and sitemap in a run, decided from what earlier runs remember.

Pure functions of ``FeedState`` records (``store.feed_states``) and the clock, so the policy
is tested without a crawler:

* a feed with validators (ETag / Last-Modified) is asked conditionally and usually answers
  304 without a body;
* unless its last full answer is older than ``full_fetch_hours``: some servers keep sending
  the same stale validators (or answer 304) forever, so now and then the feed is fetched
  without them;
* a feed disabled after many consecutive failures is skipped, except for one probe every
  ``probe_days``: dead feeds often come back after a relaunch, and a successful probe
  re-enables them (``store.update_feed_states``).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import replace
from datetime import datetime, timedelta

from pipeline.records import FeedPoll, FeedState, FetchOutcome
from pipeline.timeutil import as_utc

PROBE_REASON = "probe of a disabled feed"
RETRY_REASON = "full fetch: articles failed in the last run"
POLLED_KINDS = frozenset({"feed", "sitemap", "homepage"})  # the URLs feed_state tracks
USABLE = frozenset({200, 304})  # a 304 answers a conditional request: the feed is alive


def plan_polls(
    states: Mapping[str, FeedState],
    urls: Iterable[str],
    now: datetime,
    full_fetch_hours: float,
    probe_days: float,
    full_fetch_sources: Collection[str] = (),
) -> dict[str, FeedPoll]:
    """A FeedPoll for every URL; a URL without a state is fetched in full (first poll).

    ``full_fetch_sources`` (``store.sources_needing_full_fetch``): outlets whose article
    pages failed transiently in the last run. Their feeds are fetched without validators,
    so a feed that answers 304 still lists the failed links and the crawler retries them.
    """
    retry = frozenset(full_fetch_sources)
    out = {}
    for url in urls:
        state = states.get(url)
        poll = plan_poll(url, state, now, full_fetch_hours, probe_days)
        if state is not None and state.source_id in retry and _conditional(poll):
            poll = FeedPoll(url, reason=RETRY_REASON)
        out[url] = poll
    return out


def _conditional(poll: FeedPoll) -> bool:
    """A poll that sends validators (and so may get a 304 without the feed's links)."""
    return not poll.skip and bool(poll.etag or poll.last_modified)


def plan_poll(
    url: str,
    state: FeedState | None,
    now: datetime,
    full_fetch_hours: float,
    probe_days: float,
) -> FeedPoll:
    """How to poll one URL: skip, probe, conditional request or full fetch."""
    if state is None:
        return FeedPoll(url)
    if state.disabled_at is not None:
        return _disabled_poll(url, state, as_utc(now), probe_days)
    if not (state.etag or state.last_modified):
        return FeedPoll(url)  # nothing to validate against: every poll is a full fetch
    full = state.last_full_fetch
    if full is None or as_utc(now) - as_utc(full) > timedelta(hours=full_fetch_hours):
        return FeedPoll(url, reason=f"full fetch: validators older than {full_fetch_hours:g} h")
    return FeedPoll(url, etag=state.etag, last_modified=state.last_modified)


def _disabled_poll(url: str, state: FeedState, now: datetime, probe_days: float) -> FeedPoll:
    """Skip a disabled feed until its last attempt is ``probe_days`` old, then probe it."""
    last = last_attempt(state)
    if last is not None and now - as_utc(last) < timedelta(days=probe_days):
        return FeedPoll(
            url,
            skip=True,
            reason=f"skipped: disabled after {state.consecutive_failures} consecutive"
            f" failures since {state.disabled_at:%Y-%m-%d}",
        )
    # A probe is a full fetch: validators of a feed that has been failing prove nothing.
    return FeedPoll(url, reason=PROBE_REASON)


def last_attempt(state: FeedState) -> datetime | None:
    """When the feed was last requested; without that record, when it was disabled."""
    return state.last_attempt or state.disabled_at


def is_skipped(outcome: FetchOutcome) -> bool:
    """A poll the crawler did not make (a disabled feed): no request, no news about it."""
    return outcome.status is None and outcome.error is None and outcome.note.startswith("skipped")


def is_success(outcome: FetchOutcome) -> bool:
    """A usable answer: 200 or 304 without an error (a 200 that did not parse is a failure)."""
    return outcome.error is None and outcome.status in USABLE


def next_state(state: FeedState | None, outcome: FetchOutcome, disable_after: int) -> FeedState:
    """The feed's state after one request (not a skipped one) of ``outcome.url``.

    A success resets the failure streak and re-enables a disabled feed; a 200 replaces the
    validators with the ones it carried (none: cleared), a 304 keeps them unless it sent
    new ones. A failure lengthens the streak and disables the feed at ``disable_after``.
    """
    prev = _fresh(state, outcome)
    at = outcome.fetched_at
    if is_success(outcome):
        full = outcome.status == 200
        return replace(
            prev,
            source_id=outcome.source_id,
            etag=outcome.etag if full else outcome.etag or prev.etag,
            last_modified=outcome.last_modified
            if full
            else outcome.last_modified or prev.last_modified,
            last_full_fetch=at if full else prev.last_full_fetch,
            last_success=at,
            consecutive_failures=0,
            disabled_at=None,
            last_attempt=at,
        )
    failures = prev.consecutive_failures + 1
    return replace(
        prev,
        consecutive_failures=failures,
        disabled_at=prev.disabled_at or (at if failures >= disable_after else None),
        last_attempt=at,
        last_error=outcome.error or _no_use(outcome),
    )


def _fresh(state: FeedState | None, outcome: FetchOutcome) -> FeedState:
    """The state so far; a fresh one for a URL never polled before."""
    return state or FeedState(outcome.url, outcome.source_id, None, None, None, None, 0, None)


def _no_use(outcome: FetchOutcome) -> str:
    """Why an answer without an error message was not usable."""
    return f"HTTP {outcome.status}" if outcome.status else "no answer"
