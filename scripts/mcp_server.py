"""baton's MCP server (stdio): lets Claude look up what the team wrote, read-only.

Tools: search_notes (compact ranked hits), get_note (chosen sections or all),
recent_sessions (an operator's or the team's), list_workstreams, decisions (the
decisions sections matching a query). Every answer fits a token budget and says
what it cut. The store index is brought up to date by stat before each answer, so
what Claude sees is the working tree. Answers pass through lib.security.redact before
they reach the model.

Registered as the `baton` server by this repository's .mcp.json, by the installer
and by the plugin; telemetry counts its calls under `mcp__baton`.

    ./scripts/py scripts/mcp_server.py [--root DIR]
"""

from __future__ import annotations

import _project_python  # noqa: F401  (first: re-executes with baton's Python when needed)

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from lib.core.errors import BatonError
from lib.core.paths import find_root
from lib.recall import answers
from lib.security.redact import redact_text
from lib.store.index import Index
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations

NAME = "baton"
INSTRUCTIONS = ("baton keeps this repository's team notes: sessions (with decisions, open questions and Resume "
                "Prompts), workstreams, plans, ADRs and learnings. Use search_notes to find what was decided or "
                "done before, then get_note for the sections you need.")
READ_ONLY = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True,
                            open_world_hint=False)


def build_server(root: Path) -> MCPServer:
    server: MCPServer = MCPServer(NAME, instructions=INSTRUCTIONS, log_level="WARNING")

    def with_index(answer: Callable[[Index], str]) -> str:
        # A fresh connection per call: tools may run on different threads, and a refresh by stat
        # costs a few milliseconds.
        try:
            with Index(root) as index:
                index.refresh(validate=False)
                # What a tool returns goes to the model's API: a secret someone pasted into a note stays here.
                return redact_text(answer(index)).text
        except BatonError as exc:  # a bad query or an unknown id: the model should read why
            raise ToolError(str(exc)) from None

    @server.tool(annotations=READ_ONLY)
    def search_notes(query: str, kind: str | None = None, operator: str | None = None,
                     workstream: str | None = None, since: str | None = None, limit: int = 10,
                     budget: int = answers.DEFAULT_BUDGET) -> str:
        """Full-text search of the team's notes, best first (BM25): one compact line per hit (id, kind,
        date, operator, title) and a snippet with matches in **bold**. Query syntax: words (all must
        match), "a phrase", prefix*, OR, NOT, and field: word (title, summary, tags, decisions, questions,
        prompt, body). Filters: kind (session, workstream, plan, adr, learning), operator slug, workstream
        slug, since (YYYY-MM-DD). budget: the most tokens the answer may use."""
        return with_index(lambda ix: answers.search_notes(ix, query, kind=kind, operator=operator,
                                                          workstream=workstream, since=since, limit=limit,
                                                          budget=budget))

    @server.tool(annotations=READ_ONLY)
    def get_note(id: str, sections: list[str] | None = None,
                 budget: int = answers.DEFAULT_BUDGET * 2) -> str:
        """One note by its id (from search_notes) or path: its key fields and body sections. sections:
        headings to return (e.g. ["Decisions", "Resume Prompt"]); all when omitted."""
        return with_index(lambda ix: answers.get_note(ix, id, sections=sections, budget=budget))

    @server.tool(annotations=READ_ONLY)
    def recent_sessions(operator: str | None = None, limit: int = 10,
                        budget: int = answers.DEFAULT_BUDGET) -> str:
        """The newest written sessions, an operator's (slug) or the whole team's, with their summaries."""
        return with_index(lambda ix: answers.recent_sessions(ix, operator=operator, limit=limit, budget=budget))

    @server.tool(annotations=READ_ONLY)
    def list_workstreams(include_closed: bool = False, budget: int = answers.DEFAULT_BUDGET) -> str:
        """The workstreams (live ones unless include_closed): slug, status, owner, title, last session."""
        return with_index(lambda ix: answers.list_workstreams(ix, include_closed=include_closed, budget=budget))

    @server.tool(annotations=READ_ONLY)
    def decisions(query: str, limit: int = 10, budget: int = answers.DEFAULT_BUDGET) -> str:
        """What the team decided about something: the Decisions sections that match the query, best first."""
        return with_index(lambda ix: answers.decisions(ix, query, limit=limit, budget=budget))

    return server


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mcp_server.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, help="repository root (default: $CLAUDE_PROJECT_DIR or git's top level)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    root = (args.root or find_root()).resolve()
    if not root.is_dir():
        print(f"mcp_server.py: error: no such folder: {root}", file=sys.stderr)
        return 2
    build_server(root).run()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
