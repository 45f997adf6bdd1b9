#!/usr/bin/env bash
# Is the single-node test cluster up? Exit 0 iff the controller answers, node localhost can
# take jobs and accounting (sacct) works; print one line either way.
export PATH="$PATH:/usr/sbin:/sbin"
command -v sinfo >/dev/null 2>&1 || { echo "slurm: not installed (slurm/local/install.sh)"; exit 1; }
state=$(timeout 5 sinfo -h -n localhost -o %T 2>/dev/null | head -1)
if [[ ! $state =~ ^(idle|mixed|allocated) ]]; then
  echo "slurm: down (node localhost: ${state:-no answer}; slurm/local/start.sh starts it)"
  exit 1
fi
if ! timeout 5 sacct -n -X -S now >/dev/null 2>&1; then
  echo "slurm: up but accounting (sacct) is down; slurm/local/start.sh restarts slurmdbd"
  exit 1
fi
echo "slurm: up (node localhost $state, $(sbatch --version))"
