#!/usr/bin/env bash
# Stop the single-node test cluster started by start.sh (each daemon by its pid file).
export PATH="$PATH:/usr/sbin:/sbin"
stop_pid() {  # stop_pid PIDFILE NAME: TERM the daemon and wait up to 10 s for it to exit
  [[ -f $1 ]] || return 0
  local pid; pid=$(cat "$1")
  if kill "$pid" 2>/dev/null; then
    for _ in $(seq 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    echo "stopped $2 ($pid)"
  fi
  rm -f "$1"
}
stop_pid /run/slurmd.pid slurmd
stop_pid /run/slurmctld.pid slurmctld
stop_pid /run/slurmdbd.pid slurmdbd
mysqladmin shutdown 2>/dev/null && echo "stopped mariadb"
stop_pid /run/munge/munged.pid munged
exit 0
