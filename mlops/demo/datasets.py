"""The three datasets that ship with scikit-learn (exported once to ml/data/ by
ml/export_dataset.py), one per problem type, with the stack parameters that solve each.

`mlops local demo --dataset NAME` starts the twin with these parameters and uploads the file."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class DemoDataset:
    name: str
    parameters: dict[str, str]  # template parameter overrides

    @property
    def filename(self) -> str:
        return f"{self.name}.csv"

    @property
    def label(self) -> str:
        return self.parameters["LabelColumn"]

    @property
    def metric(self) -> str:
        return self.parameters["PrimaryMetric"]

    def describe(self, prediction: dict[str, Any]) -> str:
        """One answer of the endpoint, as the summary prints it."""
        if "value" in prediction:
            return f"{self.label}={prediction['value']:.1f}"
        if "probabilities" in prediction:
            chance = prediction["probabilities"][prediction["label"]]
            return f"{self.label}={prediction['label']} (p={chance:.3f})"
        return f"{self.label}={prediction['label']} (p={prediction['probability']:.3f})"


DATASETS = {
    dataset.name: dataset
    for dataset in (
        DemoDataset("breast_cancer", {"LabelColumn": "malignant",
                    "ProblemType": "binary_classification", "PrimaryMetric": "f1",
                    "MinimumMetric": "0.9"}),
        DemoDataset("wine", {"LabelColumn": "cultivar",
                    "ProblemType": "multiclass_classification", "PrimaryMetric": "macro_f1",
                    "MinimumMetric": "0.9"}),
        # rmse in the label's units (disease progression, 25..346): a ceiling, and a margin of
        # one unit to beat a champion by.
        DemoDataset("diabetes", {"LabelColumn": "progression", "ProblemType": "regression",
                    "PrimaryMetric": "rmse", "MinimumMetric": "65",
                    "ImprovementMargin": "1"}),
    )
}  # fmt: skip
