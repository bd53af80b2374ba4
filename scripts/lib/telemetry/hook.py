"""The telemetry hook's process: one Claude Code hook event read from stdin, folded into the state.

scripts/hooks/session_state.py calls `hook_main` once per tool call, in a fresh interpreter;
the folding itself lives in lib/telemetry/state.py and tokens and cost in lib/telemetry/usage.py,
which only SessionEnd loads. Standard library only, valid Python 3.8, like the rest of the folder.
Nothing here raises: problems go to .claude/state/hook-errors.log.
"""

from __future__ import annotations

import time

try:
    import posix as _os  # the os module's C core: `import os` costs start-up time (see state.py)
except ImportError:  # not a POSIX system
    import os as _os  # type: ignore[no-redef,unused-ignore]

from lib.telemetry.files import SymlinkRefused, log_error
from lib.telemetry.ids import resolve_root, resolve_session_id, session_paths, state_dir_of
from lib.telemetry.jsonc import loads
from lib.telemetry.state import (
    TOOL_EVENTS,
    append_line,
    apply_event,
    classify_pending,
    failure_of,
    failure_record,
    update_state,
)

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs milliseconds to import; annotations are strings anyway
    from typing import Any, Dict, Iterable, Mapping

    JSONDict = Dict[str, Any]

# Time the SessionEnd hook may spend reading transcripts; the rest is read on the next call.
SESSION_END_USAGE_BUDGET_S = 0.8


def run_hook(data: bytes, environ: Mapping[str, str], cwd: str, ppid: int, stderr: Any = None) -> None:
    """Handle one hook invocation. Never raises: problems go to hook-errors.log."""
    state_dir = state_dir_of(cwd)
    prefix = "event=?: "
    try:
        text = data.decode("utf-8", "replace") if data else ""
        payload: Any = None
        problem = None
        if not text.strip():
            problem = "empty stdin"
        else:
            try:
                payload = loads(text)
            except Exception as exc:
                problem = "stdin is not JSON (" + type(exc).__name__ + ")"
            else:
                if not isinstance(payload, dict):
                    problem = "stdin is not a JSON object"
        if problem is not None:
            root = resolve_root({}, environ, cwd)
            log_error(state_dir_of(root), problem + "; event ignored", stderr)
            return
        assert isinstance(payload, dict)
        event = str(payload.get("hook_event_name") or "?")
        prefix = "event=" + event[:40] + ": "
        root = resolve_root(payload, environ, cwd)
        state_dir = state_dir_of(root)
        session_id, notes = resolve_session_id(payload, environ, ppid)
        prefix = "event=" + event[:40] + " session=" + session_id + ": "

        def log(message: str) -> None:
            log_error(state_dir, prefix + message, stderr)

        for note in notes:
            log(note)
        record = None
        is_failure = False
        if event in TOOL_EVENTS:
            failure = failure_of(payload)
            if failure is not None:
                is_failure = True
                if payload.get("is_interrupt") is not True:
                    tool = payload.get("tool_name")
                    record = failure_record(failure[0], tool if isinstance(tool, str) else None, failure[1])
        now = time.time()
        failures_path = session_paths(state_dir, session_id)["failures"]

        def mutate(state: JSONDict) -> bool:
            fresh = apply_event(state, payload, now, None, is_failure)
            if fresh and record is not None:
                append_line(failures_path, record)
            return True  # a duplicate is not counted, but its `duplicate_events_ignored` is

        lifecycle = event in ("SessionStart", "SessionEnd")
        state = update_state(state_dir, session_id, mutate, log, now=now, force_scan=lifecycle)
        if event == "SessionEnd":
            classify_pending(state_dir, session_id, log)
            transcript = state.get("transcript_path")
            if isinstance(transcript, str) and transcript:
                # Imported here only: pricing and transcripts are SessionEnd's work, never a tool call's.
                from lib.telemetry.usage import refresh_usage

                refresh_usage(state_dir, session_id, transcript, budget_s=SESSION_END_USAGE_BUDGET_S, log=log)
    except SymlinkRefused as exc:
        # Someone else's symlink in the state folder: say so where the user can see it, write nothing.
        log_error(state_dir, prefix + "refused: " + str(exc)[:300] + "; event skipped", stderr, echo=True)
    except Exception as exc:
        log_error(state_dir, prefix + type(exc).__name__ + ": " + str(exc)[:300], stderr)


def _environ(names: Iterable[str]) -> Dict[str, str]:
    """The few variables the hook reads, decoded like os.environ does, without importing os."""
    environ = getattr(_os, "environ", {})
    out: Dict[str, str] = {}
    for name in names:
        value = environ.get(name.encode()) if _os.__name__ == "posix" else environ.get(name)
        if isinstance(value, bytes):
            import sys

            value = value.decode(sys.getfilesystemencoding(), "surrogateescape")
        if value is not None:
            out[name] = value
    return out


def hook_main() -> None:
    """The hook process: payload from stdin, variables from the environment. Never raises."""
    import sys

    try:
        data = sys.stdin.buffer.read()
    except Exception:
        data = b""
    try:
        environ = _environ(("CLAUDE_PROJECT_DIR", "CLAUDE_CODE_SESSION_ID"))
        cwd = _os.getcwd()
        ppid = _os.getppid()
    except Exception:
        environ, cwd, ppid = {}, ".", 0
    run_hook(data, environ, cwd, ppid)
