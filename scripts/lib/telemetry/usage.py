"""Tokens and cost of a Claude Code session, from its transcripts and a price table.

Standard library only and valid Python 3.8, like lib.telemetry.state: the telemetry hook runs this
at SessionEnd, and `handoff_helpers.py telemetry-read` runs it (with the baton.yaml
`pricing:` overrides) whenever it reports a session. It is kept out of lib.telemetry.state so
the per-tool-call path does not pay for loading it.

Transcripts are read incrementally: `session-<id>.usage.json` (the ledger) remembers, per
transcript file, the byte offset read so far, per-model token totals, and the last
USAGE_TAIL_MAX messages counted. Claude Code writes one line per content block, each
repeating (or, in subagent transcripts, growing) the message's usage, so records are
de-duplicated by (message.id, requestId), keeping the largest usage field by field.
"""

from __future__ import annotations

import os
import time

from lib.telemetry.files import FileLock, log_error, read_bytes
from lib.telemetry.ids import is_valid_session_id, session_paths
from lib.telemetry.jsonc import loads
from lib.telemetry.state import _as_int, iso_utc, read_state, update_state, write_json_atomic

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

    JSONDict = Dict[str, Any]

TOKEN_FIELDS = ("input", "output", "cache_creation_5m", "cache_creation_1h", "cache_read")
USAGE_TAIL_MAX = 128
LEDGER_VERSION = 1


# --------------------------------------------------------------------------- pricing


def pricing_path() -> str:
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "pricing.json")


def normalise_model(model: str) -> str:
    """Provider spellings to the Anthropic API id: strip region/vendor prefixes, `[1m]`,
    Vertex `@date`, Bedrock `-v1:0` and a trailing `-YYYYMMDD` date."""
    name = model.strip().lower()
    cut = name.find("[")
    if cut > 0:
        name = name[:cut]
    cut = name.rfind("anthropic.")
    if cut >= 0:
        name = name[cut + len("anthropic."):]
    cut = name.find("@")
    if cut > 0:
        name = name[:cut]
    cut = name.find(":")
    if cut > 0:
        name = name[:cut]
        if name[-3:-1] == "-v" and name[-1:].isdigit():
            name = name[:-3]
    head, _, tail = name.rpartition("-")
    if head and len(tail) == 8 and tail.isdigit():
        name = head
    return name


def _price_entry(raw: Mapping[str, Any]) -> Optional[Dict[str, Any]]:
    """Rates per million tokens with the documented defaults for missing cache rates."""
    try:
        p_in = float(raw["input"])
        p_out = float(raw["output"])
    except (KeyError, TypeError, ValueError):
        return None
    out: Dict[str, Any] = {
        "input": p_in,
        "output": p_out,
        "cache_creation": float(raw.get("cache_creation", p_in * 1.25)),
        "cache_creation_1h": float(raw.get("cache_creation_1h", p_in * 2.0)),
        "cache_read": float(raw.get("cache_read", p_in * 0.1)),
    }
    return out


def load_pricing(overrides: Optional[Mapping[str, Any]] = None, path: Optional[str] = None) -> JSONDict:
    """pricing.json with `.claude/baton.yaml` `pricing:` overrides merged over it, per model.

    Returns {"models": {id: rates (+ "long_context")}, "aliases": {...}, "as_of": str,
    "basis": "pricing.json" or "pricing.json+baton.yaml"}.
    """
    with open(path or pricing_path(), "rb") as fh:
        data = loads(fh.read().decode("utf-8"))
    models: Dict[str, Any] = {}
    for name, raw in data.get("models", {}).items():
        entry = _price_entry(raw)
        if entry is None:
            continue
        long_ctx = raw.get("long_context")
        if isinstance(long_ctx, dict):
            long_entry = _price_entry(long_ctx)
            threshold = long_ctx.get("threshold_tokens")
            if long_entry is not None and isinstance(threshold, int):
                long_entry["threshold_tokens"] = threshold
                entry["long_context"] = long_entry
        models[normalise_model(name)] = entry
    aliases = {normalise_model(k): normalise_model(v) for k, v in data.get("aliases", {}).items()}
    basis = "pricing.json"
    if overrides:
        basis = "pricing.json+baton.yaml"
        for name, raw in overrides.items():
            key = normalise_model(str(name))
            key = aliases.get(key, key)
            base = models.get(key, {})
            merged = dict(base)
            merged.update({k: v for k, v in dict(raw or {}).items() if v is not None})
            entry = _price_entry(merged)
            if entry is None:
                continue
            if "long_context" in base:
                entry["long_context"] = base["long_context"]
            models[key] = entry
    return {"models": models, "aliases": aliases, "as_of": str(data.get("as_of", "")), "basis": basis}


