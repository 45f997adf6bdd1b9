#!/usr/bin/env bash
# Start the single-node test cluster without systemd: munged, MariaDB, slurmdbd, slurmctld,
# slurmd. Root only. Idempotent: a daemon that is already running is left alone, and the
# script returns at once when the cluster is up (status.sh exits 0).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
export PATH="$PATH:/usr/sbin:/sbin"
if "$HERE/status.sh" >/dev/null 2>&1; then
  echo "slurm/local/start.sh: cluster already up"
  exit 0
fi
[[ $(id -u) == 0 ]] || { echo "slurm/local/start.sh: needs root" >&2; exit 1; }

# wait_for SECONDS DESCRIPTION COMMAND...: poll COMMAND until it succeeds or time runs out.
wait_for() {
  local secs=$1 what=$2; shift 2
  for _ in $(seq $((secs * 4))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.25; done
  echo "slurm/local/start.sh: $what did not come up in ${secs}s (logs: /var/log/slurm/)" >&2
  return 1
}
running() { [[ -f $1 ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

mkdir -p /etc/slurm /var/spool/slurmctld /var/spool/slurmd /var/log/slurm /run/munge /run/mysqld
sed "s/@CPUS@/$(nproc)/" "$HERE/slurm.conf.in" >/etc/slurm/slurm.conf
install -m 600 "$HERE/slurmdbd.conf.in" /etc/slurm/slurmdbd.conf

# munge: the package generates /etc/munge/munge.key; munged refuses to run as root.
chown munge:munge /run/munge
if ! running /run/munge/munged.pid; then
  [[ -f /etc/munge/munge.key ]] || runuser -u munge -- mungekey --create
  runuser -u munge -- /usr/sbin/munged
fi
wait_for 10 munged bash -c 'munge -n | unmunge'

# MariaDB, for slurmdbd (root authenticates over the unix socket).
chown mysql:mysql /run/mysqld
if ! mysqladmin ping --silent 2>/dev/null; then
  [[ -d /var/lib/mysql/mysql ]] || mysql_install_db --user=mysql >/dev/null
  (setsid mariadbd --user=mysql >/var/log/slurm/mariadb.log 2>&1 &)
fi
wait_for 30 mariadb mysqladmin ping --silent

running /run/slurmdbd.pid || slurmdbd
wait_for 30 slurmdbd sacctmgr -n show cluster
sacctmgr -n show cluster format=cluster | grep -qw ttscale || sacctmgr -i add cluster ttscale >/dev/null

running /run/slurmctld.pid || slurmctld
wait_for 30 slurmctld scontrol ping
running /run/slurmd.pid || slurmd -N localhost
wait_for 30 "slurmd (node localhost)" bash -c \
  'sinfo -h -n localhost -o %T | grep -Eq "^(idle|mixed|allocated)"'
"$HERE/status.sh"
