"""No string the API takes may contain NUL (U+0000): PostgreSQL text cannot hold it.

One rule for every `/v1` operation, enforced before the endpoint runs (path, query and JSON
body, keys included) with a 422 `validation_error` naming each field, and documented as a
`pattern` on every string a request can carry.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from fastapi.exceptions import RequestValidationError
from starlette.requests import Request

NUL_FREE = "^[^\\x00]*$"
MESSAGE = "String must not contain NUL (\\u0000) characters"
_UNCONSTRAINED = ("pattern", "enum", "const", "format")


def _in_json(value: Any, loc: tuple[str | int, ...]) -> Iterator[tuple[str | int, ...]]:
    if isinstance(value, str):
        if "\x00" in value:
            yield loc
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _in_json(item, (*loc, index))
    elif isinstance(value, dict):
        for key, item in value.items():
            if "\x00" in key:
                yield (*loc, key)
            yield from _in_json(item, (*loc, key))


async def reject(request: Request) -> None:
    """Raise the 422 validation problem if any string of the request holds a NUL."""
    found: list[tuple[str | int, ...]] = [
        ("path", name) for name, value in request.path_params.items() if "\x00" in str(value)
    ]
    if request.scope.get("query_string"):
        found += [
            ("query", name)
            for name, value in request.query_params.multi_items()
            if "\x00" in name + value
        ]
    body = await request.body()
    if b"\\u0000" in body or b"\x00" in body:
        try:
            parsed = json.loads(body)
        except ValueError:
            parsed = None  # FastAPI answers 400 invalid_json
        found += _in_json(parsed, ("body",))
    if found:
        raise RequestValidationError(
            [{"loc": loc, "msg": MESSAGE, "type": "string_pattern_mismatch"} for loc in found]
        )


def _excludes_nul(node: dict[str, Any]) -> bool:
    """True when the node's own pattern cannot match a string holding NUL, as far as a
    probe of typical matching strings shows; otherwise the NUL-free rule is added."""
    pattern = re.compile(node["pattern"])
    probes = ("\x00", "a\x00", "https://a\x00b", "A\x00B", "1\x00")
    return not any(pattern.search(probe) for probe in probes)


def document(spec: dict[str, Any]) -> None:
    """Give every unconstrained string of a request (parameters and bodies) the NUL-free
    pattern, following `$ref`s into the components the bodies use."""
    schemas = spec.get("components", {}).get("schemas", {})
    seen: set[str] = set()

    def visit(node: Any) -> None:
        if not isinstance(node, dict):
            return
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
            name = ref.rsplit("/", 1)[1]
            if name not in seen and name in schemas:
                seen.add(name)
                visit(schemas[name])
        if node.get("type") == "string" and not any(k in node for k in _UNCONSTRAINED):
            node["pattern"] = NUL_FREE
        elif node.get("type") == "string" and "pattern" in node and not _excludes_nul(node):
            # A pattern of its own may still admit NUL (`[^\s]+` does): require both.
            node.setdefault("allOf", []).append({"pattern": NUL_FREE})
        for key in ("items", "additionalProperties", "not"):
            visit(node.get(key))
        for key in ("anyOf", "oneOf", "allOf", "prefixItems"):
            for item in node.get(key, []):
                visit(item)
        for item in node.get("properties", {}).values():
            visit(item)

    for operations in spec.get("paths", {}).values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                visit(parameter.get("schema"))
            for media in operation.get("requestBody", {}).get("content", {}).values():
                visit(media.get("schema"))
