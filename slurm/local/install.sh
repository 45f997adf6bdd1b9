#!/usr/bin/env bash
# Install a single-node Slurm (Debian's slurm-wlm 22.05), munge, slurmdbd and MariaDB. Root only.
# Idempotent: returns at once when everything is already installed.
set -euo pipefail
# The package's version, not `sbatch --version`: sbatch needs slurm.conf, which start.sh writes.
version() { dpkg-query -W -f='${Version}' slurm-wlm 2>/dev/null || echo unknown; }
need=(slurmctld slurmd sbatch slurmdbd munged mariadbd)
missing=0
for b in "${need[@]}"; do command -v "$b" >/dev/null 2>&1 || PATH="$PATH:/usr/sbin" command -v "$b" >/dev/null 2>&1 || missing=1; done
if [[ $missing == 0 ]]; then
  echo "slurm/local/install.sh: already installed (slurm-wlm $(version))"
  exit 0
fi
if [[ $(id -u) != 0 ]]; then
  echo "slurm/local/install.sh: needs root (apt-get install)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends \
  slurm-wlm slurmctld slurmd slurm-client slurmdbd munge mariadb-server >/dev/null
echo "slurm/local/install.sh: installed slurm-wlm $(version)"
