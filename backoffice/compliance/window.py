"""Allowed contact hours as intervals of real time, in a person's own time zone.

Theory of operation. An organization allows contact from ``start`` to ``end`` (wall
clock, end excluded) on some weekdays, and those hours are read in the *contact's*
zone. For each local date the window is one interval of instants, ``[open, close)``,
where ``open`` is the first instant whose local wall time reaches ``start`` on that
date and ``close`` the first that reaches ``end``. Thinking in instants rather than in
wall times settles both daylight-saving changes without special cases elsewhere:

- spring forward (a wall time that never happens, e.g. 02:30 on 2026-03-08 in New
  York): the window opens at the transition itself, the first instant at or after the
  requested wall time;
- fall back (a wall time that happens twice, 01:30 on 2026-11-01): the first
  occurrence counts, and the repeated hour never reopens a window that has closed
  nor closes one that is open.

A window that opens at 08:00 is therefore 13 hours long on ordinary days and the
length of the day's wall clock around a transition. All instants here are aware; the
module has no clock of its own (callers pass ``at``) and no I/O.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass

UTC = dt.UTC
_DAY = dt.timedelta(days=1)


def first_instant(day: dt.date, wall: dt.time, zone: zoneinfo.ZoneInfo) -> dt.datetime:
    """The first instant (UTC) at which the clock in ``zone`` reads ``wall`` or later
    on ``day``.

    For an existing wall time that is the time itself (its first occurrence when it is
    repeated); for one skipped by a forward transition it is the transition instant.
    """
    naive = dt.datetime.combine(day, wall)
    instant = naive.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if instant.astimezone(zone).replace(tzinfo=None) == naive:
        return instant
    # A gap (PEP 495): fold=0 read the wall time with the offset from before the
    # transition, which lands after it; fold=1 used the later offset and lands before.
    # The transition lies between: find the first second whose wall time reaches it.
    low = int(naive.replace(tzinfo=zone, fold=1).timestamp())
    high = int(instant.timestamp())
    while low < high:
        middle = (low + high) // 2
        if dt.datetime.fromtimestamp(middle, zone).replace(tzinfo=None) >= naive:
            high = middle
        else:
            low = middle + 1
    return dt.datetime.fromtimestamp(high, UTC)


@dataclass(frozen=True, slots=True)
class ContactWindow:
    """When a person may be contacted: ``start``-``end`` on ``days``, in ``zone``.

    ``days`` are ``datetime.weekday()`` numbers (0 = Monday). A window whose ``start``
    is not before ``end``, or with no days, never opens.
    """

    start: dt.time
    end: dt.time
    days: frozenset[int]
    zone: zoneinfo.ZoneInfo

    def local(self, at: dt.datetime) -> dt.datetime:
        """``at`` on the contact's wall clock."""
        return _aware(at).astimezone(self.zone)

    def interval(self, day: dt.date) -> tuple[dt.datetime, dt.datetime] | None:
        """The window of local date ``day`` in UTC, or None if it does not open that day."""
        if day.weekday() not in self.days:
            return None
        opens = first_instant(day, self.start, self.zone)
        closes = first_instant(day, self.end, self.zone)
        return (opens, closes) if opens < closes else None

    def day_allowed(self, at: dt.datetime) -> bool:
        """Whether the local date of ``at`` is one of the allowed weekdays."""
        return self.local(at).weekday() in self.days

    def current(self, at: dt.datetime) -> tuple[dt.datetime, dt.datetime] | None:
        """The window that contains ``at``, or None when ``at`` is outside every window."""
        at = _aware(at)
        today = self.local(at).date()
        # The neighbours matter only where a transition moves midnight; they are cheap.
        for day in (today - _DAY, today, today + _DAY):
            window = self.interval(day)
            if window is not None and window[0] <= at < window[1]:
                return window
        return None

    def contains(self, at: dt.datetime) -> bool:
        return self.current(at) is not None

    def next_open(self, at: dt.datetime) -> dt.datetime | None:
        """The first instant at or after ``at`` inside a window (``at`` itself when it is
        inside one), in UTC; None when the window never opens."""
        at = _aware(at).astimezone(UTC)
        today = self.local(at).date()
        # Every allowed weekday comes round within a week; one spare day on each side.
        for offset in range(-1, 9):
            window = self.interval(today + offset * _DAY)
            if window is not None and window[1] > at:
                return max(window[0], at)
        return None


def _aware(at: dt.datetime) -> dt.datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("naive datetime: pass a timezone-aware instant (UTC)")
    return at
