"""Install (or remove) baton's git pre-commit hook in this repository."""

from __future__ import annotations

import _project_python  # noqa: F401  (first: re-executes with baton's Python when needed)

import argparse
import os
from collections.abc import Sequence
from pathlib import Path

from lib.adopt import githooks
from lib.core import cli
from lib.core.paths import find_root


def default_target(root: Path) -> str:
    """The hooks/pre-commit beside this script, relative to `root`: scripts/hooks/pre-commit
    here, .baton/scripts/hooks/pre-commit where baton was installed into another repository."""
    # abspath, not resolve, for the file: an installed copy may be a symlink into a checkout.
    hook = Path(os.path.abspath(__file__)).parent.resolve() / "hooks" / "pre-commit"
    try:
        return hook.relative_to(root).as_posix()
    except ValueError:
        return "scripts/hooks/pre-commit"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="install_git_hook.py",
        description="Install baton's pre-commit hook; an existing hook is kept as pre-commit.legacy and still run.",
    )
    parser.add_argument("--uninstall", action="store_true", help="remove baton's hook and restore a kept one")
    parser.add_argument("--root", type=Path, help="repository root (default: found from the current folder)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    return parser


def run(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(argv)
    root = (args.root or find_root()).resolve()
    if args.uninstall:
        action = githooks.uninstall(root)
        hook = githooks.hooks_dir(root) / "pre-commit"
        legacy = None
    else:
        result = githooks.install(root, "pre-commit", default_target(root))
        action, hook, legacy = result.action, result.hook, result.legacy
    if args.json:
        cli.print_json({"hook": str(hook), "action": action, "legacy": str(legacy) if legacy else None})
    else:
        print(f"pre-commit hook: {action} ({hook})")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return cli.run(lambda: run(argv), "install_git_hook")


if __name__ == "__main__":
    raise SystemExit(main())
