"""failures.classify against the labelled corpus of real tool outputs, and its contract with the hook."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lib.failures import classify as failures
from lib.failures.classify import FAILURE_CLASSES, Failure, classify

CORPUS = Path(__file__).parent / "fixtures" / "failures"
SAMPLES = sorted(CORPUS.glob("*.txt"))
GENERATED: dict[str, Any] = json.loads((CORPUS / "generated.json").read_text())
SPLIT: dict[str, str] = json.loads((CORPUS / "split.json").read_text())["split"]
EXPECTATIONS: dict[str, Any] = json.loads((CORPUS / "expectations.json").read_text())["samples"]
MODULE = Path(failures.__file__)


def label(sample: Path) -> str:
    return sample.name.split("__", 1)[0]


def run(sample: Path) -> Failure:
    exit_code = GENERATED.get(sample.name, {}).get("exit_code")
    return classify(sample.read_text(errors="replace"), tool="Bash", exit_code=exit_code)


def test_corpus_has_at_least_60_samples_and_4_of_every_class() -> None:
    counts = Counter(label(s) for s in SAMPLES)
    assert len(SAMPLES) >= 60
    assert set(counts) == set(FAILURE_CLASSES), f"labels outside the nine classes: {set(counts) ^ set(FAILURE_CLASSES)}"
    thin = {cls: counts[cls] for cls in FAILURE_CLASSES if counts[cls] < 4}
    assert not thin, f"classes with fewer than 4 samples: {thin}"


def test_every_sample_has_a_split_and_a_recorded_source() -> None:
    sources = (CORPUS / "SOURCES.md").read_text()
    names = {s.name for s in SAMPLES}
    assert names == set(SPLIT), f"split.json out of step with the corpus: {names ^ set(SPLIT)}"
    assert set(SPLIT.values()) == {"dev", "holdout"}
    unsourced = [n for n in sorted(names) if n not in sources]
    assert not unsourced, f"samples missing from SOURCES.md: {unsourced}"


def test_corpus_accuracy_is_at_least_95_percent_overall_and_on_the_holdout() -> None:
    wrong: list[str] = []
    per_split: Counter[str] = Counter()
    right_per_split: Counter[str] = Counter()
    for sample in SAMPLES:
        got = run(sample)
        part = SPLIT[sample.name]
        per_split[part] += 1
        if got.failure_class == label(sample):
            right_per_split[part] += 1
        else:
            wrong.append(f"{sample.name} [{part}]: got {got.failure_class} by rule {got.rule!r}")
    accuracy = 1 - len(wrong) / len(SAMPLES)
    report = ", ".join(f"{p} {right_per_split[p]}/{per_split[p]}" for p in sorted(per_split))
    assert accuracy >= 0.95, f"accuracy {accuracy:.1%} ({report}); misclassified:\n" + "\n".join(wrong)
    assert right_per_split["holdout"] / per_split["holdout"] >= 0.95, report + "\n" + "\n".join(wrong)


def _names_test(expected: str, reported: list[str]) -> bool:
    return any(
        name == expected or any(name.endswith(sep + expected) for sep in ("::", ".", " > ", " › "))
        for name in reported
    )


def _names_file(expected: dict[str, Any], reported: list[dict[str, Any]]) -> bool:
    for entry in reported:
        path = entry["path"].replace("\\", "/")
        same_file = path == expected["path"] or path.endswith("/" + expected["path"])
        if same_file and ("line" not in expected or entry["line"] == expected["line"]):
            return True
    return False


@pytest.mark.parametrize(
    "sample", [s for s in SAMPLES if label(s) in ("compile_error", "lint_error", "test_fail", "dependency_missing")],
    ids=lambda s: s.stem,
)
def test_error_context_names_the_right_file_line_test_or_missing_package(sample: Path) -> None:
    assert sample.name in EXPECTATIONS, f"{sample.name} needs an entry in expectations.json"
    expected = EXPECTATIONS[sample.name]
    context = run(sample).error_context
    if "summary_only" in expected:
        # Nothing to name: such output holds no file:line and no test name.
        assert context["files"] == [] and context["tests"] == [], context
        return
    assert expected.get("files") or expected.get("tests") or expected.get("missing"), "empty expectation"
    for want in expected.get("files", []):
        assert _names_file(want, context["files"]), f"{want} not among {context['files']}"
    for name in expected.get("tests", []):
        assert _names_test(name, context["tests"]), f"test {name!r} not among {context['tests']}"
    if "missing" in expected:
        assert context["missing"] == expected["missing"]


# Shapes of output the corpus has no sample of; each line follows the tool's documented format.
BEYOND_THE_CORPUS = [
    ("rpc error: code = DeadlineExceeded desc = context deadline exceeded", "timeout"),
    ("Command timed out after 2m 0.0s", "timeout"),
    ("ERROR: Job failed: execution took longer than 1h0m0s seconds", "timeout"),
    ("Too long with no output (exceeded 10m0s): context deadline exceeded", "timeout"),
    ("Error: You have reached your monthly spend limit for this workspace.", "budget_exceeded"),
    ("main.c:1:10: fatal error: 'zlib.h' file not found", "dependency_missing"),
    ("app.py:1: error: Skipping analyzing \"yaml\": module is installed, but missing library stubs or py.typed marker"
     "  [import-untyped]", "dependency_missing"),
    ("go: module github.com/acme/nope: reading https://proxy.golang.org/github.com/acme/nope/@v/list: 404 Not Found",
     "dependency_missing"),
    ("ERROR: ResolutionImpossible: for help visit https://pip.pypa.io/en/latest/topics/dependency-resolution/",
     "dependency_missing"),
    ("/bin/bash: line 1: tsc: command not found", "dependency_missing"),
    ("src/app.js: line 3, col 7, Error - 'x' is assigned a value but never used. (no-unused-vars)", "lint_error"),
    ("would reformat src/models.py\nOh no! 💥 💔 💥\n1 file would be reformatted.", "lint_error"),
    ("In deploy.sh line 3:\necho $1\n     ^-- SC2086 (info): Double quote to prevent globbing and word splitting.",
     "lint_error"),
    ("▶ math\n  ✖ adds (1.2ms)\n    AssertionError [ERR_ASSERTION]: 1 == 2\nℹ tests 1\nℹ pass 0\nℹ fail 1", "test_fail"),
    ("  2 passing (12ms)\n  1 failing\n\n  1) sum\n       adds:\n     AssertionError: expected 3 to equal 4",
     "test_fail"),
    ("Main.java:5: error: cannot find symbol\n        foo();\n        ^", "compile_error"),
    ("/usr/bin/ld: main.o: in function `main':\nmain.c:(.text+0x9): undefined reference to `helper'\n"
     "collect2: error: ld returned 1 exit status", "compile_error"),
    ("error: src refspec feature does not match any\nerror: failed to push some refs to 'origin'", "orchestration_error"),
    ("fatal: Unable to create '/repo/.git/index.lock': File exists.", "orchestration_error"),
    ("Error: Request failed with status 529 {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\"}}",
     "orchestration_error"),
    ("There were 2 pact failures", "contract_violation"),
    ("1 breaking changes: 1 error, 0 warning\nerror\t[api-path-removed-without-deprecation] at base.yaml",
     "contract_violation"),
    ("cat: notes.txt: No such file or directory", "unknown"),
    ("SyntaxError: Unexpected token } in JSON at position 5\n    at JSON.parse (<anonymous>)\n"
     "    at Object.<anonymous> (/srv/app.js:3:6)", "unknown"),
]


@pytest.mark.parametrize(("text", "expected"), BEYOND_THE_CORPUS, ids=[c for _, c in BEYOND_THE_CORPUS])
def test_output_shapes_beyond_the_corpus(text: str, expected: str) -> None:
    got = classify(text)
    assert got.failure_class == expected, f"rule {got.rule!r}, context {got.error_context}"


def test_words_that_merely_mention_a_budget_or_timeout_do_not_decide() -> None:
    text = (
        "FAILED tests/test_limits.py::test_max_budget_usd_flag - AssertionError\n"
        "FAILED tests/test_http.py::test_read_timeout_is_retried - AssertionError\n"
        "2 failed, 10 passed in 0.31s\n"
    )
    got = classify(text)
    assert got.failure_class == "test_fail"
    assert got.error_context["tests"] == ["test_max_budget_usd_flag", "test_read_timeout_is_retried"]


def test_context_has_every_documented_key() -> None:
    context = classify("src/a.ts(3,7): error TS2322: Type 'number' is not assignable to type 'string'.").error_context
    assert set(context) == {"tool", "files", "tests", "missing", "codes", "first_error_line", "exit_code"}
    assert context["files"] == [{"path": "src/a.ts", "line": 3, "column": 7}]
    assert context["codes"] == ["TS2322"]
    assert context["tool"] == "tsc"
    assert context["first_error_line"].startswith("src/a.ts(3,7): error TS2322")


def test_a_missing_module_is_a_dependency_problem_even_among_type_errors() -> None:
    text = (
        "src/a.ts(1,20): error TS2307: Cannot find module 'left-pad' or its corresponding type declarations.\n"
        "src/a.ts(4,7): error TS2322: Type 'number' is not assignable to type 'string'.\n"
    )
    got = classify(text)
    assert got.failure_class == "dependency_missing"
    assert got.error_context["missing"] == "left-pad"
    assert got.rule == "dependency.tsc_missing"


def test_exit_code_124_is_a_timeout_whatever_was_printed() -> None:
    assert classify("", exit_code=124).failure_class == "timeout"
    assert classify("collected 3 items\ntests/test_a.py ..", exit_code=124).failure_class == "timeout"


def test_claude_code_exit_code_prefix_supplies_the_exit_code() -> None:
    got = classify("Exit code 124\n")
    assert got.failure_class == "timeout"
    assert got.error_context["exit_code"] == 124
    wrapped = classify("Exit code 2\nls: cannot access '/x': No such file or directory")
    assert wrapped.error_context["exit_code"] == 2
    assert wrapped.error_context["first_error_line"] == "ls: cannot access '/x': No such file or directory"


def test_the_callers_tool_is_kept_when_the_text_names_none() -> None:
    assert classify("something odd happened", tool="Bash").error_context["tool"] == "Bash"
    assert classify("fatal: not a git repository", tool="Bash").error_context["tool"] == "git"


def test_colour_codes_do_not_hide_a_failure() -> None:
    text = "\x1b[96msrc/x.ts\x1b[0m:\x1b[93m2\x1b[0m:\x1b[93m5\x1b[0m - \x1b[91merror\x1b[0m\x1b[90m TS2322: \x1b[0mBad."
    got = classify(text)
    assert got.failure_class == "compile_error"
    assert got.error_context["files"] == [{"path": "src/x.ts", "line": 2, "column": 5}]


def test_budget_and_turn_limits_are_budget_exceeded() -> None:
    result = '{"type":"result","subtype":"error_max_turns","is_error":true,"num_turns":40}'
    assert classify(result).failure_class == "budget_exceeded"
    assert classify(result).error_context["codes"] == ["max_turns"]
    assert classify("Error: Exceeded USD budget (2)").failure_class == "budget_exceeded"
    assert classify("You have reached your monthly spend limit").failure_class == "budget_exceeded"


def test_account_billing_is_orchestration_not_budget() -> None:
    got = classify("Credit balance is too low · Add funds")
    assert got.failure_class == "orchestration_error"
    assert got.error_context["codes"] == ["usage_limit"]


def test_claude_code_tool_errors_are_orchestration() -> None:
    got = classify("<tool_use_error>String to replace not found in file.</tool_use_error>", tool="Edit")
    assert got.failure_class == "orchestration_error"
    assert got.error_context["tool"] == "Edit"


def test_unknown_failures_still_record_where_they_happened() -> None:
    text = (
        "Traceback (most recent call last):\n"
        '  File "/srv/app/main.py", line 9, in <module>\n'
        "    run()\n"
        '  File "/srv/app/jobs.py", line 3, in run\n'
        "    return {}['x']\n"
        "KeyError: 'x'\n"
    )
    got = classify(text)
    assert got.failure_class == "unknown"
    assert got.error_context["files"][0] == {"path": "/srv/app/jobs.py", "line": 3, "column": None}
    assert got.error_context["codes"] == ["KeyError"]


def test_huge_output_is_cut_to_head_and_tail_and_still_classified() -> None:
    noise = "x" * 100 + "\n"
    text = "collecting ...\n" + noise * 20000 + "FAILED tests/test_a.py::test_one - assert 1 == 2\n1 failed in 3.2s\n"
    got = classify(text)
    assert got.failure_class == "test_fail"
    assert got.error_context["tests"] == ["test_one"]


def test_odd_input_never_raises() -> None:
    assert classify(None).failure_class == "unknown"
    assert classify("").failure_class == "unknown"
    assert classify(b"bytes".decode()).failure_class == "unknown"
    assert classify("\x00\x1b[\x1b]" * 10).failure_class in FAILURE_CLASSES
    assert classify("Exit code 124", exit_code="124").error_context["exit_code"] == 124  # type: ignore[arg-type]
    assert classify(12345).failure_class == "unknown"  # type: ignore[arg-type]


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=2000), st.one_of(st.none(), st.integers(-300, 300)))
def test_any_text_gets_one_of_the_nine_classes(text: str, exit_code: int | None) -> None:
    got = classify(text, exit_code=exit_code)
    assert got.failure_class in FAILURE_CLASSES
    assert got.rule != "classify.error", got.error_context
    assert isinstance(got.error_context["files"], list)
    json.dumps(got.error_context)


def test_failure_is_frozen() -> None:
    got = classify("boom")
    with pytest.raises(AttributeError):
        got.failure_class = "timeout"  # type: ignore[misc,unused-ignore]


def test_classify_takes_tool_and_exit_code_by_keyword_only() -> None:
    with pytest.raises(TypeError):
        classify("x", "Bash")  # type: ignore[call-arg,misc,unused-ignore]


# --- the hook's constraints: standard library only, Python 3.8 syntax ---

NEWER_THAN_38 = {"removeprefix", "removesuffix", "is_relative_to", "bit_count", "with_stem", "pairwise"}


def test_module_is_python_38_syntax_and_imports_only_the_standard_library() -> None:
    source = MODULE.read_text()
    tree = ast.parse(source, feature_version=(3, 8))
    imported: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            assert node.level == 0, "no relative imports: other lib modules may pull third-party packages"
            imported.add((node.module or "").split(".")[0])
        elif isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.Attribute):
            assert node.attr not in NEWER_THAN_38, f"{node.attr} is newer than Python 3.8"
        elif isinstance(node, ast.Match if hasattr(ast, "Match") else ()):
            raise AssertionError("match statements need Python 3.10")
    assert imported <= set(sys.stdlib_module_names) | {"__future__"}, imported
    assert "from __future__ import annotations" in source


def test_importing_it_loads_nothing_outside_the_standard_library() -> None:
    code = (
        "import sys; before = set(sys.modules); sys.path.insert(0, sys.argv[1]);"
        "from lib.failures import classify as failures;"
        "new = {m.split('.')[0] for m in set(sys.modules) - before};"
        "print(sorted(new - set(sys.stdlib_module_names) - {'lib'}))"
    )
    out = subprocess.run([sys.executable, "-c", code, str(MODULE.parent.parent)],
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize(("text", "code"), [
    ("Exit code 137\n", "exit_137"),
    ("Exit code 137\nbash: line 1: 4242 Killed                  timeout -s KILL 60 make test\n", "exit_137"),
    ("Exit code 143\nbuilding assets\nTerminated\n", "exit_143"),
])
def test_a_command_killed_by_a_signal_from_outside_is_a_timeout(text: str, code: str) -> None:
    got = classify(text)
    assert (got.failure_class, got.rule) == ("timeout", "timeout.signal")
    assert got.error_context["codes"] == [code]


def test_an_exit_143_that_printed_its_own_error_is_not_taken_for_a_timeout() -> None:
    got = classify("Exit code 143\nTraceback (most recent call last):\n  File \"a.py\", line 1\nValueError: bad\n")
    assert got.failure_class != "timeout"


@pytest.mark.parametrize(("text", "failure_class", "code"), [
    ("Error: Reached max turns (1)", "budget_exceeded", "max_turns"),
    ("API Error: Request rejected (429) · rate limited", "orchestration_error", "rate_limit"),
    ("There's an issue with the selected model (claude-x). It may not exist", "orchestration_error", "invalid_model"),
    ("Prompt is too long · the request is ~214748 tokens", "orchestration_error", "context_too_long"),
])
def test_the_claude_clis_own_stops_and_api_errors_are_named(text: str, failure_class: str, code: str) -> None:
    got = classify("Exit code 1\n" + text)
    assert got.failure_class == failure_class and got.error_context["codes"] == [code]
