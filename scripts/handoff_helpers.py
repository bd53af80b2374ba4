"""The helpers behind `/handoff` (.claude/commands/handoff.md); docs/conventions/handoff.md.

Each step of the command calls one subcommand; every subcommand takes --json.
"""

from __future__ import annotations

import _project_python  # noqa: F401  (first: re-executes with baton's Python when needed)

import argparse
import datetime as dt
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from lib.core import cli, config
from lib.core.errors import BatonError
from lib.core.paths import STORE_FOLDERS, find_root
from lib.handoff import commit as commits
from lib.handoff import context, indexes, note, plan, resume_cache, state, worklog
from lib.handoff import manifest as manifests
from lib.store import yamlio

PROG = "handoff_helpers.py"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _warn(lines: Sequence[str]) -> None:
    for line in lines:
        print(f"warning: {line}", file=sys.stderr)


def _loud(violations: Sequence[str]) -> None:
    """The invariant warning: impossible to miss in a terminal or in Claude Code's tool output."""
    if not violations:
        return
    bar = "!" * 78
    print(bar, file=sys.stderr)
    print("WARNING: this session broke an invariant (a counter that must stay zero):", file=sys.stderr)
    for line in violations:
        print(f"  {line}", file=sys.stderr)
    print("The note records it under invariant_violations. Find out why before the next session.", file=sys.stderr)
    print(bar, file=sys.stderr)


def _emit(args: argparse.Namespace, payload: dict[str, Any], text: Callable[[], None]) -> None:
    if args.json:
        cli.print_json({"version": cli.JSON_VERSION, **payload})
    else:
        text()


def _session_id(args: argparse.Namespace) -> str:
    value = args.id or os.environ.get("BATON_SESSION_ID")
    if not value:
        raise BatonError("--id ID is required (the id `start` printed)")
    return str(value)


def _stdin_content(args: argparse.Namespace) -> Any:
    """Content as block-style YAML (or JSON, which is YAML too) on stdin or from --input.

    The command file sends YAML because Claude Code refuses a Bash command holding a brace
    next to a quote (`{"`: "expansion obfuscation"), which every JSON object has.
    """
    raw = Path(args.input).read_text(encoding="utf-8") if args.input else sys.stdin.read()
    if not raw.strip():
        raise BatonError("no content: pass it as YAML on stdin (or --input FILE)")
    try:
        return yamlio.load(raw)
    except yamlio.YAMLLoadError as exc:
        where = f"line {exc.line}: " if exc.line else ""
        raise BatonError(f"content is not valid YAML: {where}{exc}") from None


# ----------------------------------------------------------------- subcommands

def cmd_start(args: argparse.Namespace, root: Path) -> int:
    words = [w for w in args.words if w]
    quick = args.quick or "quick" in words
    auto = args.auto or "auto" in words
    result = plan.start(root, quick=quick, auto=auto, operator_confirmed=args.operator_confirmed,
                        claude_id=args.session_id, since=args.since, now=_now())
    payload = result.as_dict()
    payload["request"] = " ".join(w for w in words if w not in ("quick", "auto"))
    _warn(result.warnings)

    def text() -> None:
        op = result.operator
        if result.confirm_operator:
            print(f"operator: {op['slug']} ({op['initials']}), inferred from {op['source']} {op['email']}: "
                  "confirm, then run start again with --operator-confirmed")
        else:
            print(f"id: {result.id} ({result.claim}) -> {result.path}")
            print(f"operator: {op['slug']} ({op['initials']}, from {op['source']})")
        print(f"mode: {result.mode} ({result.trivial_reason})")
        if result.hint:
            print(f"hint: {result.hint}")

    _emit(args, payload, text)
    return 0


