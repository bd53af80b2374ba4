"""config: .claude/baton.yaml is optional, validated, merged over documented defaults."""

from __future__ import annotations

from pathlib import Path

import pytest
from lib.core import config
from lib.core.errors import ConfigError


def test_defaults_when_absent(tmp_path: Path) -> None:
    settings = config.load(tmp_path)
    assert settings == config.DEFAULTS
    assert settings is not config.DEFAULTS


def test_partial_sections_merge_over_defaults(tmp_path: Path) -> None:
    (tmp_path / ".claude").mkdir()
    (tmp_path / ".claude/baton.yaml").write_text("pre_commit: strict\nchains:\n  budget_usd: 2.5\n", encoding="utf-8")
    settings = config.load(tmp_path)
    assert settings["pre_commit"] == "strict"
    assert settings["chains"]["budget_usd"] == 2.5
    assert settings["chains"]["max_retries"] == config.DEFAULTS["chains"]["max_retries"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("pre_commit: sometimes\n", ":1: /pre_commit: 'sometimes' is not one of ['warn', 'strict']"),
        ("session_start:\n  enabled: true\n  max_tokens: ten\n", ":3: /session_start/max_tokens:"),
        ("typo_key: 1\n", ":1: /: Additional properties are not allowed ('typo_key' was unexpected)"),
        ("- a list\n", ":1: must be a mapping"),
        ("pre_commit: [\n", "invalid YAML"),
        ("chains:\n  budget_usd: .nan\n", ":2: /chains/budget_usd: nan is not a finite number"),
        ("chains:\n  session_cost_usd: .inf\n", ":2: /chains/session_cost_usd: inf is not a finite number"),
        ("session_start:\n  time_budget_s: 1e999\n", ":2: /session_start/time_budget_s: inf is not a finite number"),
        ("chains:\n  max_retries: " + "9" * 5000 + "\n", "5000-digit integer is past the limit"),
    ],
)
def test_bad_settings_name_file_line_and_key(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / ".claude").mkdir()
    (tmp_path / ".claude/baton.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        config.load(tmp_path)
    assert str(tmp_path / ".claude/baton.yaml") in str(info.value)
    assert message in str(info.value)


@pytest.mark.parametrize("written", ["strict_from: 2026-05-25\n", "strict_from: '2026-05-25'\n"])
def test_strict_from_makes_an_unset_pre_commit_strict_from_that_day(written: str) -> None:
    import datetime as dt

    day = dt.date(2026, 5, 25)
    assert config.parse(written, today=day - dt.timedelta(days=1))["pre_commit"] == "warn"
    assert config.parse(written, today=day)["pre_commit"] == "strict"
    assert config.parse(written, today=day)["strict_from"] == "2026-05-25"
    assert config.parse("pre_commit: warn\n" + written, today=day + dt.timedelta(days=30))["pre_commit"] == "warn"


def test_a_strict_from_that_is_not_a_date_names_the_line() -> None:
    with pytest.raises(ConfigError, match=r"baton.yaml:2: /strict_from: 'soon' is not a date \(YYYY-MM-DD\)"):
        config.parse("pre_commit: warn\nstrict_from: soon\n")


def test_the_installer_grace_text_is_valid_settings_fourteen_days_ahead() -> None:
    import datetime as dt

    today = dt.date(2026, 12, 6)
    text = config.grace_text(today)
    assert "strict_from: 2026-12-20" in text
    assert config.parse(text, today=today)["pre_commit"] == "warn"
    assert config.parse(text, today=dt.date(2026, 12, 20))["pre_commit"] == "strict"
