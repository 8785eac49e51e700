"""UpdateModelPackage as AWS documents it (SageMaker API reference, UpdateModelPackage):
CustomerMetadataProperties given are added or updated, CustomerMetadataPropertiesToRemove are
removed, and fields not given keep their values.

moto 5.2.5 (moto/sagemaker/models.py `update_model_package`) replaces the properties, the
approval description and the approval status with None when the request omits them, so an
approval erased a package's lineage (and the smoke test lost the dataset it reads).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from moto.sagemaker import models as sagemaker_models

from mlops.twin.seam import Patch, PatchSeam


class RegistrySeam(PatchSeam):
    def patches(self) -> Sequence[Patch]:
        backend = sagemaker_models.SageMakerModelBackend
        original = backend.update_model_package
        return [Patch(backend, "update_model_package", _keeping_omitted_fields(original))]


def _keeping_omitted_fields(original: Callable[..., str]) -> Callable[..., str]:
    def update_model_package(
        self: Any,
        model_package_arn: str,
        model_approval_status: Any,
        approval_description: Any,
        customer_metadata_properties: Any,
        customer_metadata_properties_to_remove: Any,
        additional_inference_specifications_to_add: Any,
    ) -> str:
        mapped = self.model_package_name_mapping.get(model_package_arn, model_package_arn)
        package = self.model_packages.get(mapped)
        previous = dict(package.customer_metadata_properties or {}) if package else {}
        previous_description = package.approval_description if package else None
        if model_approval_status is None and package is not None:
            model_approval_status = package.model_approval_status
        arn = original(
            self,
            model_package_arn,
            model_approval_status,
            approval_description,
            customer_metadata_properties,
            customer_metadata_properties_to_remove,
            additional_inference_specifications_to_add,
        )
        merged = previous | (customer_metadata_properties or {})
        for key in customer_metadata_properties_to_remove or []:
            merged.pop(key, None)
        package = self.model_packages[mapped]
        package.customer_metadata_properties = merged or None
        if approval_description is None:
            package.approval_description = previous_description
        return arn

    return update_model_package
