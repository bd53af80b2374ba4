"""scripts/mcp_server.py over real stdio with the MCP SDK's client: five read-only tools, errors the model can read."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import anyio
from conftest import SCRIPTS
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from store_factory import session

TOOLS = {"search_notes", "get_note", "recent_sessions", "list_workstreams", "decisions"}


def talk(root: Path, calls: list[tuple[str, dict[str, Any]]]) -> tuple[list[Any], list[tuple[bool, str]]]:
    async def main() -> tuple[list[Any], list[tuple[bool, str]]]:
        params = StdioServerParameters(command=sys.executable,
                                       args=[str(SCRIPTS / "mcp_server.py"), "--root", str(root)])
        async with stdio_client(params) as (read, write), ClientSession(read, write) as client:
            await client.initialize()
            tools = (await client.list_tools()).tools
            results = []
            for name, arguments in calls:
                result = await client.call_tool(name, arguments)
                results.append((bool(result.is_error), "".join(getattr(c, "text", "") for c in result.content)))
            return tools, results

    return anyio.run(main)


def test_the_server_offers_five_read_only_tools_and_answers_from_the_working_tree(repo: Path) -> None:
    session(repo, "RT-261120-01", "rt", "2026-11-20", title="Datum conversion", decisions="- Chart datum is opt-in.")
    tools, results = talk(repo, [
        ("search_notes", {"query": "datum"}),
        ("get_note", {"id": "RT-261120-01", "sections": ["Decisions"]}),
        ("decisions", {"query": "opt*"}),
        ("recent_sessions", {}),
        ("list_workstreams", {}),
    ])
    assert {t.name for t in tools} == TOOLS
    assert all(t.annotations.read_only_hint and not t.annotations.destructive_hint for t in tools)
    assert [error for error, _ in results] == [False] * 5
    assert "RT-261120-01 | session | 2026-11-20 | rt | Datum conversion" in results[0][1]
    assert "Chart datum is opt-in." in results[1][1]
    assert "**opt**-in" in results[2][1]
    assert results[3][1].startswith("1 newest sessions") and results[4][1] == "no workstreams"


def test_a_secret_pasted_into_a_note_never_reaches_the_model(repo: Path) -> None:
    token = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
    session(repo, "RT-261120-01", "rt", "2026-11-20", title="Deploy token", decisions=f"- Use {token} for deploys.")
    _, results = talk(repo, [("search_notes", {"query": "deploy*"}), ("get_note", {"id": "RT-261120-01"}),
                             ("decisions", {"query": "deploys"})])
    for _error, text in results:
        assert "RT-261120-01" in text and token not in text
    assert "[REDACTED:github-token]" in results[1][1]


def test_a_bad_query_or_unknown_id_reaches_the_model_as_an_error_it_can_read(repo: Path) -> None:
    _, results = talk(repo, [("search_notes", {"query": '"unclosed'}), ("get_note", {"id": "NOPE"})])
    assert results[0][0] and "not a valid search query" in results[0][1]
    assert results[1][0] and "no note with id 'NOPE'" in results[1][1]
