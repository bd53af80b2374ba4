"""One user-facing error type, so every CLI reports problems the same way."""

from __future__ import annotations


class BatonError(Exception):
    """A problem the user can fix: printed as one line, exit status 1 (or `exit_code`)."""

    exit_code = 1

    def __init__(self, message: str, *, exit_code: int | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


class ConfigError(BatonError):
    """A configuration file (baton.yaml, operators.yaml, notion.yaml) is missing or malformed."""

    exit_code = 2
