"""Store benchmark: metadata reads and validation over 10,000 sessions and 1,000 workstreams.

Prints, from one run on the same generated files:
- metadata-read throughput of lib.store.frontmatter.read_metadata, python-frontmatter and ruamel round trip;
- validate_frontmatter.py wall time (whole process) against reading the files with python-frontmatter.
Target: validating the 11,000 files takes under 3x the time of reading them with python-frontmatter.

    .venv/bin/python bench/bench_store.py [--sessions N] [--workstreams N] [--keep DIR]
"""

from __future__ import annotations

import argparse
import functools
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

from lib.store import frontmatter, roundtrip  # noqa: E402

OPERATORS = [("rt", "RT"), ("sk", "SK"), ("ab", "AB"), ("cd", "CD"), ("ef", "EF")]


def session_text(i: int, rng: random.Random) -> tuple[str, str]:
    slug, initials = OPERATORS[i % len(OPERATORS)]
    day = 1 + (i // 99) % 28
    month = 1 + (i // (99 * 28)) % 12
    ext = f"{initials}-26{month:02d}{day:02d}-{1 + i % 99:02d}"
    tools = {f"Tool{k}": rng.randint(0, 40) for k in range(5)}
    text = f"""---
title: Session {i} worked on the store
operator: {slug}
summary: Generated session {i} for the benchmark; it has a realistic number of keys.
workstream: stream-{i % 1000}
plan: null
tags: [bench, store, "{slug}"]
kind: session
external_id: {ext}
status: written
outcome: {rng.choice(["done", "incomplete", "blocked"])}
confidence: medium
date: 2026-{month:02d}-{day:02d}
claimed_at: 2026-{month:02d}-{day:02d}T09:00:00Z
started_at: 2026-{month:02d}-{day:02d}T09:01:00Z
ended_at: 2026-{month:02d}-{day:02d}T11:00:00Z
mode: full
claude_session_id: 8f4f9bf2-05f2-48ab-bc5c-{i:012d}
tool_calls_count: {sum(tools.values())}
tool_calls_breakdown: {{{", ".join(f"{k}: {v}" for k, v in tools.items())}, mcp__notion_offplan: 0}}
tool_failures_count: {rng.randint(0, 5)}
failures_breakdown: {{}}
subagents_dispatched: {rng.randint(0, 4)}
parallel_terminals_observed: {rng.randint(0, 3)}
tokens: {{input: {rng.randint(0, 10**6)}, output: {rng.randint(0, 10**5)}, cache_creation: 100, cache_read: 2000}}
cost_usd: {rng.random() * 3:.4f}
commits_count: {rng.randint(0, 9)}
lines_added: {rng.randint(0, 900)}
lines_removed: {rng.randint(0, 300)}
first_commit_at: null
last_commit_at: null
active_min_estimate: {rng.randint(5, 200)}
content_hash: null
sync_status: pending
---
## Summary

Session {i}. {"Lorem ipsum dolor sit amet. " * 20}

## Resume Prompt

Continue with the next step. Confidence: high
"""
    return f"docs/sessions/{ext}.md", text


def workstream_text(i: int) -> tuple[str, str]:
    slug = f"stream-{i}"
    text = f"""---
title: Workstream {i}
owner: {OPERATORS[i % len(OPERATORS)][0]}
summary: Generated workstream {i}.
tags: [bench]
kind: workstream
external_id: {slug}
status: active
sync_status: pending
---
## Goal

Benchmark.

## Session Log
"""
    return f"workstreams/{slug}.md", text


def generate(root: Path, sessions: int, workstreams: int) -> list[Path]:
    rng = random.Random(7)
    for folder in ("docs/sessions", "workstreams"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    files = []
    for i in range(sessions):
        rel, text = session_text(i, rng)
        (root / rel).write_text(text, encoding="utf-8")
        files.append(root / rel)
    for i in range(workstreams):
        rel, text = workstream_text(i)
        (root / rel).write_text(text, encoding="utf-8")
        files.append(root / rel)
    return files


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=10_000)
    parser.add_argument("--workstreams", type=int, default=1_000)
    parser.add_argument("--ruamel-sample", type=int, default=500, help="files read with ruamel (it is slow)")
    parser.add_argument("--keep", type=Path, help="generate into this folder and keep it")
    args = parser.parse_args()

    import frontmatter as python_frontmatter

    with tempfile.TemporaryDirectory() as tmp:
        root = args.keep or Path(tmp)
        files = generate(root, args.sessions, args.workstreams)
        n = len(files)
        print(f"generated {args.sessions} sessions + {args.workstreams} workstreams in {root}")

        # warm the page cache so every reader sees the same conditions
        for f in files:
            f.read_bytes()

        # Readers take turns chunk by chunk, so load from other processes drifts onto all alike.
        rt = roundtrip.round_trip_yaml()

        def ruamel_read(chunk: list[Path]) -> None:
            for f in chunk:
                rt.load(frontmatter.split(f.read_text(encoding="utf-8")).yaml_text or "")

        readers: dict[str, Callable[[list[Path]], object]] = {
            "ours": lambda chunk: [frontmatter.read_metadata(f) for f in chunk],
            "ours_full": lambda chunk: [frontmatter.read(f) for f in chunk],
            "pyfm": lambda chunk: [python_frontmatter.load(str(f)) for f in chunk],
        }
        totals = dict.fromkeys(readers, 0.0)
        chunks = [files[i : i + 500] for i in range(0, n, 500)]
        ruamel_total, ruamel_files = 0.0, 0
        for index, chunk in enumerate(chunks):
            for name, reader in readers.items():
                totals[name] += timed(functools.partial(reader, chunk))
            if ruamel_files < args.ruamel_sample:
                sample = chunk[: max(1, args.ruamel_sample // len(chunks))]
                ruamel_total += timed(functools.partial(ruamel_read, sample))
                ruamel_files += len(sample)
            print(f"  read chunk {index + 1}/{len(chunks)}", end="\r", file=sys.stderr)
        ours, ours_full, pyfm = totals["ours"], totals["ours_full"], totals["pyfm"]
        ruamel = ruamel_total * n / ruamel_files
        # the same python-frontmatter read right before the validator, as its baseline
        pyfm_before = timed(lambda: readers["pyfm"](files))
        validate = timed(lambda: subprocess.run(
            [sys.executable, str(ROOT / "scripts/validate_frontmatter.py"), "--root", str(root), "--summary"],
            check=True, capture_output=True))

    def rate(seconds: float) -> str:
        return f"{seconds:7.2f} s  {n / seconds:9,.0f} files/s"

    print(f"\nmetadata reads of {n:,} files")
    print(f"  lib.store.frontmatter.read_metadata  {rate(ours)}")
    print(f"  lib.store.frontmatter.read (+body)   {rate(ours_full)}")
    print(f"  python-frontmatter.load        {rate(pyfm)}   ({pyfm / ours:.2f}x the time of ours)")
    print(f"  ruamel round-trip load         {rate(ruamel)}   ({ruamel / ours:.1f}x the time of ours; from {ruamel_files} files)")
    print(f"\nvalidate_frontmatter.py (whole process) {validate:.2f} s")
    print(f"  python-frontmatter read just before: {pyfm_before:.2f} s")
    print(f"  = {validate / pyfm_before:.2f}x python-frontmatter reading the same files (target < 3x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
