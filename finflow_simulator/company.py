"""The company's calendar: banks book on business days."""

from __future__ import annotations

from datetime import date, timedelta


def business_days(start: date, count: int) -> list[date]:
    """``count`` weekdays from ``start`` on (banks book on business days)."""
    days: list[date] = []
    current = start
    while len(days) < count:
        if current.weekday() < 5:
            days.append(current)
        current += timedelta(days=1)
    return days
