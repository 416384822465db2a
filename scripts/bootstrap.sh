#!/usr/bin/env bash
# Install what Relais needs on this machine: Debian packages (as root) and the Python venv.
#   bash scripts/bootstrap.sh          # runtime + test dependencies
# Idempotent: does nothing that is already done.
set -euo pipefail
cd "$(dirname "$0")/.."

want_apt=()
while read -r pkg _; do
  [[ -z "$pkg" || "$pkg" == \#* ]] && continue
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || want_apt+=("$pkg")
done < ci/apt-packages.txt
if ((${#want_apt[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "bootstrap: missing Debian packages (run as root to install): ${want_apt[*]}" >&2
  else
    echo "bootstrap: apt-get install ${want_apt[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${want_apt[@]}" >/dev/null
  fi
fi

PY=${PYTHON:-python3}
if [[ ! -x .venv/bin/python ]]; then
  echo "bootstrap: creating .venv"
  "$PY" -m venv .venv
fi
stamp=.venv/.relais-installed
if [[ ! -f $stamp || pyproject.toml -nt $stamp ]]; then
  echo "bootstrap: pip install -e '.[test]'"
  .venv/bin/pip install -q --disable-pip-version-check -U pip wheel
  .venv/bin/pip install -q --disable-pip-version-check -e '.[test]'
  touch "$stamp"
fi

# tests/web: axe-core (the accessibility rules run in Chromium), from the npm registry, pinned.
AXE_VERSION=4.14.1
axe_pkg=.venv/axe/node_modules/axe-core/package.json
# npm: Debian's package where the machine has none (nodesource's nodejs ships its own npm and
# conflicts with Debian's, so npm is not in ci/apt-packages.txt).
if ! command -v npm >/dev/null && [[ $(id -u) -eq 0 ]]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends npm >/dev/null || true
fi
if ! { [[ -f $axe_pkg ]] && grep -q "\"version\": \"$AXE_VERSION\"" "$axe_pkg"; }; then
  if command -v npm >/dev/null; then
    echo "bootstrap: npm install axe-core@$AXE_VERSION (tests/web)"
    npm install --silent --no-audit --no-fund --no-save --prefix .venv/axe "axe-core@$AXE_VERSION" >/dev/null
  else
    echo "bootstrap: npm missing: the accessibility tests need it (apt-get install npm)" >&2
  fi
fi
