"""The team's CI for baton: validate the store strictly on pull requests, mirror it to Notion on pushes
to the default branch (so the mirror is as fresh as the branch, not as the last person who synced).

`install.py --ci github` writes GITHUB_WORKFLOW; the GitLab CI equivalent is documented in
README.md ("Continuous integration"). Every command here is one the installed repository has:
`.baton/scripts/setup.sh` makes `.baton/.venv`, then `./.baton/scripts/py` runs the helpers with it.
"""

from __future__ import annotations

from lib.adopt.layout import SCRIPTS

PROVIDERS = ("github",)
GITHUB_PATH = ".github/workflows/baton.yml"

SETUP = f"{SCRIPTS}/setup.sh"
VALIDATE = f"./{SCRIPTS}/py {SCRIPTS}/validate_frontmatter.py --strict"
SYNC = f"./{SCRIPTS}/py {SCRIPTS}/sync_to_notion_oneshot.py --apply"

GITHUB_WORKFLOW = f"""\
# baton's checks, written by baton's installer (`install.py --ci github`). Yours to edit: an upgrade
# keeps an edited copy. Pull requests: the store's frontmatter is validated strictly. Pushes to the
# default branch: the store is mirrored to Notion with the NOTION_TOKEN secret of this repository
# (Settings > Secrets and variables > Actions); without that secret the sync step says so and passes.
name: baton

on:
  pull_request:
  push:
  workflow_dispatch:

permissions:
  contents: read

jobs:
  validate:
    if: github.event_name == 'pull_request'
    runs-on: ubuntu-latest
    timeout-minutes: 15
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-python@v5
        with:
          python-version: "3.12"
      - name: Set up baton
        run: {SETUP}
      - name: Validate the store (strict)
        run: {VALIDATE}

  notion-sync:
    if: >-
      github.event_name == 'workflow_dispatch' ||
      (github.event_name == 'push' && github.ref_name == github.event.repository.default_branch)
    runs-on: ubuntu-latest
    timeout-minutes: 30
    # One sync at a time, the newest push last: a later run sees every note an earlier one saw.
    concurrency:
      group: baton-notion-sync
      cancel-in-progress: false
    env:
      NOTION_TOKEN: ${{{{ secrets.NOTION_TOKEN }}}}
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-python@v5
        with:
          python-version: "3.12"
      - name: Set up baton
        run: {SETUP}
      - name: Mirror the store to Notion
        if: env.NOTION_TOKEN != ''
        run: {SYNC}
      - name: No NOTION_TOKEN secret
        if: env.NOTION_TOKEN == ''
        run: echo "::notice::set the NOTION_TOKEN secret to mirror the store to Notion on every push"
"""


def files(providers: set[str]) -> dict[str, str]:
    """The CI files for these providers (path in the repository -> text)."""
    out: dict[str, str] = {}
    if "github" in providers:
        out[GITHUB_PATH] = GITHUB_WORKFLOW
    return out