def rates_for(model: str, pricing: Mapping[str, Any]) -> Optional[Dict[str, Any]]:
    key = normalise_model(model)
    models = pricing["models"]
    found = models.get(key)
    if found is None:
        alias = pricing["aliases"].get(key)
        found = models.get(alias) if alias else None
    return found if isinstance(found, dict) else None


def _cost(fields: Mapping[str, Any], rates: Mapping[str, float]) -> float:
    return (
        _as_int(fields.get("input")) * rates["input"]
        + _as_int(fields.get("output")) * rates["output"]
        + _as_int(fields.get("cache_creation_5m")) * rates["cache_creation"]
        + _as_int(fields.get("cache_creation_1h")) * rates["cache_creation_1h"]
        + _as_int(fields.get("cache_read")) * rates["cache_read"]
    ) / 1_000_000


def price_tokens(tokens_by_model: Mapping[str, Any], pricing: Mapping[str, Any]) -> Tuple[float, List[str]]:
    """(cost in USD of the priced models, models with tokens but no price).

    An unknown model's tokens stay counted; it is listed, never priced at zero silently.
    """
    total = 0.0
    unpriced: List[str] = []
    for model, record in sorted(tokens_by_model.items()):
        if not isinstance(record, dict):
            continue
        long_part: Dict[str, Any] = record["long_context"] if isinstance(record.get("long_context"), dict) else {}
        has_tokens = any(_as_int(record.get(f)) for f in TOKEN_FIELDS)
        rates = rates_for(model, pricing)
        if rates is None:
            if has_tokens:
                unpriced.append(model)
            continue
        long_rates = rates.get("long_context", rates)
        standard = {f: _as_int(record.get(f)) - _as_int(long_part.get(f)) for f in TOKEN_FIELDS}
        total += _cost(standard, rates) + _cost(long_part, long_rates)
    return round(total, 6), unpriced


# --------------------------------------------------------------------------- transcripts


def usage_fields(usage: Mapping[str, Any]) -> List[int]:
    """An API usage object as [input, output, cache 5m write, cache 1h write, cache read].

    The 5m/1h split comes from `cache_creation` when present; tokens it does not account
    for are priced at the 5-minute rate, the API's default TTL.
    """
    created = _as_int(usage.get("cache_creation_input_tokens"))
    split = usage.get("cache_creation")
    c5 = c1h = 0
    if isinstance(split, dict):
        c5 = _as_int(split.get("ephemeral_5m_input_tokens"))
        c1h = _as_int(split.get("ephemeral_1h_input_tokens"))
    if c5 + c1h < created:
        c5 += created - c5 - c1h
    return [
        _as_int(usage.get("input_tokens")),
        _as_int(usage.get("output_tokens")),
        c5,
        c1h,
        _as_int(usage.get("cache_read_input_tokens")),
    ]


def transcript_files(transcript_path: str) -> List[str]:
    """The main transcript and its subagents' (`<stem>/subagents/*.jsonl` beside it)."""
    files = [transcript_path]
    folder, name = os.path.split(transcript_path)
    stem = name[:-6] if name.endswith(".jsonl") else name
    sub = os.path.join(folder, stem, "subagents")
    try:
        with os.scandir(sub) as entries:
            files.extend(sorted(e.path for e in entries if e.name.endswith(".jsonl") and e.is_file()))
    except OSError:
        pass
    return files


