"""Recall: answers about what the team wrote, each within a token budget (the MCP server's tools)."""
