"""Store benchmark: metadata reads and validation over 10,000 sessions and 1,000 workstreams.

Prints, from one run on the same files (built by the store factory, tests/support/store.py):
- metadata-read throughput of lib.store.frontmatter.read_metadata, python-frontmatter and ruamel round trip;
- validate_frontmatter.py wall time (whole process) against reading the files with python-frontmatter.
Target: validating the 11,000 files takes under 3x the time of reading them with python-frontmatter.

    .venv/bin/python bench/bench_store.py [--sessions N] [--workstreams N] [--keep DIR]
"""

from __future__ import annotations

import argparse
import functools
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "scripts"), str(ROOT / "tests")]

from lib.store import frontmatter, roundtrip  # noqa: E402
from support import store as store_factory  # noqa: E402


def generate(root: Path, sessions: int, workstreams: int) -> list[Path]:
    """The store factory's notes, each session with the telemetry hook's frontmatter."""
    return store_factory.bench_store(root, sessions, workstreams, seed=7, telemetry=True)


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
