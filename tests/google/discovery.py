"""Validate JSON bodies we send to the Google Wallet API against Google's discovery document.

The document is ``walletobjects.v1.json`` as shipped by google-api-python-client (found through
the installed ``googleapiclient`` package, never a fixed path). ``problems(schema, body)`` walks
``body`` through the named schema, following ``$ref``, ``items`` and ``additionalProperties``,
and returns one readable line per problem, each starting with a JSON path such as
``LoyaltyObject.loyaltyPoints.balance.int``.

What is checked:

* Unknown fields: a key that is not among the schema's ``properties`` (unless the schema has
  ``additionalProperties``). Close spellings are suggested.
* Types: ``string``, ``boolean``, ``integer`` (an ``int``, not a ``bool``; ``int32`` and
  ``uint32`` ranges), ``number`` (finite ``int`` or ``float``, not a ``bool``), ``object``,
  ``array``. ``null`` is never accepted: leave the field out instead.
* ``format: int64`` / ``uint64`` fields are declared ``type: string``: only a string of decimal
  digits (``int64`` may have a leading ``-``) inside the 64-bit range is accepted, never a
  Python ``int``. ``format: date-time`` strings must be RFC 3339 (no field of the current
  document uses that format; timestamps are ``DateTime`` objects with an ISO 8601 ``date``).
* ``enum``: the value must be listed, and values flagged in the parallel ``enumDeprecated``
  list (the legacy lowercase aliases such as ``"active"`` or ``"qrCode"``) are rejected.
* Deprecated fields: a property with ``"deprecated": true`` (``locations``, ``kind``, ...) is
  rejected and not descended into.

The document has no ``required`` arrays and no ``readOnly`` flags; both live in prose:

* **Required**: a property is required exactly when its description starts with
  ``"Required."`` (e.g. LoyaltyObject ``id``/``classId``/``state``; LoyaltyClass ``id``/
  ``issuerName``/``programName``/``programLogo``/``reviewStatus``). Other mentions are
  conditional or depend on the parent ("This is a required field of `loyaltyPoints`", "Required
  if the class has `activationOptions` set", "Offset is not required") and are not enforced, so
  Image, ImageUri, LocalizedString and TranslatedString have no required fields.
* **Output only**: a property is set by Google, and rejected in a body we send, when its
  description starts with ``"Output only."`` (Google's usual marker, absent from the current
  revision) or contains ``"set by the platform"`` (``hasUsers``, ``hasLinkedDevice``,
  ``review``) or ``"retrieved during a GET"`` (``classReference``). "The platform will
  automatically set this field to `approved`" on ``reviewStatus`` does not match: we send it.

Not checked: "exactly one of" constraints (Image ``sourceUri``/``privateImageId``, the
LoyaltyPointsBalance variants), length recommendations, ``format: byte`` contents. Required
fields are checked as for insert/update bodies; a PATCH body may legitimately omit them.
"""

from __future__ import annotations

import difflib
import json
import math
import re
from collections.abc import Mapping
from datetime import datetime
from functools import cache
from importlib.resources import files
from typing import Any

Node = Mapping[str, Any]

DOCUMENT = ("discovery_cache", "documents", "walletobjects.v1.json")
INTEGER_RANGES = {"int32": (-(2**31), 2**31 - 1), "uint32": (0, 2**32 - 1)}
DECIMAL_STRINGS = {
    "int64": (re.compile(r"-?[0-9]+"), -(2**63), 2**63 - 1),
    "uint64": (re.compile(r"[0-9]+"), 0, 2**64 - 1),
}
RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})")
OUTPUT_ONLY_MARKERS = ("set by the platform", "retrieved during a GET")


@cache
def schemas() -> dict[str, Node]:
    """The ``schemas`` section of the installed walletobjects.v1.json, keyed by schema id."""
    resource = files("googleapiclient")
    for part in DOCUMENT:
        resource = resource / part
    document: dict[str, Any] = json.loads(resource.read_text(encoding="utf-8"))
    found: dict[str, Node] = document["schemas"]
    return found


def problems(schema: str, body: object) -> list[str]:
    """Every problem found validating ``body`` against the discovery schema named ``schema``."""
    if schema not in schemas():
        raise KeyError(f"walletobjects.v1.json has no schema {schema!r}")
    found: list[str] = []
    _check(body, {"$ref": schema}, schema, found)
    return found


