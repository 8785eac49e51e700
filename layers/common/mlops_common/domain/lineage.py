"""What a registered version records about the run that trained it, beyond scores: the exact
dataset version and the run's own copy of it, and why the run happened (upload or retrain
request: attempt, reason, who asked).

CustomerMetadataProperties (botocore model sagemaker, shape CustomerMetadataMap) takes at most
50 entries; each value is 1 to 256 characters of letters, separators, digits and `_.:/=+-@`.
Free text (a retrain reason) is made to fit: other characters become spaces, runs of spaces
one, and the value is cut at 256. The ledger keeps the text as given.
"""

import re
import unicodedata

from ..models import RunContext
from .feature_schema import describe

MAX_VALUE_CHARS = 256
ALLOWED_PUNCTUATION = frozenset("_.:/=+-@")


def metadata_value(text: str) -> str:
    """`text` as a CustomerMetadataProperties value ("" if nothing of it fits)."""
    kept = "".join(
        c if unicodedata.category(c)[0] in "LZN" or c in ALLOWED_PUNCTUATION else " " for c in text
    )
    return re.sub(r"\s+", " ", kept).strip()[:MAX_VALUE_CHARS].strip()


def run_lineage(run: RunContext) -> dict[str, str]:
    """The run's trigger and exact data, as metadata properties (empty values left out)."""
    trigger = run.trigger
    values = {
        "dataset_etag": run.dataset.etag,
        "dataset_snapshot": run.dataset.snapshot_uri or "",
        # A dataset in parts: how many, and the list of parts with their versions.
        "dataset_parts": str(run.dataset.parts) if run.dataset.parts else "",
        "dataset_parts_manifest": run.dataset.parts_manifest_uri or "",
        "trigger": trigger.kind if trigger else "",
        "attempt": str(trigger.attempt) if trigger else "",
        "requested_by": (trigger.requested_by or "") if trigger else "",
        "retrain_reason": (trigger.reason or "") if trigger else "",
        "retrain_request_id": (trigger.request_id or "") if trigger else "",
        # A declared schema change: the version was judged on MinimumMetric alone.
        "schema_change": describe(run.schema_change) if run.schema_change else "",
    }
    cleaned = {name: metadata_value(value) for name, value in values.items()}
    return {name: value for name, value in cleaned.items() if value}
