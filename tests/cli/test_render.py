"""How `mlops` prints for people: aligned tables, durations, relative times, time arguments,
and a progress line that only a terminal gets."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest

from mlops.cli.render import Progress, ago, duration, parse_span, parse_time, table

NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


def test_table_columns_are_as_wide_as_their_widest_cell_and_numbers_can_align_right():
    text = table(["NAME", "TOOK"], [["ValidateDataset", "1.7s"], ["Map", "34.1s"]], right=[1])
    assert text.splitlines() == [
        "NAME              TOOK",
        "ValidateDataset   1.7s",
        "Map              34.1s",
    ]


def test_a_short_row_lets_its_last_cell_run_on_without_widening_the_columns():
    text = table(["A", "B", "C"], [["x", "y", "z"], ["w", "a note longer than B"]])
    assert text.splitlines() == ["A  B  C", "x  y  z", "w  a note longer than B"]


def test_table_shows_none_as_an_empty_cell_and_ends_no_line_with_spaces():
    assert table(["A", "B"], [["x", None]]).splitlines() == ["A  B", "x"]


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.0123, "12ms"),
        (1.25, "1.2s"),
        (59.94, "59.9s"),
        (245, "4m05s"),
        (7380, "2h03m"),
        (93600, "1d02h"),
        (None, "-"),
    ],
)
def test_durations_read_at_a_glance(seconds, text):
    assert duration(seconds) == text


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (timedelta(milliseconds=300), "just now"),
        (timedelta(seconds=12.6), "12s ago"),
        (timedelta(minutes=4, seconds=5), "4m ago"),
        (timedelta(hours=3, minutes=2), "3h ago"),
        (timedelta(days=2, hours=5), "2d ago"),
        (-timedelta(minutes=5), "in 5m"),
    ],
)
def test_relative_times_name_the_largest_unit(delta, text):
    assert ago(NOW - delta, NOW) == text


def test_spans_combine_units():
    assert parse_span("2h30m") == timedelta(hours=2, minutes=30)
    assert parse_span("90s") == timedelta(seconds=90)
    assert parse_span("1w") == timedelta(days=7)
    with pytest.raises(ValueError, match="not a time span"):
        parse_span("2 hours")


def test_times_are_now_a_span_ago_or_iso_8601_with_utc_when_no_offset_is_given():
    assert parse_time("now", NOW) == NOW
    assert parse_time("2h", NOW) == NOW - timedelta(hours=2)
    assert parse_time("2024-05-01T10:00:00Z", NOW) == datetime(2024, 5, 1, 10, tzinfo=UTC)
    assert parse_time("2024-05-01T10:00:00", NOW) == datetime(2024, 5, 1, 10, tzinfo=UTC)
    assert parse_time("2024-05-01T12:00:00+02:00", NOW) == datetime(2024, 5, 1, 10, tzinfo=UTC)
    with pytest.raises(ValueError, match="not a time"):
        parse_time("yesterday", NOW)


def test_progress_draws_its_status_line_only_on_a_terminal():
    logged, live = io.StringIO(), io.StringIO()
    for stream, is_live in ((logged, False), (live, True)):
        progress = Progress(stream, live=is_live)
        progress.status("running in TrainCandidate")
        progress.line("  Training ValidateDataset 1.7s")
        progress.done()
    assert logged.getvalue() == "  Training ValidateDataset 1.7s\n"
    # On a terminal the status line is drawn, cleared before each line, drawn again, cleared.
    assert live.getvalue() == (
        "running in TrainCandidate\r\x1b[K  Training ValidateDataset 1.7s\n"
        "running in TrainCandidate\r\x1b[K"
    )