def _new_ledger(as_of: str) -> JSONDict:
    return {"version": LEDGER_VERSION, "pricing_as_of": as_of, "files": {}}


def _band(model: str, fields: List[int], pricing: Mapping[str, Any]) -> str:
    rates = rates_for(model, pricing)
    long_ctx = rates.get("long_context") if rates else None
    if long_ctx:
        prompt = fields[0] + fields[2] + fields[3] + fields[4]
        if prompt > long_ctx["threshold_tokens"]:
            return "long"
    return "standard"


def _add(totals: Dict[str, Any], model: str, band: str, fields: List[int], sign: int, messages: int) -> None:
    rec = totals.setdefault(model, {"standard": [0, 0, 0, 0, 0, 0], "long": [0, 0, 0, 0, 0, 0]})[band]
    for i, value in enumerate(fields):
        rec[i] += sign * value
    rec[5] += messages


def _scan_transcript(path: str, entry: JSONDict, index: Dict[str, Any], pricing: Mapping[str, Any],
                     deadline: Optional[float]) -> bool:
    """Read new complete lines of one transcript into `entry`; False when out of time."""
    with open(path, "rb") as fh:
        fh.seek(entry["offset"])
        offset = entry["offset"]
        count = 0
        for line in fh:
            if not line.endswith(b"\n"):
                break  # a line still being written: read it next time
            count += 1
            if deadline is not None and not count % 256 and time.monotonic() > deadline:
                entry["offset"] = offset  # this line and the rest wait for the next call
                return False
            offset += len(line)
            if b'"usage"' not in line:
                continue
            try:
                obj = loads(line.decode("utf-8"))
            except Exception:
                continue
            if not isinstance(obj, dict) or obj.get("type") != "assistant":
                continue
            message = obj.get("message")
            if not isinstance(message, dict) or not isinstance(message.get("usage"), dict):
                continue
            model = message.get("model")
            model = model if isinstance(model, str) and model else "unknown"
            fields = usage_fields(message["usage"])
            mid = message.get("id")
            rid = obj.get("requestId")
            key = None
            if isinstance(mid, str) or isinstance(rid, str):
                key = str(mid) + "|" + str(rid)
            seen = index.get(key) if key is not None else None
            if seen is None:
                band = _band(model, fields, pricing)
                _add(entry["totals"], model, band, fields, 1, 1)
                if key is not None:
                    record = [key, model, band, fields]
                    entry["tail"].append(record)
                    index[key] = (entry, record)
                continue
            # A repeated or grown record of a message already counted: keep the largest usage.
            owner, record = seen
            old = record[3]
            grown = [max(old[i], fields[i]) for i in range(len(fields))]
            if grown != old:
                band = _band(record[1], grown, pricing)
                _add(owner["totals"], record[1], record[2], old, -1, -1)
                _add(owner["totals"], record[1], band, grown, 1, 1)
                record[2] = band
                record[3] = grown
        entry["offset"] = offset
    return True


def _load_ledger(path: str, as_of: str) -> JSONDict:
    try:
        ledger = loads(read_bytes(path).decode("utf-8"))
        if isinstance(ledger, dict) and ledger.get("version") == LEDGER_VERSION and ledger.get("pricing_as_of") == as_of \
                and isinstance(ledger.get("files"), dict):
            return ledger
    except (OSError, ValueError, UnicodeDecodeError):
        pass
    # Missing, unreadable, or banded under other prices: read every transcript again.
    return _new_ledger(as_of)


def collect_usage(transcript_path: str, ledger: JSONDict, pricing: Mapping[str, Any],
                  deadline: Optional[float] = None) -> bool:
    """Advance the ledger over the transcript and its subagents'; False when out of time."""
    files = ledger["files"]
    index: Dict[str, Any] = {}
    for entry in files.values():
        for record in entry["tail"]:
            index[record[0]] = (entry, record)
    complete = True
    for path in transcript_files(transcript_path):
        try:
            st = os.stat(path)
        except OSError:
            continue
        entry = files.get(path)
        if entry is None or entry.get("ino") != st.st_ino or st.st_size < entry.get("offset", 0):
            if entry is not None:  # replaced or truncated: forget it and read it again
                for record in entry["tail"]:
                    index.pop(record[0], None)
            entry = {"offset": 0, "ino": st.st_ino, "totals": {}, "tail": []}
            files[path] = entry
        if st.st_size > entry["offset"]:
            try:
                if not _scan_transcript(path, entry, index, pricing, deadline):
                    complete = False
            except OSError:
                continue
        del entry["tail"][: max(0, len(entry["tail"]) - USAGE_TAIL_MAX)]
        if not complete:
            break
    return complete


