"""Installing baton into another repository, upgrading it there, and removing it again.

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

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lib.adopt import claude_settings, githooks, mergedriver
from lib.core import atomic, pyenv
from lib.core.errors import BatonError
from lib.core.paths import STORE_FOLDERS

HOME = ".baton"
SCRIPTS = f"{HOME}/scripts"
VENV = f"{HOME}/.venv"
MANIFEST = f"{HOME}/manifest.json"
REQUIREMENTS = f"{HOME}/requirements.txt"
MANIFEST_VERSION = 1
COMMANDS = ".claude/commands"
OPERATORS = ".claude/operators.yaml"
GIT_HOOK = "pre-commit"
GIT_HOOK_TARGET = f"{SCRIPTS}/hooks/pre-commit"
LOCATION = claude_settings.HookLocation(scripts=SCRIPTS)

# How our command files call helpers here, and how they must call them in the adopting repository.
SOURCE_HELPER_PREFIX = "./scripts/py scripts/"
TARGET_HELPER_PREFIX = f"./{SCRIPTS}/py {SCRIPTS}/"

# Development-only files of this repository, the installer itself (it installs from a checkout) and
# the plugin's own pieces.
EXCLUDED_SCRIPTS = frozenset({"setup.sh", "test.sh", "install.py", "lib/adopt/install.py", "build_plugin.py",
                              "lib/adopt/plugin.py", "hooks/plugin_env.py"})

GITIGNORE_BEGIN = "# >>> baton (managed by baton's installer; edit outside this block) >>>"
GITIGNORE_END = "# <<< baton <<<"
GITIGNORE_LINES = (VENV, f"{HOME}/**/__pycache__/", ".claude/state/", ".claude/archive/")

AUTHOR_COMMITS = 2000  # the operators draft looks at the authors of this many recent commits


@dataclass(frozen=True)
class Options:
    upgrade: bool = False
    uninstall: bool = False
    dry_run: bool = False
    link: bool = False
    venv: Path | None = None  # reuse this environment (symlinked as .baton/.venv)
    no_venv: bool = False
    python: str = sys.executable  # makes .baton/.venv when neither venv nor no_venv


@dataclass(frozen=True)
class Step:
    """One thing the installer did (or, in a dry run, would do)."""

    what: str  # file | settings | gitignore | git-hook | operators | venv | manifest | folder
    path: str
    action: str
    note: str = ""

    def as_dict(self) -> dict[str, str]:
        out = {"what": self.what, "path": self.path, "action": self.action}
        if self.note:
            out["note"] = self.note
        return out


@dataclass
class Report:
    target: Path
    mode: str  # install | upgrade | uninstall
    dry_run: bool
    steps: list[Step] = field(default_factory=list)

    def add(self, what: str, path: str, action: str, note: str = "") -> None:
        self.steps.append(Step(what, path, action, note))

    def with_action(self, *actions: str) -> list[Step]:
        return [s for s in self.steps if s.action in actions]

    @property
    def changed(self) -> bool:
        return any(s.action not in QUIET_ACTIONS for s in self.steps)

    def as_dict(self) -> dict[str, Any]:
        return {
            "target": str(self.target), "mode": self.mode, "dry_run": self.dry_run, "changed": self.changed,
            "locally_modified": [s.path for s in self.with_action(KEPT_MODIFIED)],
            "skipped": [s.path for s in self.with_action(SKIPPED_THEIRS)],
            "steps": [s.as_dict() for s in self.steps],
        }


# Step actions that mean "nothing changed here".
UNCHANGED = "unchanged"
KEPT_MODIFIED = "kept (modified locally)"
KEPT_DELETED = "kept deleted (deleted locally)"
SKIPPED_THEIRS = "skipped (exists and is not baton's)"
OUTDATED = "differs from this baton (run with --upgrade)"
KEPT_EDITED = "kept (edited by the team)"
PRESENT = "already present (yours)"
KEPT_YOURS = "kept (yours)"
QUIET_ACTIONS = frozenset({UNCHANGED, KEPT_MODIFIED, KEPT_DELETED, SKIPPED_THEIRS, OUTDATED, KEPT_EDITED, PRESENT,
                           KEPT_YOURS, "not installed", "skipped", "kept (not empty)"})


# --------------------------------------------------------------------------- what we install


@dataclass(frozen=True)
class Payload:
    """One file to put in place: bytes (with a mode) or a symlink target."""

    data: bytes | None = None
    mode: int = 0o644
    link: str | None = None

    def record(self) -> dict[str, str]:
        if self.link is not None:
            return {"link": self.link}
        assert self.data is not None
        return {"sha256": sha256(self.data)}


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def observe(path: Path) -> dict[str, str] | None:
    """What is at `path`, in the manifest's terms: a link target, a file's sha256, or something else."""
    if path.is_symlink():
        return {"link": os.readlink(path)}
    if path.is_file():
        return {"sha256": sha256(path.read_bytes())}
    if path.exists():
        return {"other": "not a regular file"}
    return None


def same(a: Mapping[str, str] | None, b: Mapping[str, str] | None) -> bool:
    if a is None or b is None:
        return a is b
    keys = ("link", "sha256", "other")
    return {k: a.get(k) for k in keys} == {k: b.get(k) for k in keys}


def rewrite_helper_calls(text: str, prefix: str) -> str:
    """A command file with its `./scripts/py scripts/<helper>` calls (and allowed-tools) sent to `prefix`."""
    return text.replace(SOURCE_HELPER_PREFIX, prefix)


def is_generated_wrapper(text: str) -> bool:
    """Per-operator wrappers are generated for this repository's operators, not shipped."""
    return "<!-- generated by" in text[:8192]


