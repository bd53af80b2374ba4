"""Benchmark of the redactor on a generated 20 MB Claude Code transcript, against gzip alone.

    .venv/bin/python bench/bench_redact.py [--mb 20] [--rounds 3]

The transcript is realistic JSON lines: user prompts, assistant turns with usage blocks, tool
calls (Bash, Read, Edit, Grep) and their results (source files, test runs, logs), an image now
and then, and a secret in about one line in 150 (tokens, keys, URLs with passwords, `.env`
assignments). It prints MB/s for the redaction (`redact_jsonl_bytes`, what the transcript
archive runs), gzip alone on the same bytes (level 6, as the archive writes), and their ratio,
all measured in the same run (best of --rounds). Target: at least 10 MB/s.
"""

from __future__ import annotations

import argparse
import base64
import gzip
import json
import random
import sys
import time
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))

from lib.security import redact_json

TARGET_MB_S = 10.0
ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
# Prose from a session about configuration and sign-in work: mostly ordinary words, with the words
# that wake the assignment rules (token, key, password, pass, auth) at about one word in twenty.
WORDS = ["the", "config", "loader", "now", "reads", "the", "token", "budget", "from", "settings", "before", "it", "validates", "the", "schema", "and", "the", "tests", "cover", "the", "path", "where", "a", "key", "is", "missing", "so", "the", "error", "names", "the", "file", "and", "field", "we", "keep", "the", "password", "prompt", "out", "of", "the", "logs", "and", "pass", "the", "auth", "header", "through", "unchanged", "then", "run", "the", "suite", "again", "check", "the", "output", "against", "the", "last", "run", "update", "the", "readme", "and", "the", "changelog", "open", "a", "pull", "request", "ask", "for", "a", "review", "fix", "the", "lint", "warnings", "rename", "the", "helper", "split", "the", "module", "move", "the", "parser", "into", "its", "own", "file", "add", "a", "fixture", "for", "the", "temporary", "repository", "and", "commit", "the", "work", "before", "the", "next", "step"]
CODE = '''def load(path: Path) -> dict[str, Any]:
    """Read one note; the error names the file and the field."""
    text = path.read_text(encoding="utf-8")
    meta, body = split(text)
    if "external_id" not in meta:
        raise ContentError(f"{path}: external_id: missing")
    return {"meta": meta, "body": body, "tokens": count_tokens(body)}
'''
TEST_OUTPUT = ("============================= test session starts ==============================\n"
               "collected 42 items\n\ntests/test_config.py ........F.....                [ 35%]\n"
               "tests/test_loader.py ...........................                   [100%]\n\n"
               "FAILED tests/test_config.py::test_missing_key - KeyError: 'external_id'\n"
               "========================= 1 failed, 41 passed in 0.84s =========================\n")


def fake(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(ALNUM) for _ in range(n))


def secret_text(rng: random.Random) -> str:
    kind = rng.randrange(6)
    if kind == 0:
        return "export GITHUB_TOKEN=gh" + "p_" + fake(rng, 36)
    if kind == 1:
        return "ANTHROPIC_API_KEY=sk-" + "ant-api03-" + fake(rng, 80)
    if kind == 2:
        return f"DATABASE_URL=postgres://app:{fake(rng, 14)}@db.internal:5432/app"
    if kind == 3:
        return f"PASSWORD={fake(rng, 12)}"
    if kind == 4:
        return "Authorization: Bearer " + fake(rng, 40)
    return "stripe key sk" + "_live_" + fake(rng, 24)