def cmd_telemetry_read(args: argparse.Namespace, root: Path) -> int:
    settings = config.load(root)
    claude_id, source = context.locate_session(args.session_id, args.id or os.environ.get("BATON_SESSION_ID"), root)
    telemetry = context.read(root, settings, claude_id, refresh=True)
    _warn(telemetry.warnings)
    _loud(telemetry.violations)

    def text() -> None:
        st = telemetry.state
        found = "" if telemetry.found else " (no state file)"
        print(f"session: {telemetry.session_id or '(unknown)'}{found} [from {source}]")
        for key in state.COUNTERS:
            print(f"{key}: {st.get(key)}")
        for dotted, value in telemetry.invariants.items():
            print(f"invariant {dotted}: {value}")

    _emit(args, {**telemetry.as_dict(), "session_id_source": source}, text)
    return 0


def cmd_git_stats(args: argparse.Namespace, root: Path) -> int:
    record = manifests.load(root, args.id) if args.id else None
    ctx = context.gather(root, context.claude_session_id(args.session_id, args.id, root), args.since, _now(),
                         recorded=(record.since, record.since_source) if record else (None, None))
    stats = ctx.stats
    _warn(stats.warnings)

    def text() -> None:
        print(f"since {stats.since} ({stats.since_source}): {stats.commits_count} commit(s), "
              f"+{stats.lines_added} / -{stats.lines_removed} lines in {stats.files_changed} file(s)")
        for c in stats.commits:
            print(f"  {c.short} {c.subject}")
        for key in ("workstreams_touched", "plans_touched", "adrs_touched"):
            if getattr(stats, key):
                print(f"{key}: {', '.join(getattr(stats, key))}")

    _emit(args, stats.as_dict(), text)
    return 0


def cmd_check_prompt(args: argparse.Namespace, root: Path) -> int:
    text_in = Path(args.input).read_text(encoding="utf-8") if args.input else sys.stdin.read()
    check = note.check_resume_prompt(text_in)

    def text() -> None:
        print(f"{check.words} words, confidence: {check.confidence or 'missing'}")
        for problem in check.problems:
            print(f"problem: {problem}")

    _emit(args, check.as_dict(), text)
    return 0 if check.ok else 1


def _content_failure(args: argparse.Namespace, exc: note.ContentError, what: str) -> int:
    if args.json:
        cli.print_json({"version": cli.JSON_VERSION, "ok": False, "problems": exc.problems})
    print(f"{PROG}: error: {what}: {len(exc.problems)} problem(s); nothing was written:", file=sys.stderr)
    for problem in exc.problems:
        print(f"  {problem}", file=sys.stderr)
    return 1


def cmd_write_session(args: argparse.Namespace, root: Path) -> int:
    session_id = _session_id(args)
    data = _stdin_content(args)
    try:
        result = note.write_session(root, session_id, data, force=args.force, claude_id=args.session_id,
                                    since=args.since, now=_now())
    except note.ContentError as exc:
        return _content_failure(args, exc, f"{session_id}: invalid content")
    _warn(result.warnings)
    _loud(result.invariant_violations)

    def text() -> None:
        print(f"wrote {result.path} ({result.mode}; {', '.join(result.sections)}); {result.content_hash}")

    _emit(args, {"ok": True, **result.as_dict()}, text)
    return 0


def cmd_write_learning(args: argparse.Namespace, root: Path) -> int:
    session_id = _session_id(args)
    data = _stdin_content(args)
    try:
        result = note.write_learning(root, session_id, data, force=args.force, now=_now())
    except note.ContentError as exc:
        return _content_failure(args, exc, "invalid learning")
    _emit(args, {"ok": True, **result}, lambda: print(f"wrote {result['path']}"))
    return 0


def cmd_append_log(args: argparse.Namespace, root: Path) -> int:
    session_id = _session_id(args)
    meta = note_meta(root, session_id)
    workstream = args.workstream or meta.get("workstream")
    if not workstream:
        warnings = ["the note names no workstream; no Session Log to update"]
        _warn(warnings)
        _emit(args, {"written": False, "warnings": warnings}, lambda: None)
        return 0
    line = args.line or str(meta.get("title") or "")
    recorded = meta.get("date")
    day = recorded if isinstance(recorded, dt.date) else note.note_date(session_id, _now())
    result = worklog.append_log(root, str(workstream), session_id, line, day)
    _warn(result.warnings)
    _emit(args, result.as_dict(), lambda: print(f"{result.path}: {result.line}" if result.written else
                                                 f"{result.path}: not updated"))
    return 0


