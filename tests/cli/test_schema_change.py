"""A change of features is decided before any job runs, in the twin: a dataset without one of
the champion's columns is refused by ValidateDataset naming it; after `mlops schema accept
--reason`, the same data trains, is judged on MinimumMetric alone, and its version's lineage
records the declaration."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

import pytest
from cli_twin import Operated, operated

pytestmark = [pytest.mark.e2e, pytest.mark.twin, pytest.mark.slow]

OPERATOR = "arn:aws:sts::123456789012:user/moto"  # moto's GetCallerIdentity
DROPPED = "mean_radius"


@pytest.fixture(scope="module")
def served() -> Iterator[Operated]:
    with operated(DeploymentStrategy="ALL_AT_ONCE", MaxExecutionTimeoutSeconds="3600") as stack:
        yield stack


def without(data: bytes, column: str) -> bytes:
    rows = list(csv.reader(io.StringIO(data.decode())))
    at = rows[0].index(column)
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(row[:at] + row[at + 1 :] for row in rows)
    return out.getvalue().encode()


def test_a_schema_change_is_refused_then_trained_after_the_operators_declaration(
    served, mlops
) -> None:
    # Given v1, trained on the 30 features of breast_cancer.csv, is the champion
    (v1,) = mlops("versions", "--json", *served.target).json
    assert (v1["version"], v1["champion"]) == (1, True)
    narrower = without(served.dataset(), DROPPED)
    # When a dataset without one of its columns arrives
    (refused,) = served.upload("narrower.csv", narrower)
    # Then ValidateDataset refuses it, naming the column, before any job runs
    assert (refused.status, refused.error) == ("FAILED", "DatasetInvalid"), refused
    assert f"missing ['{DROPPED}']" in refused.cause and "champion (version 1)" in refused.cause
    sagemaker = served.twin.client("sagemaker")
    assert len(sagemaker.list_training_jobs()["TrainingJobSummaries"]) == 3  # v1's alone
    # When the operator declares the change
    accepted = mlops("schema", "accept", "--reason", "radius sensor retired", "--json",
                     *served.target)  # fmt: skip
    assert accepted.code == 0, accepted
    assert accepted.json["replaces_version"] == 1 and accepted.json["declared_by"] == OPERATOR
    shown = mlops("schema", "show", "--json", *served.target).json
    assert shown["holds"] is True and shown["declaration"]["reason"] == "radius sensor retired"
    # and the data is uploaded again
    runs = served.upload("narrower.csv", narrower)
    # Then it trains and registers v2, judged without the champion, the decision in its lineage
    training = [v for v in runs if v.workflow == "TrainingPipeline"]
    assert [v.status for v in training] == ["SUCCEEDED"], runs
    versions = {v["version"]: v for v in mlops("versions", "--json", *served.target).json}
    assert set(versions) == {1, 2}
    package = sagemaker.describe_model_package(ModelPackageName=versions[2]["arn"])
    lineage = package["CustomerMetadataProperties"]
    assert lineage["schema_change"] == (
        f"schema change from version 1 declared by {OPERATOR}: radius sensor retired - "
        "judged on MinimumMetric alone"
    )
    assert "champion_score" not in lineage  # no champion comparison
    bucket, key = lineage["feature_schema"].removeprefix("s3://").split("/", 1)
    schema = served.twin.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    assert DROPPED.encode() not in schema
    # and once v2 is the champion, the declaration has been used
    if versions[2]["champion"]:
        assert mlops("schema", "show", "--json", *served.target).json["holds"] is False
