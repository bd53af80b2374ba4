"""operators: operators.yaml validation, the resolution chain, the cache, the paste-ready entry."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from lib.core.errors import BatonError, ConfigError
from lib.store import operators, yamlio
from support.git import git
from support.paths import REPO_ROOT, run_script

ROSTER = """\
operators:
  - slug: ada
    initials: AL
    name: Ada Example
    emails:
      - author@example.com
  - slug: grace
    initials: GH
    name: Grace Example
    emails:
      - grace@example.com
      - Grace.Hopper@Example.com
"""


def write_roster(root: Path, text: str = ROSTER) -> Path:
    path = root / operators.OPERATORS_PATH
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def parse_error(text: str) -> str:
    with pytest.raises(ConfigError) as info:
        operators.parse(text, "ops.yaml")
    return str(info.value)


# ------------------------------------------------------------------ the file

def test_shipped_operators_file_is_valid_and_fictional() -> None:
    # parse, not load: loading caches the roster under .claude/state/, which must not happen in the checkout
    shipped = REPO_ROOT / ".claude" / "operators.yaml"
    roster = operators.parse(shipped.read_text(encoding="utf-8"), str(shipped))
    assert [(op.slug, op.initials) for op in roster.operators] == [("ada", "AL"), ("grace", "GH")]
    # The shipped file is an example for a team to replace: never real people's addresses.
    assert all(email.endswith("@example.com") for op in roster.operators for email in op.emails)


def test_valid_roster_parses_with_lookups() -> None:
    roster = operators.parse(ROSTER)
    grace = roster.by_slug("grace")
    assert grace is not None
    assert grace.emails == ("grace@example.com", "Grace.Hopper@Example.com")
    assert roster.by_email("grace.hopper@EXAMPLE.com") == grace
    assert roster.by_initials("gh") == grace
    assert roster.by_name("GH") == grace
    assert roster.by_name("grace") == grace
    assert roster.by_email("nobody@example.com") is None


def test_malformed_yaml_names_file_and_line() -> None:
    text = "operators:\n  - slug: ada\n    initials: [AL\n    name: x\n"
    message = parse_error(text)
    assert message.startswith("ops.yaml:")
    assert "invalid YAML" in message
    line = int(message.split(":")[1])
    assert line in (3, 4, 5)


def test_not_a_mapping_is_reported() -> None:
    assert parse_error("- slug: ada\n").startswith("ops.yaml:1: must be a mapping")


@pytest.mark.parametrize(
    ("bad_line", "expected"),
    [
        ("  - slug: Ada_L\n", "ops.yaml:2: /operators/0/slug: 'Ada_L' must be lowercase letters"),
        ("  - slug: ../etc\n", "ops.yaml:2: /operators/0/slug: '../etc' must be lowercase letters"),
    ],
)
def test_bad_slug_is_refused_with_its_line(bad_line: str, expected: str) -> None:
    text = ROSTER.replace("  - slug: ada\n", bad_line)
    assert expected in parse_error(text)


def test_bad_initials_are_refused_with_their_line() -> None:
    text = ROSTER.replace("initials: GH", "initials: G1")
    assert "ops.yaml:8: /operators/1/initials: 'G1' must be 2-4 uppercase letters" in parse_error(text)


def test_duplicate_initials_name_the_second_entry_line() -> None:
    text = ROSTER.replace("initials: GH", "initials: AL")
    assert parse_error(text) == "ops.yaml:8: /operators/1/initials: duplicate initials 'AL' (also operator #1)"


def test_duplicate_slug_is_refused() -> None:
    text = ROSTER.replace("slug: grace", "slug: ada")
    assert parse_error(text) == "ops.yaml:7: /operators/1/slug: duplicate slug 'ada' (also operator #1)"


def test_an_email_listed_for_two_operators_is_refused_case_insensitively() -> None:
    text = ROSTER.replace("grace@example.com", "AUTHOR@example.com")
    assert parse_error(text) == (
        "ops.yaml:11: /operators/1/emails/0: email 'AUTHOR@example.com' is listed twice (also operator #1)"
    )


def test_slug_that_reads_as_another_operators_initials_is_refused() -> None:
    text = ROSTER.replace("slug: grace", "slug: al")
    assert "/operators/1/slug: slug 'al' reads as the initials of operator #1" in parse_error(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("operators: []\n", "ops.yaml:1: /operators: [] should be non-empty"),
        ("operators:\n  - slug: ada\n    initials: AL\n    name: A\n", "ops.yaml:2: /operators/0: missing required key 'emails'"),
        ("operators:\n  - slug: ada\n    initials: AL\n    name: A\n    emails: []\n", "ops.yaml:5: /operators/0/emails:"),
        ("operators:\n  - slug: ada\n    initials: AL\n    name: A\n    emails: [nope]\n",
         "ops.yaml:5: /operators/0/emails/0: 'nope' must be an email address"),
        ("operator:\n  - slug: ada\n", "ops.yaml:1: /: "),
    ],
)
def test_schema_problems_name_line_and_pointer(text: str, expected: str) -> None:
    assert expected in parse_error(text)


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"operators\.yaml: no such file"):
        operators.load(tmp_path)


def test_cli_reports_malformed_file_with_line_and_exit_2(repo: Path) -> None:
    write_roster(repo, ROSTER.replace("initials: GH", "initials: gh"))
    result = run_script("session.py", "whoami", cwd=repo, env={"OPERATOR": "ada"})
    assert result.returncode == 2
    assert ".claude/operators.yaml:8: /operators/1/initials: 'gh' must be 2-4 uppercase letters" in result.stderr
    assert "Traceback" not in result.stderr


# ------------------------------------------------------------------ the resolution chain

def test_git_email_is_the_last_source(repo: Path) -> None:
    write_roster(repo)
    found = operators.resolve(repo, env={})
    assert (found.operator.slug, found.source, found.email) == ("ada", "git config user.email", "author@example.com")


def test_claude_user_email_beats_git(repo: Path) -> None:
    write_roster(repo)
    found = operators.resolve(repo, env={"CLAUDE_USER_EMAIL": "grace.hopper@example.com"})
    assert (found.operator.slug, found.source) == ("grace", "$CLAUDE_USER_EMAIL")


@pytest.mark.parametrize("token", ["grace", "GH", "gh"])
def test_operator_env_takes_a_slug_or_initials_and_beats_emails(repo: Path, token: str) -> None:
    write_roster(repo)
    found = operators.resolve(repo, env={"OPERATOR": token, "CLAUDE_USER_EMAIL": "author@example.com"})
    assert (found.operator.slug, found.source) == ("grace", "$OPERATOR")


def test_email_argument_beats_everything(repo: Path) -> None:
    write_roster(repo)
    found = operators.resolve(repo, email="Grace@Example.com", env={"OPERATOR": "ada", "CLAUDE_USER_EMAIL": "x@y.z"})
    assert (found.operator.slug, found.source) == ("grace", "--email")


def test_unknown_operator_env_lists_the_known_operators(repo: Path) -> None:
    write_roster(repo)
    with pytest.raises(BatonError, match=r"\$OPERATOR='zed' names no operator .*known: ada \(AL\), grace \(GH\)"):
        operators.resolve(repo, env={"OPERATOR": "zed"})


def test_operator_env_that_is_not_a_name_is_refused(repo: Path) -> None:
    write_roster(repo)
    with pytest.raises(BatonError, match="neither an operator slug nor initials"):
        operators.resolve(repo, env={"OPERATOR": "../../etc"})


def test_a_set_but_unknown_email_halts_instead_of_falling_through(repo: Path) -> None:
    write_roster(repo)  # git's email would resolve to ada; the explicit variable must not be ignored
    with pytest.raises(operators.UnknownOperator, match=r"stranger@example\.org \(from \$CLAUDE_USER_EMAIL\)"):
        operators.resolve(repo, env={"CLAUDE_USER_EMAIL": "stranger@example.org"})


def test_unknown_email_prints_an_entry_that_works_when_pasted(repo: Path) -> None:
    path = write_roster(repo)
    git(repo, "config", "user.email", "new.person@corp.example")
    git(repo, "config", "user.name", "Ada Newcomer")
    with pytest.raises(operators.UnknownOperator) as info:
        operators.resolve(repo, env={})
    template = info.value.template
    assert "new.person@corp.example" in template
    # Suggested slug and initials avoid the ones taken (ada, AL).
    entry = yamlio.load(template)[0]
    assert entry == {"slug": "ada-2", "initials": "AN", "name": "Ada Newcomer", "emails": ["new.person@corp.example"]}
    path.write_text(path.read_text(encoding="utf-8") + template, encoding="utf-8")
    found = operators.resolve(repo, env={})
    assert (found.operator.slug, found.operator.initials) == ("ada-2", "AN")


def test_unknown_email_on_the_command_line_prints_the_template(repo: Path) -> None:
    write_roster(repo)
    result = run_script("session.py", "whoami", "--email", "o'brien+baton@example.net", cwd=repo)
    assert result.returncode == 1
    assert "no operator in .claude/operators.yaml has the email o'brien+baton@example.net (from --email)" in result.stderr
    template = result.stderr.split("\n\n", 1)[1]
    assert yamlio.load(template)[0]["emails"] == ["o'brien+baton@example.net"]


@pytest.mark.parametrize("name", ["Zoë O'Hara", "Smith: Bob", "yes", "2024-05-01", "  spaced  ", "#hash"])
def test_template_scalars_read_back_exactly(name: str) -> None:
    entry = yamlio.load(operators.entry_template("z@example.com", name, operators.Roster(())))[0]
    assert entry["name"] == name.strip()
    assert operators.is_slug(entry["slug"])
    assert operators.is_initials(entry["initials"])


def test_missing_operators_file_prints_a_whole_file_to_create(repo: Path) -> None:
    with pytest.raises(operators.UnknownOperator) as info:
        operators.resolve(repo, env={})
    assert ".claude/operators.yaml does not exist yet" in str(info.value)
    write_roster(repo, info.value.template)
    assert operators.resolve(repo, env={}).operator.emails == ("author@example.com",)


def test_no_identity_at_all_halts_with_instructions(repo: Path) -> None:
    write_roster(repo)
    git(repo, "config", "--unset", "user.email")
    with pytest.raises(operators.UnknownOperator, match="cannot tell who you are") as info:
        operators.resolve(repo, env={})
    assert "git config user.email" in str(info.value)
    assert "- slug:" in info.value.template


def test_whoami_prints_slug_and_initials_or_json(repo: Path) -> None:
    write_roster(repo)
    text = run_script("session.py", "whoami", cwd=repo)
    assert (text.returncode, text.stdout) == (0, "ada AL\n")
    as_json = run_script("session.py", "whoami", "--json", cwd=repo, env={"OPERATOR": "GH"})
    payload = json.loads(as_json.stdout)
    assert payload["slug"] == "grace"
    assert payload["source"] == "$OPERATOR"
    assert payload["version"] == 1


# ------------------------------------------------------------------ the cache

def cache(root: Path) -> dict[str, object]:
    data: dict[str, object] = json.loads((root / operators.CACHE_PATH).read_text(encoding="utf-8"))
    return data


def test_git_answer_is_cached_then_served_from_the_cache(repo: Path) -> None:
    write_roster(repo)
    first = operators.resolve(repo, env={})
    assert not first.cached
    assert cache(repo)["git"] == {"email": "author@example.com", "slug": "ada"}
    second = operators.resolve(repo, env={})
    assert second.cached
    assert second.operator == first.operator


def test_cache_is_invalidated_when_operators_yaml_changes(repo: Path) -> None:
    path = write_roster(repo)
    assert operators.resolve(repo, env={}).operator.slug == "ada"
    # Move the git email from ada to grace.
    path.write_text(
        ROSTER.replace("author@example.com", "ada@example.com").replace("grace@example.com", "author@example.com"),
        encoding="utf-8",
    )
    found = operators.resolve(repo, env={})
    assert (found.operator.slug, found.cached) == ("grace", False)


def test_same_size_same_mtime_edit_is_still_caught_by_the_hash(repo: Path) -> None:
    path = write_roster(repo)
    operators.resolve(repo, env={})
    before = path.stat()
    swapped = ROSTER.replace("slug: ada", "slug: bob").replace("Ada Example", "Bob Example")
    assert len(swapped) == len(ROSTER)
    path.write_text(swapped, encoding="utf-8")
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert operators.resolve(repo, env={}).operator.slug == "bob"


def test_cache_is_invalidated_when_the_git_email_changes(repo: Path) -> None:
    write_roster(repo)
    assert operators.resolve(repo, env={}).operator.slug == "ada"
    git(repo, "config", "user.email", "grace@example.com")
    found = operators.resolve(repo, env={})
    assert (found.operator.slug, found.cached) == ("grace", False)
    assert cache(repo)["git"] == {"email": "grace@example.com", "slug": "grace"}


def test_cached_git_answer_never_overrides_operator_or_email(repo: Path) -> None:
    write_roster(repo)
    assert operators.resolve(repo, env={}).operator.slug == "ada"
    assert operators.resolve(repo, env={"OPERATOR": "grace"}).operator.slug == "grace"
    assert operators.resolve(repo, email="grace@example.com", env={}).operator.slug == "grace"


def test_a_malformed_edit_is_reported_even_with_a_warm_cache(repo: Path) -> None:
    path = write_roster(repo)
    operators.resolve(repo, env={"OPERATOR": "ada"})
    path.write_text(ROSTER.replace("initials: GH", "initials: AL"), encoding="utf-8")
    with pytest.raises(ConfigError, match="duplicate initials"):
        operators.resolve(repo, env={"OPERATOR": "ada"})


def test_corrupt_cache_is_ignored_and_rewritten(repo: Path) -> None:
    write_roster(repo)
    (repo / operators.CACHE_PATH).write_text("{not json", encoding="utf-8")
    assert operators.resolve(repo, env={}).operator.slug == "ada"
    assert cache(repo)["git"] == {"email": "author@example.com", "slug": "ada"}


def test_tampered_cache_with_an_unsafe_slug_is_not_trusted(repo: Path) -> None:
    write_roster(repo)
    operators.resolve(repo, env={})
    data = cache(repo)
    data["operators"] = [{"slug": "../x", "initials": "AL", "name": "x", "emails": ["author@example.com"]}]
    (repo / operators.CACHE_PATH).write_text(json.dumps(data), encoding="utf-8")
    assert operators.resolve(repo, env={}).operator.slug == "ada"
