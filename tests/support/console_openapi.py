"""Check an API answer against the console's OpenAPI document; wait for the console to see a change."""

from __future__ import annotations

import time
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


def wait_until(check: Any, timeout: float = 10.0) -> Any:
    """Poll until `check()` returns something true (the watcher refreshes every poll interval)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, "the change never showed up"
        time.sleep(0.02)
