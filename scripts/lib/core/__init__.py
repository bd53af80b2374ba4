"""Shared foundations: errors, paths, atomic writes, settings, git, CLI reporting."""
