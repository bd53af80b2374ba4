"""`.baton/manifest.json`: every file the installer put in place, the folders it made, and how
settings.json and .gitignore looked before, so upgrade and uninstall are exact."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lib.adopt.layout import MANIFEST
from lib.core import atomic, git
from lib.core.errors import BatonError

MANIFEST_VERSION = 1


def load_manifest(target: Path) -> dict[str, Any] | None:
    path = target / MANIFEST
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise BatonError(f"{path}: cannot read: {exc}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BatonError(f"{path}:{exc.lineno}: not valid JSON ({exc.msg})") from None
    if not isinstance(data, dict) or data.get("manifest_version") != MANIFEST_VERSION:
        raise BatonError(f"{path}: /manifest_version must be {MANIFEST_VERSION}")
    if not isinstance(data.get("files"), dict) or not isinstance(data.get("dirs", []), list):
        raise BatonError(f"{path}: /files must be an object and /dirs a list")
    for rel in [*data["files"], *data.get("dirs", [])]:
        _check_rel(rel, path)
    return data


def _check_rel(rel: Any, source: Path) -> None:
    """A manifest path must stay inside the repository (it decides what uninstall deletes)."""
    if not isinstance(rel, str) or not rel or rel.startswith("/") or "\\" in rel:
        raise BatonError(f"{source}: {rel!r} is not a relative path")
    if any(part in ("", ".", "..", ".git") for part in rel.split("/")):
        raise BatonError(f"{source}: {rel!r} is not a plain path inside the repository")


def save_manifest(target: Path, manifest: Mapping[str, Any]) -> None:
    atomic.write_text(target / MANIFEST, json.dumps(manifest, indent=2, sort_keys=True) + "\n")


def baton_version(source: Path) -> str:
    try:
        import tomllib

        with open(source / "pyproject.toml", "rb") as fh:
            return str(tomllib.load(fh)["project"]["version"])
    except (OSError, KeyError, ValueError):
        return "unknown"


def source_commit(source: Path) -> str | None:
    try:
        out = git.run(source, "rev-parse", "HEAD", env=git.ELSEWHERE)
    except BatonError:
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


