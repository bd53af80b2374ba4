#!/usr/bin/env bash
# One-command set-up for baton. Safe to run again: every step checks before it acts.
#   1. a .venv with the project and its dev dependencies
#   2. the git pre-commit hook (a foreign hook is kept and still run) and the merge driver
#   3. the store folders
#   4. validate the store, then show the resume dashboard
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

step() { printf '\n==> %s\n' "$*"; }

pick_python() {
    for cand in "${BATON_PYTHON:-}" python3 python3.13 python3.12 python3.11; do
        [ -n "$cand" ] || continue
        command -v "$cand" >/dev/null 2>&1 || continue
        if "$cand" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
            echo "$cand"; return 0
        fi
    done
    echo "baton: Python >= 3.11 is required (set BATON_PYTHON to its path)" >&2
    return 1
}

step "Python environment (.venv)"
if [ ! -x .venv/bin/python ]; then
    py=$(pick_python)
    "$py" -m venv .venv
    echo "created .venv with $("$py" --version)"
else
    echo ".venv exists ($(.venv/bin/python --version))"
fi
stamp=.venv/.baton-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    # pip's "Location ... is ignored" lines are noise from local index settings, not problems
    noise="is ignored: it is neither a file nor a directory"
    if ! .venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[dev]" > .venv/pip.log 2>&1; then
        grep -v "$noise" .venv/pip.log >&2 || true
        echo "baton: installing the dependencies failed (full log: .venv/pip.log)" >&2
        exit 1
    fi
    grep -v "$noise" .venv/pip.log || true
    touch "$stamp"
    echo "installed baton and its dev dependencies"
else
    echo "dependencies up to date"
fi

# Hooks start a fresh interpreter on every tool call; compiled bytecode saves ~20 ms each
# where PYTHONDONTWRITEBYTECODE keeps Python from caching it itself.
.venv/bin/python -m compileall -q scripts >/dev/null || true

step "Git pre-commit hook"
if git rev-parse --git-dir >/dev/null 2>&1; then
    ./scripts/py scripts/install_git_hook.py
else
    echo "not a git checkout: skipped"
fi

step "Git merge driver (Session Logs, changelog, generated indexes)"
if git rev-parse --git-dir >/dev/null 2>&1; then
    ./scripts/py scripts/merge_driver.py install
else
    echo "not a git checkout: skipped"
fi

step "Store folders"
mkdir -p docs/sessions workstreams plans docs/adr docs/learnings docs/sync .claude/state
echo "docs/sessions workstreams plans docs/adr docs/learnings docs/sync .claude/state"

step "Validate the store"
./scripts/py scripts/validate_frontmatter.py --summary || true

if [ -f scripts/resume_helpers.py ]; then
    step "Resume dashboard"
    ./scripts/py scripts/resume_helpers.py dashboard --setup-banner || true
fi
