"""How fast failures.classify is, and what importing it costs the telemetry hook.

Prints, in one run:
- classify over every sample of tests/fixtures/failures (per call: median, mean, p90, max;
  throughput in calls/s and MB/s), and on one long output cut to head and tail;
- the import of lib.failures.classify in a fresh interpreter, and import plus a first classify, against
  the bare interpreter (`python -c pass`), as medians of several runs and as ratios;
- one log_decision append, for comparison.

Usage: python bench/bench_failures.py [--runs N]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = ROOT / "scripts"
CORPUS = ROOT / "tests" / "fixtures" / "failures"
sys.path.insert(0, str(SCRIPTS))

from lib.failures import classify as failures  # noqa: E402
from lib.failures.decisions import log_decision  # noqa: E402


def _fresh(code: str, runs: int, env: dict[str, str]) -> tuple[float, float]:
    """Median CPU time and median wall time (ms) of a fresh interpreter running `code`.

    CPU time (user + system of the child) is the steadier figure on a busy machine.
    """
    cpu, wall = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, env=env)
        wall.append((time.perf_counter() - start) * 1000)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append((after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) * 1000)
    return statistics.median(cpu), statistics.median(wall)


def bench_classify(repeat: int) -> None:
    generated = json.loads((CORPUS / "generated.json").read_text())
    samples = [(p.read_text(errors="replace"), generated.get(p.name, {}).get("exit_code"))
               for p in sorted(CORPUS.glob("*.txt"))]
    per_call: list[float] = []
    for text, exit_code in samples:
        best = float("inf")
        for _ in range(repeat):
            start = time.perf_counter()
            failures.classify(text, tool="Bash", exit_code=exit_code)
            best = min(best, time.perf_counter() - start)
        per_call.append(best * 1000)
    per_call.sort()
    total_chars = sum(len(t) for t, _ in samples)
    total_ms = sum(per_call)
    print(f"classify over the corpus: {len(samples)} samples, {total_chars / 1024:.0f} KiB")
    print(f"  per call: median {statistics.median(per_call):.3f} ms, mean {statistics.mean(per_call):.3f} ms, "
          f"p90 {per_call[int(len(per_call) * 0.9)]:.3f} ms, max {per_call[-1]:.3f} ms")
    print(f"  throughput: {len(samples) / total_ms * 1000:,.0f} calls/s, "
          f"{total_chars / 1e6 / (total_ms / 1000):.1f} MB/s")
    long_text = (CORPUS / "test_fail__pytest__2.txt").read_text() * 2000
    start = time.perf_counter()
    failures.classify(long_text)
    print(f"  one {len(long_text) / 1e6:.1f} MB output (cut to head and tail): "
          f"{(time.perf_counter() - start) * 1000:.1f} ms")


def bench_import(runs: int) -> None:
    path = str(SCRIPTS)
    sample = str(CORPUS / "compile_error__mypy__3.txt")
    load = f"import sys; sys.path.insert(0, {path!r}); from lib.failures import classify as failures"
    cases = [
        ("python -c pass", "pass"),
        ("import json (any hook parsing its payload)", "import json"),
        ("import lib.failures.classify", load),
        ("import json + lib.failures.classify", "import json; " + load),
        ("import lib.failures.classify + one classify", f"{load}; failures.classify(open({sample!r}).read())"),
    ]
    with tempfile.TemporaryDirectory() as cache:
        cached = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        cached["PYTHONPYCACHEPREFIX"] = cache
        uncached = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
        uncached.pop("PYTHONPYCACHEPREFIX", None)
        subprocess.run([sys.executable, "-c", load], check=True, env=cached)  # write the bytecode once
        for title, env in (("bytecode cached (the usual case)", cached),
                           ("no bytecode cache (PYTHONDONTWRITEBYTECODE=1)", uncached)):
            print(f"fresh interpreter, {title}; CPU ms / wall ms, medians of {runs} runs:")
            base_cpu, base_wall = _fresh("pass", runs, env)
            for label, code in cases:
                cpu, wall = _fresh(code, runs, env) if code != "pass" else (base_cpu, base_wall)
                print(f"  {label:45s} {cpu:6.1f} / {wall:6.1f}   "
                      f"({cpu / base_cpu:.2f}x CPU, +{cpu - base_cpu:.1f} ms)")


def bench_decision(count: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "decisions.jsonl"
        start = time.perf_counter()
        for i in range(count):
            log_decision("retry", path=path, attempt=i, context={"failure_class": "test_fail"})
        elapsed = (time.perf_counter() - start) / count * 1000
    print(f"log_decision (locked append): {elapsed:.3f} ms per decision over {count}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Benchmark failure classification and the decision log.")
    parser.add_argument("--runs", type=int, default=15, help="fresh-interpreter runs per measurement (default 15)")
    parser.add_argument("--repeat", type=int, default=20, help="classify calls per sample; the best counts")
    args = parser.parse_args(argv)
    bench_classify(args.repeat)
    bench_import(args.runs)
    bench_decision(200)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
