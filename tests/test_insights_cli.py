"""insights.py: team figures from committed notes, retries from this machine, plain text off a terminal."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from lib.failures import insights
from lib.store import frontmatter
from support.paths import REPO_ROOT, run_script


def fixture_store(tmp_path: Path) -> Path:
    root = tmp_path / "store"
    shutil.copytree(REPO_ROOT / "examples" / "store", root, ignore=shutil.ignore_patterns("state", "*.sqlite*"))
    return root


def test_json_figures_match_the_notes_they_come_from(tmp_path: Path) -> None:
    root = fixture_store(tmp_path)
    result = run_script("insights.py", "--json", "--root", str(root), cwd=root)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    notes = [frontmatter.read_metadata(p) for p in sorted((root / "docs/sessions").glob("*.md"))
             if p.name not in ("TEMPLATE.md", "INDEX.md")]
    written = [m for m in notes if m.get("status") != "claimed"]
    expected = insights.compute(written)
    assert report["version"] == 1
    assert report["totals"] == expected["totals"]
    assert report["by_class"] == expected["by_class"]
    assert report["totals"]["sessions"] == len(written)
    assert report["totals"]["failed_sessions"] == sum(1 for m in written if m.get("outcome") == "blocked")


def test_filters_and_plain_output(tmp_path: Path) -> None:
    root = fixture_store(tmp_path)
    result = run_script("insights.py", "--root", str(root), "--operator", "ines", cwd=root)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("insights: ")
    assert "\x1b[" not in result.stdout  # no terminal styling when stdout is not a terminal
    assert "this machine's chain registry and decision log" in result.stdout
    by_operator = json.loads(run_script("insights.py", "--json", "--root", str(root), "--operator", "ines",
                                        cwd=root).stdout)["by_operator"]
    assert [row["key"] for row in by_operator] == ["ines"]


def test_bad_date_is_one_clear_line(tmp_path: Path) -> None:
    result = run_script("insights.py", "--since", "last week", "--root", str(tmp_path), cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip() == "insights: error: --since 'last week': expected a date as YYYY-MM-DD"
