"""Adopting baton in a repository: payload, install, git hooks, Claude settings, plugin."""
