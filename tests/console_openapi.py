"""Check an API answer against the console's OpenAPI document."""

from __future__ import annotations

from typing import Any

import jsonschema
from lib.console import openapi

DOC = openapi.document()


def response_schema(path: str, method: str, status: int) -> dict[str, Any]:
    op = DOC["paths"][path][method]
    content = op["responses"][str(status)]["content"]
    schema = next(iter(content.values()))["schema"]
    return {**schema, "components": DOC["components"]}


def check(response: Any, path: str, status: int = 200, method: str = "get") -> Any:
    """The status is as expected and the body validates against the OpenAPI document."""
    assert response.status_code == status, response.text
    body = response.json()
    jsonschema.Draft202012Validator(response_schema(path, method, status)).validate(body)
    return body
