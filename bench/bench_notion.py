"""Benchmark: the one-shot Notion sync of a 300-note store against the fake Notion server.

Reports requests per created, updated and unchanged note, what an update costs in
block deletes, and the achieved request rate as a fraction of the configured limit.

The fake enforces the same rate as the client's limiter (plus one request of slack
for loopback jitter). Notion's real limit is 3 requests per second, which makes the
300-note phases take several minutes each; the main run therefore uses a faster
limit (--rate, default 10/s: the limiter and the fake scale together, so requests
per note are the same, and the rate fraction is harder to reach since the per-note
work between requests weighs more), and a second run uses the real default of 3/s
(--real-files notes).

    .venv/bin/python bench/bench_notion.py [--files 300] [--rate 10] [--real-files 30]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "scripts")]

from support import store  # noqa: E402
from support.fakenotion import FakeNotion  # noqa: E402
from support.notionstore import workspace, write_config  # noqa: E402

SCRIPT = ROOT / "scripts" / "sync_to_notion_oneshot.py"
PYTHON = sys.executable

WORDS = ["store", "sync", "page", "block", "token", "limit", "retry", "batch", "note", "mirror", "session",
         "plan", "test", "run", "edit", "queue", "index", "hash", "write", "read", "commit", "branch", "merge",
         "review", "ship", "fix"]


def sentence(rng: random.Random, words: int) -> str:
    text = " ".join(rng.choice(WORDS) for _ in range(words))
    return text[0].upper() + text[1:] + "."


def body(rng: random.Random, i: int) -> str:
    """A session note body like /handoff writes: sections, prose, lists (some nested), code, a table."""
    parts = ["## Summary", sentence(rng, 40) + " **Key:** `value` and a [link](https://example.com/x)."]
    parts += ["## What was done"]
    for _ in range(rng.randint(4, 12)):
        item = f"- {sentence(rng, 12)}"
        if rng.random() < 0.3:
            item += f"\n  - {sentence(rng, 8)}\n  - {sentence(rng, 8)}"
        parts.append(item)
    parts += ["## Decisions", sentence(rng, 60), sentence(rng, 30)]
    if rng.random() < 0.5:
        parts.append("```python\n" + "\n".join(f"x{j} = {j}" for j in range(rng.randint(3, 30))) + "\n```")
    if rng.random() < 0.3:
        parts.append("| step | result |\n|---|---|\n" + "\n".join(f"| {j} | ok |" for j in range(5)))
    parts += ["## Next steps"] + [f"- [ ] {sentence(rng, 6)}" for _ in range(rng.randint(2, 5))]
    if i % 10 == 0:  # a long note: more than one request of blocks
        parts += ["## Log"] + [sentence(rng, 15) for _ in range(150)]
    parts += ["## Resume Prompt", sentence(rng, 100)]
    return "\n\n".join(parts) + "\n"


def _drop_paragraph(text: str, after: str) -> str:
    """Remove the paragraph that follows `after`."""
    start = text.index(after) + len(after)
    end = text.index("\n\n", start) + 2
    return text[:start] + text[end:]


def make_store(root: Path, count: int, rng: random.Random) -> list[Path]:
    notes = []
    for i in range(count):
        ext = f"RT-26{(i // 99) + 1:02d}01-{(i % 99) + 1:02d}"
        summary = sentence(rng, 12)
        notes.append(store.session(root, ext, "rt", "2026-05-11", title=f"Session {i}", summary=summary,
                                   workstream="store", extra="sync_status: pending", body=body(rng, i)))
    return notes


def run_sync(root: Path, env: dict[str, str]) -> dict[str, Any]:
    result = subprocess.run([PYTHON, str(SCRIPT), "--apply", "--json"], cwd=root, env=env,
                            capture_output=True, text=True, timeout=3600)
    if result.returncode != 0:
        raise SystemExit(f"sync failed ({result.returncode}): {result.stderr[-2000:]}")
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def per_file(report: dict[str, Any], outcome: str, paths: set[str] | None = None) -> list[int]:
    return [f["requests"] for f in report["files"]
            if f["outcome"] == outcome and (paths is None or f["path"] in paths)]


def describe(values: list[int]) -> str:
    if not values:
        return "n/a"
    return (f"mean {statistics.mean(values):.2f}, median {statistics.median(values):g}, "
            f"max {max(values)} (n={len(values)})")


def rate_fraction(fake: FakeNotion, start: int, limit: float, burst: float) -> tuple[float, float]:
    """(achieved rate / limit, requests per second) over the run's requests on the server clock."""
    times = [r.t for r in fake.requests[start:]]
    if len(times) < 2:
        return 0.0, 0.0
    span = times[-1] - times[0]
    # a token bucket allows `burst` requests at t=0, then `limit` per second
    ideal = max(len(times) - burst, 0) / limit
    achieved = (len(times) - 1) / span if span else float("inf")
    return (ideal / span if span else 1.0), achieved


def routes(fake: FakeNotion, start: int) -> Counter[str]:
    return Counter(r.route for r in fake.requests[start:])


