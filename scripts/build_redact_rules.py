"""Regenerate scripts/lib/security/rules.py (the redactor's rules) from the installed detect-secrets.

Run after upgrading detect-secrets, or after changing lib/security/rulegen.py; `--check` only
reports whether the checked-in file is current (exit 1 when it is not).
"""

from __future__ import annotations

import _project_python  # noqa: F401  (first: re-executes with baton's Python when needed)

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from lib.core import atomic, cli
from lib.security import rulegen

RULES_FILE = Path(__file__).resolve().parent / "lib" / "security" / "rules.py"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="build_redact_rules.py", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when rules.py differs from a fresh build")
    parser.add_argument("--json", action="store_true", help="print a JSON summary")
    return parser


def run(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(argv)
    fresh = rulegen.render()
    current = RULES_FILE.read_text(encoding="utf-8") if RULES_FILE.exists() else ""
    stale = fresh != current
    if not args.check and stale:
        atomic.write_text(RULES_FILE, fresh)
    summary = {"rules_file": str(RULES_FILE), "detect_secrets": rulegen.detect_secrets_version(),
               "rules": len(rulegen.all_rules()), "stale": stale, "written": stale and not args.check}
    if args.json:
        cli.print_json(summary)
    elif args.check:
        print(f"{RULES_FILE.name}: {'STALE: run scripts/build_redact_rules.py' if stale else 'current'} "
              f"(detect-secrets {summary['detect_secrets']}, {summary['rules']} rules)")
    else:
        print(f"{RULES_FILE.name}: {'written' if stale else 'already current'} "
              f"(detect-secrets {summary['detect_secrets']}, {summary['rules']} rules)")
    return 1 if args.check and stale else 0


def main(argv: Sequence[str] | None = None) -> int:
    return cli.run(lambda: run(argv), "build_redact_rules")


if __name__ == "__main__":
    sys.exit(main())
