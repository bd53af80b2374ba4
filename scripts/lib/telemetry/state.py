"""Telemetry state of one Claude Code session: what the hook writes and how it is read back.

The hook (scripts/hooks/session_state.py) runs once per tool call, as a new process, often
many at once. So this module is built for start-up cost and contention:

- standard library only, valid Python 3.8, no module-level work beyond a few constants;
- nothing heavy is imported on the success path: no `json` (it pulls in `re`, `enum` and
  compiles regexes), no `datetime`, no `typing` at run time; JSON goes through the C
  accelerators in `_json`, with `json` as the fallback;
- every read-modify-write of a session's state holds `session-<id>.lock` with flock (never
  the state file itself: os.replace swaps its inode) and writes a uniquely named temp file,
  fsynced, then os.replace'd;
- nothing is read or written through a symlink: the folder is checked and every open passes
  O_NOFOLLOW.

This module folds events into the state; beside it, lib/telemetry/hook.py runs the hook's
process, files.py holds the file primitives (no-follow opens, the lock, atomic writes, the error
log), ids.py the session ids and file paths, jsonc.py the JSON codec, usage.py tokens and cost.

The file format is described in docs/conventions/telemetry-state.md. The same functions
serve `handoff_helpers.py telemetry-read`: `read_state`, `normalise_state`, `counter_at`.
"""

from __future__ import annotations

import time

try:
    # The os module's C core. `import os` itself costs ~2.5 ms of start-up here (the frozen
    # os, posixpath and _collections_abc modules), a sixth of a bare interpreter's; every
    # call below exists under the same name in posix.
    import posix as _os
except ImportError:  # not a POSIX system
    import os as _os  # type: ignore[no-redef,unused-ignore]

from lib.telemetry.files import (
    FileLock,
    SymlinkRefused,
    append_bytes,
    exists,
    read_bytes,
    unsafe_state_dir,
    write_bytes_atomic,
)

# is_valid_session_id is re-exported: the console checks session ids through this module.
from lib.telemetry.ids import is_valid_session_id as is_valid_session_id
from lib.telemetry.ids import session_paths
from lib.telemetry.jsonc import dumps, loads

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs milliseconds to import; annotations are strings anyway
    from typing import Any, Callable, Dict, Mapping, Optional, Tuple

    JSONDict = Dict[str, Any]

STATE_VERSION = 1
# Duplicate deliveries of one tool call (plugin + project hooks) arrive together, so a
# short memory of recent ids is enough; it is bounded so the state stays small.
RECENT_IDS_MAX = 128
# The folder scan (parallel terminals + orphan sweep) runs at most this often per session.
SCAN_INTERVAL_S = 60.0
PARALLEL_WINDOW_S = 3600.0
ORPHAN_AGE_S = 3600.0
# What a failed call keeps of its output for later classification: the head names the first
# error, the tail a test runner's summary.
FAILURE_HEAD_CHARS = 12 * 1024
FAILURE_TAIL_CHARS = 4 * 1024

SUBAGENT_TOOLS = ("Agent", "Task")
# baton's read-only MCP server (scripts/mcp_server.py): its canonical key, and the name its tools
# get when the plugin registers it (`mcp__plugin_<plugin>_<server>__<tool>`).
BATON_MCP_KEY = "mcp__baton"
MCP_KEY_ALIASES = {"mcp__plugin_baton_baton": BATON_MCP_KEY}
TOOL_EVENTS = ("PostToolUse", "PostToolUseFailure")
# Cheap, regex-free hints that a successful-looking Bash call actually failed (lower case).
STDERR_FAILURE_SIGNS = (
    "error", "fail", "traceback", "exception", "fatal", "not found", "no such file",
    "permission denied", "cannot ", "can't ", "timed out", "segmentation fault", "panic",
)


# --------------------------------------------------------------------------- small helpers