def baseline_startup() -> float:
    best = float("inf")
    for _ in range(5):
        t0 = time.perf_counter()
        subprocess.run([PYTHON, "-c", "pass"], check=True)
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=300, help="notes in the store (default 300)")
    parser.add_argument("--rate", type=float, default=10.0, help="requests per second for the main run")
    parser.add_argument("--real-files", type=int, default=30, help="notes for the run at the real 3/s limit")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    burst = 3.0

    bare = baseline_startup()
    print(f"baseline: python -c pass = {bare * 1000:.0f} ms")
    with tempfile.TemporaryDirectory() as tmp, FakeNotion(rate=args.rate, burst=burst + 1) as fake:
        root = Path(tmp)
        subprocess.run(["git", "init", "-q"], cwd=root, check=True)
        ws = workspace(fake)
        write_config(root, ws, per_second=args.rate, burst=burst, timeout_s=30)
        notes = make_store(root, args.files, rng)
        env = dict(os.environ, NOTION_TOKEN=fake.token, NOTION_BASE_URL=fake.base_url)
        print(f"store: {len(notes)} session notes, limit {args.rate:g} req/s (burst {burst:g})\n")

        # 1. first sync: every note created
        mark = len(fake.requests)
        t0 = time.perf_counter()
        created = run_sync(root, env)
        wall = time.perf_counter() - t0
        frac, achieved = rate_fraction(fake, mark, args.rate, burst)
        print(f"create: {created['totals']} in {wall:.1f} s wall; requests {created['requests']['total']} "
              f"({dict(routes(fake, mark))})")
        print(f"  requests per created note: {describe(per_file(created, 'created'))}")
        print(f"  achieved rate {achieved:.2f} req/s = {frac:.2f} of the limit; "
              f"429s: {sum(1 for r in fake.requests[mark:] if r.status == 429)}")

        # 2. updates of six kinds, one group of notes each, one sync per group
        edits: dict[str, Callable[[str], str]] = {
            "line appended at the end": lambda t: t + "\nOne more line for the log.\n",
            "paragraph edited mid-note": lambda t: t.replace("## Decisions\n\n", "## Decisions\n\nEdited: ", 1),
            "paragraph removed mid-note": lambda t: _drop_paragraph(t, "## Decisions\n\n"),
            "paragraph inserted mid-note": lambda t: t.replace("## Next steps", "A new paragraph.\n\n## Next steps"),
            "frontmatter only (tags)": lambda t: t.replace("tags: [test]", "tags: [test, edited]", 1),
            "paragraph edited, no memo": lambda t: t.replace("## Decisions\n\n", "## Decisions\n\nEdited: ", 1),
        }
        size = len(notes) // len(edits)
        print(f"\nupdate ({size} notes per kind of edit):")
        total_requests = total_time = total_ideal = 0.0
        for g, (label, edit) in enumerate(edits.items()):
            group = notes[g * size:(g + 1) * size]
            for path in group:
                path.write_text(edit(path.read_text()))
                if "no memo" in label:
                    page = json.loads(subprocess.run(
                        [PYTHON, "-c", "import sys, json; sys.path.insert(0, 'scripts');"
                         "from lib.store import frontmatter; print(json.dumps(frontmatter.read_metadata(sys.argv[1])"
                         "['notion_page_id']))", str(path)], cwd=ROOT, capture_output=True, text=True).stdout)
                    (root / ".claude/state/notion-pages" / f"{page}.json").unlink(missing_ok=True)
            mark = len(fake.requests)
            updated = run_sync(root, env)
            by_route = routes(fake, mark)
            n = len(group)
            frac_u, _ = rate_fraction(fake, mark, args.rate, burst)
            total_requests += len(fake.requests) - mark
            if len(fake.requests) - mark > 1:
                span = fake.requests[-1].t - fake.requests[mark].t
                total_time += span
                total_ideal += max(len(fake.requests) - mark - burst, 0) / args.rate
            print(f"  {label}: {describe(per_file(updated, 'updated'))} requests per note; per note: "
                  f"{by_route['delete'] / n:.2f} deletes, {by_route['update_block'] / n:.2f} block updates, "
                  f"{by_route['list'] / n:.2f} listings, {by_route['append'] / n:.2f} appends; "
                  f"rate {frac_u:.2f} of the limit")
        print(f"  all updates: {total_requests / len(notes):.2f} requests per note; "
              f"achieved rate {total_ideal / total_time if total_time else 0:.2f} of the limit")

        # 3. nothing changed
        mark = len(fake.requests)
        t0 = time.perf_counter()
        unchanged = run_sync(root, env)
        wall = time.perf_counter() - t0
        print(f"\nunchanged: {unchanged['totals']}; requests {len(fake.requests) - mark} "
              f"({(len(fake.requests) - mark) / len(notes):.2f} per note); "
              f"{wall * 1000:.0f} ms wall = {wall / bare:.1f}x python startup")

    if args.real_files:
        with tempfile.TemporaryDirectory() as tmp, FakeNotion(rate=3.0, burst=4.0) as fake:
            root = Path(tmp)
            subprocess.run(["git", "init", "-q"], cwd=root, check=True)
            ws = workspace(fake)
            config = write_config(root, ws, timeout_s=30)
            text = config.read_text()
            config.write_text(text[: text.index("rate:")])  # the defaults: 3/s, burst 3
            make_store(root, args.real_files, rng)
            env = dict(os.environ, NOTION_TOKEN=fake.token, NOTION_BASE_URL=fake.base_url)
            report = run_sync(root, env)
            frac_r, achieved_r = rate_fraction(fake, 0, 3.0, burst)
            print(f"\nreal limit (3/s, burst 3): {report['totals']}, {len(fake.requests)} requests, "
                  f"achieved {achieved_r:.2f} req/s = {frac_r:.2f} of the limit; "
                  f"busiest 1-s window {fake.max_in_window(1.0)} requests; "
                  f"429s: {sum(1 for r in fake.requests if r.status == 429)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
