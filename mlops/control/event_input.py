"""What an EventBridge target receives from its rule (EventBridge user guide, "Transforming
target input"): the event, a constant Input, the value at an InputPath, or an
InputTransformer's template filled from the event. Used to redeliver a dead-lettered event
exactly as its rule would have.

Paths are the JSON paths EventBridge accepts for these fields in practice: `$`, `$.a.b` and
`$.a[0].b`; anything else is refused rather than guessed.
"""

from __future__ import annotations

import json
import re
from typing import Any

from mlops.control.errors import Refused

_STEP = re.compile(r"\.([^.\[\]]+)|\[(\d+)\]")
_PLACEHOLDER = re.compile(r"<([A-Za-z0-9_.\-]+)>")


def target_input(target: dict[str, Any], event: dict[str, Any], rule_arn: str, rule: str) -> str:
    if target.get("Input") is not None:
        return target["Input"]
    if target.get("InputPath"):
        return json.dumps(path_value(event, target["InputPath"]))
    transformer = target.get("InputTransformer")
    if transformer:
        values = {
            name: path_value(event, path)
            for name, path in (transformer.get("InputPathsMap") or {}).items()
        }
        values |= {
            "aws.events.event": event,
            "aws.events.event.json": event,
            "aws.events.rule-arn": rule_arn,
            "aws.events.rule-name": rule,
        }
        return render(transformer["InputTemplate"], values)
    return json.dumps(event)


def path_value(document: Any, path: str) -> Any:
    """The value at `path`; None where the event has none (EventBridge leaves it empty)."""
    if path == "$":
        return document
    if not path.startswith("$"):
        raise Refused(f"cannot read the JSON path {path!r}")
    rest, value = path[1:], document
    while rest:
        step = _STEP.match(rest)
        if step is None:
            raise Refused(f"cannot read the JSON path {path!r}")
        name, index = step.groups()
        if name is not None:
            value = value.get(name) if isinstance(value, dict) else None
        else:
            found = isinstance(value, list) and int(index) < len(value)
            value = value[int(index)] if found else None
        rest = rest[step.end() :]
    return value


def render(template: str, values: dict[str, Any]) -> str:
    """Fills `<name>` placeholders: inside a JSON string a value goes in as escaped text, outside
    one as JSON (a string quoted, an object as itself); an unknown name stays as written."""
    out, last, quoted = [], 0, False
    for match in _PLACEHOLDER.finditer(template):
        before = template[last : match.start()]
        quoted ^= _unescaped_quotes(before) % 2 == 1
        out.append(before)
        name = match.group(1)
        if name not in values:
            out.append(match.group(0))
        elif quoted:
            value = values[name]
            text = value if isinstance(value, str) else json.dumps(value)
            out.append(json.dumps(text)[1:-1])
        else:
            out.append(json.dumps(values[name]))
        last = match.end()
    out.append(template[last:])
    return "".join(out)


def _unescaped_quotes(text: str) -> int:
    return len(re.findall(r'(?<!\\)"', text))
