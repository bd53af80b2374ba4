"""The /handoff command file: every helper it calls exists, and allowed-tools grants exactly those calls."""

from __future__ import annotations

import importlib
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
from lib.store import frontmatter
from support.paths import REPO_ROOT

# The per-operator wrappers (handoff-<initials>.md) are generated from this file and checked by session.py.
COMMANDS = [REPO_ROOT / ".claude" / "commands" / "handoff.md"]
STEPS = ["1", "2", "3", "4"]  # draft, ask, finish, close: the helpers' steps are docs/conventions/handoff.md's
BEFORE = REPO_ROOT / "bench" / "fixtures" / "handoff_command_before.md"  # the fifteen-call command, for the benchmark
_ENV_PREFIX = re.compile(r"^(?:[A-Z_][A-Z0-9_]*=\S*\s+)+")
PLACEHOLDERS = {"ID": "RT-250101-01", "$ARGUMENTS": "", "'TEXT'": "text"}


def bash_calls(body: str) -> list[str]:
    """The first line of every command in ```bash blocks (a heredoc's body is its input), and !`cmd` lines."""
    calls, in_block, heredoc = [], False, None
    for line in body.splitlines():
        if line.startswith("```"):
            in_block = line.strip() == "```bash"
            continue
        if not in_block:
            calls.extend(re.findall(r"!`([^`]+)`", line))
            continue
        if heredoc:
            if line.strip() == heredoc:
                heredoc = None
            continue
        if line.strip():
            calls.append(line.strip())
            match = re.search(r"<<-?\s*'?(\w+)'?", line)
            heredoc = match.group(1) if match else None
    return calls


def allowed_patterns(metadata: dict[str, Any]) -> list[str]:
    raw = metadata.get("allowed-tools", "")
    items = raw if isinstance(raw, list) else [t.strip() for t in re.split(r",\s*(?=[A-Z])", str(raw)) if t.strip()]
    return items


def covers(pattern: str, command: str) -> bool:
    match = re.fullmatch(r"Bash\((.+)\)", pattern)
    if not match:
        return False
    inner = match.group(1)
    if inner.endswith(":*"):
        prefix = inner[:-2]
        return command == prefix or command.startswith(prefix + " ")
    return command == inner


def argv_of(command: str) -> list[str]:
    for placeholder, value in PLACEHOLDERS.items():
        command = command.replace(placeholder, value)
    command = re.sub(r"<<-?\s*'?\w+'?\s*$", "", command)
    return shlex.split(_ENV_PREFIX.sub("", command))


@pytest.fixture(params=COMMANDS, ids=[p.name for p in COMMANDS])
def command_file(request: pytest.FixtureRequest) -> Path:
    path: Path = request.param
    return path


def test_there_is_a_handoff_command() -> None:
    assert REPO_ROOT / ".claude" / "commands" / "handoff.md" in COMMANDS


def test_every_call_is_an_existing_helper_subcommand_with_known_options(command_file: Path) -> None:
    _, body = frontmatter.read(command_file)
    calls = bash_calls(body)
    assert calls, "the command runs no helper"
    for call in calls:
        argv = argv_of(call)
        assert argv[:1] == ["./scripts/py"], f"{call!r}: helpers run through the launcher"
        script = REPO_ROOT / argv[1]
        assert script.parent == REPO_ROOT / "scripts" and script.is_file(), f"{call!r}: no such helper"
        module = importlib.import_module(script.stem)
        parser = module.build_parser()
        try:
            parser.parse_args(argv[2:])
        except SystemExit as exc:
            pytest.fail(f"{call!r}: {script.name} does not accept these arguments (exit {exc.code})")


def test_allowed_tools_grants_exactly_the_calls_made(command_file: Path) -> None:
    metadata, body = frontmatter.read(command_file)
    patterns = allowed_patterns(metadata)
    calls = bash_calls(body)
    for call in calls:
        assert any(covers(p, call) for p in patterns), f"{call!r} is not covered by allowed-tools {patterns}"
    for pattern in patterns:
        assert any(covers(pattern, call) for call in calls), f"allowed-tools grants {pattern!r}, which is not used"


def test_the_steps_are_announced_in_order(command_file: Path) -> None:
    _, body = frontmatter.read(command_file)
    banners = re.findall(r"^## ▶ ([0-9.]+) — ", body, flags=re.M)
    assert banners == STEPS


def proxy_tokens(text: str) -> int:
    """A tokenizer stand-in: words and punctuation marks (what bench/bench_handoff_turns.py reports too)."""
    return len(re.findall(r"\w+|[^\w\s]", text))


def test_start_is_pre_run_and_finish_is_the_only_call_the_model_makes(command_file: Path) -> None:
    _, body = frontmatter.read(command_file)
    prerun = re.findall(r"!`([^`]+)`", body)
    assert prerun == ['./scripts/py scripts/handoff_helpers.py start --json "$ARGUMENTS"']
    asked = [argv_of(call)[2] for call in bash_calls(body) if call not in prerun]
    assert asked == ["finish"]


def test_the_command_file_is_at_most_half_the_size_of_the_fifteen_call_one(command_file: Path) -> None:
    now, before = command_file.read_text(encoding="utf-8"), BEFORE.read_text(encoding="utf-8")
    assert proxy_tokens(now) * 2 <= proxy_tokens(before)
    assert len(now.encode()) * 2 <= len(before.encode())


def test_the_finish_example_uses_only_keys_finish_accepts(command_file: Path) -> None:
    from lib.handoff import finish, learning, note
    from lib.store import yamlio

    _, body = frontmatter.read(command_file)
    example = re.search(r"finish --id ID --json <<'EOF'\n(.*?)\nEOF\n", body, flags=re.S)
    assert example, "no finish example"
    data = yamlio.load(example.group(1))
    assert set(data) <= {*note.TOP_KEYS, *finish.EXTRA_KEYS}
    assert set(data["sections"]) == set(note.SECTION_KEYS) - {"summary"}
    assert all(set(item) <= set(learning.LEARNING_KEYS) for item in data["learnings"])


def test_the_reader_of_the_command_file_finds_heredoc_bodies_and_inline_commands() -> None:
    body = "```bash\n./scripts/py a.py x <<'EOF'\n{\"k\": 1}\nEOF\n```\ntext !`./scripts/py b.py y` more\n"
    assert bash_calls(body) == ["./scripts/py a.py x <<'EOF'", "./scripts/py b.py y"]
    assert covers("Bash(./scripts/py a.py:*)", "./scripts/py a.py x")
    assert not covers("Bash(./scripts/py a.py:*)", "./scripts/py a.pyc x")
    assert not covers("Bash(./scripts/py a.py:*)", "OPERATOR=rt ./scripts/py a.py x")