def ledger_tokens(ledger: Mapping[str, Any]) -> Tuple[Dict[str, int], Dict[str, Any]]:
    """(session token totals, per-model record with `long_context` part) from a ledger."""
    by_model: Dict[str, Any] = {}
    for entry in ledger["files"].values():
        for model, bands in entry["totals"].items():
            rec = by_model.setdefault(model, {f: 0 for f in TOKEN_FIELDS})
            rec.setdefault("messages", 0)
            for band in ("standard", "long"):
                values = bands[band]
                for i, f in enumerate(TOKEN_FIELDS):
                    rec[f] += values[i]
                rec["messages"] += values[5]
            long_values = bands["long"]
            if any(long_values[:5]):
                lrec = rec.setdefault("long_context", {f: 0 for f in TOKEN_FIELDS})
                for i, f in enumerate(TOKEN_FIELDS):
                    lrec[f] += long_values[i]
    totals = {"input": 0, "output": 0, "cache_creation": 0, "cache_read": 0}
    for rec in by_model.values():
        totals["input"] += rec["input"]
        totals["output"] += rec["output"]
        totals["cache_creation"] += rec["cache_creation_5m"] + rec["cache_creation_1h"]
        totals["cache_read"] += rec["cache_read"]
    return totals, by_model


def refresh_usage(state_dir: str, session_id: str, transcript_path: Optional[str] = None,
                  overrides: Optional[Mapping[str, Any]] = None, budget_s: Optional[float] = None,
                  log: Optional[Callable[[str], None]] = None) -> Optional[JSONDict]:
    """Bring the session's `tokens`, `tokens_by_model` and `cost_usd` up to date.

    Reads only what was appended to the transcripts since the last call (the byte offsets
    live in `session-<id>.usage.json`), de-duplicating records of one message by
    (message.id, requestId) and keeping the largest usage. `overrides` is the baton.yaml
    `pricing:` section; without it prices come from pricing.json alone. Returns the new
    state, or None when no transcript is known.
    """
    if not is_valid_session_id(session_id):
        raise ValueError("invalid session id: " + repr(session_id))
    log = log or (lambda message: log_error(state_dir, message))
    paths = session_paths(state_dir, session_id)
    if transcript_path is None:
        current = read_state(state_dir, session_id)
        transcript_path = current.get("transcript_path") if current else None
    if not transcript_path or not transcript_path.endswith(".jsonl"):
        return None
    if not os.path.isfile(transcript_path):
        log("transcript not found: " + transcript_path + "; tokens and cost left as they were")
        return None
    pricing = load_pricing(overrides)
    deadline = time.monotonic() + budget_s if budget_s is not None else None
    # Transcripts are read under their own lock so tool calls are never kept waiting.
    with FileLock(paths["usage_lock"]):
        ledger = _load_ledger(paths["usage"], pricing["as_of"])
        complete = collect_usage(transcript_path, ledger, pricing, deadline)
        write_json_atomic(paths["usage"], ledger)
    tokens, by_model = ledger_tokens(ledger)
    cost, unpriced = price_tokens(by_model, pricing)

    def mutate(state: JSONDict) -> bool:
        state["tokens"] = tokens
        state["tokens_by_model"] = by_model
        state["cost_usd"] = cost
        state["cost_basis"] = pricing["basis"]
        state["unpriced_models"] = unpriced
        state["usage_complete"] = complete
        state["usage_updated_at"] = iso_utc()
        if not state.get("transcript_path"):
            state["transcript_path"] = transcript_path
        return True

    return update_state(state_dir, session_id, mutate, log)
