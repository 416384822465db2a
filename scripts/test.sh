#!/usr/bin/env bash
# The test command (README, .ci/run): installs everything it needs, lints, then runs every test.
#   bash scripts/test.sh [pytest args...]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh

echo "== lint: ruff, mypy (strict on fleet/)"
.venv/bin/ruff check fleet tests bench
.venv/bin/mypy
echo "== tests"
set +e
.venv/bin/pytest -p no:cacheprovider --durations=25 "$@"
rc=$?
set -e
if [[ $rc -eq 5 ]]; then
  echo "test: no tests were collected — that is a failure" >&2
  exit 1
fi
exit $rc
