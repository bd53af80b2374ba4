#!/usr/bin/env bash
# The whole test suite: ruff, mypy (strict, on scripts/, tests/ and bench/), pytest. Extra arguments go to pytest.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
if [ ! -x .venv/bin/python ]; then
    echo "baton: .venv is missing; run ./scripts/setup.sh first" >&2
    exit 2
fi
py=.venv/bin/python
status=0
echo "==> ruff"
$py -m ruff check scripts tests bench || status=1
echo "==> mypy (strict: scripts, tests, bench)"
$py -m mypy || status=1
echo "==> pytest"
# One worker per core unless the caller chose (-n N, or -p no:xdist to run in one process).
parallel=(-n auto)
for arg in "$@"; do
    case $arg in -n|-n*|--numprocesses*|no:xdist) parallel=() ;; esac
done
$py -m pytest "${parallel[@]}" "$@"
rc=$?
if [ "$rc" -eq 5 ]; then
    echo "baton: pytest collected no tests: that is a failure" >&2
    rc=1
fi
[ "$rc" -eq 0 ] || status=$rc
exit $status
