#!/usr/bin/env bash
# Submit one run as a Slurm array plus its merge job, without Hydra multirun:
#
#   slurm/submit.sh shard.count=32 approach=dvts temps=hnc n=256 checkpoint_every=50
#   SBATCH_ARGS="--partition=gpu --time=08:00:00" slurm/submit.sh shard.count=8 n=64
#   PARALLEL=8 slurm/submit.sh shard.count=32 ...      # at most 8 tasks at once
#   LOGS=/scratch/me/logs slurm/submit.sh ...          # log folder (default logs/slurm)
#
# The arguments are run.py overrides (one setting: no comma sweeps; use run.py -m for those).
# --array is 0..shard.count-1, computed here, so it always matches the shards.
set -euo pipefail
cd "$(dirname "$0")/.."
count=""
for arg in "$@"; do
  [[ $arg == shard.count=* ]] && count=${arg#shard.count=}
  [[ $arg == shard.index=* ]] && { echo "submit.sh: shard.index is set per task; drop it" >&2; exit 2; }
  [[ $arg == *,* && $arg != *\[* ]] && { echo "submit.sh: '$arg' is a sweep; use python run.py -m" >&2; exit 2; }
done
[[ $count =~ ^[1-9][0-9]*$ ]] || { echo "submit.sh: give shard.count=N (N >= 1)" >&2; exit 2; }
LOGS=${LOGS:-logs/slurm}
mkdir -p "$LOGS"  # Slurm 22.05 does not create --output folders
# shellcheck disable=SC2086  # SBATCH_ARGS is a list of options
array=$(sbatch --parsable ${SBATCH_ARGS:-} --output="$LOGS/%x-%A_%a.out" \
  --array="0-$((count - 1))${PARALLEL:+%$PARALLEL}" slurm/shard.sbatch "$@")
array=${array%%;*}
# shellcheck disable=SC2086
merge=$(sbatch --parsable ${MERGE_SBATCH_ARGS:-} --output="$LOGS/%x-%j.out" \
  --dependency="afterany:$array" slurm/merge.sbatch "$@")
merge=${merge%%;*}
cat <<MSG
submitted array $array ($count tasks) and merge job $merge (afterany:$array)
  squeue -j $array,$merge
  sacct -j $array,$merge -X -o JobID,JobName,State,Elapsed,ExitCode
  task logs: $LOGS/ttscale-${array}_<task>.out   merge report: $LOGS/ttscale-merge-$merge.out
MSG