def iso_utc(epoch: Optional[float] = None) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def canonical_tool(name: str) -> Tuple[str, Optional[str]]:
    """`mcp__<server>__<method>` -> (`mcp__<server>`, method); other tools -> (name, None).

    Server names may contain single underscores (`mcp__notion_offplan__search`), so the
    split is on the first double underscore after the prefix. baton's own server counts
    under `mcp__baton` whether the project's .mcp.json or the plugin registered it.
    """
    if name.startswith("mcp__"):
        cut = name.find("__", 5)
        if cut > 5 and cut + 2 < len(name):
            key = name[:cut]
            return MCP_KEY_ALIASES.get(key, key), name[cut + 2:]
    return name, None


def _as_int(value: Any) -> int:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        try:
            return int(value)
        except (OverflowError, ValueError):  # inf, nan
            return 0
    return 0


# --------------------------------------------------------------------------- state


def new_state(session_id: str, now: float) -> JSONDict:
    stamp = iso_utc(now)
    return {
        "state_version": STATE_VERSION,
        "session_id": session_id,
        "started_at": stamp,
        "last_event_at": stamp,
        "ended_at": None,
        "end_reason": None,
        "cwd": None,
        "transcript_path": None,
        "tool_calls_count": 0,
        "tool_calls_breakdown": {},
        "tool_calls_breakdown_methods": {},
        "tool_failures_count": 0,
        "tool_interrupts_count": 0,
        "failures_breakdown": {},
        "subagents_dispatched": 0,
        "parallel_terminals_observed": 0,
        "session_starts": 0,
        "last_start_source": None,
        "compactions": 0,
        "duplicate_events_ignored": 0,
        "recent_tool_use_ids": [],
        "tokens": {"input": 0, "output": 0, "cache_creation": 0, "cache_read": 0},
        "tokens_by_model": {},
        "cost_usd": 0.0,
        "cost_basis": None,
        "unpriced_models": [],
        "usage_complete": None,
        "usage_updated_at": None,
        "scanned_at": 0.0,
    }


def _int_map(value: Any) -> Dict[str, int]:
    if not isinstance(value, dict):
        return {}
    return {str(k): _as_int(v) for k, v in value.items()}


def normalise_state(raw: Any, session_id: str = "") -> JSONDict:
    """A state with every documented key present and well-typed (older versions upgraded).

    Counters are integers, never null; mappings are mappings. Unknown keys are kept.
    """
    src = raw if isinstance(raw, dict) else {}
    sid = src.get("session_id") if isinstance(src.get("session_id"), str) else session_id
    out = new_state(sid or session_id, 0.0)
    out["started_at"] = out["last_event_at"] = None
    for key, value in src.items():
        if key not in out:
            out[key] = value
    for key in ("started_at", "last_event_at", "ended_at", "end_reason", "cwd", "transcript_path",
                "cost_basis", "usage_updated_at", "last_start_source"):
        value = src.get(key)
        out[key] = value if isinstance(value, str) else None
    for key in ("tool_calls_count", "tool_failures_count", "tool_interrupts_count", "subagents_dispatched",
                "parallel_terminals_observed", "session_starts", "compactions", "duplicate_events_ignored"):
        out[key] = _as_int(src.get(key))
    out["tool_calls_breakdown"] = _int_map(src.get("tool_calls_breakdown"))
    out["failures_breakdown"] = _int_map(src.get("failures_breakdown"))
    methods = src.get("tool_calls_breakdown_methods")
    out["tool_calls_breakdown_methods"] = (
        {str(k): _int_map(v) for k, v in methods.items()} if isinstance(methods, dict) else {}
    )
    ids = src.get("recent_tool_use_ids")
    out["recent_tool_use_ids"] = [i for i in ids if isinstance(i, str)][-RECENT_IDS_MAX:] if isinstance(ids, list) else []
    tokens = _int_map(src.get("tokens"))
    out["tokens"] = {k: tokens.get(k, 0) for k in ("input", "output", "cache_creation", "cache_read")}
    by_model = src.get("tokens_by_model")
    out["tokens_by_model"] = by_model if isinstance(by_model, dict) else {}
    cost = src.get("cost_usd")
    out["cost_usd"] = float(cost) if isinstance(cost, (int, float)) and not isinstance(cost, bool) else 0.0
    unpriced = src.get("unpriced_models")
    out["unpriced_models"] = [m for m in unpriced if isinstance(m, str)] if isinstance(unpriced, list) else []
    complete = src.get("usage_complete")
    out["usage_complete"] = complete if isinstance(complete, bool) else None
    scanned = src.get("scanned_at")
    out["scanned_at"] = float(scanned) if isinstance(scanned, (int, float)) and not isinstance(scanned, bool) else 0.0
    out["state_version"] = STATE_VERSION
    return out


