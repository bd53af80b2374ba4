"""Session ids and the paths of a session's files in the telemetry state folder.

Session ids come from hook payloads and the environment, so they are validated before they
become part of a file name. Standard library only and valid Python 3.8 (the hook runs this
on every tool call).
"""

from __future__ import annotations

from lib.telemetry.files import STATE_DIR, exists, join

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Dict, List, Mapping, Tuple

MAX_SESSION_ID_LEN = 128
_ID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_")


def is_valid_session_id(value: object) -> bool:
    """Safe as part of a file name: letters, digits, '-' and '_' only (uuids and `ppid-N`)."""
    return (
        isinstance(value, str)
        and 0 < len(value) <= MAX_SESSION_ID_LEN
        and all(ch in _ID_CHARS for ch in value)
    )


def resolve_session_id(payload: Mapping[str, Any], environ: Mapping[str, str], ppid: int) -> Tuple[str, List[str]]:
    """payload session_id -> $CLAUDE_CODE_SESSION_ID -> parent pid; with a note per rejected candidate."""
    notes: List[str] = []
    for source, value in (
        ("payload session_id", payload.get("session_id")),
        ("CLAUDE_CODE_SESSION_ID", environ.get("CLAUDE_CODE_SESSION_ID")),
    ):
        if value is None or value == "":
            continue
        if is_valid_session_id(value):
            return str(value), notes
        notes.append("unsafe session id from " + source + " rejected")
    notes.append("no session id: using the parent process id")
    return "ppid-" + str(ppid), notes


def resolve_root(payload: Mapping[str, Any], environ: Mapping[str, str], cwd: str) -> str:
    """$CLAUDE_PROJECT_DIR, else the payload's cwd, else the current directory."""
    env_root = environ.get("CLAUDE_PROJECT_DIR")
    if env_root:
        return env_root
    payload_cwd = payload.get("cwd")
    if isinstance(payload_cwd, str) and payload_cwd:
        return payload_cwd
    return cwd


def state_dir_of(root: str) -> str:
    return join(root, STATE_DIR)


def session_paths(state_dir: str, session_id: str) -> Dict[str, str]:
    """Every file that belongs to one session (what `archive-state` moves)."""
    base = join(state_dir, "session-" + session_id)
    return {
        "state": base + ".json",
        "lock": base + ".lock",
        "usage": base + ".usage.json",
        "usage_lock": base + ".usage.lock",
        "failures": base + ".failures.jsonl",
    }


def session_files(state_dir: str, session_id: str) -> List[str]:
    """The session's files that exist now, state first."""
    return [p for p in session_paths(state_dir, session_id).values() if exists(p)]
