"""The compliance rules through the pure ``decide``: two US time zones, both 2026 DST
changes, weekends, fallbacks and account statuses. No database, no clock."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest

from backoffice.compliance.check import (
    ACCOUNT_STATUS_RULES,
    CHANNELS,
    Decision,
    Reason,
    decide,
)
from backoffice.orgs.models import Organization
from backoffice.store.tables import ACCOUNT_STATUSES

UTC = dt.UTC
ET = "America/New_York"
PT = "America/Los_Angeles"
MON_SAT = frozenset(range(6))
EVERY_DAY = frozenset(range(7))


def org(
    days: frozenset[int] = MON_SAT,
    start: dt.time = dt.time(8),
    end: dt.time = dt.time(21),
    timezone: str = ET,
) -> Organization:
    return Organization(
        id="org",
        name="Acme Collections",
        country="US",
        locale="en-US",
        currency="USD",
        timezone=timezone,
        contact_hours_start=start,
        contact_hours_end=end,
        contact_days=days,
        credential_mode="managed",
    )


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def check(
    at: dt.datetime,
    tz: str | None = ET,
    *,
    organization: Organization | None = None,
    opted_out: bool = False,
    status: str | None = None,
    channel: str = "call",
) -> Decision:
    return decide(
        organization or org(),
        contact_tz=tz,
        opted_out=opted_out,
        account_status=status,
        channel=channel,
        at=at,
    )


# --- two zones, one organization -----------------------------------------------------


def test_2030_eastern_is_allowed_for_an_eastern_and_a_pacific_contact() -> None:
    at = utc(2026, 6, 16, 0, 30)  # Monday 20:30 EDT = 17:30 PDT
    eastern, pacific = check(at, ET), check(at, PT)
    assert eastern.allowed and eastern.reason is Reason.ALLOWED
    assert eastern.local_time is not None and eastern.local_time.strftime("%H:%M") == "20:30"
    assert eastern.allowed_until == utc(2026, 6, 16, 1, 0)  # 21:00 EDT
    assert eastern.next_allowed_at == at
    assert pacific.allowed
    assert pacific.local_time is not None and pacific.local_time.strftime("%H:%M %Z") == "17:30 PDT"
    assert pacific.allowed_until == utc(2026, 6, 16, 4, 0)  # 21:00 PDT


def test_0730_pacific_is_refused_while_it_is_1030_in_new_york() -> None:
    at = utc(2026, 6, 15, 14, 30)  # Monday 10:30 EDT, 07:30 PDT
    assert check(at, ET).allowed
    pacific = check(at, PT)
    assert not pacific.allowed
    assert pacific.reason is Reason.OUTSIDE_HOURS
    assert pacific.next_allowed_at == utc(2026, 6, 15, 15, 0)  # 08:00 PDT
    assert pacific.allowed_until is None
    assert "07:30 PDT" in pacific.message
    assert PT in pacific.message
    assert "08:00-21:00" in pacific.message


def test_the_end_of_the_window_is_excluded() -> None:
    closing = utc(2026, 6, 16, 1, 0)  # Monday 21:00 EDT
    assert check(closing - dt.timedelta(seconds=1)).allowed
    refused = check(closing)
    assert refused.reason is Reason.OUTSIDE_HOURS
    assert refused.next_allowed_at == utc(2026, 6, 16, 12, 0)  # Tuesday 08:00 EDT
    assert check(utc(2026, 6, 16, 12, 0)).allowed


def test_a_contact_without_a_zone_is_read_in_the_organizations_zone() -> None:
    at = utc(2026, 6, 15, 14, 30)  # 10:30 in New York, 07:30 in Los Angeles
    plain = check(at, None)
    assert plain.allowed
    assert plain.timezone == ET and plain.timezone_source == "organization"
    pacific_org = org(timezone=PT)
    fallback = check(at, None, organization=pacific_org)
    assert fallback.reason is Reason.OUTSIDE_HOURS
    assert fallback.timezone == PT
    assert check(at, "", organization=pacific_org).timezone == PT
    unknown = check(at, "Mars/Olympus_Mons", organization=pacific_org)
    assert unknown.timezone == PT and unknown.timezone_source == "organization"
    assert check(at, PT).timezone_source == "contact"


# --- days ---------------------------------------------------------------------------


def test_sunday_is_not_an_allowed_day_and_the_next_is_monday_morning_local() -> None:
    sunday_noon = utc(2026, 6, 14, 16, 0)  # Sunday 12:00 EDT, 09:00 PDT
    eastern = check(sunday_noon, ET)
    assert eastern.reason is Reason.DAY_NOT_ALLOWED
    assert "Sunday is not an allowed contact day" in eastern.message
    assert eastern.next_allowed_at == utc(2026, 6, 15, 12, 0)  # Monday 08:00 EDT
    assert check(sunday_noon, PT).next_allowed_at == utc(2026, 6, 15, 15, 0)


def test_the_day_is_the_contacts_local_day() -> None:
    # Monday 02:00 UTC is still Sunday 22:00 in New York and 19:00 in Los Angeles.
    at = utc(2026, 6, 15, 2, 0)
    assert check(at, ET).reason is Reason.DAY_NOT_ALLOWED
    assert check(at, PT).reason is Reason.DAY_NOT_ALLOWED
    # Sunday 03:30 UTC: Saturday 20:30 in Los Angeles (allowed), 23:30 in New York.
    saturday_evening_pt = utc(2026, 6, 14, 3, 30)
    assert check(saturday_evening_pt, PT).allowed
    assert check(saturday_evening_pt, ET).reason is Reason.OUTSIDE_HOURS
    # Monday 04:30 UTC: Monday 00:30 in New York, but still Sunday 21:30 in Los Angeles.
    monday_early = utc(2026, 6, 15, 4, 30)
    assert check(monday_early, ET).reason is Reason.OUTSIDE_HOURS
    assert check(monday_early, PT).reason is Reason.DAY_NOT_ALLOWED


def test_saturday_night_waits_for_monday() -> None:
    saturday_late = utc(2026, 6, 14, 2, 30)  # Saturday 22:30 EDT
    decision = check(saturday_late)
    assert decision.reason is Reason.OUTSIDE_HOURS
    assert decision.next_allowed_at == utc(2026, 6, 15, 12, 0)


def test_no_allowed_day_means_never() -> None:
    decision = check(utc(2026, 6, 15, 15, 0), organization=org(days=frozenset()))
    assert decision.reason is Reason.DAY_NOT_ALLOWED
    assert decision.next_allowed_at is None
    assert "no day and time is allowed" in decision.message


# --- daylight saving time ------------------------------------------------------------


def test_spring_forward_0830_after_the_change_is_allowed_in_both_zones() -> None:
    seven_days = org(days=EVERY_DAY)
    # 2026-03-08: New York jumps 02:00 EST -> 03:00 EDT (07:00 UTC), Los Angeles at 10:00 UTC.
    eastern = check(utc(2026, 3, 8, 12, 30), ET, organization=seven_days)
    assert eastern.allowed
    assert eastern.local_time is not None
    assert eastern.local_time.strftime("%H:%M %Z") == "08:30 EDT"
    pacific = check(utc(2026, 3, 8, 15, 30), PT, organization=seven_days)
    assert pacific.allowed
    assert pacific.local_time is not None
    assert pacific.local_time.strftime("%H:%M %Z") == "08:30 PDT"
    # The same UTC times a day earlier were 07:30 local: refused.
    assert not check(utc(2026, 3, 7, 12, 30), ET, organization=seven_days).allowed
    assert not check(utc(2026, 3, 7, 15, 30), PT, organization=seven_days).allowed


def test_spring_forward_next_allowed_is_computed_across_the_gap() -> None:
    seven_days = org(days=EVERY_DAY)
    before_gap = utc(2026, 3, 8, 6, 30)  # 01:30 EST, half an hour before the jump
    decision = check(before_gap, ET, organization=seven_days)
    assert decision.reason is Reason.OUTSIDE_HOURS
    assert decision.next_allowed_at == utc(2026, 3, 8, 12, 0)  # 08:00 EDT, not 13:00 UTC
    pacific = check(before_gap, PT, organization=seven_days)  # Saturday 22:30 PST
    assert pacific.next_allowed_at == utc(2026, 3, 8, 15, 0)  # 08:00 PDT
    # Mon-Sat: Saturday evening before the change waits for Monday, in the new offset.
    saturday = check(utc(2026, 3, 8, 3, 0), ET)  # Saturday 22:00 EST
    assert saturday.next_allowed_at == utc(2026, 3, 9, 12, 0)  # Monday 08:00 EDT


def test_fall_back_next_allowed_is_the_same_from_both_passes_of_the_repeated_hour() -> None:
    seven_days = org(days=EVERY_DAY)
    first_pass = utc(2026, 11, 1, 5, 30)  # 01:30 EDT
    second_pass = utc(2026, 11, 1, 6, 30)  # 01:30 EST
    for at in (first_pass, second_pass):
        decision = check(at, ET, organization=seven_days)
        assert decision.reason is Reason.OUTSIDE_HOURS
        assert decision.local_time is not None
        assert decision.local_time.strftime("%H:%M") == "01:30"
        assert decision.next_allowed_at == utc(2026, 11, 1, 13, 0)  # 08:00 EST
    # That Sunday's window closes at 21:00 EST = 02:00 UTC Monday (an hour later in UTC).
    evening = check(utc(2026, 11, 2, 1, 30), ET, organization=seven_days)
    assert evening.allowed and evening.allowed_until == utc(2026, 11, 2, 2, 0)
    saturday = check(utc(2026, 11, 1, 0, 30), ET, organization=seven_days)  # Sat 20:30 EDT
    assert saturday.allowed and saturday.allowed_until == utc(2026, 11, 1, 1, 0)


def test_a_window_opening_inside_the_gap_opens_at_the_transition() -> None:
    early = org(days=EVERY_DAY, start=dt.time(2, 30))
    decision = check(utc(2026, 3, 8, 6, 0), ET, organization=early)  # 01:00 EST
    assert decision.next_allowed_at == utc(2026, 3, 8, 7, 0)  # 03:00 EDT, the jump
    assert check(utc(2026, 3, 8, 7, 0), ET, organization=early).allowed
    assert not check(utc(2026, 3, 8, 6, 59, 59), ET, organization=early).allowed


def test_a_window_closing_inside_the_repeated_hour_does_not_reopen() -> None:
    night = org(days=EVERY_DAY, start=dt.time(0, 0), end=dt.time(1, 30))
    open_ = check(utc(2026, 11, 1, 5, 15), ET, organization=night)  # 01:15 EDT
    assert open_.allowed and open_.allowed_until == utc(2026, 11, 1, 5, 30)
    second = check(utc(2026, 11, 1, 6, 15), ET, organization=night)  # 01:15 EST
    assert second.reason is Reason.OUTSIDE_HOURS
    assert second.next_allowed_at == utc(2026, 11, 2, 5, 0)  # Monday 00:00 EST


def _sweep(start: dt.datetime, days: int, step_minutes: int = 15) -> list[dt.datetime]:
    return [start + dt.timedelta(minutes=m) for m in range(0, days * 24 * 60, step_minutes)]


@pytest.mark.parametrize(
    "zone", [ET, PT, "America/Chicago", "Europe/Madrid", "Australia/Lord_Howe"]
)
@pytest.mark.parametrize("week_of", [utc(2026, 3, 5), utc(2026, 10, 22), utc(2026, 10, 29)])
def test_every_quarter_hour_of_the_dst_weeks_agrees_with_the_wall_clock(
    zone: str, week_of: dt.datetime
) -> None:
    """Exhaustively: allowed exactly when the local wall clock says so; next_allowed_at
    is allowed and nothing allowed comes before it; allowed_until closes the window."""
    rules = org()
    tz = zoneinfo.ZoneInfo(zone)
    for at in _sweep(week_of, 10):
        local = at.astimezone(tz)
        expected = local.weekday() in MON_SAT and dt.time(8) <= local.time() < dt.time(21)
        decision = check(at, zone, organization=rules)
        assert decision.allowed is expected, (at, local)
        if expected:
            assert decision.next_allowed_at == at
            assert decision.allowed_until is not None
            assert check(decision.allowed_until, zone, organization=rules).allowed is False
            one_second_before = decision.allowed_until - dt.timedelta(seconds=1)
            assert check(one_second_before, zone, organization=rules).allowed
            continue
        upcoming = decision.next_allowed_at
        assert upcoming is not None and upcoming > at
        assert check(upcoming, zone, organization=rules).allowed
        assert upcoming.astimezone(tz).strftime("%H:%M") == "08:00"
        assert not check(upcoming - dt.timedelta(seconds=1), zone, organization=rules).allowed


# --- opt-out and account status -----------------------------------------------------


def test_an_opted_out_contact_is_refused_on_every_channel_at_any_hour() -> None:
    within_hours = utc(2026, 6, 15, 16, 0)
    for channel in CHANNELS:
        decision = check(within_hours, opted_out=True, channel=channel)
        assert decision.reason is Reason.OPTED_OUT
        assert decision.next_allowed_at is None
        assert decision.channel == channel
        assert "12:00 EDT" in decision.message
    # The opt-out is the reason even when the account would also forbid it.
    assert check(within_hours, opted_out=True, status="paid").reason is Reason.OPTED_OUT


def test_the_status_table_covers_every_account_status() -> None:
    assert set(ACCOUNT_STATUS_RULES) == set(ACCOUNT_STATUSES)
    refused = {s for s, rule in ACCOUNT_STATUS_RULES.items() if not rule.automated_contact}
    assert refused == {"paid", "closed", "paused", "in_review", "escalated"}


@pytest.mark.parametrize("status", ACCOUNT_STATUSES)
def test_each_account_status_allows_or_refuses_as_the_table_says(status: str) -> None:
    decision = check(utc(2026, 6, 15, 16, 0), status=status)
    assert decision.allowed is ACCOUNT_STATUS_RULES[status].automated_contact
    assert decision.account_status == status
    if not decision.allowed:
        assert decision.reason is Reason.ACCOUNT_STATUS
        assert decision.next_allowed_at is None
        assert status in decision.message


def test_an_unknown_status_is_refused() -> None:
    decision = check(utc(2026, 6, 15, 16, 0), status="archived")
    assert decision.reason is Reason.ACCOUNT_STATUS
    assert "unknown" in decision.message


def test_account_status_is_checked_before_the_hours() -> None:
    assert check(utc(2026, 6, 15, 3, 0), status="paused").reason is Reason.ACCOUNT_STATUS


def test_a_naive_time_or_an_unknown_channel_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        check(dt.datetime(2026, 6, 15, 16, 0))
    with pytest.raises(ValueError, match="channel"):
        check(utc(2026, 6, 15, 16, 0), channel="fax")


def test_a_non_utc_aware_time_gives_the_same_answer() -> None:
    madrid = dt.datetime(2026, 6, 15, 18, 0, tzinfo=zoneinfo.ZoneInfo("Europe/Madrid"))
    decision = check(madrid)
    assert decision == check(utc(2026, 6, 15, 16, 0))
    assert decision.at.tzinfo is UTC