def line(rng: random.Random, i: int, image: str) -> dict[str, object]:
    session = "0b9d7c1e-1111-4a2b-9c3d-5e6f7a8b9c0d"
    base: dict[str, object] = {"parentUuid": f"{i - 1:08d}-aaaa-4bbb-8ccc-dddddddddddd",
                               "uuid": f"{i:08d}-aaaa-4bbb-8ccc-dddddddddddd", "sessionId": session,
                               "timestamp": "2026-05-11T10:00:00.000Z", "cwd": "/home/dev/project",
                               "gitBranch": "main", "version": "2.1.0"}
    kind = i % 10
    secret = " " + secret_text(rng) if i % 150 == 0 else ""
    if i % 700 == 0:
        base.update(type="user", message={"role": "user", "content": [
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": image}}]})
    elif kind == 0:
        base.update(type="user", message={"role": "user", "content": " ".join(rng.choices(WORDS, k=40)) + secret})
    elif kind in (1, 4, 7):
        base.update(type="assistant", message={
            "id": f"msg_{i:06d}", "model": "claude-sonnet-4-5", "role": "assistant",
            "content": [{"type": "text", "text": " ".join(rng.choices(WORDS, k=rng.randint(20, 120)))}],
            "usage": {"input_tokens": rng.randint(1, 9), "cache_creation_input_tokens": rng.randint(0, 5000),
                      "cache_read_input_tokens": rng.randint(0, 90000), "output_tokens": rng.randint(10, 900)}})
    elif kind in (2, 5):
        tool = rng.choice(["Bash", "Read", "Edit", "Grep"])
        inputs = {"Bash": {"command": "pytest -q tests/test_config.py", "description": "run the tests"},
                  "Read": {"file_path": "/home/dev/project/src/config/loader.py"},
                  "Edit": {"file_path": "/home/dev/project/src/config/loader.py", "old_string": CODE,
                           "new_string": CODE.replace("missing", "absent")},
                  "Grep": {"pattern": "external_id", "path": "/home/dev/project/src"}}[tool]
        base.update(type="assistant", message={"id": f"msg_{i:06d}", "role": "assistant", "content": [
            {"type": "tool_use", "id": f"toolu_{i:06d}", "name": tool, "input": inputs}]})
    else:
        output = rng.choice([TEST_OUTPUT, CODE * rng.randint(2, 12),
                             "\n".join(f"src/config/loader.py:{n}: token = settings.get('token_budget')"
                                       for n in range(rng.randint(5, 60)))]) + secret
        base.update(type="user", message={"role": "user", "content": [
            {"tool_use_id": f"toolu_{i - 1:06d}", "type": "tool_result", "content": output}]},
                    toolUseResult={"stdout": output, "stderr": "", "interrupted": False})
    return base


def transcript(size_mb: float, seed: int = 7) -> bytes:
    rng = random.Random(seed)
    image = base64.b64encode(rng.randbytes(150_000)).decode()
    out: list[bytes] = []
    total = 0
    i = 1
    while total < size_mb * 1_000_000:
        data = json.dumps(line(rng, i, image), ensure_ascii=False).encode() + b"\n"
        out.append(data)
        total += len(data)
        i += 1
    return b"".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=20.0, help="transcript size in MB (default 20)")
    parser.add_argument("--rounds", type=int, default=3, help="timed runs of each, best kept (default 3)")
    args = parser.parse_args(argv)
    data = transcript(args.mb)
    mb = len(data) / 1e6
    gz_times: list[float] = []
    red_times: list[float] = []
    counts: dict[str, int] = {}
    for _ in range(args.rounds):
        start = time.perf_counter()
        gzip.compress(data, compresslevel=6, mtime=0)
        gz_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        _clean, counts = redact_json.redact_jsonl_bytes(data)
        red_times.append(time.perf_counter() - start)
    gz, red = min(gz_times), min(red_times)
    lines = data.count(b"\n")
    print(f"transcript: {mb:.1f} MB, {lines} lines, {sum(counts.values())} secrets redacted "
          f"({', '.join(f'{k} {v}' for k, v in sorted(counts.items()))})")
    print(f"  gzip -6 alone   {gz:7.3f} s  ({mb / gz:6.1f} MB/s)")
    print(f"  redaction       {red:7.3f} s  ({mb / red:6.1f} MB/s)  {red / gz:.2f}x gzip alone")
    verdict = "met" if mb / red >= TARGET_MB_S else "MISSED"
    print(f"target {TARGET_MB_S:.0f} MB/s: {verdict}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
