"""Old function of the Step Functions seam, now `mlops.twin.stepfunctions.patches.
StepFunctionsSeam`, kept for test modules outside the twin's own paths (tests/workflows), which
install it for the rest of the process. Delete once they use the seam itself."""

from mlops.twin.stepfunctions.patches import StepFunctionsSeam

_SEAM = StepFunctionsSeam()


def install_sfn_seams() -> None:
    _SEAM.install()
