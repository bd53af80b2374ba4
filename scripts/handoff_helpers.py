"""The helpers behind `/handoff` (.claude/commands/handoff.md); docs/conventions/handoff.md.

The command pre-runs `start` and then calls `finish` once; each step also has a subcommand of its own, for
scripting and debugging. Every subcommand takes --json.
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
from lib.core.paths import find_root
from lib.handoff import context, learning, note, plan, state, steps
from lib.handoff import finish as finishing
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
    # The command pre-runs `start --json "$ARGUMENTS"`: flags and words may come as one argument.
    words = [w for arg in args.words for w in arg.split()]
    quick = args.quick or any(w in ("quick", "--quick") for w in words)
    auto = args.auto or any(w in ("auto", "--auto") for w in words)
    result = plan.start(root, quick=quick, auto=auto, operator_confirmed=args.operator_confirmed,
                        claude_id=args.session_id, since=args.since, now=_now())
    payload = result.as_dict()
    payload["request"] = " ".join(w for w in words if w not in ("quick", "auto", "--quick", "--auto"))
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
        result = learning.write_learning(root, session_id, data, force=args.force, now=_now())
    except note.ContentError as exc:
        return _content_failure(args, exc, "invalid learning")
    _emit(args, {"ok": True, **result}, lambda: print(f"wrote {result['path']}"))
    return 0


def cmd_append_log(args: argparse.Namespace, root: Path) -> int:
    result = steps.append_log(root, _session_id(args), line=args.line, workstream=args.workstream, now=_now())
    _warn(result.get("warnings") or [])
    _emit(args, result, lambda: print(f"{result['path']}: {result['line']}" if result.get("written") else
                                      f"{result.get('path') or 'Session Log'}: not updated"))
    return 0


def cmd_archive_transcript(args: argparse.Namespace, root: Path) -> int:
    result = steps.archive_transcript(root, _session_id(args), claude_id=args.session_id, transcript=args.transcript)
    _warn(result["warnings"])

    def text() -> None:
        archived = result["transcript"]
        if archived is None:
            print(f"no transcript archived: {result['warning']}")
            return
        where = Path(result["archive_dir"]) / archived["archive"]
        extra = f", {len(result['subagents'])} subagent transcript(s)" if result["subagents"] else ""
        print(f"{result['status']} {where} ({archived['bytes']} bytes, "
              f"{sum(result['redactions'].values())} secret(s) redacted{extra})")

    _emit(args, {k: v for k, v in result.items() if k != "warnings"}, text)
    return 0


def cmd_changelog(args: argparse.Namespace, root: Path) -> int:
    session_id = _session_id(args)
    result = steps.changelog(root, session_id, since=args.since)
    _warn(result["warnings"])

    def text() -> None:
        if result["status"] == "added":
            print(f"added {session_id} to {result['path']} ({len(result['entry']['commits'])} commit(s))")
        else:
            print(f"{result['path']} already has {session_id}")

    _emit(args, result, text)
    return 0


def cmd_link(args: argparse.Namespace, root: Path) -> int:
    result = steps.link(root, _session_id(args))
    _warn(result["warnings"])

    def text() -> None:
        for rel in result["written"]:
            print(f"wrote {rel}")
        if not result["written"]:
            print("the vault already links this session")

    _emit(args, result, text)
    return 0


def cmd_regen_index(args: argparse.Namespace, root: Path) -> int:
    result = steps.regen_index(root, args.id)
    _warn(result["warnings"])

    def text() -> None:
        for rel in result["written"]:
            print(f"wrote {rel}")
        for rel in result["unchanged"]:
            print(f"unchanged {rel}")

    _emit(args, {k: v for k, v in result.items() if k != "warnings"}, text)
    return 0


def cmd_stage(args: argparse.Namespace, root: Path) -> int:
    result = steps.stage(root, _session_id(args))
    _warn(result["warnings"])

    def text() -> None:
        for rel in result["paths"]:
            print(f"staged {rel}")

    _emit(args, result, text)
    return 0


def cmd_commit(args: argparse.Namespace, root: Path) -> int:
    result = steps.commit(root, _session_id(args), push=args.push)
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
    result = steps.archive_state(root, args.id, args.session_id)

    def text() -> None:
        if result["moved"]:
            print("archived " + ", ".join(result["moved"]))
        else:
            print("nothing to archive" + (" (already archived)" if result["already_archived"] else ""))

    _emit(args, {k: v for k, v in result.items() if k != "warnings"}, text)
    return 0


def cmd_refresh_resume_cache(args: argparse.Namespace, root: Path) -> int:
    result = steps.refresh_resume_cache(root)
    _warn(result["warnings"])
    _emit(args, {k: v for k, v in result.items() if k != "warnings"}, lambda: print(result["detail"]))
    return 0


_MARKS = {"ok": "✓", "warning": "✓", "skipped": "–", "failed": "✗", "not_run": "·"}


def cmd_finish(args: argparse.Namespace, root: Path) -> int:
    try:
        data = _stdin_content(args)
    except BatonError as exc:  # unreadable YAML: the same one answer as any other invalid content
        return _content_failure(args, note.ContentError("content", [str(exc)]), "invalid content")
    options = finishing.Options(
        session_id=args.id or os.environ.get("BATON_SESSION_ID") or None,
        operator_confirmed=args.operator_confirmed, force=args.force, keep_prompt=args.keep_prompt,
        push=not args.no_push, claude_id=args.session_id, since=args.since, transcript=args.transcript)
    report = finishing.finish(root, data, options, now=_now())
    _warn(report.warnings())
    _loud(report.invariant_violations)

    def text() -> None:
        for step in report.steps:
            detail = step.error or "; ".join(step.warnings)
            print(f"{_MARKS.get(step.status, '?')} {step.step}{': ' + detail if detail else ''}")

    _emit(args, report.as_dict(), text)
    if report.problems:
        print(f"{PROG}: error: {len(report.problems)} problem(s); nothing was written:", file=sys.stderr)
        for problem in report.problems:
            print(f"  {problem}", file=sys.stderr)
        return 1
    if report.failed_step in ("push", "refresh-resume-cache", "archive-state"):
        print(f"{PROG}: error: {report.error}", file=sys.stderr)  # after the commit, which stays
        return 1
    if report.failed_step:
        print(f"{PROG}: error: {report.error} (the steps before it are done; run finish again with --force)",
              file=sys.stderr)
        return 1
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

    p = add("finish", cmd_finish,
            "steps 1.2 to 8 in one call: the whole content (note, learnings, log_line) as YAML on stdin, every "
            "problem listed before anything is written, then every step in order, each one reported")
    id_opt(p, "the session note id start claimed (default: $BATON_SESSION_ID, else the stub this Claude Code "
              "session claimed)")
    p.add_argument("--operator-confirmed", action="store_true",
                   help="the user confirmed the inferred operator: claim the id now (when start claimed none)")
    p.add_argument("--force", action="store_true", help="replace a note (and this session's learnings) already written")
    p.add_argument("--keep-prompt", action="store_true",
                   help="the Resume Prompt is the user's own words: its length is a warning, not an error")
    p.add_argument("--no-push", action="store_true", help="commit but do not push")
    p.add_argument("--since", metavar="ISO", help="start of the session for git (default: recorded by start)")
    p.add_argument("--transcript", metavar="PATH",
                   help="the transcript to archive (default: transcript_path in the telemetry state)")
    p.add_argument("--input", metavar="FILE", help="read the content from FILE instead of stdin")
    session_id_opt(p)
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
