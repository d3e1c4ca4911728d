"""Consecutive weeks in batches of about ``BATCH_ROWS`` raw rows: one Spark query, or one dbt build on
DuckDB, per batch. A long backfill in one run then needs the memory of a few weeks, and a full-scale week
(13-18M rows) is a batch alone."""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import TypeVar

Week = TypeVar("Week", bound=Hashable)

BATCH_ROWS = 16_000_000


def week_batches(rows_by_week: Mapping[Week, int], weeks: Sequence[Week], max_rows: int = BATCH_ROWS) -> list[list[Week]]:
    """``weeks`` in order, grouped so that each group holds at most ``max_rows`` rows (a bigger week alone);
    a week missing from ``rows_by_week`` counts as empty."""
    batches: list[list[Week]] = []
    total = 0
    for week in weeks:
        rows = rows_by_week.get(week, 0)
        if batches and total + rows <= max_rows:
            batches[-1].append(week)
            total += rows
        else:
            batches.append([week])
            total = rows
    return batches