def assert_valid(schema: str, body: object) -> None:
    """Raise AssertionError listing every problem of ``body`` as a ``schema``."""
    found = problems(schema, body)
    if found:
        listing = "\n".join(f"  - {problem}" for problem in found)
        raise AssertionError(f"{schema} body does not match walletobjects.v1.json:\n{listing}")


def is_required(prop: Node) -> bool:
    return str(prop.get("description", "")).startswith("Required.")


def is_output_only(prop: Node) -> bool:
    description = str(prop.get("description", ""))
    return description.startswith("Output only.") or any(
        marker in description for marker in OUTPUT_ONLY_MARKERS
    )


def _resolve(node: Node) -> Node:
    while "$ref" in node:
        node = schemas()[node["$ref"]]
    return node


def _kind(value: object) -> str:
    return "null" if value is None else type(value).__name__


def _check(value: object, node: Node, path: str, found: list[str]) -> None:
    node = _resolve(node)
    kind = node.get("type")
    if kind == "object":
        _check_object(value, node, path, found)
    elif kind == "array":
        if not isinstance(value, list):
            found.append(f"{path}: expected array, got {_kind(value)}")
            return
        for index, item in enumerate(value):
            _check(item, node["items"], f"{path}[{index}]", found)
    else:
        found.extend(f"{path}: {problem}" for problem in _scalar_problems(value, node))


def _check_object(value: object, node: Node, path: str, found: list[str]) -> None:
    if not isinstance(value, dict):
        found.append(f"{path}: expected object, got {_kind(value)}")
        return
    properties: Mapping[str, Node] = node.get("properties", {})
    extra: Node | None = node.get("additionalProperties")
    for key, item in value.items():
        prop = properties.get(key)
        if prop is None and extra is not None:
            _check(item, extra, f"{path}[{key!r}]", found)
        elif prop is None:
            close = difflib.get_close_matches(str(key), properties, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            found.append(f"{path}.{key}: unknown field{hint}")
        elif prop.get("deprecated"):
            found.append(f"{path}.{key}: deprecated field")
        elif is_output_only(prop):
            found.append(f"{path}.{key}: output-only field, set by Google")
        else:
            _check(item, prop, f"{path}.{key}", found)
    for key, prop in properties.items():
        if key not in value and is_required(prop):
            found.append(f"{path}.{key}: required field missing")


def _scalar_problems(value: object, node: Node) -> list[str]:
    kind, fmt = node.get("type"), node.get("format")
    if kind == "string" and fmt in DECIMAL_STRINGS:
        pattern, low, high = DECIMAL_STRINGS[fmt]
        if not isinstance(value, str) or not pattern.fullmatch(value):
            return [f"expected {fmt} as a string of decimal digits, got {value!r}"]
        if not low <= int(value) <= high:
            return [f"{value} is outside the {fmt} range"]
    elif kind == "string":
        if not isinstance(value, str):
            return [f"expected string, got {_kind(value)}"]
        if fmt == "date-time" and not _is_rfc3339(value):
            return [f"expected an RFC 3339 date-time, got {value!r}"]
    elif kind == "boolean":
        if not isinstance(value, bool):
            return [f"expected boolean, got {_kind(value)}"]
    elif kind == "integer":
        if not isinstance(value, int) or isinstance(value, bool):
            return [f"expected integer, got {_kind(value)}"]
        bounds = INTEGER_RANGES.get(str(fmt))
        if bounds is not None and not bounds[0] <= value <= bounds[1]:
            return [f"{value} is outside the {fmt} range"]
    elif kind == "number":
        if not isinstance(value, int | float) or isinstance(value, bool):
            return [f"expected number, got {_kind(value)}"]
        if not math.isfinite(value):
            return [f"expected a finite number, got {value!r}"]
    else:
        raise ValueError(f"walletobjects.v1.json uses type {kind!r}, which this validator lacks")
    return _enum_problems(value, node)


def _enum_problems(value: object, node: Node) -> list[str]:
    allowed: list[str] | None = node.get("enum")
    if allowed is None:
        return []
    if value not in allowed:
        return [f"{value!r} is not one of {allowed}"]
    index = allowed.index(str(value))
    if node.get("enumDeprecated", [False] * len(allowed))[index]:
        note = node.get("enumDescriptions", [""] * len(allowed))[index]
        return [f"{value!r} is a deprecated enum value ({note})"]
    return []


def _is_rfc3339(text: str) -> bool:
    if not RFC3339.fullmatch(text):
        return False
    try:
        datetime.fromisoformat(text.upper())
    except ValueError:
        return False
    return True