def counter_at(state: Mapping[str, Any], dotted: str) -> int:
    """The integer at a dotted path (`tool_calls_breakdown.mcp__notion_offplan`), 0 when absent."""
    node: Any = state
    for part in dotted.split("."):
        if not isinstance(node, dict):
            return 0
        node = node.get(part)
    return _as_int(node)


def read_state(state_dir: str, session_id: str) -> Optional[JSONDict]:
    """The session's state, normalised, or None when there is none (or it is unreadable)."""
    if not is_valid_session_id(session_id):
        raise ValueError("invalid session id: " + repr(session_id))
    if unsafe_state_dir(state_dir) is not None:
        return None
    try:
        raw = loads(read_bytes(session_paths(state_dir, session_id)["state"]).decode("utf-8"))
    except (OSError, ValueError):
        return None
    return normalise_state(raw, session_id)


def failure_of(payload: Mapping[str, Any]) -> Optional[Tuple[str, Optional[int]]]:
    """(text, exit code) when this tool event is a failure worth classifying, else None.

    PostToolUseFailure carries `error` ("Exit code 2\\n..."); a PostToolUse of Bash counts as
    failed when its response has a non-zero exit code or stderr with a failure sign.
    """
    event = payload.get("hook_event_name")
    if event == "PostToolUseFailure":
        text = payload.get("error")
        text = text if isinstance(text, str) else ""
        code = None
        if text.startswith("Exit code "):
            head = text[10:].split("\n", 1)[0].strip()
            if head.lstrip("-").isdigit():
                code = int(head)
        return text, code
    if event != "PostToolUse" or payload.get("tool_name") != "Bash":
        return None
    response = payload.get("tool_response")
    if not isinstance(response, dict):
        return None
    code = None
    for key in ("exit_code", "exitCode", "returncode", "return_code", "code"):
        value = response.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            code = value
            break
    stderr = response.get("stderr")
    stderr = stderr if isinstance(stderr, str) else ""
    if code is not None and code != 0:
        return (stderr or str(response.get("stdout") or "")), code
    if stderr.strip():
        lowered = stderr.lower()
        for sign in STDERR_FAILURE_SIGNS:
            if sign in lowered:
                return stderr, code
    return None


def classify_failure(text: str, tool: Optional[str], exit_code: Optional[int],
                     log: Callable[[str], None]) -> Optional[str]:
    """The failure class from lib.failures.classify, or None while that module is absent or fails.

    Without a classifier the failure is still counted in `tool_failures_count`;
    `failures_breakdown` only ever holds classes a classifier produced.
    """
    try:
        from lib.failures import classify as failures  # type: ignore[attr-defined,unused-ignore]
    except ImportError as exc:
        if exc.name not in ("lib.failures", "lib.failures.classify"):  # it exists, but an import of its fails
            log("failure classifier cannot be imported: " + type(exc).__name__ + ": " + str(exc)[:200])
        return None
    except Exception as exc:
        log("failure classifier cannot be imported: " + type(exc).__name__ + ": " + str(exc)[:200])
        return None
    try:
        result = failures.classify(text, tool=tool, exit_code=exit_code)
        cls = getattr(result, "failure_class", None)
        return cls if isinstance(cls, str) and cls else None
    except Exception as exc:
        log("failure classifier raised " + type(exc).__name__ + ": " + str(exc)[:200])
        return None


