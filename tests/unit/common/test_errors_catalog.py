"""errors.py: the class names are the error names the state machines Retry/Catch."""

import inspect

from mlops_common import errors
from mlops_common.errors import DOMAIN_ERROR_NAMES, MlopsError


def all_subclasses(cls: type) -> set[type]:
    direct = set(cls.__subclasses__())
    return direct | {sub for d in direct for sub in all_subclasses(d)}


def test_domain_error_names_lists_every_error_class_of_the_module() -> None:
    defined = {
        name
        for name, obj in inspect.getmembers(errors, inspect.isclass)
        if issubclass(obj, MlopsError) and obj is not MlopsError
    }
    assert defined == DOMAIN_ERROR_NAMES
    assert {
        "DatasetInvalid",
        "TrainingFailed",
        "DeploymentRolledBack",
        "UpdateRollbackFailed",
        "SmokeTestFailed",
    } <= DOMAIN_ERROR_NAMES


def test_domain_error_names_covers_subclasses_at_any_depth() -> None:
    assert {cls.__name__ for cls in all_subclasses(MlopsError)} <= DOMAIN_ERROR_NAMES


def test_domain_error_names_exclude_the_base_and_builtins() -> None:
    assert "MlopsError" not in DOMAIN_ERROR_NAMES
    assert all(name.isidentifier() and name[0].isupper() for name in DOMAIN_ERROR_NAMES)
