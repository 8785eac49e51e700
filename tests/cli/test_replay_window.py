"""A replay window against the archive it replays from (EventBridge user guide, "Archiving and
replaying events"): retention bounds it, archiving may lag, and an empty window is refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mlops.control.errors import Refused
from mlops.control.replay import Archive, check_window, describe_event

NOW = datetime(2024, 5, 10, 12, 0, tzinfo=UTC)
KEPT = Archive("a", "arn:archive", "arn:bus", 7, NOW - timedelta(days=30))


def test_a_window_inside_retention_and_older_than_ten_minutes_has_no_warning():
    end, warnings = check_window(KEPT, NOW - timedelta(days=2), NOW - timedelta(hours=1), NOW)
    assert end == NOW - timedelta(hours=1) and warnings == []


def test_a_window_reaching_before_the_retention_is_refused_naming_the_oldest_time_kept():
    with pytest.raises(Refused, match=r"outside the archive's retention \(7 days: nothing older"):
        check_window(KEPT, NOW - timedelta(days=8), NOW - timedelta(days=6), NOW)


def test_an_archive_that_keeps_events_forever_takes_any_past_window():
    forever = Archive("a", "arn:archive", "arn:bus", 0, None)
    end, warnings = check_window(forever, NOW - timedelta(days=900), NOW - timedelta(days=1), NOW)
    assert warnings == []


def test_the_last_ten_minutes_warn_that_aws_may_archive_late_and_the_end_stops_at_now():
    end, warnings = check_window(KEPT, NOW - timedelta(hours=1), NOW + timedelta(hours=1), NOW)
    assert end == NOW
    assert warnings == [
        "AWS may archive events up to about 10 minutes late: events of the window's last "
        "10 minutes may not be replayed yet"
    ]


def test_a_window_before_the_archive_existed_warns_that_nothing_was_archived_then():
    young = Archive("a", "arn:archive", "arn:bus", 7, NOW - timedelta(days=1))
    _, warnings = check_window(young, NOW - timedelta(days=2), NOW - timedelta(hours=2), NOW)
    assert warnings == [
        f"the archive was created {young.created.isoformat()}: nothing before that was archived"
    ]


def test_an_empty_window_is_refused():
    with pytest.raises(Refused, match="empty window"):
        check_window(KEPT, NOW - timedelta(hours=1), NOW - timedelta(hours=2), NOW)


def test_events_are_named_by_what_they_are_about():
    s3 = {
        "source": "aws.s3",
        "detail-type": "Object Created",
        "detail": {"bucket": {"name": "data"}, "object": {"key": "datasets/a.csv"}},
    }
    assert describe_event(s3) == "aws.s3 Object Created s3://data/datasets/a.csv"
    approval = {
        "source": "aws.sagemaker",
        "detail-type": "SageMaker Model Package State Change",
        "detail": {"ModelPackageVersion": 3, "ModelApprovalStatus": "Approved"},
    }
    assert describe_event(approval).endswith("v3 Approved")
    retrain = {"retrain": {"dataset": "latest", "requested_by": "arn:aws:iam::1:user/alice"}}
    assert describe_event(retrain) == "retrain request latest by arn:aws:iam::1:user/alice"
