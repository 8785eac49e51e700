"""Domain errors. Each class name is the error name the state machines match in Retry/Catch.

Lambda reports a raised exception as ``errorType = exc.__class__.__name__``; Step Functions
surfaces that as the state's error, so renaming a class here is an interface change
(tests/workflows/test_asl_definitions.py checks every name the ASL catches exists here).
"""


class MlopsError(Exception):
    """Base of every expected, operator-actionable failure."""


class ConfigurationInvalid(MlopsError):
    """The stack's problem definition (ProblemType, PrimaryMetric, MinimumMetric,
    CandidateConfigs, ...) does not hold together; raised at a function's cold start, before
    anything is trained."""


class EventMalformed(MlopsError):
    """The triggering event does not have the shape this workflow expects."""


class DatasetInvalid(MlopsError):
    """The uploaded dataset breaks the documented contract; nothing is trained."""


class TrainingFailed(MlopsError):
    """No candidate finished training and evaluation."""


class SpotCapacityUnavailable(MlopsError):
    """No candidate finished, and every one that failed was a spot training job that waited for
    capacity past StoppingCondition.MaxWaitTimeInSeconds (Stopped, MaxWaitTimeExceeded)."""


class EvaluationInvalid(MlopsError):
    """An evaluation report is missing or does not have the documented shape."""


class ModelPackageNotFound(MlopsError):
    """The model package named by the event does not exist (any more)."""


class DeploymentConfigInvalid(MlopsError):
    """The deployment strategy parameters are rejected before any AWS call."""


class CandidateTestModesConflict(MlopsError):
    """ShadowMode and ABTestMode are both on: a candidate is tested one way or the other."""


class AutoScalingConfigInvalid(MlopsError):
    """The autoscaling parameters do not hold together (min >= 1, max >= min, target > 0,
    cooldowns >= 0); nothing is registered."""


class DeploymentFailed(MlopsError):
    """The endpoint ended Failed, or did not end on the target config."""


class DeploymentRolledBack(MlopsError):
    """Guardrails rolled the update back: the endpoint serves the previous config."""


class UpdateRollbackFailed(MlopsError):
    """The update and its rollback both failed; the fleet may be mixed. Needs an operator."""


class SmokeTestFailed(MlopsError):
    """The endpoint is InService but a real InvokeEndpoint did not return valid predictions."""


class NothingToRollBack(MlopsError):
    """No approved package other than the live one exists."""


class ModelProvenanceInvalid(MlopsError):
    """A package's model, image or code is not what this stack registered (or its provenance
    cannot be recorded): nothing is deployed from it."""


class ChampionChanged(MlopsError):
    """At registration the champion (domain.champion) is no longer the one the candidates were
    evaluated against: nothing is registered; the workflow evaluates them again."""


class RegistryBusy(MlopsError):
    """Another run kept the model registry's turn (a ledger lock) longer than registration
    waits for it; nothing is registered."""


#: Every error name a state machine may Catch. Kept next to the classes it lists.
DOMAIN_ERROR_NAMES = frozenset(cls.__name__ for cls in MlopsError.__subclasses__())
