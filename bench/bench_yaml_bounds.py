"""YAML bounds benchmark: what the bounds cost on ordinary notes, and how fast a hostile note is refused.

Prints, from one run:
- for ordinary session frontmatter, the time of the graph check (depth, aliases, cycles) per note against the
  whole load it is part of (the baseline), for a text without `*` and one with markdown bold (`**`) in a value;
- a note of nested aliases ("billion laughs", 8 levels of 9), a 5,000-digit integer and a 2 MiB frontmatter:
  time to refuse each in-process, and `validate_frontmatter.py` (whole process) over a store holding all three
  next to 200 good notes, against the same store without them.

    .venv/bin/python bench/bench_yaml_bounds.py [--notes N]
"""

from __future__ import annotations

import argparse
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "scripts"), str(ROOT / "tests")]

from lib.store import yamlbounds, yamlio  # noqa: E402
from support import store as store_factory  # noqa: E402

FRONTMATTER = """title: Session {i} worked on the store
operator: rt
summary: {summary}
workstream: stream-{i}
tags: [bench, store]
kind: session
external_id: RT-261201-{n:02d}
status: written
outcome: done
confidence: medium
date: 2026-12-01
tool_calls_count: 41
tool_calls_breakdown: {{Bash: 20, Read: 12, Edit: 9}}
failure_summary:
  total: 2
  by_class: {{test_failure: 2}}
  dominant_class: test_failure
tokens: {{input: 1200, output: 5400, cache_creation: 300, cache_read: 90000}}
cost_usd: 0.42
"""


def laughs(levels: int = 8) -> str:
    lines = ['l0: &l0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"l{i}: &l{i} [" + ",".join([f"*l{i - 1}"] * 9) + "]" for i in range(1, levels + 1)]
    return "\n".join(lines) + "\n"


HOSTILE = {
    "nested aliases (8 levels)": laughs(),
    "5,000-digit integer": "n: " + "9" * 5000 + "\n",
    "2 MiB frontmatter": "pad: '" + "x" * (2 << 20) + "'\n",
}


def best_of(fn: Callable[[], object], repeat: int = 7) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


def load_costs(count: int) -> None:
    import yaml

    plain = [FRONTMATTER.format(i=i, n=1 + i % 99, summary="Worked on the store.") for i in range(count)]
    bold = [FRONTMATTER.format(i=i, n=1 + i % 99, summary='"Fixed the **racy** test."') for i in range(count)]
    for label, texts in (("no `*` in the text", plain), ("`**` in a value", bold)):
        nodes = [yaml.compose(text, Loader=yamlio.FastLoader) for text in texts]
        aliases = "*" in texts[0]
        # Interleaved, best of many: the check and the load it guards see the same machine load.
        check = load = float("inf")
        def run_check(nodes: list[yaml.Node | None] = nodes, aliases: bool = aliases) -> None:
            for node in nodes:
                if node is not None:
                    yamlbounds.vet(node, aliases=aliases)

        def run_load(texts: list[str] = texts) -> None:
            for text in texts:
                yamlio.load_jsonable(text)

        for _ in range(9):
            check = min(check, best_of(run_check, 1))
            load = min(load, best_of(run_load, 1))
        print(f"  {label:<20} the graph check {check / count * 1e6:5.1f} us a note, the whole bounded load "
              f"{load / count * 1e6:6.1f} us: the check is **{check / load:.1%}** of it")


def refusals() -> None:
    for label, text in HOSTILE.items():
        def refuse(text: str = text, label: str = label) -> None:
            try:
                yamlio.load_jsonable(text)
            except yamlio.YAMLLoadError:
                return
            raise AssertionError(f"{label} was not refused")

        print(f"  {label:<28} refused in {best_of(refuse) * 1e3:.2f} ms ({len(text.encode()):,} bytes)")


def validate_run(root: Path) -> float:
    times = []
    for _ in range(3):
        started = time.perf_counter()
        subprocess.run([sys.executable, str(ROOT / "scripts" / "validate_frontmatter.py"), "--root", str(root)],
                       capture_output=True, text=True, check=True, timeout=600)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def whole_store(good: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        subprocess.run(["git", "init", "-q", str(root)], check=True)
        sessions = root / "docs" / "sessions"
        sessions.mkdir(parents=True)
        rng = random.Random(5)
        for i in range(good):  # the store factory's sessions, with the telemetry hook's frontmatter
            ext = f"RT-2612{1 + i // 99 % 28:02d}-{1 + i % 99:02d}"
            date = f"2026-12-{1 + i // 99 % 28:02d}"
            store_factory.session(root, ext, "rt", date, summary="Worked.",
                                  extra=store_factory.telemetry_fields(rng, i, date))
        baseline = validate_run(root)
        for n, text in enumerate(HOSTILE.values(), 1):
            head = FRONTMATTER.format(i=n, n=n, summary="Hostile.").replace("RT-261201-", "EV-261231-")
            (sessions / f"EV-261231-{n:02d}.md").write_text(f"---\n{head}{text}---\n", encoding="utf-8")
        hostile = validate_run(root)
    print(f"  validate_frontmatter.py, {good} good notes: {baseline:.2f} s; with the three hostile notes added: "
          f"{hostile:.2f} s (**{hostile / baseline:.2f}x**)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notes", type=int, default=2000, help="ordinary frontmatters to load (default 2000)")
    args = parser.parse_args()
    print("load cost of the bounds:")
    load_costs(args.notes)
    print("hostile notes:")
    refusals()
    whole_store(200)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
