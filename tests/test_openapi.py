"""The committed spec is what the app serves, and every operation is documented."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

from order_service.cli import openapi_spec

SPEC_FILE = Path(__file__).parents[1] / "openapi" / "openapi.json"


def test_committed_spec_matches_the_app() -> None:
    committed = json.loads(SPEC_FILE.read_text())
    assert committed == openapi_spec(), (
        "openapi/openapi.json is stale: run `make openapi` (order-service openapi -o ...)"
    )


def test_every_operation_has_summary_description_and_errors() -> None:
    spec: dict[str, Any] = openapi_spec()
    for path, methods in spec["paths"].items():
        for method, op in methods.items():
            where = f"{method.upper()} {path}"
            assert op.get("summary"), where
            assert len(op.get("description", "")) > 20, where
            if path.startswith("/v1"):
                codes = set(op["responses"])
                assert "401" in codes, where
                if "Roles: any." not in op["description"]:
                    assert "403" in codes, where
                assert (
                    any(c.startswith("4") and c not in {"401", "403"} for c in codes)
                    or method == "get"
                ), where


# A path on this service quoted in a page: an attribute value or a string in its script.
_LOCAL_REFERENCE = re.compile(r"""["'](/[^/"'\s][^"'\s]*)["']""")
_CONTENT_TYPES = {
    ".js": ("text/javascript", "application/javascript"),
    ".css": ("text/css",),
    ".png": ("image/png",),
    ".json": ("application/json",),
}


async def test_docs_work_with_no_internet(client: httpx.AsyncClient) -> None:
    """Both pages load everything they need from the service: no CDN, no Google Fonts."""
    for page in ("/docs", "/redoc"):
        response = await client.get(page)
        assert response.status_code == 200, page
        html = response.text
        assert "://" not in html and not re.search(r"""["'(]//""", html), (page, html)
        references = set(_LOCAL_REFERENCE.findall(html))
        assert "/openapi.json" in references, (page, references)
        assert any(ref.endswith(".js") for ref in references), (page, references)
        for reference in references:
            asset = await client.get(reference)
            assert asset.status_code == 200, (page, reference)
            suffix = Path(reference).suffix
            expected = _CONTENT_TYPES.get(suffix, ("text/html",))
            assert asset.headers["content-type"].startswith(expected), (reference, asset.headers)
            assert asset.content, reference
    served = (await client.get("/openapi.json")).json()
    assert served["info"]["title"] == "order-service"


def test_component_names_are_identifiers() -> None:
    """Clashing class names came out as `order_service__orders__schemas__FulfillmentStatus`
    and `FulfillmentStatus-Input`; a client generator makes odd classes of those."""
    names = list(openapi_spec()["components"]["schemas"])
    assert [name for name in names if not re.fullmatch(r"[A-Z][A-Za-z0-9]*", name)] == []


_IMPORT_EVERY_MODULE = """
import importlib, json, pkgutil, sys
import client, client.api, client.models
for module in pkgutil.walk_packages(client.api.__path__, "client.api."):
    importlib.import_module(module.name)
spec = json.load(open(sys.argv[1]))
print(json.dumps([
    name for name, schema in spec["components"]["schemas"].items()
    if not hasattr(client.models, name) and "oneOf" not in schema
]))
"""


def test_a_generated_python_client_imports(tmp_path: Path) -> None:
    """openapi-python-client turns the committed spec into a client, with no warning (a
    warning means a schema or an operation left out), and every module of it imports, each
    component a class of its own name."""
    config = tmp_path / "config.yaml"
    config.write_text("post_hooks: []\n")  # no formatter run: the import below checks syntax
    generated = subprocess.run(  # noqa: S603 - our own tool and arguments
        [
            str(Path(sys.executable).with_name("openapi-python-client")),
            "generate", "--path", str(SPEC_FILE), "--meta", "none", "--config", str(config),
            "--output-path", str(tmp_path / "client"), "--fail-on-warning",
        ],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert generated.returncode == 0, generated.stdout + generated.stderr
    imported = subprocess.run(  # noqa: S603 - our own interpreter and script
        [sys.executable, "-c", _IMPORT_EVERY_MODULE, str(SPEC_FILE)],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert imported.returncode == 0, imported.stderr
    assert json.loads(imported.stdout) == [], "components without a class of their own name"


def test_every_operation_has_request_and_response_examples() -> None:
    spec: dict[str, Any] = openapi_spec()
    schemas = spec["components"]["schemas"]

    def has_example(content: dict[str, Any]) -> bool:
        for media in content.values():
            if "example" in media or "examples" in media:
                return True
            ref = media.get("schema", {}).get("$ref", "")
            if ref and "examples" in schemas[ref.split("/")[-1]]:
                return True
        return False

    missing = []
    for path, methods in spec["paths"].items():
        for method, op in methods.items():
            body = op.get("requestBody")
            if body and not has_example(body["content"]):
                missing.append(f"request of {method.upper()} {path}")
            for status, response in op["responses"].items():
                content = response.get("content", {})
                json_2xx = status.startswith("2") and "application/json" in content
                if json_2xx and not has_example(content):
                    missing.append(f"{status} of {method.upper()} {path}")
    assert missing == [], "run openapi/capture_examples.py: " + ", ".join(missing)


def test_problems_are_documented_as_what_is_sent() -> None:
    """Found by fuzzing: problem responses were documented as `application/json` only, 422s as
    FastAPI's own shape, and shared refusals (bad JSON, too large, bad keys) not at all."""
    spec: dict[str, Any] = openapi_spec()
    assert "Problem" in spec["components"]["schemas"]
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    for path, methods in spec["paths"].items():
        if not path.startswith("/v1"):
            continue
        for method, op in methods.items():
            where = f"{method.upper()} {path}"
            codes = op["responses"]
            for status, response in codes.items():
                if status.startswith(("4", "5")):
                    assert list(response["content"]) == ["application/problem+json"], where
                    schema = response["content"]["application/problem+json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/Problem"}, where
            params = {p["name"] for p in op.get("parameters", [])}
            if params - {"Idempotency-Key"} or "requestBody" in op:
                assert "422" in codes, where
            if "requestBody" in op:
                assert {"400", "413"} <= set(codes), where
            if method == "post":
                assert "Idempotency-Key" in params, where
            assert "503" in codes, where


def test_no_request_string_is_documented_as_accepting_nul() -> None:
    """Found by fuzzing in CI: `tracking_url`'s own pattern admitted NUL, which the service
    refuses; every request string must carry a rule that excludes it."""
    spec: dict[str, Any] = openapi_spec()
    schemas = spec["components"]["schemas"]
    offenders = []
    for name, schema in schemas.items():
        for field, prop in schema.get("properties", {}).items():
            for option in prop.get("anyOf", [prop]):
                if option.get("type") != "string" or "pattern" not in option:
                    continue
                rules = [option["pattern"]] + [a["pattern"] for a in option.get("allOf", [])]
                if all(re.search(rule, "https://a\x00b") for rule in rules):
                    offenders.append(f"{name}.{field}")
    assert offenders == []
