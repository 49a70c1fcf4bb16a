#!/usr/bin/env bash
# Starts or stops the Docker daemon that the container tests and bench/containers.js use:
#   scripts/docker-daemon.sh start   a daemon that already answers `docker info` is left alone;
#                                    otherwise dockerd starts in the background without a bridge
#                                    or iptables rules (containers run with --network none)
#   scripts/docker-daemon.sh stop    stops the dockerd that `start` started, and nothing else
# Installs nothing: dockerd (Debian: docker.io) and a docker client must be there.
set -euo pipefail

state=${PIDNS_DOCKERD_STATE:-/tmp/pidns-dockerd}
pidfile=$state/dockerd.pid
log=$state/dockerd.log
wait_s=30

say() { echo "docker-daemon: $*" >&2; }
answers() { timeout 10 docker info >/dev/null 2>&1; }
# The pid in the pidfile, if it is still a dockerd (a pid can be reused after the daemon exits).
started_pid() {
  [ -s "$pidfile" ] || return 1
  local pid
  pid=$(cat "$pidfile")
  [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = dockerd ] || return 1
  echo "$pid"
}

start() {
  command -v docker >/dev/null || { say "no docker client on PATH"; exit 1; }
  if answers; then
    local server ours
    server=$(docker version --format '{{.Server.Version}}' 2>/dev/null || true)
    # Nothing for stop to stop, unless an earlier start of ours is the one answering.
    if ours=$(started_pid); then
      say "dockerd $ours, started earlier by this script, answers (server $server)"
    else
      rm -f "$pidfile"
      say "a Docker daemon not started by this script answers (server $server); not starting one, and stop will leave it running"
    fi
    return 0
  fi
  local dockerd
  dockerd=$(command -v dockerd || true)
  [ -n "$dockerd" ] || { [ -x /usr/sbin/dockerd ] && dockerd=/usr/sbin/dockerd; }
  [ -n "$dockerd" ] || { say "dockerd is not installed (Debian: apt-get install docker.io)"; exit 1; }
  mkdir -p "$state"
  local pid
  if pid=$(started_pid); then
    say "dockerd $pid (started earlier by this script) does not answer yet; waiting for it"
  else
    say "starting $dockerd --bridge=none --iptables=false (log: $log)"
    # setsid: the daemon leaves the caller's process group, so a Ctrl-C meant for a test run
    # does not reach it. Without a terminal, setsid runs dockerd in this very process, so $!
    # is dockerd's pid.
    setsid "$dockerd" --bridge=none --iptables=false </dev/null >>"$log" 2>&1 &
    pid=$!
    echo "$pid" >"$pidfile"
  fi
  local t0=$SECONDS
  while (( SECONDS - t0 < wait_s )); do
    if answers; then
      say "dockerd $pid answers after $(( SECONDS - t0 )) s"
      return 0
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
      say "dockerd $pid exited; the end of $log:"
      tail -n 30 "$log" >&2
      rm -f "$pidfile"
      exit 1
    fi
    sleep 0.5
  done
  say "dockerd $pid does not answer after $wait_s s; the end of $log:"
  tail -n 30 "$log" >&2
  exit 1
}

stop() {
  local pid
  if ! pid=$(started_pid); then
    rm -f "$pidfile"
    say "no dockerd started by this script is running; nothing to stop"
    return 0
  fi
  say "stopping dockerd $pid"
  kill -TERM "$pid"
  # dockerd stops its containers (10 s each at most) and its containerd first.
  local t0=$SECONDS
  while kill -0 "$pid" 2>/dev/null; do
    if (( SECONDS - t0 >= 60 )); then
      say "dockerd $pid still runs after 60 s; killing it"
      kill -KILL "$pid" 2>/dev/null || true
      break
    fi
    sleep 0.2
  done
  rm -f "$pidfile"
  say "dockerd $pid stopped after $(( SECONDS - t0 )) s"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
