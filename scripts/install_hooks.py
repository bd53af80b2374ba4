"""Register baton's Claude Code hooks in the repository's .claude/settings.json.

Merges, never clobbers: other hooks and settings are kept, a second run changes nothing, and
a malformed settings.json is reported and left untouched.
"""

from __future__ import annotations

import _project_python  # noqa: F401  (first: re-executes with baton's Python when needed)

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from lib.adopt import claude_settings
from lib.core import cli, paths

PROG = "install_hooks.py"


def location(root: Path) -> claude_settings.HookLocation:
    """Where the hooks find this copy of baton: scripts/ here, .baton/scripts/ where scripts/install.py
    put baton into another repository."""
    here = Path(os.path.abspath(__file__)).parent.resolve()  # abspath: an installed copy may be a symlink
    try:
        return claude_settings.HookLocation(scripts=here.relative_to(root).as_posix())
    except ValueError:
        return claude_settings.REPOSITORY


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=None,
                        help="repository root (default: $CLAUDE_PROJECT_DIR, else git's top level, else here)")
    parser.add_argument("--dry-run", action="store_true", help="report what would change, write nothing")
    parser.add_argument("--uninstall", action="store_true", help="remove baton's hooks instead of adding them")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    def body() -> int:
        root = (args.root or paths.find_root()).resolve()
        target = root / claude_settings.SETTINGS_PATH
        entries = claude_settings.baton_hook_entries(location(root))
        if args.uninstall:
            changed = claude_settings.uninstall(target, {e.marker for e in entries}, dry_run=args.dry_run)
        else:
            changed = claude_settings.install(target, entries, dry_run=args.dry_run)
        events = sorted({e.event for e in entries})
        if args.json:
            cli.print_json({"settings": str(target), "changed": changed, "dry_run": args.dry_run,
                            "uninstall": args.uninstall, "events": events})
        else:
            verb = "would update" if args.dry_run else "updated"
            action = "removed from" if args.uninstall else "registered in"
            if changed:
                sys.stdout.write(f"{verb} {target}: baton hooks {action} it ({', '.join(events)})\n")
            else:
                sys.stdout.write(f"{target}: already up to date\n")
        return 0

    return cli.run(body, PROG)


if __name__ == "__main__":
    raise SystemExit(main())
