"""ml/inference.py handlers, called in the order the SageMaker scikit-learn server calls them.

A request the model cannot serve is answered, not raised: the serving stack would put the
exception's stack trace in the response. So every refusal below is a status and one line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import common
import inference
import numpy as np
import pytest

DATASET = Path(__file__).resolve().parents[3] / "ml" / "data" / "breast_cancer.csv"
ML_DIR = DATASET.parents[1]


def extracted(archive: Path, directory: Path) -> Path:
    """/opt/ml/model as the serving container sees it: the extracted model.tar.gz."""
    with tarfile.open(archive) as tar:
        tar.extractall(directory, filter="data")
    return directory


@pytest.fixture(scope="module")
def model_dir(random_forest_archive: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return extracted(random_forest_archive, tmp_path_factory.mktemp("opt-ml-model"))


@pytest.fixture(scope="module")
def model(model_dir: Path) -> common.LoadedModel:
    return inference.model_fn(str(model_dir))


@pytest.fixture(scope="module")
def held_out() -> np.ndarray:
    return common.load_dataset(DATASET).features[-25:]


def answer(result: Any) -> tuple[int, str, str]:
    """(status, body, content type) of what output_fn returned, as the server sends it."""
    if isinstance(result, tuple):
        return 200, result[0], result[1]
    return result.status_code, result.get_data(as_text=True), result.mimetype


def invoke(model, body: str | bytes, content_type: str, accept: str | None) -> tuple[int, str, str]:
    return answer(
        inference.output_fn(
            inference.predict_fn(inference.input_fn(body, content_type), model), accept
        )
    )


def csv_body(rows: np.ndarray) -> str:
    return "".join(",".join(repr(float(v)) for v in row) + "\n" for row in rows)


def predictions(model, body: str, content_type: str = "text/csv") -> list[dict[str, Any]]:
    status, text, media_type = invoke(model, body, content_type, "application/json")
    assert (status, media_type) == (200, "application/json"), text
    return json.loads(text)["predictions"]


def test_binary_answers_the_label_and_the_positive_probability(model, held_out) -> None:
    found = predictions(model, csv_body(held_out))
    assert [p["label"] for p in found] == model.estimator.predict(held_out).tolist()
    expected = common.predict(model.estimator, "binary_classification", held_out)
    np.testing.assert_allclose([p["probability"] for p in found], expected.positive_probability)
    assert all(set(p) == {"label", "probability"} for p in found)
    # "probability" is P(malignant): high exactly where the label is 1.
    assert all((p["probability"] > 0.5) == (p["label"] == 1) for p in found)


def test_multiclass_answers_the_class_and_every_class_probability(
    trained_per_problem, tmp_path
) -> None:
    model = inference.model_fn(str(trained_per_problem["multiclass_classification"].model_dir))
    wine = common.load_dataset(DATASET.parent / "wine.csv", label="cultivar")
    found = predictions(model, csv_body(wine.features))
    assert {p["label"] for p in found} == {"class_0", "class_1", "class_2"}
    for p in found:
        assert set(p["probabilities"]) == {"class_0", "class_1", "class_2"}
        assert sum(p["probabilities"].values()) == pytest.approx(1.0)
        assert p["label"] == max(p["probabilities"], key=p["probabilities"].get)
    right = sum(p["label"] == actual for p, actual in zip(found, wine.label_values, strict=True))
    assert right / len(found) > 0.95  # mostly rows it learnt from
    status, text, _ = invoke(model, csv_body(wine.features[:2]), "text/csv", "text/csv")
    assert status == 200 and text == "".join(f"{p['label']}\n" for p in found[:2])


def test_regression_answers_the_value(trained_per_problem) -> None:
    model = inference.model_fn(str(trained_per_problem["regression"].model_dir))
    diabetes = common.load_dataset(DATASET.parent / "diabetes.csv", label="progression")
    found = predictions(model, csv_body(diabetes.features[:5]))
    np.testing.assert_allclose(
        [p["value"] for p in found], model.estimator.predict(diabetes.features[:5])
    )
    assert all(set(p) == {"value"} for p in found)


def test_csv_accept_returns_one_label_per_line(model, held_out) -> None:
    status, body, media_type = invoke(
        model, csv_body(held_out).encode(), "text/csv; charset=utf-8", "text/csv"
    )
    assert (status, media_type) == (200, "text/csv")
    assert body.splitlines() == [str(v) for v in model.estimator.predict(held_out).tolist()]


def test_json_lists_and_dicts_give_the_csv_predictions(model, held_out) -> None:
    from_csv = predictions(model, csv_body(held_out))
    names = model.feature_names
    lists = json.dumps({"instances": held_out.tolist()})
    # Keys in reverse order: rows are reordered by the model's feature names.
    records = [dict(reversed(list(zip(names, row, strict=True)))) for row in held_out.tolist()]
    assert predictions(model, lists, "application/json") == from_csv
    assert predictions(model, json.dumps({"instances": records}), "application/json") == from_csv


def test_default_and_wildcard_accept_return_json(model, held_out) -> None:
    body = csv_body(held_out[:2])
    for accept in (None, "*/*", "text/html, application/json"):
        status, text, _ = invoke(model, body, "text/csv", accept)
        assert status == 200 and len(json.loads(text)["predictions"]) == 2


def refusal(status_body: tuple[int, str, str]) -> tuple[int, str]:
    status, body, media_type = status_body
    assert media_type == "application/json" and "\n" not in body and "Traceback" not in body
    document = json.loads(body)
    assert set(document) == {"error", "message"}
    return status, document["message"]


@pytest.mark.parametrize("width", [29, 31])
def test_wrong_number_of_features_is_a_400_naming_what_was_expected(model, held_out, width):
    rows = np.resize(held_out[:2], (2, width))
    names = ", ".join(model.feature_names)
    for body, content_type in [
        (csv_body(rows), "text/csv"),
        (json.dumps({"instances": rows.tolist()}), "application/json"),
    ]:
        status, message = refusal(invoke(model, body, content_type, "application/json"))
        assert status == 400
        assert message == f"row 1 has {width} values; expected 30 features in this order: {names}"


def test_records_with_missing_or_unknown_features_are_a_400_naming_them(model, held_out):
    record = dict(zip(model.feature_names, held_out[0].tolist(), strict=True))
    del record["mean_radius"]
    record["mean_radios"] = 1.0
    body = json.dumps({"instances": [record]})
    status, message = refusal(invoke(model, body, "application/json", None))
    assert status == 400
    assert message.startswith(
        "instance 1: missing features ['mean_radius'], unknown features ['mean_radios']; "
        "expected 30 features in this order: mean_radius, mean_texture"
    )


def row_with(second: str) -> str:
    """A row of 30 values whose second is `second` (JSON text)."""
    return ", ".join(["1.0", second, *["1.0"] * 28])


@pytest.mark.parametrize(
    ("body", "content_type", "message"),
    [
        (row_with("abc"), "text/csv",
         "row 1, value 2 (mean_texture): expected a number, got 'abc'"),
        ("\n\n", "text/csv", "the request has no rows"),
        (b"\xff\xfe", "text/csv", "can't decode byte 0xff"),
        ("{not json", "application/json", "the request body is not valid JSON"),
        ('{"rows": [[1.0]]}', "application/json", 'an object with an "instances" list'),
        ('{"instances": []}', "application/json", "the request has no rows"),
        ('{"instances": [[1.0], {"a": 1}]}', "application/json", "all lists"),
        (f'{{"instances": [[{row_with("null")}]]}}', "application/json",
         "row 1, value 2 (mean_texture): expected a number, got null"),
        (f'{{"instances": [[{row_with("true")}]]}}', "application/json", "got true"),
        ('{"instances": [[' + row_with('"inf"') + "]]}", "application/json",
         "expected a finite number, got 'inf'"),
    ],
)  # fmt: skip
def test_malformed_bodies_are_a_400_with_one_line(model, body, content_type, message) -> None:
    status, text = refusal(invoke(model, body, content_type, None))
    assert status == 400 and message in text


def test_unsupported_content_and_accept_types_are_415_and_406(model, held_out) -> None:
    status, message = refusal(invoke(model, b"\x93NUMPY", "application/x-npy", None))
    assert status == 415 and "content type 'application/x-npy' is not served" in message
    status, message = refusal(invoke(model, csv_body(held_out[:1]), "text/csv", "application/xml"))
    assert status == 406 and "accept type 'application/xml' is not served" in message


def test_a_model_fault_is_a_500_with_one_line_and_the_trace_only_in_the_log(
    model_dir, held_out, capsys
) -> None:
    broken = inference.model_fn(str(model_dir))
    object.__setattr__(broken, "estimator", None)  # predict() on None: AttributeError
    status, message = refusal(invoke(broken, csv_body(held_out[:1]), "text/csv", None))
    assert (status, message) == (500, "the model could not answer (AttributeError)")
    assert "Traceback" in capsys.readouterr().err


def test_the_twin_model_server_answers_a_refusal_with_its_status_and_no_trace(model_dir) -> None:
    # The twin's implementation of the container's serving contract (mlops.twin ... dispatch).
    from mlops.twin.sagemaker.hosting.dispatch import InferenceHandler

    handler = InferenceHandler(model_dir, ML_DIR, "inference.py")
    outcome = handler.invoke(b"1,2,3\n", "text/csv", "application/json")
    assert (outcome.status, outcome.content_type) == (400, "application/json")
    assert json.loads(outcome.body)["message"].startswith("row 1 has 3 values; expected 30")
    rows = "\n".join(r.rsplit(",", 1)[0] for r in DATASET.read_text().splitlines()[1:3])
    outcome = handler.invoke(rows.encode(), "text/csv", "text/csv")
    assert (outcome.status, outcome.content_type, outcome.body) == (200, "text/csv", b"1\n1\n")


def test_handlers_load_as_a_top_level_module_like_the_container(model_dir: Path) -> None:
    # The container puts the source dir on sys.path and imports "inference"; it must find
    # common.py and problems.py there without the ml package.
    code = (
        "import inference, json\n"
        f"m = inference.model_fn({str(model_dir)!r})\n"
        "rows = inference.input_fn(json.dumps({'instances': [[15.0] * 30]}), 'application/json')\n"
        "print(inference.output_fn(inference.predict_fn(rows, m), 'text/csv')[0], end='')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ML_DIR,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout in ("0\n", "1\n")
