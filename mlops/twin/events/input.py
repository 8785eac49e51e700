"""What an EventBridge target receives (EventBridge user guide, pages cited by name): the
whole event (eb-events), a constant Input, the value at an InputPath, or an InputTransformer's
template filled from the event (eb-transform-target-input)."""

from __future__ import annotations

import copy
import json
import re
import time as _time
from typing import Any

from jsonpath_ng import parse as jsonpath

from mlops.twin.aws.timestamps import iso_seconds
from mlops.twin.events.failures import DeliveryError

INPUT_KEYS = ("Input", "InputPath", "InputTransformer")
_ENVELOPE_KEYS = (
    "version",
    "id",
    "detail-type",
    "source",
    "account",
    "time",
    "region",
    "resources",
    "detail",
)
_PLACEHOLDER = re.compile(r"<([A-Za-z0-9_.\-]+)>")
_MISSING = object()


def _iso(value: Any) -> str:
    return iso_seconds(value) if isinstance(value, int | float) else str(value)


def envelope(event: dict[str, Any]) -> dict[str, Any]:
    """The event as targets receive it (eb-events): moto's internal float times made ISO 8601."""
    out = {key: copy.deepcopy(event.get(key)) for key in _ENVELOPE_KEYS}
    out["version"] = event.get("version") or "0"
    out["time"] = _iso(event.get("time", _time.time()))
    if "replay-name" in event:
        out["replay-name"] = event["replay-name"]
    return out


def _path_value(document: Any, path: str) -> Any:
    try:
        matches = [m.value for m in jsonpath(path).find(document)]
    except Exception as exc:  # noqa: BLE001 - jsonpath_ng raises plain Exception subclasses
        raise DeliveryError("INVALID_PARAMETER", f"bad JSON path {path!r}: {exc}", False) from exc
    if not matches:
        return _MISSING
    return matches[0] if len(matches) == 1 and "*" not in path else matches


def render_template(template: str, values: dict[str, Any]) -> str:
    """Fill <name> placeholders as EventBridge does (eb-transform-target-input).

    In a JSON template a placeholder outside quotes becomes the JSON value (strings quoted); inside
    a JSON string it becomes the raw text, unescaped. Plain-text templates get raw text. A variable
    whose path is missing is not created: empty text in a string, `null` elsewhere (the `null` is
    inferred so the JSON stays valid). moto's EventTemplateParser is not reused: it writes
    booleans as `False`, turns lists of numbers into lists of strings, leaves missing values as
    literal `<name>`, and lacks rule-arn, rule-name and aws.events.event.
    """
    json_shaped = template.lstrip()[:1] in ("{", "[", '"')
    out: list[str] = []
    in_string, i = False, 0
    while i < len(template):
        char = template[i]
        match = _PLACEHOLDER.match(template, i) if char == "<" else None
        if match and match.group(1) in values:
            value = values[match.group(1)]
            raw = in_string or not json_shaped
            if value is _MISSING:
                out.append("" if raw else "null")
            else:
                out.append(value if raw and isinstance(value, str) else json.dumps(value))
            i = match.end()
            continue
        if json_shaped and in_string and char == "\\":
            out.append(template[i : i + 2])
            i += 2
            continue
        if json_shaped and char == '"':
            in_string = not in_string
        out.append(char)
        i += 1
    return "".join(out)


def _minified(text: str) -> str:
    # "The JSON that is passed to the target is minified" (eb-transform-target-input).
    try:
        return json.dumps(json.loads(text), separators=(",", ":"))
    except ValueError:
        return text


def target_input(
    target: dict[str, Any], event: dict[str, Any], rule_arn: str, rule_name: str
) -> str:
    """The text a target receives: whole event, Input, InputPath or InputTransformer."""
    chosen = [key for key in INPUT_KEYS if target.get(key) is not None]
    if len(chosen) > 1:  # PutTargets allows only one; moto does not check
        raise DeliveryError("INVALID_PARAMETER", f"only one of {chosen} may be set", False)
    whole = envelope(event)
    if not chosen:
        return json.dumps(whole, separators=(",", ":"))
    if chosen[0] == "Input":
        return target["Input"]
    if chosen[0] == "InputPath":
        value = _path_value(whole, target["InputPath"])
        return json.dumps(None if value is _MISSING else value, separators=(",", ":"))
    transformer = target["InputTransformer"]
    values = {
        name: _path_value(whole, path)
        for name, path in (transformer.get("InputPathsMap") or {}).items()
    }
    values.update(
        {  # reserved names win: they "can't be overwritten"
            "aws.events.rule-arn": rule_arn,
            "aws.events.rule-name": rule_name,
            "aws.events.event.ingestion-time": _iso(event.get("ingestion-time", _time.time())),
            "aws.events.event": {k: v for k, v in whole.items() if k != "detail"},
            "aws.events.event.json": whole,
        }
    )
    template = transformer["InputTemplate"]
    rendered = render_template(template, values)
    return _minified(rendered) if template.lstrip()[:1] in ("{", "[") else rendered
