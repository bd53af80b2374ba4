#!/usr/bin/env python3
"""Mirror the store into Notion databases, once. The repository stays the source of truth.

Dry run by default: prints what each note needs (create / update / skip / error) and
sends no write request. `--apply` performs it, writes the outcome back into each
note's sync keys and the audit log docs/sync/LAST_SYNC.md.

Settings: .claude/notion.yaml (docs/notion-sync.md). The token is read from
$NOTION_TOKEN only; $NOTION_BASE_URL overrides https://api.notion.com.
"""

from __future__ import annotations

import _project_python  # noqa: F401  (first: re-executes with baton's Python when needed)

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from lib.core import cli, paths
from lib.core.errors import BatonError, ConfigError
from lib.notion import audit, prune, sync
from lib.notion import config as notion_config
from lib.notion.client import DEFAULT_BASE_URL, NotionClient, RetryPolicy, check_token
from lib.notion.limiter import TokenBucket

PROG = "sync_to_notion_oneshot.py"

LABELS = {"create": "create", "update": "update", "skip": "skip (unchanged)", "error": "error",
          "defer": "defer (--limit)"}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Mirror the store (sessions, workstreams, plans, ADRs, learnings) into Notion. "
                    "Dry run unless --apply. Token from $NOTION_TOKEN; settings in .claude/notion.yaml.",
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--dry-run", action="store_true", default=True,
                      help="print what each note needs and send no write request (the default)")
    mode.add_argument("--apply", action="store_true",
                      help="create and update the Notion pages, then record the outcome in each note")
    parser.add_argument("--only", metavar="KIND", choices=paths.KINDS,
                        help=f"only notes of this kind ({', '.join(paths.KINDS)})")
    parser.add_argument("--limit", metavar="N", type=int,
                        help="push at most N notes (the rest are reported as deferred)")
    parser.add_argument("--prune", action="store_true",
                        help="also retire (move to Notion's trash) the pages of notes no longer in the repository; "
                             "a dry run lists them, only --apply archives them")
    parser.add_argument("--json", action="store_true", help="print one JSON document instead of text")
    parser.add_argument("--root", type=Path, help="repository root (default: found from the current folder)")
    return parser


def _line(outcome: sync.FileOutcome, applied: bool) -> str:
    if applied:
        word = outcome.outcome
        if outcome.outcome in ("created", "updated", "adopted") and outcome.page_id:
            return f"{word:<10} {outcome.rel} -> {outcome.page_id}"
    else:
        word = LABELS.get(outcome.action, outcome.action)
    detail = f"  ({outcome.detail})" if outcome.detail else ""
    return f"{word:<10} {outcome.rel}{detail}"


def _totals(report: sync.SyncReport, applied: bool) -> str:
    if not applied:
        plan = report.planned_counts()
        parts = [f"{n} {LABELS.get(a, a)}" for a, n in plan.items()]
        return f"dry run: {', '.join(parts) or 'no notes'}; nothing was written (run with --apply)"
    parts = [f"{n} {k}" for k, n in report.counts().items()]
    return (f"applied: {', '.join(parts) or 'no notes'}; {report.requests} requests "
            f"({report.retries} retries, {report.rate_limited} rate-limited) in {report.duration_s:.1f} s")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    def body() -> int:
        if args.limit is not None and args.limit < 0:
            raise BatonError("--limit must be 0 or more", exit_code=2)
        token = os.environ.get("NOTION_TOKEN", "").strip()
        if not token:
            raise ConfigError("$NOTION_TOKEN is not set: export the Notion integration token "
                              "(it is read from the environment only)")
        check_token(token)  # before anything else: a mistyped token is one line, and never echoed
        root = args.root.resolve() if args.root else paths.find_root()
        config = notion_config.load(root)
        base_url = os.environ.get("NOTION_BASE_URL", "").strip() or DEFAULT_BASE_URL
        if not base_url.startswith(("https://", "http://")):
            raise ConfigError(f"$NOTION_BASE_URL must be an http(s) URL, not {base_url!r}")

        plans = sync.plan_files(root, config, only=args.only, limit=args.limit)
        mode = "apply" if args.apply else "dry-run"
        filters = [f"only {args.only}"] if args.only else []
        if args.limit is not None:
            filters.append(f"limit {args.limit}")
        report, started = sync.start_report(mode + (f" ({', '.join(filters)})" if filters else ""), root)

        client = NotionClient(
            token, base_url=base_url,
            limiter=TokenBucket(config.rate_per_s, config.burst),
            policy=RetryPolicy(max_attempts=config.max_attempts, backoff_base_s=config.backoff_base_s,
                               backoff_max_s=config.backoff_max_s, timeout_s=config.timeout_s),
        )
        redact = client.redact
        orphans: list[prune.Orphan] = []
        try:
            with client:
                if args.apply:
                    _apply(root, config, client, plans, report, args.json)
                else:
                    _dry_run(root, config, client, plans, report)
                if args.prune and not report.failed:
                    orphans = _prune(root, config, client, args, report)
                elif args.prune:
                    print("prune skipped: the sync had errors (fix them, then run --prune again)", file=sys.stderr)
        except BatonError as exc:
            report.aborted = str(exc)
            raise
        except KeyboardInterrupt:
            report.aborted = "interrupted"
            raise
        finally:
            sync.finish_report(report, started, client, config.rate_per_s)
            if args.apply:
                audit.write_audit(root, report, redact)

        pruning_failed = any(o.outcome == "error" for o in orphans)
        if args.json:
            payload = report.as_json()
            if args.prune:
                payload["pruned"] = [o.as_json() for o in orphans]
            cli.print_json(payload)
        else:
            if not args.apply:
                for outcome in report.outcomes:
                    print(redact(_line(outcome, applied=False)))
                for orphan in orphans:
                    print(redact(_orphan_line(orphan)))
            print(redact(_totals(report, applied=args.apply)))
            if args.prune:
                print(redact(_prune_totals(orphans, applied=args.apply)))
        return 1 if report.failed or pruning_failed else 0

    return cli.run(body, PROG)


