"""Old import path of the Model Registry seam (mlops.twin.sagemaker.registry), kept for test
modules outside the twin's own paths (tests/unit). Delete once they import the new path."""

from mlops.twin.sagemaker.registry import install_registry_seam, uninstall_registry_seam

__all__ = ["install_registry_seam", "uninstall_registry_seam"]