def failure_record(text: str, tool: Optional[str], exit_code: Optional[int]) -> str:
    """One line of `session-<id>.failures.jsonl`: what classification needs, bounded in size,
    secrets redacted (the text later becomes the note's `failure_summary`, which is committed).

    When the redactor cannot run, the text is dropped rather than written as it was.
    """
    if len(text) > FAILURE_HEAD_CHARS + FAILURE_TAIL_CHARS:
        text = text[:FAILURE_HEAD_CHARS] + "\n...\n" + text[-FAILURE_TAIL_CHARS:]
    try:
        from lib.security import redact  # stdlib-only; compiles only the rules this text wakes

        text = redact.redact(text)
    except Exception as exc:
        text = "[REDACTED: redactor unavailable: " + type(exc).__name__ + "]"
    return dumps({"tool": tool, "exit_code": exit_code, "text": text}) + "\n"


def append_line(path: str, line: str) -> None:
    append_bytes(path, line.encode("utf-8"))


def classify_pending(state_dir: str, session_id: str, log: Optional[Callable[[str], None]] = None) -> Optional[JSONDict]:
    """Classify the failures recorded since the last call into `failures_breakdown`.

    Failed tool calls only append their output (importing the classifier, and `re` with it,
    would make every failed call several times dearer); this folds them in. It runs at
    SessionEnd and whenever a reader (telemetry-read, the console) wants final figures.
    Returns the updated state, or None when the session has no state.
    """
    say = log or (lambda message: None)
    paths = session_paths(state_dir, session_id)
    if not exists(paths["state"]):
        return None

    def mutate(state: JSONDict) -> bool:
        offset = _as_int(state.get("failures_classified_offset"))
        try:
            data = read_bytes(paths["failures"], offset)
        except SymlinkRefused as exc:
            say(str(exc))
            return False
        except OSError:
            return False
        end = data.rfind(b"\n") + 1  # a line still being written waits for the next call
        if end == 0:
            return False
        breakdown = state["failures_breakdown"]
        for raw in data[:end].splitlines():
            try:
                record = loads(raw.decode("utf-8", "replace"))
            except Exception:
                say("unreadable failure record skipped")
                continue
            if not isinstance(record, dict):
                continue
            tool = record.get("tool")
            code = record.get("exit_code")
            cls = classify_failure(str(record.get("text") or ""), tool if isinstance(tool, str) else None,
                                   code if isinstance(code, int) else None, say)
            if cls:
                breakdown[cls] = breakdown.get(cls, 0) + 1
        state["failures_classified_offset"] = offset + end
        return True

    return update_state(state_dir, session_id, mutate, say)


def apply_event(state: JSONDict, payload: Mapping[str, Any], now: float,
                failure_class: Optional[str] = None, is_failure: bool = False) -> bool:
    """Fold one hook event into the state. False when it was a duplicate delivery."""
    event = payload.get("hook_event_name")
    if event in TOOL_EVENTS:
        tool_use_id = payload.get("tool_use_id")
        recent = state["recent_tool_use_ids"]
        if isinstance(tool_use_id, str) and tool_use_id:
            if tool_use_id in recent:
                state["duplicate_events_ignored"] += 1
                return False
            recent.append(tool_use_id)
            if len(recent) > RECENT_IDS_MAX:
                del recent[: len(recent) - RECENT_IDS_MAX]
        name = payload.get("tool_name")
        name = name if isinstance(name, str) and name else "unknown"
        key, method = canonical_tool(name)
        state["tool_calls_count"] += 1
        breakdown = state["tool_calls_breakdown"]
        breakdown[key] = breakdown.get(key, 0) + 1
        if method is not None:
            methods = state["tool_calls_breakdown_methods"].setdefault(key, {})
            methods[method] = methods.get(method, 0) + 1
        if name in SUBAGENT_TOOLS:
            state["subagents_dispatched"] += 1
        if event == "PostToolUseFailure" and payload.get("is_interrupt") is True:
            state["tool_interrupts_count"] += 1
        elif is_failure:
            state["tool_failures_count"] += 1
            if failure_class:
                fb = state["failures_breakdown"]
                fb[failure_class] = fb.get(failure_class, 0) + 1
    elif event == "SessionStart":
        state["session_starts"] += 1
        source = payload.get("source")
        if isinstance(source, str):
            state["last_start_source"] = source
        state["ended_at"] = None
    elif event == "SessionEnd":
        state["ended_at"] = iso_utc(now)
        reason = payload.get("reason")
        state["end_reason"] = reason if isinstance(reason, str) else None
    elif event == "PreCompact":
        state["compactions"] += 1
    for key in ("cwd", "transcript_path"):
        value = payload.get(key)
        if isinstance(value, str) and value:
            state[key] = value
    state["last_event_at"] = iso_utc(now)
    return True


