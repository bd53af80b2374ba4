"""Install baton into another repository (or upgrade or remove it there) without touching anything of theirs.

Everything of ours goes under .baton/ (code, launcher, venv, manifest), plus our slash commands,
store templates and conventions; hooks are merged into .claude/settings.json, the git pre-commit
hook is chained after theirs, and .gitignore gets a marked block. .baton/manifest.json records
every file with its sha256, so --upgrade keeps files changed locally and --uninstall removes
exactly what was installed.
"""

from __future__ import annotations

import _project_python  # noqa: F401  (first: re-executes with baton's Python when needed)

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from lib.adopt import ci, install, uninstall
from lib.adopt.layout import SCRIPTS
from lib.adopt.report import KEPT_DELETED, KEPT_MODIFIED, SKIPPED_THEIRS, UNCHANGED, Options, Report
from lib.core import cli

PROG = "install.py"
SOURCE = Path(__file__).resolve().parent.parent

WRAPPERS_COMMAND = f"./{SCRIPTS}/py {SCRIPTS}/session.py wrappers"

# Steps worth a line of their own even among the many files under .baton/scripts/.
_NOTABLE = frozenset({KEPT_MODIFIED, KEPT_DELETED, SKIPPED_THEIRS})


def render(report: Report) -> str:
    """The report as lines a person reads: what changed, what was kept and why, what to do next."""
    if report.dry_run:
        title = {"install": "would install baton into", "upgrade": "would upgrade baton in",
                 "uninstall": "would remove baton from"}
        lines = [f"Dry run, nothing written: {title[report.mode]} {report.target}"]
    else:
        title = {"install": "Installed baton into", "upgrade": "Upgraded baton in", "uninstall": "Removed baton from"}
        lines = [f"{title[report.mode]} {report.target}"]
    code: dict[str, int] = {}
    for step in report.steps:
        in_code = step.what == "file" and step.path.startswith(SCRIPTS + "/")
        if step.action == UNCHANGED:
            continue
        if in_code and step.action not in _NOTABLE:
            code[step.action] = code.get(step.action, 0) + 1
            continue
        note = f": {step.note}" if step.note else ""
        lines.append(f"  {step.path}: {step.action}{note}")
    for action, count in sorted(code.items()):
        lines.insert(1, f"  {SCRIPTS}/: {count} file{'s' if count != 1 else ''} {action}")
    unchanged = sum(1 for s in report.steps if s.action == UNCHANGED)
    if unchanged:
        lines.append(f"  ({unchanged} item{'s' if unchanged != 1 else ''} already up to date)")
    modified = report.with_action(KEPT_MODIFIED)
    if modified:
        lines.append(f"Modified locally, left as they are ({len(modified)}): " + ", ".join(s.path for s in modified))
    if not report.changed:
        lines.append("Nothing to change.")
    elif report.mode != "uninstall" and not report.dry_run:
        lines.extend(next_steps(report))
    return "\n".join(lines) + "\n"


def next_steps(report: Report) -> list[str]:
    """What the team does now, naming only commands that exist in the repository just installed."""
    lines = []
    drafted = any(s.what == "operators" and s.action == "created" for s in report.steps)
    if drafted:
        lines.append("Next: edit the DRAFT .claude/operators.yaml (who works here, their initials and emails).")
    lines.append(f"{'Then' if drafted else 'Next'}: `{WRAPPERS_COMMAND}` makes each operator's /handoff-<initials> "
                 "and /resume-<initials>; run it again whenever .claude/operators.yaml changes.")
    lines.append("Commit .baton/ .claude/ .gitignore, docs/ and the store folders"
                 + (f" and {ci.GITHUB_PATH}" if any(s.path == ci.GITHUB_PATH for s in report.steps) else "")
                 + f"; teammates run {SCRIPTS}/setup.sh after pulling.")
    if any(s.path == ci.GITHUB_PATH and s.action == "created" for s in report.steps):
        lines.append("For the Notion mirror on CI: add the repository secret NOTION_TOKEN and commit "
                     ".claude/notion.yaml (set up as baton's docs/notion-sync.md says).")
    return lines


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.splitlines()[0])
    parser.add_argument("target", type=Path, help="the repository to install baton into (its root folder)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--upgrade", action="store_true",
                      help="update baton's files there; files changed locally are kept and listed")
    mode.add_argument("--uninstall", action="store_true",
                      help="remove exactly what the installer put there (changed files are kept)")
    parser.add_argument("--dry-run", action="store_true", help="report what would change, write nothing")
    parser.add_argument("--link", action="store_true",
                        help="symlink baton's scripts to this checkout instead of copying them (for baton's own "
                             "development: the links point at this machine's checkout)")
    venv = parser.add_mutually_exclusive_group()
    venv.add_argument("--venv", type=Path, metavar="PATH",
                      help="use this existing environment (with baton's dependencies) as .baton/.venv, by symlink")
    venv.add_argument("--no-venv", action="store_true",
                      help="make no environment now (.baton/scripts/setup.sh makes it later)")
    parser.add_argument("--python", default=sys.executable, metavar="EXE",
                        help="the Python >= 3.11 that makes .baton/.venv (default: the one running this)")
    parser.add_argument("--ci", action="append", choices=ci.PROVIDERS, default=[], metavar="PROVIDER",
                        help=f"also write a CI workflow that validates the store on pull requests and syncs Notion "
                             f"on pushes to the default branch ({', '.join(ci.PROVIDERS)}: {ci.GITHUB_PATH}); "
                             "later upgrades keep it")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    def body() -> int:
        options = Options(upgrade=args.upgrade, uninstall=args.uninstall, dry_run=args.dry_run,
                          link=args.link, venv=args.venv, no_venv=args.no_venv, python=args.python,
                          ci=tuple(args.ci))
        if args.uninstall:
            report = uninstall.uninstall(args.target, options)
        else:
            report = install.install(SOURCE, args.target, options)
        if args.json:
            cli.print_json(report.as_dict())
        else:
            sys.stdout.write(render(report))
        return 0

    return cli.run(body, PROG)


if __name__ == "__main__":
    raise SystemExit(main())
