"""Old functions of the Model Registry seam, now `mlops.twin.sagemaker.registry.RegistrySeam`,
kept for test modules outside the twin's own paths (tests/unit). Delete once they use the
seam itself (`with RegistrySeam(): ...`)."""

from mlops.twin.sagemaker.registry import RegistrySeam

_SEAM = RegistrySeam()


def install_registry_seam() -> None:
    _SEAM.install()


def uninstall_registry_seam() -> None:
    _SEAM.uninstall()
