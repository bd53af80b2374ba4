"""Claude Code PreCompact hook: suggest a /handoff before the context is compacted.

A PreCompact hook cannot pause compaction. What it can do is answer with a
`systemMessage`, which Claude Code shows the user: a `/handoff` now writes the
session's context into a note the next session resumes from, before compaction
summarises it away.

Standard library only, valid Python 3.8, and it always exits 0: a reminder must never
block or break Claude Code.
"""

from __future__ import annotations

import json
import sys

MESSAGE = (
    "baton: Claude Code is about to compact this conversation{how}, which keeps only a summary of it. "
    "Running /handoff now would keep this session's context: it writes a session note "
    "(summary, decisions, open questions, next steps and a Resume Prompt) to docs/sessions/ "
    "that the next session can resume from."
)


def message(payload: object) -> str:
    trigger = payload.get("trigger") if isinstance(payload, dict) else None
    how = {"auto": " (the context window is full)", "manual": " (/compact)"}.get(str(trigger), "")
    return MESSAGE.format(how=how)


def main() -> int:
    try:
        try:
            payload = json.loads(sys.stdin.read() or "{}")
        except ValueError:
            payload = {}
        sys.stdout.write(json.dumps({"systemMessage": message(payload)}) + "\n")
        sys.stdout.flush()
    except BaseException as exc:  # including SystemExit/KeyboardInterrupt: exit 0 regardless
        try:
            sys.stderr.write("baton precompact hook: " + type(exc).__name__ + ": " + str(exc)[:300] + "\n")
        except Exception:
            pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
