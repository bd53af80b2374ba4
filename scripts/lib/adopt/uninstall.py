"""Removing baton from a repository: exactly what `.baton/manifest.json` says the installer made, and only
where it is still as the installer left it (a changed file is kept and listed)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lib.adopt import claude_settings, githooks, mcp
from lib.adopt.layout import (
    BLOCK,
    GIT_HOOK,
    GIT_HOOK_TARGET,
    LOCATION,
    MANIFEST,
    OPERATORS,
    SCRIPTS,
    VENV,
    read_text,
    shown,
)
from lib.adopt.manifest import load_manifest
from lib.adopt.payload import observe, same
from lib.adopt.report import KEPT_EDITED, KEPT_MODIFIED, KEPT_YOURS, UNCHANGED, Options, Report
from lib.core import atomic, config
from lib.core.errors import BatonError


def uninstall(target: Path, options: Options) -> Report:
    """Remove what the manifest says we installed, where it is still as we left it."""
    target = target.resolve()
    if not target.is_dir():
        raise BatonError(f"{target}: no such folder")
    manifest = load_manifest(target)
    if manifest is None:
        raise BatonError(f"{target}: baton is not installed here (no {MANIFEST})")
    report = Report(target, "uninstall", options.dry_run)
    settings_path = target / claude_settings.SETTINGS_PATH
    current_settings = claude_settings.load(settings_path)  # malformed -> refuse before any change
    gitignore_text = read_text(target / ".gitignore")
    dry = options.dry_run

    _uninstall_settings(settings_path, current_settings, manifest.get("settings") or {}, dry, report)
    _uninstall_gitignore(target, gitignore_text, manifest.get("gitignore"), dry, report)
    report.add("mcp", mcp.MCP_JSON, mcp.unregister(target, SCRIPTS, dry_run=dry))
    hook = githooks.hooks_dir(target) / GIT_HOOK
    if githooks.is_ours(hook) and GIT_HOOK_TARGET in hook.read_text(encoding="utf-8"):
        report.add("git-hook", shown(target, hook), "removed" if dry else githooks.uninstall(target, GIT_HOOK))
    for what, rel, why in (("operators", OPERATORS, "the draft was never edited"),
                           ("config", config.CONFIG_PATH, "never edited")):
        record = manifest.get(what)
        if not record:
            continue
        if same(observe(target / rel), {"sha256": record.get("sha256", "")}):
            if not dry:
                (target / rel).unlink()
            report.add(what, rel, "removed", why)
        elif (target / rel).exists():
            report.add(what, rel, KEPT_EDITED)
    for rel, rec in sorted(manifest["files"].items()):
        path = target / rel
        have = observe(path)
        if have is None:
            continue
        if same(have, rec):
            if not dry:
                path.unlink()
            report.add("file", rel, "removed")
        else:
            report.add("file", rel, KEPT_MODIFIED)
    venv = target / VENV
    if venv.is_symlink():
        if not dry:
            venv.unlink()
        report.add("venv", VENV, "removed", "the link (the environment it pointed to is untouched)")
    elif (venv / "pyvenv.cfg").is_file():
        if not dry:
            shutil.rmtree(venv)
        report.add("venv", VENV, "removed")
    if not dry:
        (target / MANIFEST).unlink()
    report.add("manifest", MANIFEST, "removed")
    if not dry:
        for rel in sorted(manifest.get("dirs", []), key=lambda r: (-r.count("/"), r)):
            _remove_dir_if_ours(target / rel, rel, report)
    if (target / ".claude" / "state").is_dir():
        report.add("folder", ".claude/state", KEPT_YOURS, "baton's runtime data: delete it yourself if unwanted")
    return report


def _remove_dir_if_ours(path: Path, rel: str, report: Report) -> None:
    """Remove a folder we created once it is empty (bytecode Python wrote beside our scripts is ours too)."""
    if path.is_symlink() or not path.is_dir():
        return
    pycache = path / "__pycache__"
    if pycache.is_dir() and not pycache.is_symlink() and all(p.suffix in (".pyc", ".pyo") for p in pycache.iterdir()):
        shutil.rmtree(pycache)
    if any(path.iterdir()):
        report.add("folder", rel, "kept (not empty)")
        return
    path.rmdir()
    report.add("folder", rel, "removed")


def _uninstall_settings(path: Path, current: dict[str, Any], recorded: Mapping[str, Any], dry: bool,
                        report: Report) -> None:
    rel = claude_settings.SETTINGS_PATH
    markers = set(recorded.get("markers") or []) | {e.marker for e in claude_settings.baton_hook_entries(LOCATION)}
    cleaned = claude_settings.remove_hooks(current, markers)
    original = recorded.get("original")
    if not path.exists():
        return
    if recorded.get("created") and cleaned == {}:
        if not dry:
            path.unlink()
        report.add("settings", rel, "removed", "baton had created it and nothing else is in it")
        return
    if isinstance(original, str):
        try:
            before = json.loads(original) if original.strip() else {}
        except json.JSONDecodeError:
            before = None
        if cleaned == before:
            if path.read_text(encoding="utf-8") == original:
                report.add("settings", rel, UNCHANGED)
                return
            if not dry:
                atomic.write_text(path, original)
            report.add("settings", rel, "restored", "byte for byte as it was before baton")
            return
    if cleaned == current:
        report.add("settings", rel, UNCHANGED)
        return
    if not dry:
        claude_settings.save(path, cleaned)
    report.add("settings", rel, "updated", "baton's hooks removed; everything else kept")


def _uninstall_gitignore(target: Path, text: str | None, recorded: Mapping[str, Any] | None, dry: bool,
                         report: Report) -> None:
    if text is None:
        return
    found = BLOCK.search(text)
    if not found:
        return
    before, after = text[: found.start()], text[found.end():]
    separator = (recorded or {}).get("separator", "")
    if separator and before.endswith(separator) and not after:
        before = before[: -len(separator)]
    rest = before + after
    path = target / ".gitignore"
    if (recorded or {}).get("created") and not rest:
        if not dry:
            path.unlink()
        report.add("gitignore", ".gitignore", "removed", "baton had created it and nothing else is in it")
        return
    if not dry:
        atomic.write_text(path, rest)
    report.add("gitignore", ".gitignore", "updated", "the baton block removed")
