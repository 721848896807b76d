#!/usr/bin/env bash
# `make check-fresh`: `make run` the way a newcomer meets it, until /v1/health answers.
#
#   * a fresh clone of this checkout's HEAD (committed work only) in a temporary directory;
#   * a throwaway venv (the clone has none) and a fresh HOME (no pip/npm caches of ours);
#   * pkg-config, mysql_config and mariadb_config hidden from PATH (a machine without the MySQL client
#     build tools), and Python 3.11 from the system, not from a per-user installation;
#   * run as an unprivileged user: setpriv --reuid=65534 --regid=65534 --clear-groups (needs root to
#     switch; as a non-root user the script runs `make run` as that user instead).
#
# Ports: web, gRPC and the scheduler's metrics listen on free loopback ports, so a running `make run`
# on this machine is not disturbed. Everything is removed afterwards unless KEEP=1.
# Not part of `make test` (it downloads and builds everything once more: several minutes).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TIMEOUT="${CHECK_FRESH_TIMEOUT:-900}"
RUN_AS=(setpriv --reuid=65534 --regid=65534 --clear-groups)
if [[ "$(id -u)" -ne 0 ]]; then
  RUN_AS=()
  echo "check-fresh: not root: running make run as $(id -un) instead of uid 65534"
fi

work="$(mktemp -d -t djs-fresh.XXXXXX)"
chmod 755 "$work"
pid=""
cleanup() {
  if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM -- "-$pid" 2>/dev/null || true
    for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -KILL -- "-$pid" 2>/dev/null || true
  fi
  if [[ "${KEEP:-0}" == 1 ]]; then echo "check-fresh: kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

git clone --quiet --no-hardlinks "$REPO" "$work/djs"
mkdir -p "$work/home" "$work/bin"

# A PATH without the MySQL client build tools and without per-user Pythons (/root/.pyenv is not readable
# by an unprivileged user anyway): a shadow bin directory with every command of the system directories
# except the hidden ones.
hidden=" pkg-config x86_64-linux-gnu-pkg-config pkgconf mysql_config mariadb_config mariadb-config "
for dir in /usr/local/sbin /usr/local/bin /usr/sbin /usr/bin /sbin /bin; do
  [[ -d "$dir" ]] || continue
  for cmd in "$dir"/*; do
    name="$(basename "$cmd")"
    [[ "$hidden" == *" $name "* ]] && continue
    [[ -e "$work/bin/$name" ]] || ln -s "$cmd" "$work/bin/$name"
  done
done
if [[ ${#RUN_AS[@]} -gt 0 ]]; then
  chown -R 65534:65534 "$work/djs" "$work/home"
fi

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
web_port="$(free_port)"; grpc_port="$(free_port)"; metrics_port="$(free_port)"
log="$work/make-run.log"

echo "check-fresh: clone in $work/djs; make run as ${RUN_AS[*]:-$(id -un)}; web :$web_port; log $log"
(
  cd "$work/djs"
  exec setsid "${RUN_AS[@]}" env -i PATH="$work/bin" HOME="$work/home" LANG=C.UTF-8 \
    DJS_SERVER_PORT="$web_port" DJS_RPC_PORT="$grpc_port" DJS_JOB_METRICS_PORT="$metrics_port" \
    make run
) >"$log" 2>&1 &
pid=$!

start=$SECONDS
while (( SECONDS - start < TIMEOUT )); do
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "check-fresh: FAILED: make run exited before /v1/health answered; last lines of its output:" >&2
    tail -40 "$log" >&2
    exit 1
  fi
  if body="$(curl -fsS --max-time 2 "http://127.0.0.1:$web_port/v1/health" 2>/dev/null)"; then
    echo "check-fresh: /v1/health answered after $((SECONDS - start)) s: $body"
    if grep -q "mysql-driver: not installing mysqlclient" "$log"; then
      echo "check-fresh: the MySQL driver was skipped as expected (no build tools on PATH)"
    else
      echo "check-fresh: FAILED: expected make run to skip the MySQL driver; its output:" >&2
      cat "$log" >&2
      exit 1
    fi
    exit 0
  fi
  sleep 2
done
echo "check-fresh: FAILED: /v1/health did not answer within $TIMEOUT s; last lines:" >&2
tail -40 "$log" >&2
exit 1
