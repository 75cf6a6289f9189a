#!/bin/sh
# Prepares a checkout to run: npm packages and the TypeScript build; with --test also the Debian
# packages the test suite uses (real spyder-kernels, jupyter_client, PAM tools, network tools).
# Idempotent and quiet when there is nothing to do, so `npm start` and `npm test` can call it
# every time.
set -eu
cd "$(dirname "$0")/.."

# mDNS peers for test/discovery (avahi-daemon on a private D-Bus bus, avahi-browse, python
# zeroconf) run inside network namespaces the tests create; on a host with systemd, installing
# avahi-daemon also starts the host's own one.
TEST_PACKAGES="python3-spyder-kernels python3-jupyter-client jupyter-console passwd util-linux \
  iproute2 openssl procps pamtester python3-yaml systemd groff-base man-db \
  avahi-daemon avahi-utils python3-zeroconf dbus"

want_test=no
[ "${1:-}" = "--test" ] && want_test=yes

missing_debs() {
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}\n' "$pkg" 2>/dev/null | grep -q '^install ok installed$' \
      || printf '%s ' "$pkg"
  done
}

if [ "$want_test" = yes ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: the test suite creates Unix users and checks PAM; run it as root" >&2
    exit 1
  fi
  if command -v dpkg-query >/dev/null 2>&1; then
    missing=$(missing_debs $TEST_PACKAGES)
    if [ -n "$missing" ]; then
      echo "setup: installing Debian packages: $missing"
      export DEBIAN_FRONTEND=noninteractive
      apt-get update -q >/dev/null
      # shellcheck disable=SC2086 # word splitting of the package list is wanted
      apt-get install -y -q --no-install-recommends $missing >/dev/null
    fi
  else
    echo "setup: not a Debian system; install the equivalents of: $TEST_PACKAGES" >&2
  fi
fi

# npm ci only when the lock file changed since the last install.
stamp=node_modules/.sksd-lock-stamp
if [ ! -f "$stamp" ] || ! cmp -s package-lock.json "$stamp"; then
  echo "setup: installing npm packages"
  npm ci --no-audit --no-fund --loglevel=error
  cp package-lock.json "$stamp"
fi

npx --no-install tsc -p .