def note_meta(root: Path, session_id: str) -> dict[str, Any]:
    from lib.handoff import identity

    path = identity.note_path(root, session_id)
    meta = identity.read_stub(path)
    if meta is None:
        raise BatonError(f"{path.relative_to(root)}: no such note")
    return meta


def _dirty_before(root: Path, session_id: str, rels: Sequence[str]) -> set[str]:
    """Files the handoff has not written yet that already differ from HEAD (the user's own edits)."""
    record = manifests.load(root, session_id)
    return {rel for rel in rels if rel not in record.paths and (root / rel).exists()
            and worklog.has_uncommitted_changes(root, rel)}


def _record_written(root: Path, session_id: str, rels: Sequence[str], dirty: set[str]) -> list[str]:
    """Add files to the handoff's record (so commit takes them); warnings for those with the user's edits."""
    warnings = []
    with manifests.editing(root, session_id) as record:
        for rel in rels:
            record.add(rel)
            if rel in dirty and rel not in record.preexisting_changes:
                record.preexisting_changes.append(rel)
                warnings.append(f"{rel} already had uncommitted changes; the handoff commit will include them")
    return warnings


def cmd_archive_transcript(args: argparse.Namespace, root: Path) -> int:
    from lib.handoff import transcripts

    session_id = _session_id(args)
    claude_id = context.claude_session_id(args.session_id, session_id, root)
    result = transcripts.archive_transcript(root, session_id, transcript=args.transcript, claude_session_id=claude_id)
    note_rel = f"{STORE_FOLDERS['session']}/{session_id}.md"
    if result.note_changed:
        _record_written(root, session_id, [note_rel], set())
    if result.warning:
        _warn([result.warning])
    redacted = transcripts.total_redactions(result)

    def text() -> None:
        if result.transcript is None:
            print(f"no transcript archived: {result.warning}")
            return
        where = Path(result.archive_dir) / result.transcript.archive
        extra = f", {len(result.subagents)} subagent transcript(s)" if result.subagents else ""
        print(f"{result.status} {where} ({result.transcript.bytes} bytes, "
              f"{sum(redacted.values())} secret(s) redacted{extra})")

    _emit(args, {**result.as_dict(), "redactions": redacted}, text)
    return 0


def cmd_changelog(args: argparse.Namespace, root: Path) -> int:
    from lib.handoff import changelog

    session_id = _session_id(args)
    dirty = _dirty_before(root, session_id, [changelog.FILENAME])
    result = changelog.record_session(root, session_id, since=args.since)
    warnings = _record_written(root, session_id, [changelog.FILENAME], dirty)
    _warn(warnings)

    def text() -> None:
        if result.status == "added":
            print(f"added {session_id} to {changelog.FILENAME} ({len(result.entry.commits)} commit(s))")
        else:
            print(f"{changelog.FILENAME} already has {session_id}")

    _emit(args, {**result.as_dict(), "warnings": warnings}, text)
    return 0


def cmd_link(args: argparse.Namespace, root: Path) -> int:
    from lib import vault

    session_id = _session_id(args)
    store = vault.load(root, bodies=set())  # frontmatter only: the scope's files are read whole by fix
    scope = vault.session_scope(store, session_id)
    dirty = _dirty_before(root, session_id, sorted(scope))
    report = vault.fix(root, scope, store)
    written = sorted({*report.created, *report.changed})
    warnings = _record_written(root, session_id, written, dirty)
    warnings += [str(p) for p in report.problems if p.path in scope and not p.fixable]
    _warn(warnings)

    def text() -> None:
        for rel in written:
            print(f"wrote {rel}")
        if not written:
            print("the vault already links this session")

    _emit(args, {"written": written, "warnings": warnings,
                 "problems": [p.as_dict() for p in report.problems if p.path in scope]}, text)
    return 0