def _orphan_line(orphan: prune.Orphan) -> str:
    word = {"planned": "archive", "archived": "archived", "error": "error"}[orphan.outcome]
    title = f" {orphan.title!r}" if orphan.title else ""
    detail = f"  ({orphan.detail})" if orphan.detail else ""
    return f"{word:<10} {orphan.kind} {orphan.external_id}{title} -> {orphan.page_id} (note deleted){detail}"


def _prune_totals(orphans: Sequence[prune.Orphan], applied: bool) -> str:
    if not orphans:
        return "prune: every page's note is still in the repository"
    if not applied:
        return (f"prune: {len(orphans)} page{'s' if len(orphans) != 1 else ''} of deleted notes would be moved to "
                "Notion's trash (run with --apply)")
    done = sum(1 for o in orphans if o.outcome == "archived")
    failed = len(orphans) - done
    return f"prune: {done} moved to Notion's trash" + (f", {failed} failed" if failed else "")


def _prune(root: Path, config: notion_config.NotionConfig, client: NotionClient, args: argparse.Namespace,
           report: sync.SyncReport) -> list[prune.Orphan]:
    syncer = sync.Syncer(root, config, client)
    kinds = [k for k in paths.KINDS if k in config.kinds and (args.only is None or k == args.only)]
    orphans = prune.find(syncer, kinds, sync.plan_files(root, config, only=args.only))
    if args.apply:
        def say(orphan: prune.Orphan) -> None:
            if not args.json:
                print(client.redact(_orphan_line(orphan)), flush=True)

        prune.archive(client, orphans, on_done=say)
    return orphans


def _dry_run(root: Path, config: notion_config.NotionConfig, client: NotionClient,
             plans: list[sync.FilePlan], report: sync.SyncReport) -> None:
    # Reads only: check that each database with work is reachable and mapped correctly.
    syncer = sync.Syncer(root, config, client)
    for kind in dict.fromkeys(p.kind for p in plans if p.action in ("create", "update")):
        syncer.resolve(kind)
    for plan in plans:
        outcome = "error" if plan.action == "error" else "planned"
        report.outcomes.append(sync.FileOutcome(plan.rel, plan.kind, plan.action, outcome, plan.external_id,
                                                plan.page_id, plan.reason))


def _apply(root: Path, config: notion_config.NotionConfig, client: NotionClient,
           plans: list[sync.FilePlan], report: sync.SyncReport, as_json: bool) -> None:
    from filelock import FileLock, Timeout

    lock = FileLock(str(root / sync.LOCK_FILE), timeout=0)
    (root / sync.LOCK_FILE).parent.mkdir(parents=True, exist_ok=True)
    try:
        lock.acquire()
    except Timeout:
        raise BatonError(f"another sync is running in this repository ({sync.LOCK_FILE})") from None
    try:
        syncer = sync.Syncer(root, config, client)
        work = sum(1 for p in plans if p.action in ("create", "update"))
        interactive = not as_json and sys.stdout.isatty() and work > 0

        def say(outcome: sync.FileOutcome) -> None:
            # Unchanged notes are counted in the totals and listed in the audit log, not printed.
            if not as_json and outcome.outcome != "unchanged":
                print(client.redact(_line(outcome, applied=True)), flush=True)

        if not interactive:
            syncer.run(plans, on_done=say, report=report)
            return
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        console = Console()
        with Progress(TextColumn("syncing"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=console, transient=True) as progress:
            task = progress.add_task("sync", total=len(plans))

            def tick(outcome: sync.FileOutcome) -> None:
                if outcome.outcome != "unchanged":
                    progress.console.print(client.redact(_line(outcome, applied=True)), markup=False,
                                           highlight=False)
                progress.advance(task)

            syncer.run(plans, on_done=tick, report=report)
    finally:
        lock.release()


if __name__ == "__main__":
    raise SystemExit(main())
