"""The environment of a chain session: the runner's, minus every secret the session has no use for.

A session runs tools the model chooses, on text baton does not control, and its
transcript can quote any variable it prints. So the child never sees baton's own
secrets (the Notion token, the webhook URL, anything named like a token or secret
under BATON_), nor the names a team lists under `chains.env_drop` in
`.claude/baton.yaml` (exact names or shell-style patterns such as `AWS_*`). What
Claude Code itself needs to reach the API (ANTHROPIC_API_KEY and friends) stays.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping

# Always dropped: baton's secrets, and the marker that would make the child think it is nested.
ALWAYS_DROP = ("NOTION_TOKEN", "NOTION_API_KEY", "BATON_NOTIFY_WEBHOOK", "BATON_*TOKEN*", "BATON_*SECRET*",
               "BATON_*PASSWORD*", "BATON_*WEBHOOK*", "CLAUDECODE")
# Set by the runner for each session; an inherited value must never leak through.
RUNNER_SET = ("BATON_SESSION_ID", "BATON_CHAIN_ID")


def dropped(name: str, patterns: Iterable[str]) -> bool:
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns)


def child_env(base: Mapping[str, str], *, env_drop: Iterable[str], session_id: str, chain_id: str,
              operator: str | None) -> dict[str, str]:
    patterns = (*ALWAYS_DROP, *env_drop)
    env = {k: v for k, v in base.items() if not dropped(k, patterns) and k not in RUNNER_SET}
    env["BATON_SESSION_ID"] = session_id
    env["BATON_CHAIN_ID"] = chain_id
    if operator:
        env["OPERATOR"] = operator
    return env
