"""Installing baton into another repository and upgrading it there (lib.adopt.uninstall removes it).

Layout in the adopting repository (it may have its own `scripts/`, `scripts/lib/`, `setup.sh` and
`.venv`, so nothing of ours goes there):

- `.baton/scripts/`   baton's code (copied, or with `link` symlinked to this checkout), with its
  launcher `.baton/scripts/py`, which runs `.baton/.venv/bin/python`;
- `.baton/.venv/`     baton's own environment (gitignored): made with `python -m venv` and pip, or a
  symlink to an existing one (`venv`);
- `.baton/scripts/setup.sh`, `.baton/requirements.txt`, `.baton/README.md`: what a teammate runs
  after cloning, and what it installs;
- `.baton/manifest.json` every file we installed with its sha256 (or link target), the folders we
  created, and how settings.json and .gitignore looked before: upgrade and uninstall are exact;
- `.claude/commands/*.md` our slash commands, their helper calls rewritten to `.baton/scripts/`;
- `.claude/settings.json` our hook entries merged in (lib.adopt.claude_settings; never clobbering);
- the git pre-commit hook (lib.adopt.githooks: a foreign hook is kept as `.legacy` and run first);
- the store folders with their templates, `docs/conventions/*`, a drafted `.claude/operators.yaml`
  when there is none, and a marked block in `.gitignore`.

A file of theirs is never overwritten: a path that exists and is not ours is reported and skipped.
`upgrade` replaces only our files that are unmodified since we wrote them and lists the others.
`uninstall` removes only what the manifest says we made, and only when it is still as we made it.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lib.adopt import ci, claude_settings, githooks, mcp, mergedriver, roster
from lib.adopt.layout import (
    BLOCK,
    GIT_HOOK,
    GIT_HOOK_TARGET,
    GITIGNORE_LINES,
    HOME,
    LOCATION,
    MANIFEST,
    OPERATORS,
    SCRIPTS,
    VENV,
    gitignore_block,
    read_text,
    shown,
)
from lib.adopt.manifest import MANIFEST_VERSION, baton_version, load_manifest, save_manifest, source_commit
from lib.adopt.payload import Payload, desired_files, make_dirs, observe, put, same, sha256
from lib.adopt.report import (
    KEPT_DELETED,
    KEPT_EDITED,
    KEPT_MODIFIED,
    KEPT_YOURS,
    OUTDATED,
    PRESENT,
    SKIPPED_THEIRS,
    UNCHANGED,
    Options,
    Report,
)
from lib.core import atomic, config, git, pyenv
from lib.core.errors import BatonError


def install(source: Path, target: Path, options: Options) -> Report:
    """Install (or with `options.upgrade`, upgrade) baton from the checkout `source` into `target`."""
    source, target = source.resolve(), target.resolve()
    _check_target(source, target)
    manifest = load_manifest(target)
    if options.upgrade and manifest is None:
        raise BatonError(f"{target}: baton is not installed here (no {MANIFEST}); run without --upgrade")
    report = Report(target, "upgrade" if options.upgrade else "install", options.dry_run)
    fresh = manifest is None
    old: dict[str, Any] = manifest or {"files": {}, "dirs": []}

    # Everything that can refuse is checked before the first write.
    settings_path = target / claude_settings.SETTINGS_PATH
    settings_before = claude_settings.load(settings_path)
    gitignore_text = read_text(target / ".gitignore")
    hooks_folder = githooks.hooks_dir(target)
    hook_plan = _plan_git_hook(target, hooks_folder)
    venv_plan = _plan_venv(target, options, source)
    unknown = sorted(set(options.ci) - set(ci.PROVIDERS))
    if unknown:
        raise BatonError(f"--ci: unknown provider {unknown[0]!r} (known: {', '.join(ci.PROVIDERS)})")
    providers = sorted(set(options.ci) | {p for p in old.get("ci") or [] if p in ci.PROVIDERS})
    files = desired_files(source, options.link)
    for rel, text in ci.files(set(providers)).items():
        files[rel] = Payload(text.encode())

    new_manifest: dict[str, Any] = {
        "manifest_version": MANIFEST_VERSION,
        "baton_version": baton_version(source),
        "source_commit": source_commit(source),
        "mode": "link" if options.link else "copy",
        "files": dict(old["files"]),
        "dirs": list(old.get("dirs", [])),
        "settings": old.get("settings") or {
            "created": not settings_path.exists(),
            "original": None if not settings_path.exists() else settings_path.read_text(encoding="utf-8"),
        },
        "gitignore": old.get("gitignore"),
        "operators": old.get("operators"),
    }
    if providers:
        new_manifest["ci"] = providers
    if old.get("config"):
        new_manifest["config"] = old["config"]
    dirs: set[str] = set(new_manifest["dirs"])
    try:
        if not options.dry_run and fresh:
            make_dirs(target, HOME, dirs)
        _install_files(target, files, old["files"], new_manifest["files"], dirs, options, report)
        _install_settings(target, settings_path, settings_before, old, new_manifest, dirs, options, report)
        report.add("mcp", mcp.MCP_JSON, mcp.register(target, SCRIPTS, dry_run=options.dry_run))
        new_manifest["gitignore"] = _install_gitignore(target, gitignore_text, old.get("gitignore"), options,
                                                       report)
        if fresh and not (target / OPERATORS).exists():
            new_manifest["operators"] = _draft_operators(target, dirs, options, report)
        elif not fresh and new_manifest["operators"]:
            report.add("operators", OPERATORS, UNCHANGED if same(observe(target / OPERATORS), {
                "sha256": new_manifest["operators"]["sha256"]}) else KEPT_EDITED)
        else:
            report.add("operators", OPERATORS, KEPT_YOURS)
        if fresh and not (target / config.CONFIG_PATH).exists():
            new_manifest["config"] = _write_grace_period(target, dirs, options, report)
        # The git hook and the venv belong to this clone, not to the repository: the committed
        # manifest does not record them (a teammate's install would rewrite it); uninstall
        # recognises them by themselves (githooks' marker, our folder).
        _install_git_hook(target, hook_plan, options, report)
        report.add("merge-driver", ".gitattributes", *mergedriver.install_step(target, SCRIPTS, options.dry_run))
        _install_venv(target, venv_plan, options, report)
    finally:
        new_manifest["dirs"] = sorted(dirs)
        provenance = ("baton_version", "source_commit", "mode")
        if manifest is not None and {k: v for k, v in new_manifest.items() if k not in provenance} == {
                k: v for k, v in manifest.items() if k not in provenance}:
            # Nothing was put in place: the files are still the ones the recorded baton installed.
            new_manifest.update({k: manifest.get(k) for k in provenance})
        if not options.dry_run and (target / HOME).is_dir():
            # Written even after a failure part-way, so what was done can still be undone exactly.
            changed = new_manifest != manifest
            if changed:
                save_manifest(target, new_manifest)
            report.add("manifest", MANIFEST, ("created" if fresh else "updated") if changed else UNCHANGED)
    return report


def _check_target(source: Path, target: Path) -> None:
    if not target.is_dir():
        raise BatonError(f"{target}: no such folder")
    top = git.run(target, "rev-parse", "--show-toplevel", env=git.ELSEWHERE)
    if top.returncode != 0:
        raise BatonError(f"{target}: not a git repository")
    if Path(top.stdout.strip()).resolve() != target:
        # The store, the hooks and the helpers all work from the repository's top level.
        raise BatonError(f"{target}: is inside the repository {top.stdout.strip()}; install into its top level")
    if target == source or source in target.parents:
        raise BatonError(f"{target}: is baton's own checkout; install into another repository")
    if not (source / "scripts" / "hooks" / "session_state.py").is_file():
        raise BatonError(f"{source}: not a baton checkout (scripts/hooks/session_state.py missing)")


def _install_files(target: Path, files: Mapping[str, Payload], recorded: Mapping[str, Any],
                   out: dict[str, Any], dirs: set[str], options: Options, report: Report) -> None:
    for rel, payload in files.items():
        want = payload.record()
        have = observe(target / rel)
        rec = recorded.get(rel)
        if rec is None:
            if have is None:
                action = "created"
            elif same(have, want):
                report.add("file", rel, PRESENT)
                continue
            else:
                report.add("file", rel, SKIPPED_THEIRS)
                continue
        elif have is None:
            report.add("file", rel, KEPT_DELETED)
            continue
        elif same(have, want):
            if not same(rec, want):
                out[rel] = want  # changed locally to exactly what this version ships
            report.add("file", rel, UNCHANGED)
            continue
        elif not same(have, rec):
            report.add("file", rel, KEPT_MODIFIED)
            continue
        elif not options.upgrade:
            report.add("file", rel, OUTDATED)
            continue
        else:
            action = "updated"
        if not options.dry_run:
            put(target, rel, payload, dirs)
            out[rel] = want
        report.add("file", rel, action)
    for rel in sorted(set(recorded) - set(files)):
        have = observe(target / rel)
        if have is None:
            out.pop(rel, None)
            continue
        if not same(have, recorded[rel]):
            if options.upgrade:
                out.pop(rel, None)
            report.add("file", rel, "kept (no longer part of baton; modified locally)" if options.upgrade
                       else KEPT_MODIFIED)
            continue
        if not options.upgrade:
            report.add("file", rel, OUTDATED)
            continue
        if not options.dry_run:
            (target / rel).unlink()
            out.pop(rel, None)
        report.add("file", rel, "removed (no longer part of baton)")


def _install_settings(target: Path, path: Path, before: dict[str, Any], old: Mapping[str, Any],
                      manifest: dict[str, Any], dirs: set[str], options: Options, report: Report) -> None:
    entries = claude_settings.baton_hook_entries(LOCATION)
    markers = sorted({e.marker for e in entries})
    # Hooks an earlier version registered and this one does not are taken out on upgrade.
    stale = sorted(set((old.get("settings") or {}).get("markers", [])) - set(markers))
    wanted = claude_settings.merge_hooks(claude_settings.remove_hooks(before, stale), entries)
    rel = claude_settings.SETTINGS_PATH
    if wanted == before and path.exists():
        report.add("settings", rel, UNCHANGED)
    else:
        action = "updated" if path.exists() else "created"
        if not options.dry_run:
            make_dirs(target, ".claude", dirs)
            claude_settings.save(path, wanted)
        events = ", ".join(sorted({e.event for e in entries}))
        report.add("settings", rel, action, f"baton's hooks registered ({events}); every other hook and key kept")
    manifest["settings"] = {**manifest["settings"], "markers": markers}



def _install_gitignore(target: Path, text: str | None, recorded: dict[str, Any] | None, options: Options,
                       report: Report) -> dict[str, Any] | None:
    path = target / ".gitignore"
    block = gitignore_block()
    if text is not None:
        found = BLOCK.search(text)
        if found:
            if found.group(0) == block:
                report.add("gitignore", ".gitignore", UNCHANGED)
                return recorded
            if not options.dry_run:
                atomic.write_text(path, text[: found.start()] + block + text[found.end():])
            report.add("gitignore", ".gitignore", "updated", "the baton block")
            return recorded
    # The separator is recorded so that uninstall gives back the file's exact bytes.
    if not text or text.endswith("\n\n"):
        separator = ""
    elif text.endswith("\n"):
        separator = "\n"
    else:
        separator = "\n\n"
    if not options.dry_run:
        atomic.write_text(path, (text or "") + separator + block)
    report.add("gitignore", ".gitignore", "created" if text is None else "updated",
               "added the baton block: " + " ".join(GITIGNORE_LINES))
    return {"created": text is None, "separator": separator}


def _draft_operators(target: Path, dirs: set[str], options: Options, report: Report) -> dict[str, Any] | None:
    text = roster.operators_draft(roster.git_authors(target))
    if text is None:
        report.add("operators", OPERATORS, "skipped",
                   "no git authors and no user.email: write .claude/operators.yaml by hand")
        return None
    if not options.dry_run:
        put(target, OPERATORS, Payload(text.encode()), dirs)
    count = text.count("  - slug: ")
    report.add("operators", OPERATORS, "created",
               f"DRAFT from {count} git author{'s' if count != 1 else ''}: the team edits it")
    return {"sha256": sha256(text.encode())}


def _write_grace_period(target: Path, dirs: set[str], options: Options, report: Report) -> dict[str, Any]:
    """`.claude/baton.yaml` with strict_from: the pre-commit hook warns for a while, then blocks."""
    today = options.today or dt.date.today()
    text = config.grace_text(today)
    if not options.dry_run:
        put(target, config.CONFIG_PATH, Payload(text.encode()), dirs)
    start = today + dt.timedelta(days=config.STRICT_GRACE_DAYS)
    report.add("config", config.CONFIG_PATH, "created",
               f"strict_from: {start.isoformat()} (the pre-commit hook warns until then, then blocks)")
    return {"sha256": sha256(text.encode())}


@dataclass(frozen=True)
class _HookPlan:
    action: str  # install | unchanged | skip
    path: str  # the hook file, for the report
    note: str = ""


def _plan_git_hook(target: Path, folder: Path) -> _HookPlan:
    try:
        inside: Path | None = folder.resolve().relative_to(target)
    except ValueError:
        inside = None
    where = shown(target, folder / GIT_HOOK)
    if inside is not None and inside.parts[:1] != (".git",):
        # core.hooksPath points into the working tree (husky and the like): those are their
        # committed files, which we do not rename.
        return _HookPlan("skip", where, f"core.hooksPath is {inside.as_posix()}: add `{GIT_HOOK_TARGET}` "
                                 "to your pre-commit hook yourself")
    hook, legacy = folder / GIT_HOOK, folder / f"{GIT_HOOK}.legacy"
    content = githooks.shim(GIT_HOOK, GIT_HOOK_TARGET)
    if githooks.is_ours(hook):
        return _HookPlan("unchanged" if hook.read_text(encoding="utf-8") == content else "install", where)
    if (hook.exists() or hook.is_symlink()) and (legacy.exists() or legacy.is_symlink()):
        raise BatonError(f"{hook} is not baton's and {legacy} already exists: merge them by hand, then re-run")
    return _HookPlan("install", where, "your existing hook is kept as pre-commit.legacy and still run first"
                     if hook.exists() or hook.is_symlink() else "")


def _install_git_hook(target: Path, plan: _HookPlan, options: Options, report: Report) -> None:
    if plan.action == "skip":
        report.add("git-hook", plan.path, "skipped", plan.note)
    elif plan.action == "unchanged":
        report.add("git-hook", plan.path, UNCHANGED)
    elif options.dry_run:
        report.add("git-hook", plan.path, "installed", plan.note)
    else:
        result = githooks.install(target, GIT_HOOK, GIT_HOOK_TARGET)
        report.add("git-hook", plan.path, result.action.partition(" (")[0], plan.note)


@dataclass(frozen=True)
class _VenvPlan:
    action: str  # none | unchanged | link | relink | create | refresh
    link: str | None = None
    requirements: tuple[str, ...] = ()


def _plan_venv(target: Path, options: Options, source: Path) -> _VenvPlan:
    requirements = tuple(pyenv.runtime_requirements(source / "pyproject.toml"))
    path = target / VENV
    if options.no_venv:
        return _VenvPlan("none")
    if options.venv is not None:
        reuse = options.venv.expanduser().absolute()
        if path.is_symlink() and os.readlink(path) == str(reuse):
            return _VenvPlan("unchanged", str(reuse))
        try:
            pyenv.check_environment(reuse, requirements)
        except pyenv.EnvError as exc:
            raise BatonError(f"--venv: {exc}") from None
        if path.is_symlink():
            return _VenvPlan("relink", str(reuse))
        if path.exists():
            raise BatonError(f"{path} exists and is not a link: remove it to use --venv")
        return _VenvPlan("link", str(reuse))
    if path.is_symlink():
        return _VenvPlan("unchanged")  # linked earlier: keep using it
    if path.exists() and pyenv.is_current(path, pyenv.requirements_text(requirements)):
        return _VenvPlan("unchanged")
    version = pyenv.version_of(options.python)
    if version is None or version < pyenv.MIN_PYTHON:
        raise BatonError(f"{options.python}: baton needs Python >= 3.11 for .baton/.venv (use --python or --venv)")
    return _VenvPlan("refresh" if path.exists() else "create", requirements=requirements)


def _install_venv(target: Path, plan: _VenvPlan, options: Options, report: Report) -> None:
    path = target / VENV
    if plan.action == "none":
        report.add("venv", VENV, "skipped", f"run {SCRIPTS}/setup.sh to make it")
        return
    if plan.action == "unchanged":
        report.add("venv", VENV, UNCHANGED)
        return
    if plan.action in ("link", "relink"):
        assert plan.link is not None
        if not options.dry_run:
            put(target, VENV, Payload(link=plan.link), set())
        report.add("venv", VENV, "linked", f"to {plan.link}")
        return
    if not options.dry_run:
        try:
            pyenv.create(path, plan.requirements, options.python)
        except pyenv.EnvError as exc:
            raise BatonError(f"{VENV}: {exc} (nothing else is left half-done: re-run the installer)") from None
    report.add("venv", VENV, "created" if plan.action == "create" else "updated",
               f"{len(plan.requirements)} packages installed with pip")


# --------------------------------------------------------------------------- uninstall