def source_commands(source: Path) -> dict[str, str]:
    """Our slash commands (file name -> text), wrappers left out."""
    folder = source / COMMANDS
    found: dict[str, str] = {}
    if folder.is_dir():
        for path in sorted(folder.glob("*.md")):
            text = path.read_text(encoding="utf-8")
            if not is_generated_wrapper(text):
                found[path.name] = text
    return found


def script_files(source: Path) -> list[str]:
    """Paths under scripts/ that make up baton at run time (relative, POSIX)."""
    root = source / "scripts"
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__" and not d.startswith("."))
        for name in sorted(filenames):
            if name.startswith(".") or name.endswith((".pyc", ".pyo")):
                continue
            rel = (Path(dirpath) / name).relative_to(root).as_posix()
            if rel not in EXCLUDED_SCRIPTS:
                found.append(rel)
    return found


def _mode_of(path: Path) -> int:
    return 0o755 if os.stat(path).st_mode & 0o111 else 0o644


def desired_files(source: Path, link: bool) -> dict[str, Payload]:
    """Every file we put in the adopting repository (its path there -> what goes there)."""
    files: dict[str, Payload] = {}
    for rel in script_files(source):
        path = source / "scripts" / rel
        if link:
            files[f"{SCRIPTS}/{rel}"] = Payload(link=str(path.resolve()))
        else:
            files[f"{SCRIPTS}/{rel}"] = Payload(path.read_bytes(), _mode_of(path))
    requirements = pyenv.runtime_requirements(source / "pyproject.toml")
    files[REQUIREMENTS] = Payload(pyenv.requirements_text(requirements).encode())
    files[f"{SCRIPTS}/setup.sh"] = Payload(SETUP_SH.encode(), 0o755)
    files[f"{HOME}/README.md"] = Payload(README.encode())
    for name, text in source_commands(source).items():
        files[f"{COMMANDS}/{name}"] = Payload(rewrite_helper_calls(text, TARGET_HELPER_PREFIX).encode())
    for folder in STORE_FOLDERS.values():
        template = source / folder / "TEMPLATE.md"
        if template.is_file():
            files[f"{folder}/TEMPLATE.md"] = Payload(template.read_bytes())
        else:
            files[f"{folder}/.gitkeep"] = Payload(b"")
    conventions = source / "docs" / "conventions"
    if conventions.is_dir():
        for path in sorted(conventions.glob("*.md")):
            files[f"docs/conventions/{path.name}"] = Payload(path.read_bytes())
    return files


SETUP_SH = """#!/bin/sh
# Sets up baton in this clone: its Python environment (.baton/.venv, from .baton/requirements.txt)
# and the git pre-commit hook. Written by baton's installer; safe to run again.
set -eu
case $0 in */*) scripts=${0%/*} ;; *) scripts=. ;; esac
scripts=$(cd "$scripts" && pwd)
base=${scripts%/*}
venv=$base/.venv
if [ ! -x "$venv/bin/python" ]; then
    py=""
    for cand in "${BATON_PYTHON:-}" python3 python3.13 python3.12 python3.11; do
        [ -n "$cand" ] || continue
        command -v "$cand" >/dev/null 2>&1 || continue
        if "$cand" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
            py=$cand; break
        fi
    done
    if [ -z "$py" ]; then
        echo "baton: Python >= 3.11 is required (set BATON_PYTHON to its path)" >&2
        exit 1
    fi
    "$py" -m venv "$venv"
fi
# A symlinked environment belongs to whoever made it: check it, never pip into it.
if [ ! -L "$venv" ] && ! cmp -s "$base/requirements.txt" "$venv/.baton-requirements"; then
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$base/requirements.txt"
    cp "$base/requirements.txt" "$venv/.baton-requirements"
fi
if git -C "$base" rev-parse --git-dir >/dev/null 2>&1; then
    "$scripts/py" "$scripts/install_git_hook.py" --root "$(git -C "$base" rev-parse --show-toplevel)"
    "$scripts/py" "$scripts/merge_driver.py" install --root "$(git -C "$base" rev-parse --show-toplevel)" \
        --scripts .baton/scripts
fi
echo "baton is ready ($venv)"
"""

