#!/usr/bin/env bash
# The main job on the embedded default: what it does today, and nothing more.
#   bash scripts/demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh >&2
exec .venv/bin/fleet demo "$@"
