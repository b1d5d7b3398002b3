#!/usr/bin/env bash
# Create .venv and install the project with what the given purpose needs.
#   scripts/bootstrap.sh demo   -> runtime dependencies only
#   scripts/bootstrap.sh test   -> runtime + dev extras + Debian services for tests
set -euo pipefail
cd "$(dirname "$0")/.."
purpose="${1:-demo}"
PY="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
stamp=".venv/.installed-$purpose"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "installing Python packages into .venv (log: .venv/pip.log)"
  .venv/bin/python -m pip install -q --upgrade pip >/dev/null 2>&1 || true
  target="."; [ "$purpose" = "test" ] && target=".[dev,torch]"
  if ! .venv/bin/python -m pip install -q -e "$target" >.venv/pip.log 2>&1; then
    tail -n 40 .venv/pip.log >&2
    echo "pip install failed (full log: .venv/pip.log)" >&2
    exit 1
  fi
  touch "$stamp"
fi
if [ "$purpose" = "test" ]; then
  missing=()
  command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
  command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ] || missing+=(chromium)
  command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
  if [ "${#missing[@]}" -gt 0 ]; then
    SUDO=""; [ "$(id -u)" = "0" ] || SUDO="sudo"
    echo "installing Debian packages: ${missing[*]}"
    # another apt run (unattended upgrades, a peer's bootstrap) may hold the
    # dpkg lock: wait for it instead of failing at once
    apt_wait=(-o DPkg::Lock::Timeout=600)
    $SUDO apt-get "${apt_wait[@]}" update -qq >/dev/null 2>&1 || true
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get "${apt_wait[@]}" install -y -qq \
      --no-install-recommends "${missing[@]}" >/dev/null
  fi
fi
