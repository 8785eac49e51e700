"""JSONPath evaluation with AWS Step Functions' definite/indefinite path rule.

Step Functions evaluates JSONPath the way Jayway JsonPath does: a *definite* path (only plain
field names and single array indexes, e.g. ``$.out[0].v``) yields one value; an *indefinite* path
(wildcard, slice, filter, deep scan, union, several indexes) yields a list. moto 5.2.5's
``extract_json`` instead returns a list whenever the match's parent step is an array index, so
``$.items[1].name`` became ``["b"]`` instead of ``"b"``.

jsonpath-ng (already used by moto) still parses and matches; only the list-or-scalar decision
is made here, from the parsed expression rather than from regexes over the path text.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from jsonpath_ng import jsonpath as jp
from jsonpath_ng.ext import parse
from jsonpath_ng.ext.filter import Filter

ExtractJson = Callable[[str, Any], Any]

# Steps that can select any number of nodes. Their presence anywhere makes a path indefinite.
_INDEFINITE_STEPS: tuple[type, ...] = (
    jp.Wildcard,
    jp.Slice,
    jp.Descendants,
    jp.Where,  # WhereNot subclasses Where
    jp._Union,
    jp._Intersect,
    Filter,
)


class _UnknownStep(Exception):
    """The expression uses a jsonpath-ng extension (len, sorted, arithmetic...) AWS lacks."""


def is_indefinite(expression: jp.JSONPath) -> bool:
    """True when the parsed path may select several nodes (Jayway's 'indefinite path')."""
    if isinstance(expression, _INDEFINITE_STEPS):
        return True
    if isinstance(expression, jp.Child):
        return is_indefinite(expression.left) or is_indefinite(expression.right)
    if isinstance(expression, jp.Fields):
        return len(expression.fields) != 1 or expression.fields[0] == "*"
    if isinstance(expression, jp.Index):
        return len(expression.indices) != 1
    if isinstance(expression, (jp.Root, jp.This)):
        return False
    raise _UnknownStep(type(expression).__name__)


def make_extract_json(moto_extract_json: ExtractJson, no_such_path: type[Exception]) -> ExtractJson:
    """Build a drop-in replacement for moto's ``extract_json(path, data)``.

    ``no_such_path`` is moto's NoSuchJsonPathError (its interpreter turns it into the
    States.Runtime failure AWS reports); paths using syntax outside the AWS subset keep moto's
    own handling.
    """

    def extract_json(path: str, data: Any) -> Any:
        expression = parse(path)
        try:
            indefinite = is_indefinite(expression)
        except _UnknownStep:
            return moto_extract_json(path, data)
        values = [match.value for match in expression.find(data)]
        if indefinite:
            return values  # an indefinite path that matches nothing yields [] (Jayway)
        if not values:
            raise no_such_path(json_path=path, data=data)
        return values[0]

    extract_json.__doc__ = "Definite paths yield one value, indefinite paths a list (AWS rule)."
    return extract_json
