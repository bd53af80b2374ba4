"""Vault and transcript-archive benchmark.

Prints, from one run:
- `vault.py check`, a first `vault.py fix` (which links every note), a second `fix` (nothing to do) and the
  handoff's link step (one session's files) on a generated store, as wall times of whole processes, against
  `python3 -c pass` and `validate_frontmatter.py` on the same store;
- archiving a generated transcript (redaction + deterministic gzip) against gzip alone on the same bytes.

    .venv/bin/python bench/bench_vault.py [--sessions N] [--transcript-mb N] [--keep DIR]
"""

from __future__ import annotations

import argparse
import base64
import gzip
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "scripts"), str(ROOT / "tests")]

from lib.security import redact_json  # noqa: E402
from support import store  # noqa: E402


def write(root: Path, rel: str, text: str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def build_store(root: Path, sessions: int, rng: random.Random) -> None:
    workstreams = max(1, sessions // 20)
    plans = max(1, workstreams // 5)
    for p in range(plans):
        write(root, f"plans/plan-{p}.md", f"---\ntitle: Plan {p}\nowner: ab\nsummary: Plan {p}.\ntags: []\nkind: plan\n"
                                          f"external_id: plan-{p}\nstatus: active\nworkstreams: []\n---\n## Context\n")
    for w in range(workstreams):
        log = "".join(f"- AB-26{1 + (i // 99) % 12:02d}{1 + (i // 1188) % 28:02d}-{1 + i % 99:02d} (2026-01-01): "
                      f"work\n" for i in range(w, sessions, workstreams * 2))
        write(root, f"workstreams/stream-{w}.md", (
            f"---\ntitle: Stream {w}\nowner: ab\nsummary: Stream {w}.\ntags: []\nkind: workstream\n"
            f"external_id: stream-{w}\nstatus: active\nplan: plan-{w % plans}\n---\n## Goal\n\n## Session Log\n\n{log}"))
    for a in range(max(1, sessions // 100)):
        write(root, f"docs/adr/ADR-{a:04d}-decision.md", (
            f"---\ntitle: Decision {a}\nsummary: Decided.\ntags: []\nkind: adr\nexternal_id: ADR-{a:04d}\n"
            f"status: accepted\nsessions: []\n---\n## Context\n"))
    for i in range(sessions):
        sid = f"AB-26{1 + (i // 99) % 12:02d}{1 + (i // 1188) % 28:02d}-{1 + i % 99:02d}"
        adrs = f"adrs_touched: [ADR-{i % max(1, sessions // 100):04d}]\n" if i % 10 == 0 else ""
        store.session(root, sid, "ab", "2026-01-01", title=f"Session {i}", summary=f"Session {i} did things.",
                      workstream=f"stream-{i % workstreams}", extra=f"{adrs}content_hash: null",
                      body=f"## Summary\n\nSee [the plan](../../plans/plan-0.md). "
                           f"{'Lorem ipsum dolor sit amet. ' * rng.randint(5, 40)}\n\n## Resume Prompt\n\n"
                           "Go on. Confidence: high\n")


def timed(cmd: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, check=False, capture_output=True)
    return time.perf_counter() - start


def transcript(size_mb: int, rng: random.Random) -> bytes:
    lines: list[bytes] = []
    total = 0
    secret = "sk-" + "ant-api03-" + "x9" * 40
    image = base64.b64encode(rng.randbytes(300_000)).decode()
    i = 0
    while total < size_mb * 1_000_000:
        if i % 200 == 0:
            obj: dict[str, object] = {"type": "user", "message": {"content": [{"type": "image", "source": {"data": image}}]}}
        elif i % 97 == 0:
            obj = {"type": "user", "toolUseResult": {"stdout": f"export ANTHROPIC_API_KEY={secret}\nBearer token ok"}}
        else:
            # one line in twenty mentions a look-alike (secret_ in a name), which costs a closer look
            words = "Reading the secret_sauce config; " if i % 20 == 0 else "Reading the config and the tests; "
            obj = {"type": "assistant", "message": {"id": f"msg_{i}", "content": [{"type": "text", "text":
                   words * rng.randint(1, 30) + "\n\tdone ✓"}], "usage": {"input_tokens": 3, "output_tokens": 120}}}
        line = json.dumps(obj).encode() + b"\n"
        lines.append(line)
        total += len(line)
        i += 1
    return b"".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=2000, help="sessions in the generated store")
    parser.add_argument("--transcript-mb", type=int, default=20, help="size of the generated transcript")
    parser.add_argument("--keep", type=Path, help="build the store here and keep it")
    args = parser.parse_args()
    rng = random.Random(12)
    py = sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        root = args.keep or Path(tmp) / "store"
        build_store(root, args.sessions, rng)
        subprocess.run(["git", "init", "-q"], cwd=root, check=True)
        base = min(timed([py, "-c", "pass"], root) for _ in range(3))
        validate = timed([py, str(ROOT / "scripts/validate_frontmatter.py"), "--summary"], root)
        check = timed([py, str(ROOT / "scripts/vault.py"), "check"], root)
        first_fix = timed([py, str(ROOT / "scripts/vault.py"), "fix"], root)
        second_fix = timed([py, str(ROOT / "scripts/vault.py"), "fix"], root)
        session = sorted((root / "docs/sessions").glob("AB-*.md"))[len(list((root / "docs/sessions").glob("AB-*.md"))) // 2]
        link_step = timed([py, "-c", f"import sys; sys.path.insert(0, {str(ROOT / 'scripts')!r}); from lib import vault; "
                                     f"from pathlib import Path; vault.fix_session(Path('.'), {session.stem!r})"], root)
        notes = sum(1 for _ in root.rglob("*.md"))
        print(f"store: {args.sessions} sessions, {notes} markdown files")
        print(f"  python -c pass          {base:7.3f} s")
        print(f"  validate_frontmatter    {validate:7.3f} s")
        print(f"  vault.py check          {check:7.3f} s  ({check / validate:.2f}x validate)")
        print(f"  vault.py fix (first)    {first_fix:7.3f} s  ({first_fix / validate:.2f}x validate)")
        print(f"  vault.py fix (no-op)    {second_fix:7.3f} s  ({second_fix / validate:.2f}x validate)")
        print(f"  handoff link step       {link_step:7.3f} s  ({link_step / validate:.2f}x validate; one session's files)")

    data = transcript(args.transcript_mb, rng)
    start = time.perf_counter()
    gzip.compress(data, compresslevel=6, mtime=0)
    gz_only = time.perf_counter() - start
    start = time.perf_counter()
    clean, counts = redact_json.redact_jsonl_bytes(data)
    redact_s = time.perf_counter() - start
    start = time.perf_counter()
    gzip.compress(clean, compresslevel=6, mtime=0)
    gz_clean = time.perf_counter() - start
    mb = len(data) / 1e6
    print(f"transcript: {mb:.1f} MB, {sum(counts.values())} secrets redacted")
    print(f"  gzip alone              {gz_only:7.3f} s  ({mb / gz_only:.0f} MB/s)")
    print(f"  redaction               {redact_s:7.3f} s  ({mb / redact_s:.0f} MB/s)")
    print(f"  archive (redact + gzip) {redact_s + gz_clean:7.3f} s  ({(redact_s + gz_clean) / gz_only:.2f}x gzip alone)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
