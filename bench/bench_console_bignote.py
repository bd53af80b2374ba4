"""Console benchmark: the cost of showing one very large note (page and API), with a small note as the baseline.

    .venv/bin/python bench/bench_console_bignote.py [--mb 10] [--requests 3]

Each case runs in a fresh child process serving the real app (Starlette TestClient, same process),
so its peak resident memory is the case's own: the store holds one small note and one note of
--mb megabytes of markdown (paragraphs, lists, code), and the child times GET /sessions/<id> and
GET /api/sessions/<id>. Prints wall time (median) and peak RSS per case, and the ratio to the
small note's page.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = ROOT / "scripts"
sys.path.insert(0, str(ROOT / "tests"))

from support import store as store_factory  # noqa: E402

CHILD = r"""
import json, resource, statistics, sys, time, warnings
sys.path.insert(0, sys.argv[1])
warnings.filterwarnings("ignore")
from pathlib import Path
from lib.console.app import Security, allowed_hosts_for, create_app
from lib.console.data import Console, Settings
from starlette.testclient import TestClient
root, path, n = Path(sys.argv[2]), sys.argv[3], int(sys.argv[4])
console = Console([root], Settings(poll_interval_s=5))
app = create_app(console, Security(token="t", allowed_hosts=allowed_hosts_for("127.0.0.1", 8765)))
times, size = [], 0
with TestClient(app, base_url="http://127.0.0.1:8765") as client:
    client.get("/api/health")
    for _ in range(n):
        started = time.perf_counter()
        response = client.get(path)
        times.append(time.perf_counter() - started)
        assert response.status_code == 200, response.status_code
        size = len(response.content)
print(json.dumps({"median_s": statistics.median(times), "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "bytes": size}))
"""


def note(ext: str, body: str) -> str:
    return store_factory.session_text(ext, "ann", "2026-03-01", title=f"Note {ext}", summary="A note.", body=body)


def big_body(megabytes: float) -> str:
    block = ("## Step\n\nThe operator ran the tests again and *this* time the **fixture** held; see `tests/x.py`.\n\n"
             "- one item with a [link](https://example.com/a)\n- another item\n\n```\n$ pytest -q\n1 passed\n```\n\n")
    return block * max(1, int(megabytes * 1024 * 1024 / len(block)))


def run_case(root: Path, path: str, requests: int) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-c", CHILD, str(SCRIPTS), str(root), path, str(requests)],
                         capture_output=True, text=True, check=True)
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=10.0, help="size of the large note in MB (default 10)")
    parser.add_argument("--requests", type=int, default=3, help="requests per case (default 3)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-bignote-") as tmp:
        root = Path(tmp) / "repo"
        sessions = root / "docs" / "sessions"
        sessions.mkdir(parents=True)
        (sessions / "AN-260301-01.md").write_text(note("AN-260301-01", "## Summary\n\nSmall.\n"), encoding="utf-8")
        started = time.perf_counter()
        (sessions / "AN-260301-02.md").write_text(note("AN-260301-02", big_body(args.mb)), encoding="utf-8")
        size = (sessions / "AN-260301-02.md").stat().st_size
        print(f"large note: {size / 1e6:.1f} MB (written in {time.perf_counter() - started:.1f} s); "
              f"{args.requests} requests per case, each case in a fresh process")
        cases = {
            "small note, page": "/sessions/AN-260301-01",
            "large note, page": "/sessions/AN-260301-02",
            "large note, API": "/api/sessions/AN-260301-02",
        }
        results = {name: run_case(root, path, args.requests) for name, path in cases.items()}
    base = results["small note, page"]["median_s"]
    print(f"{'case':<22} {'median':>10} {'x small':>9} {'peak RSS':>10} {'response':>10}")
    for name, r in results.items():
        print(f"{name:<22} {r['median_s'] * 1000:>7.0f} ms {r['median_s'] / base:>8.1f}x {r['max_rss_mb']:>7.0f} MB "
              f"{r['bytes'] / 1e6:>7.2f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
