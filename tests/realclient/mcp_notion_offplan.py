"""A tiny stdio MCP server named notion_offplan, so the real CLI makes real mcp__notion_offplan__* calls."""

from __future__ import annotations

from mcp.server.mcpserver import MCPServer

server: MCPServer = MCPServer("notion_offplan")


@server.tool()
def search(query: str) -> str:
    """Search the (pretend) Notion workspace."""
    return f"no pages match {query}"


@server.tool()
def create_page(title: str) -> str:
    """Create a (pretend) Notion page."""
    return f"created {title}"


if __name__ == "__main__":
    server.run()
