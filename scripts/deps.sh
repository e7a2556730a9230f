#!/bin/sh
# Installs every dependency of flashcharge, idempotently. Run as root on Debian 12.
# Debian packages for the build and the tests; npm packages for the integration tests.
# dpkg-dev (dpkg-shlibdeps) and file: the .deb's computed Depends (make deb);
# systemd: systemd-analyze, which tests/integration/package.test.mjs runs on the unit.
set -eu
cd "$(dirname "$0")/.."

PKGS="build-essential cmake pkg-config clang libclang-rt-14-dev
  libuv1-dev libwebsockets-dev libwebsockets-evlib-uv libjansson-dev libjwt-dev
  libsqlite3-dev sqlite3 libsodium-dev libcmocka-dev uthash-dev libjemalloc-dev
  zlib1g-dev libssl-dev openssl chromium
  dpkg-dev file systemd
  nodejs npm"

missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
# nodejs may come from another origin that also provides npm; only insist on the binaries.
if command -v node >/dev/null 2>&1; then
  missing=$(echo "$missing" | tr ' ' '\n' | grep -v -x -e nodejs -e npm | tr '\n' ' ')
fi
if [ -n "$(echo "$missing" | tr -d ' ')" ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "deps.sh: missing packages:$missing (run as root to install)" >&2
    exit 1
  fi
  echo "deps.sh: installing$missing"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # shellcheck disable=SC2086
  apt-get install -y -qq --no-install-recommends $missing
fi

# npm packages for the integration tests, pinned by tests/integration/package-lock.json.
if [ ! -d tests/integration/node_modules ] ||
   [ tests/integration/package-lock.json -nt tests/integration/node_modules ]; then
  (cd tests/integration && npm ci --no-audit --no-fund --loglevel=error)
  touch tests/integration/node_modules
fi