README = """# baton

This folder holds [baton](https://github.com/), installed by its installer: hooks and slash-command
helpers that keep this team's Claude Code sessions, workstreams, plans, ADRs and learnings as
markdown files in this repository.

- `scripts/` baton's code; `scripts/py` runs it with `.venv` (this folder's own environment,
  gitignored, so it never touches the repository's own `scripts/` or `.venv`).
- After cloning, run `.baton/scripts/setup.sh` once: it makes `.baton/.venv` and installs the
  git pre-commit hook (an existing hook is kept and still run).
- `manifest.json` lists what the installer put in this repository and how; keep it committed.
  From a baton checkout: `scripts/install.py <this repo> --upgrade` updates baton's files (files
  you changed are kept and listed), `--uninstall` removes exactly what it installed.
"""


# --------------------------------------------------------------------------- the manifest


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
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=source, capture_output=True, text=True)
    except OSError:
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


# --------------------------------------------------------------------------- install / upgrade


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
    gitignore_text = _read_text(target / ".gitignore")
    hooks_folder = githooks.hooks_dir(target)
    hook_plan = _plan_git_hook(target, hooks_folder)
    venv_plan = _plan_venv(target, options, source)
    files = desired_files(source, options.link)

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
    dirs: set[str] = set(new_manifest["dirs"])
    try:
        if not options.dry_run and fresh:
            _make_dirs(target, HOME, dirs)
        _install_files(target, files, old["files"], new_manifest["files"], dirs, options, report)
        _install_settings(target, settings_path, settings_before, old, new_manifest, dirs, options, report)
        new_manifest["gitignore"] = _install_gitignore(target, gitignore_text, old.get("gitignore"), options,
                                                       report)
        if fresh and not (target / OPERATORS).exists():
            new_manifest["operators"] = _draft_operators(target, dirs, options, report)
        elif not fresh and new_manifest["operators"]:
            report.add("operators", OPERATORS, UNCHANGED if same(observe(target / OPERATORS), {
                "sha256": new_manifest["operators"]["sha256"]}) else KEPT_EDITED)
        else:
            report.add("operators", OPERATORS, KEPT_YOURS)
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
    top = subprocess.run(["git", "rev-parse", "--show-toplevel"], cwd=target, capture_output=True, text=True)
    if top.returncode != 0:
        raise BatonError(f"{target}: not a git repository")
    if Path(top.stdout.strip()).resolve() != target:
        # The store, the hooks and the helpers all work from the repository's top level.
        raise BatonError(f"{target}: is inside the repository {top.stdout.strip()}; install into its top level")
    if target == source or source in target.parents:
        raise BatonError(f"{target}: is baton's own checkout; install into another repository")
    if not (source / "scripts" / "hooks" / "session_state.py").is_file():
        raise BatonError(f"{source}: not a baton checkout (scripts/hooks/session_state.py missing)")


def _read_text(path: Path) -> str | None:
    try:
        return path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        return None
    except UnicodeDecodeError:
        raise BatonError(f"{path}: not UTF-8; left untouched") from None


def _make_dirs(target: Path, rel_dir: str, created: set[str]) -> None:
    """Create `rel_dir` and its missing parents, recording each one we created."""
    parts = rel_dir.split("/")
    for i in range(1, len(parts) + 1):
        rel = "/".join(parts[:i])
        path = target / rel
        if not path.exists() and not path.is_symlink():
            path.mkdir()
            created.add(rel)