def cmd_regen_index(args: argparse.Namespace, root: Path) -> int:
    result = indexes.regen_indexes(root)
    if args.id:
        with manifests.editing(root, args.id) as record:
            for rel in result.paths:
                record.add(rel)
    if result.skipped:
        _warn([f"{p}: unreadable frontmatter, left out of the index" for p in result.skipped])

    def text() -> None:
        for rel in result.written:
            print(f"wrote {rel}")
        for rel in result.unchanged:
            print(f"unchanged {rel}")

    _emit(args, result.as_dict(), text)
    return 0


def cmd_stage(args: argparse.Namespace, root: Path) -> int:
    settings = commits.Settings.from_config(config.load(root))
    result = commits.stage(root, _session_id(args), settings)
    warnings = []
    if result.staged_by_user:
        warnings.append("left staged and out of the handoff commit: " + ", ".join(result.staged_by_user))
    if result.unrelated_changes:
        warnings.append("other uncommitted changes, not part of the handoff: " + ", ".join(result.unrelated_changes))
    if result.preexisting_changes:
        warnings.append("these files had your own uncommitted edits, which the handoff commit will include: "
                        + ", ".join(result.preexisting_changes))
    _warn(warnings)

    def text() -> None:
        for rel in result.paths:
            print(f"staged {rel}")

    _emit(args, {**result.as_dict(), "warnings": warnings}, text)
    return 0


def cmd_commit(args: argparse.Namespace, root: Path) -> int:
    settings = commits.Settings.from_config(config.load(root))
    result = commits.commit(root, _session_id(args), push=args.push, settings=settings)
    _warn(result.warnings)

    def text() -> None:
        what = "committed" if result.committed else "already committed"
        print(f"{what} {result.id} as {str(result.commit)[:12]} ({len(result.files)} file(s))")
        if result.pushed:
            print(f"pushed to {result.remote}/{result.branch}")

    _emit(args, result.as_dict(), text)
    if result.push_error:
        print(f"{PROG}: error: {result.push_error.message}", file=sys.stderr)
        return 1
    return 0


def cmd_archive_state(args: argparse.Namespace, root: Path) -> int:
    claude_id = context.claude_session_id(args.session_id, args.id, root)
    if not claude_id:
        raise BatonError("--session-id is required ($CLAUDE_CODE_SESSION_ID is not set)")
    result = state.archive_state(root, claude_id)

    def text() -> None:
        if result.moved:
            print("archived " + ", ".join(result.moved))
        else:
            print("nothing to archive" + (" (already archived)" if result.already_archived else ""))

    _emit(args, result.as_dict(), text)
    return 0


def cmd_refresh_resume_cache(args: argparse.Namespace, root: Path) -> int:
    result = resume_cache.refresh_resume_cache(root)
    if not result.ok:
        _warn([f"resume cache not refreshed: {result.detail}"])
    _emit(args, result.as_dict(), lambda: print(result.detail))
    return 0


# ----------------------------------------------------------------- parser

