"""The generated rules match what the installed detect-secrets provides."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from lib.security import rulegen, rules

SCRIPTS = Path(__file__).resolve().parent.parent / "scripts"


def test_checked_in_rules_are_what_the_installed_detect_secrets_generates() -> None:
    current = (SCRIPTS / "lib" / "security" / "rules.py").read_text(encoding="utf-8")
    assert current == rulegen.render(), "run scripts/build_redact_rules.py"
    assert rulegen.detect_secrets_version() == rules.DETECT_SECRETS_VERSION


def test_every_regex_plugin_of_detect_secrets_is_used_or_left_out_with_a_reason() -> None:
    from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class

    classes: list[type] = list(get_mapping_from_secret_type_to_class().values())
    names = {cls.__name__ for cls in classes}
    assert names == set(rulegen.PLUGIN_SHAPES) | set(rulegen.PLUGINS_LEFT_OUT)
    sources = {rule[6] for rule in rules.RULES}
    for name in rulegen.PLUGIN_SHAPES:
        assert any(name in s for s in sources), name


def test_every_rule_compiles_on_its_own_and_has_anchors_or_scans() -> None:
    for kind, pattern, groups, secret, anchors, lead, _source in rules.RULES:
        compiled = re.compile(pattern)
        assert compiled.groups == groups and 0 <= secret <= groups, kind
        assert bool(anchors) != (lead == "scan"), kind


def test_check_mode_reports_current_rules() -> None:
    result = subprocess.run([sys.executable, str(SCRIPTS / "build_redact_rules.py"), "--check"],
                            capture_output=True, text=True, cwd=SCRIPTS.parent)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "current" in result.stdout
