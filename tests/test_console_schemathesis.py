"""schemathesis explores the API from /openapi.json (the event stream excluded): no server error, and every
answer has a documented status and matches its schema."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pytest

warnings.filterwarnings("ignore", message=".*httpx.*")

schemathesis = pytest.importorskip("schemathesis", reason="schemathesis is not installed (pip install -e '.[dev]')")

from hypothesis import HealthCheck, settings  # noqa: E402
from lib.console.app import Security, allowed_hosts_for, create_app  # noqa: E402
from lib.console.data import Console, Settings  # noqa: E402
from schemathesis import checks as st_checks  # noqa: E402
from support.console_store import build  # noqa: E402


def _app(root: Path) -> Any:
    for folder in ("docs/sessions", "workstreams", ".claude/state"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    build(root)
    console = Console([root], Settings(poll_interval_s=0.05, stop_timeout_s=1))
    # Bound, as far as the Host check knows, to the name schemathesis's ASGI client sends.
    return create_app(console, Security(token="schemathesis-token", allowed_hosts=allowed_hosts_for("testserver", 80)))


_ROOT = Path(__import__("tempfile").mkdtemp(prefix="baton-schemathesis-"))
APP = _app(_ROOT / "repo")
schema = schemathesis.openapi.from_asgi("/openapi.json", APP).exclude(path="/api/events")

CHECKS = [st_checks.not_a_server_error]
for name in ("status_code_conformance", "content_type_conformance", "response_schema_conformance"):
    check = getattr(st_checks, name, None)
    if check is not None:
        CHECKS.append(check)


@schema.parametrize()  # type: ignore[untyped-decorator,unused-ignore]
@settings(max_examples=4, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
def test_api_has_no_server_error(case: Any) -> None:
    case.call_and_validate(checks=CHECKS)
