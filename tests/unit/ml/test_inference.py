"""ml/inference.py handlers, called in the order the SageMaker scikit-learn server calls them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest

from ml import common, inference

DATASET = Path(__file__).resolve().parents[3] / "ml" / "data" / "breast_cancer.csv"


@pytest.fixture(scope="module")
def model_dir(random_forest_archive: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """/opt/ml/model as the serving container sees it: the extracted model.tar.gz."""
    directory = tmp_path_factory.mktemp("opt-ml-model")
    with tarfile.open(random_forest_archive) as tar:
        tar.extractall(directory, filter="data")
    return directory


@pytest.fixture(scope="module")
def model(model_dir: Path) -> common.LoadedModel:
    return inference.model_fn(str(model_dir))


@pytest.fixture(scope="module")
def held_out() -> np.ndarray:
    dataset = common.load_dataset(DATASET)
    _, test_rows = common.split_indices(dataset.labels, 0.2, 42)
    return dataset.features[test_rows][:25]


def invoke(model, body: str | bytes, content_type: str, accept: str) -> str:
    return inference.output_fn(
        inference.predict_fn(inference.input_fn(body, content_type), model), accept
    )


def csv_body(rows: np.ndarray) -> str:
    return "".join(",".join(repr(float(v)) for v in row) + "\n" for row in rows)


def test_csv_round_trip_matches_the_model(model, held_out) -> None:
    response = json.loads(invoke(model, csv_body(held_out), "text/csv", "application/json"))
    predictions = response["predictions"]
    assert [p["label"] for p in predictions] == model.estimator.predict(held_out).tolist()
    expected = common.positive_probability(model.estimator, held_out)
    np.testing.assert_allclose([p["probability"] for p in predictions], expected)
    assert all(set(p) == {"label", "probability"} for p in predictions)
    assert all(0.0 <= p["probability"] <= 1.0 for p in predictions)
    # "probability" is P(malignant): high exactly where the label is 1.
    assert all((p["probability"] > 0.5) == (p["label"] == 1) for p in predictions)


def test_csv_accept_returns_one_label_per_line(model, held_out) -> None:
    body = invoke(model, csv_body(held_out).encode(), "text/csv; charset=utf-8", "text/csv")
    assert body.splitlines() == [str(v) for v in model.estimator.predict(held_out).tolist()]
    assert body.endswith("\n")


def test_json_lists_and_dicts_give_the_csv_predictions(model, held_out) -> None:
    from_csv = invoke(model, csv_body(held_out), "text/csv", "application/json")
    lists = json.dumps({"instances": held_out.tolist()})
    names = model.feature_names
    # Keys in reverse order: rows are reordered by the model's feature names.
    dicts = json.dumps(
        {
            "instances": [
                dict(reversed(list(zip(names, row, strict=True)))) for row in held_out.tolist()
            ]
        }
    )
    assert invoke(model, lists, "application/json", "application/json") == from_csv
    assert invoke(model, dicts, "application/json", "application/json") == from_csv


def test_default_and_wildcard_accept_return_json(model, held_out) -> None:
    body = csv_body(held_out[:2])
    for accept in (None, "*/*", "text/html, application/json"):
        assert len(json.loads(invoke(model, body, "text/csv", accept))["predictions"]) == 2


def test_unsupported_content_type_is_named(model) -> None:
    with pytest.raises(ValueError, match="unsupported content type 'application/x-npy'"):
        inference.input_fn(b"\x93NUMPY", "application/x-npy")


def test_unsupported_accept_is_named(model, held_out) -> None:
    prediction = inference.predict_fn(held_out[:1], model)
    with pytest.raises(ValueError, match="unsupported accept type 'application/xml'"):
        inference.output_fn(prediction, "application/xml")


@pytest.mark.parametrize("width", [29, 31])
def test_wrong_feature_count_states_expected_and_got(model, held_out, width) -> None:
    rows = np.resize(held_out[:2], (2, width))
    for body, content_type in [
        (csv_body(rows), "text/csv"),
        (json.dumps({"instances": rows.tolist()}), "application/json"),
    ]:
        parsed = inference.input_fn(body, content_type)
        with pytest.raises(ValueError, match=f"expected 30, got {width}"):
            inference.predict_fn(parsed, model)


def test_dict_rows_with_missing_or_unknown_features_are_rejected(model, held_out) -> None:
    record = dict(zip(model.feature_names, held_out[0].tolist(), strict=True))
    del record["mean_radius"]
    record["mean_radios"] = 1.0
    parsed = inference.input_fn(json.dumps({"instances": [record]}), "application/json")
    with pytest.raises(ValueError, match=r"missing features \['mean_radius'\], unknown \['mean_r"):
        inference.predict_fn(parsed, model)


@pytest.mark.parametrize(
    ("body", "content_type", "message"),
    [
        ("1.0,abc\n", "text/csv", "row 1, value 2: expected a number, got 'abc'"),
        ("1.0,2.0\n3.0\n", "text/csv", "different numbers of values"),
        ("\n\n", "text/csv", "no rows"),
        ("{not json", "application/json", "not valid JSON"),
        ('{"rows": [[1.0]]}', "application/json", '"instances" list'),
        ('{"instances": []}', "application/json", "no rows"),
        ('{"instances": [[1.0], {"a": 1}]}', "application/json", "all lists"),
        ('{"instances": [[1.0, null]]}', "application/json", "got None"),
        ('{"instances": [[1.0, true]]}', "application/json", "got True"),
    ],
)
def test_malformed_bodies_raise_value_error(body: str, content_type: str, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("(", r"\(")):
        inference.input_fn(body, content_type)


def test_handlers_load_as_a_top_level_module_like_the_container(model_dir: Path) -> None:
    # The container puts the source dir on sys.path and imports "inference"; it must find
    # common.py there without the ml package.
    code = (
        "import inference, json\n"
        f"m = inference.model_fn({str(model_dir)!r})\n"
        "rows = inference.input_fn(json.dumps({'instances': [[15.0] * 30]}), 'application/json')\n"
        "print(inference.output_fn(inference.predict_fn(rows, m), 'text/csv'), end='')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=DATASET.parents[1],
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout in ("0\n", "1\n")
