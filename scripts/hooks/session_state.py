"""Claude Code telemetry hook: PostToolUse, PostToolUseFailure, SessionStart, SessionEnd, PreCompact.

Reads the hook's JSON payload from stdin and folds it into
.claude/state/session-<session_id>.json (format: docs/conventions/telemetry-state.md).

It runs once per tool call, so it stays tiny: standard library only, valid Python 3.8,
the logic lives in scripts/lib/telemetry/hook.py and state.py (also stdlib-only). It always exits 0: a
telemetry problem must never block or break Claude Code; errors go to
.claude/state/hook-errors.log.
"""

from __future__ import annotations

import sys


def main() -> int:
    try:
        here = __file__
        if not here.startswith("/") or "/." in here:
            import os  # only for unusual invocations: importing os costs start-up time

            here = os.path.abspath(here)
        scripts = here.rsplit("/", 2)[0]
        if scripts not in sys.path:
            sys.path.insert(0, scripts)
        from lib.telemetry import hook

        hook.hook_main()
    except BaseException as exc:  # including SystemExit/KeyboardInterrupt: exit 0 regardless
        try:
            sys.stderr.write("baton telemetry hook: " + type(exc).__name__ + ": " + str(exc)[:300] + "\n")
        except Exception:
            pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