# --------------------------------------------------------------------------- files and locks


def write_json_atomic(path: str, obj: Any) -> None:
    """Unique temp name (`<path>.<pid>.<ns>.tmp`), fsync, os.replace; temp removed on failure."""
    write_bytes_atomic(path, dumps(obj).encode("ascii"))


def _load_state_file(path: str, session_id: str, now: float, log: Callable[[str], None]) -> JSONDict:
    """The current state; a poisoned file is kept aside as `<path>.corrupt-<ts>` and restarted."""
    try:
        data = read_bytes(path)
    except FileNotFoundError:
        return new_state(session_id, now)
    try:
        raw = loads(data.decode("utf-8"))
        if not isinstance(raw, dict):
            raise ValueError("not a JSON object")
    except Exception as exc:
        aside = path + ".corrupt-" + time.strftime("%Y%m%dT%H%M%S", time.gmtime(now)) + "-" + str(_os.getpid())
        try:
            _os.replace(path, aside)
            log("state file was not valid JSON (" + type(exc).__name__ + "); kept as " + aside.rpartition("/")[2]
                + " and restarted")
        except OSError as move_exc:
            log("state file was not valid JSON and could not be moved aside: " + str(move_exc))
        return new_state(session_id, now)
    # Always normalised: valid JSON with a wrong type in it must not wedge every later call.
    state = normalise_state(raw, session_id)
    if state["started_at"] is None:
        state["started_at"] = iso_utc(now)
    return state


def scan_state_dir(state_dir: str, session_id: str, now: float) -> Tuple[int, int]:
    """(other sessions active within the hour, orphan temp files removed).

    One pass over the folder does both jobs; callers run it at most every SCAN_INTERVAL_S
    per session, so the common path does no directory listing at all.
    """
    own = "session-" + session_id + ".json"
    active = 0
    removed = 0
    with _os.scandir(state_dir) as entries:
        for entry in entries:
            name = entry.name
            if not name.startswith("session-"):
                continue
            if name.endswith(".tmp"):
                try:
                    if now - entry.stat(follow_symlinks=False).st_mtime > ORPHAN_AGE_S:
                        _os.unlink(entry.path)
                        removed += 1
                except OSError:
                    pass
            elif name.endswith(".json") and name.count(".") == 1 and name != own:
                try:
                    if now - entry.stat(follow_symlinks=False).st_mtime <= PARALLEL_WINDOW_S:
                        active += 1
                except OSError:
                    pass
    return active, removed


def update_state(state_dir: str, session_id: str, mutate: Callable[[JSONDict], bool],
                 log: Callable[[str], None], now: Optional[float] = None, force_scan: bool = False) -> JSONDict:
    """Locked read-modify-write of one session's state. `mutate` returns False to skip the write."""
    now = time.time() if now is None else now
    paths = session_paths(state_dir, session_id)
    with FileLock(paths["lock"]):
        state = _load_state_file(paths["state"], session_id, now, log)
        changed = mutate(state)
        scanned = state.get("scanned_at")
        if force_scan or not isinstance(scanned, (int, float)) or now - scanned >= SCAN_INTERVAL_S:
            try:
                active, removed = scan_state_dir(state_dir, session_id, now)
                if active > _as_int(state.get("parallel_terminals_observed")):
                    state["parallel_terminals_observed"] = active
                if removed:
                    log("removed " + str(removed) + " orphaned temp file(s)")
            except OSError as exc:
                log("state folder scan failed: " + str(exc))
            state["scanned_at"] = now
            changed = True
        if changed:
            write_json_atomic(paths["state"], state)
    return state
