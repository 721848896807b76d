#!/usr/bin/env bash
# Make sure the Debian packages the test suite (or `make run`) needs are installed.
#
# Why: CI runs on a fresh Debian machine with no services and no Docker; the
# tests start private MariaDB/Redis servers from these packages themselves
# (scripts/services.py), mysqlclient needs the client headers + pkg-config +
# gcc to build, and later issues need chromium (browser tests) and prometheus
# (scrape-config checks). Installing everything in one apt call keeps CI fast.
#
# Behaviour:
#   * everything present -> fast no-op (dpkg-query only, no network);
#   * missing and root   -> apt-get update + install (quiet; errors shown);
#   * missing, not root  -> print the exact sudo command and exit 1.
#
# Packages are installed with service starts blocked (policy-rc.d exit 101):
# we never use the system services, and a started system prometheus would
# listen on all interfaces (*:9090), which must not happen here.
set -euo pipefail

# Profiles: `test` (default; `make test`, benchmarks) and `run` (`make run`: only what the MySQL driver
# build needs; a non-root user without them still gets the embedded SQLite profile, so this is not fatal).
PROFILE="${1:-test}"

RUN_PACKAGES=(
  default-libmysqlclient-dev  # mysqlclient (MySQLdb) build
  pkg-config                  # mysqlclient locates libmariadb via pkg-config
  build-essential             # gcc for mysqlclient and other sdists
)

case "$PROFILE" in
  run)
    PACKAGES=("${RUN_PACKAGES[@]}")
    ;;
  test)
    PACKAGES=(
      "${RUN_PACKAGES[@]}"
      mariadb-server              # mariadbd + mariadb-install-db + mariadb client
      redis-server
      chromium                    # headless browser tests of the web console
      prometheus                  # promtool / metrics scrape checks
      wrk                         # REST API throughput benchmark (make bench)
    )
    ;;
  *)
    echo "usage: $0 [test|run]" >&2
    exit 2
    ;;
esac

missing=()
for pkg in "${PACKAGES[@]}"; do
  status="$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)"
  if [[ "$status" != "install ok installed" ]]; then
    missing+=("$pkg")
  fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
  exit 0
fi

echo "system-deps: missing Debian packages: ${missing[*]}"

if [[ "$(id -u)" -ne 0 && "$PROFILE" == run ]]; then
  echo "system-deps: not root, so not installing them; the embedded SQLite profile runs without them" \
    "(MySQL/MariaDB needs: sudo apt-get install -y --no-install-recommends ${missing[*]})"
  exit 0
fi

if [[ "$(id -u)" -ne 0 ]]; then
  cat >&2 <<EOF
system-deps: not running as root, so not installing them. Run:

  sudo apt-get update && sudo apt-get install -y --no-install-recommends ${missing[*]}

then re-run this command.
EOF
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
apt_log="$(mktemp -t djs-apt.XXXXXX)"
policy=/usr/sbin/policy-rc.d
policy_created=0

cleanup() {
  if [[ $policy_created -eq 1 ]]; then
    rm -f "$policy"
  fi
  rm -f "$apt_log"
}
trap cleanup EXIT

if [[ ! -e "$policy" ]]; then
  printf '#!/bin/sh\n# temporary, from scripts/ensure_system_deps.sh: do not start services\nexit 101\n' >"$policy"
  chmod 755 "$policy"
  policy_created=1
fi

# Quiet: apt/dpkg chatter goes to a log that is shown only if a step fails;
# stderr (errors, and harmless service-start warnings) stays visible.
run_quiet() {
  if ! "$@" >>"$apt_log"; then
    echo "system-deps: '$*' failed; its output:" >&2
    cat "$apt_log" >&2
    exit 1
  fi
}

echo "system-deps: apt-get update"
run_quiet apt-get -q -o DPkg::Lock::Timeout=300 update
echo "system-deps: apt-get install ${missing[*]}"
run_quiet apt-get -q -y -o DPkg::Lock::Timeout=300 install --no-install-recommends "${missing[@]}"

still_missing=()
for pkg in "${missing[@]}"; do
  status="$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)"
  [[ "$status" == "install ok installed" ]] || still_missing+=("$pkg")
done
if [[ ${#still_missing[@]} -ne 0 ]]; then
  echo "system-deps: still missing after install: ${still_missing[*]}" >&2
  cat "$apt_log" >&2
  exit 1
fi
echo "system-deps: installed ${missing[*]}"
