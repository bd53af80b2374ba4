"""validate_frontmatter.py: every error form, cross-file checks, exit codes, JSON report."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import run_script

GOOD_SESSION = """---
title: Built the store
operator: rt
summary: Frontmatter library and schemas
workstream: store
tags: [store]
kind: session
external_id: RT-260511-01
status: written
outcome: done
date: 2026-05-11
tool_calls_count: 12
tool_calls_breakdown: {Bash: 10, mcp__notion_offplan: 0}
---
## Summary
Done.
"""


def write(root: Path, rel: str, text: str) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def validate(root: Path, *args: str) -> tuple[int, str, str]:
    result = run_script("validate_frontmatter.py", *args, cwd=root)
    return result.returncode, result.stdout, result.stderr


def test_clean_store_exits_zero_with_no_output(repo: Path) -> None:
    write(repo, "docs/sessions/RT-260511-01.md", GOOD_SESSION)
    write(repo, "docs/sessions/TEMPLATE.md", "---\nkind: [not, checked]\n---\n")
    code, out, err = validate(repo, "--strict")
    assert (code, out, err) == (0, "", "")


def test_schema_problem_names_file_line_and_pointer(repo: Path) -> None:
    write(repo, "docs/sessions/RT-260511-01.md", GOOD_SESSION.replace("outcome: done", "outcome: finished"))
    code, out, _ = validate(repo)
    assert code == 0  # warn mode
    assert out.strip() == "docs/sessions/RT-260511-01.md:10: /outcome: 'finished' is not one of: done, incomplete, blocked"
    code, _, _ = validate(repo, "--strict")
    assert code == 1


def test_nested_value_problem_points_into_the_mapping(repo: Path) -> None:
    write(repo, "docs/sessions/RT-260511-01.md",
          GOOD_SESSION.replace("tool_calls_breakdown: {Bash: 10, mcp__notion_offplan: 0}",
                               "tool_calls_breakdown:\n  Bash: many"))
    _, out, _ = validate(repo)
    assert out.strip() == "docs/sessions/RT-260511-01.md:14: /tool_calls_breakdown/Bash: must be integer, not string"


def test_missing_required_key_is_reported_on_line_one(repo: Path) -> None:
    write(repo, "docs/sessions/RT-260511-01.md", GOOD_SESSION.replace("summary: Frontmatter library and schemas\n", ""))
    _, out, _ = validate(repo)
    assert out.strip() == "docs/sessions/RT-260511-01.md:1: /: missing required key 'summary'"


def test_claim_stub_needs_only_the_stub_keys(repo: Path) -> None:
    write(repo, "docs/sessions/RT-260511-02.md",
          "---\nkind: session\nexternal_id: RT-260511-02\noperator: rt\nclaimed_at: 2026-05-11T09:00:00Z\nstatus: claimed\n---\n")
    code, out, _ = validate(repo, "--strict")
    assert (code, out) == (0, "")
    write(repo, "docs/sessions/RT-260511-03.md",
          "---\nkind: session\nexternal_id: RT-260511-03\nstatus: claimed\n---\n")
    _, out, _ = validate(repo)
    assert "docs/sessions/RT-260511-03.md:1: /: missing required key 'operator'" in out


def test_malformed_files_are_problems_not_tracebacks(repo: Path) -> None:
    write(repo, "docs/sessions/RT-260511-01.md", "---\ntitle: [unclosed\n---\n")
    write(repo, "docs/sessions/RT-260511-02.md", "---\ntitle: no closing\n")
    write(repo, "docs/sessions/RT-260511-03.md", "---\n- a list\n---\n")
    (repo / "docs/sessions/RT-260511-04.md").write_bytes(b"---\ntitle: \xff\n---\n")
    write(repo, "workstreams/nofront.md", "# no frontmatter\n")
    code, out, err = validate(repo, "--strict")
    assert code == 1 and "Traceback" not in err
    lines = out.strip().splitlines()
    assert lines[0].startswith("docs/sessions/RT-260511-01.md:") and "invalid YAML" in lines[0]
    assert lines[1] == "docs/sessions/RT-260511-02.md:1: /: frontmatter has no closing '---'"
    assert lines[2] == "docs/sessions/RT-260511-03.md:2: /: frontmatter must be a mapping, not a list"
    assert lines[3] == "docs/sessions/RT-260511-04.md:2: /: not valid UTF-8 text"
    assert lines[4] == "workstreams/nofront.md:1: /: no frontmatter (a '---' block at the top of the file)"


def test_a_recursive_alias_is_a_problem_on_every_path(repo: Path) -> None:
    write(repo, "docs/learnings/rec.md", "---\nkind: learning\nexternal_id: rec\na: &x [1, *x]\nsummary: s\ntags: []\n---\n")
    for args in (("--strict",), ("--strict", "docs/learnings/rec.md")):
        code, out, err = validate(repo, *args)
        assert code == 1 and "Traceback" not in err
        assert "docs/learnings/rec.md:" in out and "alias refers to a node that contains it" in out


def test_unreadable_path_is_reported(repo: Path) -> None:
    (repo / "docs/sessions/RT-260511-05.md").mkdir()
    code, out, _ = validate(repo, "--strict", "docs/sessions/RT-260511-05.md", "docs/sessions/missing.md")
    assert code == 1
    assert "docs/sessions/RT-260511-05.md:1: /: is a directory, not a file" in out
    assert "docs/sessions/missing.md:1: /: cannot read: No such file or directory" in out


def test_duplicate_ids_and_file_name_mismatch(repo: Path) -> None:
    write(repo, "docs/sessions/RT-260511-01.md", GOOD_SESSION)
    write(repo, "docs/sessions/RT-260511-09.md", GOOD_SESSION)
    _, out, _ = validate(repo)
    assert out.strip().splitlines() == [
        "docs/sessions/RT-260511-01.md:8: /external_id: duplicate external_id 'RT-260511-01' "
        "(also in docs/sessions/RT-260511-09.md)",
        "docs/sessions/RT-260511-09.md:8: /external_id: duplicate external_id 'RT-260511-01' "
        "(also in docs/sessions/RT-260511-01.md)",
        "docs/sessions/RT-260511-09.md:8: /external_id: file name 'RT-260511-09.md' disagrees with "
        "external_id 'RT-260511-01'",
    ]


def test_kind_comes_from_the_key_or_else_the_folder(repo: Path) -> None:
    write(repo, "workstreams/store.md", "---\nowner: rt\nsummary: s\ntags: []\nexternal_id: store\n---\n")
    write(repo, "notes/elsewhere.md", "---\nsummary: s\n---\n")
    write(repo, "notes/declared.md", "---\nkind: adr\nexternal_id: ADR-0001\nsummary: s\ntags: []\n---\n")
    write(repo, "notes/weird.md", "---\nkind: recipe\n---\n")
    code, out, _ = validate(repo, "--strict", "workstreams/store.md", "notes/elsewhere.md", "notes/weird.md")
    assert code == 1
    assert out.strip().splitlines() == [
        "notes/elsewhere.md:1: /kind: cannot tell the kind: add 'kind:' or keep the file in a store folder",
        "notes/weird.md:2: /kind: unknown kind 'recipe' (one of: session, workstream, plan, adr, learning)",
        # the folder picked the workstream schema, which still wants the key itself
        "workstreams/store.md:1: /: missing required key 'kind'",
    ]
    _, out, _ = validate(repo, "notes/declared.md")
    assert out.strip() == "notes/declared.md:3: /external_id: file name 'declared.md' disagrees with external_id 'ADR-0001'"


def test_json_report_is_versioned(repo: Path) -> None:
    write(repo, "docs/sessions/RT-260511-01.md", GOOD_SESSION.replace("status: written", "status: wrote"))
    code, out, _ = validate(repo, "--json", "--strict")
    report = json.loads(out)
    assert code == 1
    assert report["version"] == 1 and report["files_checked"] == 1 and report["ok"] is False
    assert report["problems"] == [{
        "path": "docs/sessions/RT-260511-01.md", "line": 9, "pointer": "/status",
        "message": "'wrote' is not one of: claimed, written",
    }]


def test_summary_line(repo: Path) -> None:
    write(repo, "docs/sessions/RT-260511-01.md", GOOD_SESSION)
    _, out, _ = validate(repo, "--summary")
    assert out.strip() == "store: 1 notes checked, no problems"


def test_help_text() -> None:
    result = run_script("validate_frontmatter.py", "--help", cwd=Path.cwd())
    assert result.returncode == 0 and "--strict" in result.stdout and "--staged" in result.stdout


def test_non_finite_numbers_are_problems_wherever_they_are(repo: Path) -> None:
    text = GOOD_SESSION.replace("tool_calls_count: 12\n", "tool_calls_count: 12\ncost_usd: -.inf\n"
                                "custom: {rate: .nan, list: [1, 1e999]}\n")
    write(repo, "docs/sessions/RT-260511-01.md", text)
    code, out, err = validate(repo, "--strict")
    assert code == 1 and "Traceback" not in err
    lines = out.splitlines()
    assert "docs/sessions/RT-260511-01.md:13: /cost_usd: -.inf is not a finite number" in out
    assert any("/custom/rate: .nan is not a finite number" in line for line in lines)
    assert any("/custom/list/1: .inf is not a finite number" in line for line in lines)
    assert len(lines) == 3


def test_refused_tags_and_huge_integers_are_one_line_problems(repo: Path) -> None:
    write(repo, "docs/learnings/set.md", "---\nkind: learning\nexternal_id: set\nsummary: s\ntags: !!set {a}\n---\n")
    write(repo, "docs/learnings/int.md", "---\nkind: learning\nexternal_id: int\nsummary: s\ntags: []\n"
          "n: " + "4" * 4400 + "\n---\n")
    code, out, err = validate(repo)
    assert code == 0 and "Traceback" not in err
    assert out.splitlines() == [
        "docs/learnings/int.md:6: /: invalid YAML: a 4400-digit integer is past the limit of 4300 digits",
        "docs/learnings/set.md:5: /: invalid YAML: unsupported YAML tag 'tag:yaml.org,2002:set'",
    ]
