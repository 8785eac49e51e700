"""Old import path of the Step Functions seam (mlops.twin.stepfunctions.patches), kept for test
modules outside the twin's own paths (tests/workflows). Delete once they import the new path."""

from mlops.twin.stepfunctions.patches import install_sfn_seams

__all__ = ["install_sfn_seams"]
