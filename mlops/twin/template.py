"""Old import path of mlops.twin.cloudformation.template, kept for test modules outside the
twin's own paths (tests/unit, tests/workflows). Import the new path; delete this once those
modules do."""

from mlops.twin.cloudformation.template import (
    Context,
    TemplateError,
    evaluate,
    load_template,
    resolve_parameters,
    sam_transform,
)

__all__ = [
    "Context",
    "TemplateError",
    "evaluate",
    "load_template",
    "resolve_parameters",
    "sam_transform",
]