def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description="The steps of /handoff, one subcommand each.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="SUBCOMMAND")

    def add(name: str, func: Callable[[argparse.Namespace, Path], int], help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument("--json", action="store_true", help="print a versioned JSON object")
        p.set_defaults(func=func)
        return p

    def session_id_opt(p: argparse.ArgumentParser) -> None:
        p.add_argument("--session-id", metavar="CLAUDE_ID",
                       help="Claude Code session id (default: the one recorded by start, else $CLAUDE_CODE_SESSION_ID)")

    def id_opt(p: argparse.ArgumentParser, required_help: str = "the session note id (default: $BATON_SESSION_ID)") -> None:
        p.add_argument("--id", metavar="ID", help=required_help)

    p = add("start", cmd_start, "step 0: resolve the operator, claim the id (or reuse $BATON_SESSION_ID), choose the mode")
    p.add_argument("--quick", action="store_true", help="write only Summary and Resume Prompt")
    p.add_argument("--auto", action="store_true", help="unattended: full note, no questions, no operator confirmation")
    p.add_argument("--operator-confirmed", action="store_true",
                   help="the user confirmed the inferred operator: claim the id now")
    p.add_argument("--since", metavar="ISO", help="start of the session for git (default: telemetry started_at)")
    session_id_opt(p)
    p.add_argument("words", nargs="*", help="the command's arguments ('quick', 'auto', or free text)")

    p = add("telemetry-read", cmd_telemetry_read,
            "step 2: the session's telemetry, normalised; invariant counters always integers")
    session_id_opt(p)
    id_opt(p, "the session note id, to find the Claude Code session id recorded by start")

    p = add("git-stats", cmd_git_stats, "step 3: commits, lines and notes touched since the session started")
    p.add_argument("--since", metavar="ISO", help="count commits since this time (default: telemetry started_at)")
    session_id_opt(p)
    id_opt(p, "the session note id, to use the start time recorded by start")

    p = add("check-prompt", cmd_check_prompt,
            "step 1.5: check a Resume Prompt (stdin): 80-150 words, ending 'Confidence: high|medium|low'")
    p.add_argument("--input", metavar="FILE", help="read the prompt from FILE instead of stdin")

    p = add("write-session", cmd_write_session,
            "step 4: write the note over its claim stub from its content (YAML or JSON on stdin; validated, content_hash)")
    id_opt(p)
    p.add_argument("--force", action="store_true", help="replace a note that is already written")
    p.add_argument("--since", metavar="ISO", help="start of the session for git (default: recorded by start)")
    p.add_argument("--input", metavar="FILE", help="read the content (YAML or JSON) from FILE instead of stdin")
    session_id_opt(p)

    p = add("write-learning", cmd_write_learning,
            "step 1.2: write docs/learnings/<slug>.md from YAML or JSON on stdin (validated)")
    id_opt(p)
    p.add_argument("--force", action="store_true", help="replace a learning of the same slug from another session")
    p.add_argument("--input", metavar="FILE", help="read the JSON from FILE instead of stdin")

    p = add("append-log", cmd_append_log, "step 5: add the session's line to its workstream's Session Log")
    id_opt(p)
    p.add_argument("--workstream", metavar="SLUG", help="the workstream (default: the note's workstream)")
    p.add_argument("--line", metavar="TEXT", help="the log text (default: the note's title)")

    p = add("archive-transcript", cmd_archive_transcript,
            "step 4.2: copy the session's transcript, secrets redacted, to the archive folder as <ID>.jsonl.gz and "
            "record its size and sha256 in the note (a missing transcript is a warning in the note)")
    id_opt(p)
    session_id_opt(p)
    p.add_argument("--transcript", metavar="PATH",
                   help="the transcript to archive (default: transcript_path in the telemetry state)")

    p = add("link", cmd_link,
            "step 5.7: link the note into the vault: its links line, its workstream's Session Log and map, the "
            "ADRs and learnings it touched, INDEX.md (scripts/vault.py fix, for this session's files only)")
    id_opt(p)

    p = add("changelog", cmd_changelog,
            "step 5.5: add the session's dated entry (title, commits) at the top of CHANGELOG.md, once")
    id_opt(p)
    p.add_argument("--since", metavar="ISO",
                   help="list the commits since this time (default: the commits recorded in the note)")

    p = add("regen-index", cmd_regen_index, "step 4.5: regenerate docs/sessions/INDEX.md and workstreams/INDEX.md")
    id_opt(p, "record the index files as written by this handoff (so commit includes them)")

    p = add("stage", cmd_stage, "step 6: git add exactly the handoff's files; list other dirty files")
    id_opt(p)

    p = add("commit", cmd_commit, "step 7: commit exactly the handoff's files (git commit --only), optionally push")
    id_opt(p)
    p.add_argument("--push", action="store_true", help="fetch, resolve an id taken on the remote, and push")

    p = add("archive-state", cmd_archive_state,
            "step 8: move the session's telemetry state into .claude/state/archive/ (idempotent)")
    session_id_opt(p)
    id_opt(p, "the session note id, to find the Claude Code session id recorded by start")

    add("refresh-resume-cache", cmd_refresh_resume_cache,
        "step 8: refresh the /resume cache (when resume_helpers.py is installed)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    def body() -> int:
        root = find_root()
        result: int = args.func(args, root)
        return result

    return cli.run(body, PROG)


if __name__ == "__main__":
    raise SystemExit(main())
