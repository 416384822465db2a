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
if (($#)); then
  .venv/bin/pytest -p no:cacheprovider --durations=25 "$@"
  rc=$?
else
  # Two sessions side by side: the lab's (one site, one lab run at a time, mostly waiting on
  # boots, SSH and deploys) and every other test, whose ~15 CPU-bound minutes leave the lab's
  # critical path (on two cores they slow the lab's deploys by about as much: CHANGELOG).
  # The others' output comes first, then the lab's, as it is written.
  logs=$(mktemp -d)
  .venv/bin/pytest -p no:cacheprovider --durations=25 -m lab >"$logs/lab.log" 2>&1 &
  lab=$!
  # stopped here (Ctrl-C, a CI limit): the lab session gets an interrupt, and takes its site down
  trap 'kill -INT "$lab" 2>/dev/null; wait "$lab"; rm -rf "$logs"' INT TERM
  .venv/bin/pytest -p no:cacheprovider --durations=25 -m "not lab"
  rc=$?
  echo "== lab tests (started with the others)"
  tail --pid="$lab" -n +1 -f "$logs/lab.log"
  wait "$lab"
  lab_rc=$?
  trap - INT TERM
  rm -rf "$logs"
  # either session failing fails the run; each must have collected tests (5: none)
  if [[ $rc -eq 0 ]]; then rc=$lab_rc; fi
fi
set -e
if [[ $rc -eq 5 ]]; then
  echo "test: no tests were collected — that is a failure" >&2
  exit 1
fi
exit $rc