def _put(target: Path, rel: str, payload: Payload, dirs: set[str]) -> None:
    parent = rel.rpartition("/")[0]
    if parent:
        _make_dirs(target, parent, dirs)
    path = target / rel
    if payload.link is not None:
        tmp = path.with_name(f".{path.name}.{os.getpid()}.link")
        tmp.unlink(missing_ok=True)
        os.symlink(payload.link, tmp)
        os.replace(tmp, path)
    else:
        assert payload.data is not None
        atomic.write_bytes(path, payload.data, mode=payload.mode)


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
            _put(target, rel, payload, dirs)
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
            _make_dirs(target, ".claude", dirs)
            claude_settings.save(path, wanted)
        events = ", ".join(sorted({e.event for e in entries}))
        report.add("settings", rel, action, f"baton's hooks registered ({events}); every other hook and key kept")
    manifest["settings"] = {**manifest["settings"], "markers": markers}


def gitignore_block() -> str:
    return "\n".join([GITIGNORE_BEGIN, *GITIGNORE_LINES, GITIGNORE_END]) + "\n"


_BLOCK = re.compile(re.escape(GITIGNORE_BEGIN) + r"\n.*?" + re.escape(GITIGNORE_END) + r"\n?", re.S)


def _install_gitignore(target: Path, text: str | None, recorded: dict[str, Any] | None, options: Options,
                       report: Report) -> dict[str, Any] | None:
    path = target / ".gitignore"
    block = gitignore_block()
    if text is not None:
        found = _BLOCK.search(text)
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


def _git_authors(target: Path) -> list[tuple[str, str, int]]:
    """(name, email, commits) of recent authors, most commits first; the configured user when there are none."""
    counts: dict[tuple[str, str], int] = {}
    out = subprocess.run(["git", "log", "-n", str(AUTHOR_COMMITS), "--format=%aN%x1f%aE"], cwd=target,
                         capture_output=True, text=True)
    if out.returncode == 0:
        for line in out.stdout.splitlines():
            name, _, email = line.partition("\x1f")
            if name and email:
                counts[(name.strip(), email.strip())] = counts.get((name.strip(), email.strip()), 0) + 1
    if not counts:
        def config(key: str) -> str:
            got = subprocess.run(["git", "config", key], cwd=target, capture_output=True, text=True)
            return got.stdout.strip() if got.returncode == 0 else ""
        name, email = config("user.name"), config("user.email")
        if email:
            counts[(name or email.partition("@")[0], email)] = 0
    return sorted(((n, e, c) for (n, e), c in counts.items()), key=lambda x: (-x[2], x[0].casefold(), x[1]))


def _is_bot(name: str, email: str) -> bool:
    low = f"{name} {email}".casefold()
    return "[bot]" in low or low.startswith(("dependabot", "renovate", "github-actions"))


def _ascii_words(text: str) -> list[str]:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.findall(r"[A-Za-z0-9]+", folded)


def _initials_candidates(name: str, email: str) -> Iterable[str]:
    words = [w for w in _ascii_words(name) if w[0].isalpha()] or [
        w for w in _ascii_words(email.partition("@")[0]) if w[0].isalpha()] or ["XX"]
    first, last = words[0].upper(), words[-1].upper()
    letters = [c for c in "".join(words).upper() if c.isalpha()]
    if len(words) >= 2:
        yield first[0] + last[0]
        yield first[0] + last[:2] if len(last) >= 2 else first[:2] + last[0]
        yield first[:2] + last[0]
    else:
        yield first[:2].ljust(2, "X")
        yield first[:3].ljust(3, "X")
    stem = (first[0] + last[0]) if len(words) >= 2 else first[:2].ljust(2, "X")
    for extra in [*letters, *"ABCDEFGHIJKLMNOPQRSTUVWXYZ"]:
        yield stem + extra
        for more in "ABCDEFGHIJKLMNOPQRSTUVWXYZ":
            yield stem + extra + more


def _slug(name: str, email: str) -> str:
    words = [w.lower() for w in _ascii_words(name)] or [w.lower() for w in _ascii_words(email.partition("@")[0])]
    slug = "-".join(words)[:40].strip("-") or "operator"
    return slug if slug[0].isalnum() else f"op-{slug}"[:40]


