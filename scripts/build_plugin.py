"""Generate the files that make this repository a Claude Code plugin (plugin.json, marketplace.json,
hooks/hooks.json, commands/) from its sources; --check fails when one is out of date."""

from __future__ import annotations

import _project_python  # noqa: F401  (first: re-executes with baton's Python when needed)

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from lib.adopt import plugin
from lib.core import cli

PROG = "build_plugin.py"
ROOT = Path(__file__).resolve().parent.parent


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 and list the generated files that are out of date")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    def body() -> int:
        files = plugin.stale(ROOT) if args.check else plugin.build(ROOT)
        if args.json:
            cli.print_json({"check": args.check, "files": files, "up_to_date": not files})
        elif args.check and files:
            sys.stdout.write("out of date (run ./scripts/py scripts/build_plugin.py): " + ", ".join(files) + "\n")
        elif files:
            sys.stdout.write("wrote " + ", ".join(files) + "\n")
        else:
            sys.stdout.write("plugin files up to date\n")
        return 1 if args.check and files else 0

    return cli.run(body, PROG)


if __name__ == "__main__":
    raise SystemExit(main())
