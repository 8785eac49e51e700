"""SageMaker framework image URIs, resolved with the sagemaker SDK (never inside a Lambda:
the template takes them as parameters, see README "Deploy")."""

from __future__ import annotations

import logging
import os
from functools import cache

SKLEARN_FRAMEWORK_VERSION = "1.2-1"  # the scikit-learn container ml/ is written for


@cache
def sklearn_image_uri(region: str, version: str = SKLEARN_FRAMEWORK_VERSION) -> str:
    os.environ.setdefault("SAGEMAKER_SUPPRESS_V2_WARNING", "1")
    logging.getLogger("sagemaker.config").setLevel(logging.WARNING)
    from sagemaker import image_uris  # slow import (~3 s): only when an URI is needed

    return image_uris.retrieve(
        "sklearn", region=region, version=version, instance_type="ml.m5.large"
    )