def operators_draft(authors: Iterable[tuple[str, str, int]]) -> str | None:
    """The draft operators.yaml (issue-3 format) for these git authors, or None when there are none."""
    people: dict[str, dict[str, Any]] = {}  # by case-folded name: one person, several emails
    for name, email, _count in authors:
        if _is_bot(name, email):
            continue
        person = people.setdefault(name.casefold(), {"name": name, "emails": []})
        if email.casefold() not in (e.casefold() for e in person["emails"]):
            person["emails"].append(email)
    if not people:
        return None
    slugs: set[str] = set()
    initials: set[str] = set()
    entries = []
    for person in people.values():
        slug = base = _slug(person["name"], person["emails"][0])
        n = 2
        while slug in slugs:
            slug = f"{base[:37]}-{n}"
            n += 1
        slugs.add(slug)
        mark = next(c for c in _initials_candidates(person["name"], person["emails"][0])
                    if 2 <= len(c) <= 4 and c not in initials)
        initials.add(mark)
        entries.append((slug, mark, person["name"], person["emails"]))
    lines = [
        "# DRAFT written by baton's installer from this repository's git authors: edit it, then delete these",
        "# DRAFT lines. Keep only the people who work here with Claude Code, fix names and initials, and",
        "# give each person every email they commit or run Claude Code with.",
        "#   slug      lowercase letters, digits, hyphens: the `operator:` of notes, and $OPERATOR",
        "#   initials  2-4 uppercase letters, unique: the prefix of session ids (AL-260511-01)",
        "#   emails    matched case-insensitively",
        "# After editing, regenerate the per-operator commands: ./.baton/scripts/py .baton/scripts/session.py wrappers",
        "version: 1",
        "operators:",
    ]
    for slug, mark, name, emails in entries:
        lines += [f"  - slug: {slug}", f"    initials: {mark}", f"    name: {json.dumps(name, ensure_ascii=False)}",
                  "    emails:", *(f"      - {json.dumps(e, ensure_ascii=False)}" for e in emails)]
    return "\n".join(lines) + "\n"


def _draft_operators(target: Path, dirs: set[str], options: Options, report: Report) -> dict[str, Any] | None:
    text = operators_draft(_git_authors(target))
    if text is None:
        report.add("operators", OPERATORS, "skipped",
                   "no git authors and no user.email: write .claude/operators.yaml by hand")
        return None
    if not options.dry_run:
        _put(target, OPERATORS, Payload(text.encode()), dirs)
    count = text.count("  - slug: ")
    report.add("operators", OPERATORS, "created",
               f"DRAFT from {count} git author{'s' if count != 1 else ''}: the team edits it")
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
    shown = _shown(target, folder / GIT_HOOK)
    if inside is not None and inside.parts[:1] != (".git",):
        # core.hooksPath points into the working tree (husky and the like): those are their
        # committed files, which we do not rename.
        return _HookPlan("skip", shown, f"core.hooksPath is {inside.as_posix()}: add `{GIT_HOOK_TARGET}` "
                                 "to your pre-commit hook yourself")
    hook, legacy = folder / GIT_HOOK, folder / f"{GIT_HOOK}.legacy"
    content = githooks.shim(GIT_HOOK, GIT_HOOK_TARGET)
    if githooks.is_ours(hook):
        return _HookPlan("unchanged" if hook.read_text(encoding="utf-8") == content else "install", shown)
    if (hook.exists() or hook.is_symlink()) and (legacy.exists() or legacy.is_symlink()):
        raise BatonError(f"{hook} is not baton's and {legacy} already exists: merge them by hand, then re-run")
    return _HookPlan("install", shown, "your existing hook is kept as pre-commit.legacy and still run first"
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
            _put(target, VENV, Payload(link=plan.link), set())
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
    gitignore_text = _read_text(target / ".gitignore")
    dry = options.dry_run

    _uninstall_settings(settings_path, current_settings, manifest.get("settings") or {}, dry, report)
    _uninstall_gitignore(target, gitignore_text, manifest.get("gitignore"), dry, report)
    hook = githooks.hooks_dir(target) / GIT_HOOK
    if githooks.is_ours(hook) and GIT_HOOK_TARGET in hook.read_text(encoding="utf-8"):
        report.add("git-hook", _shown(target, hook), "removed" if dry else githooks.uninstall(target, GIT_HOOK))
    report.add("merge-driver", ".gitattributes", mergedriver.unregister(target, dry_run=dry))
    operators = manifest.get("operators")
    if operators:
        if same(observe(target / OPERATORS), {"sha256": operators.get("sha256", "")}):
            if not dry:
                (target / OPERATORS).unlink()
            report.add("operators", OPERATORS, "removed", "the draft was never edited")
        elif (target / OPERATORS).exists():
            report.add("operators", OPERATORS, KEPT_EDITED)
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


def _shown(target: Path, path: Path) -> str:
    try:
        return path.resolve().relative_to(target).as_posix()
    except ValueError:
        return str(path)


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
    found = _BLOCK.search(text)
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
