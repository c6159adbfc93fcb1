#!/usr/bin/env bash
# Runs the benchmarks and prints their figures: each against a baseline
# measured in the same run, as a ratio. Nothing here passes or fails on speed;
# the goals are printed for reading. Takes about five minutes on two cores.
# Expects the virtualenv that scripts/test.sh sets up (.venv).
set -euo pipefail
cd "$(dirname "$0")/.."

python=.venv/bin/python
if [ ! -x "$python" ]; then
  echo "No .venv yet: run scripts/test.sh once (or pip install -e '.[test]')." >&2
  exit 2
fi

export PYTHONUNBUFFERED=1
log=$(mktemp -t sprechzimmer-benchmark.XXXXXX)
trap 'rm -f "$log"' EXIT

started=$(date +%s)
echo "Sprechzimmer benchmarks, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores"
echo "Load from other processes on this machine skews the figures; compare ratios."

# Production mode runs against the machine's PostgreSQL on 127.0.0.1:5432.
for benchmark in join_page_load lifecycle_events "lifecycle_events --postgres \
  --lifecycles 200" projection_lag "signaling_round_trip --round-trips 200" memory \
  outbox_dispatch audit_verify retention_sweep tech_check_loopback \
  tech_check_throughput "sfu_forwarding --seconds 4" \
  "sfu_nine_person_room --seconds 60"; do
  echo
  echo "== benchmarks.$benchmark"
  # shellcheck disable=SC2086 # the name carries its arguments
  scripts/loopback-only "$python" -m benchmarks.$benchmark \
    | tee -a "$log" \
    | grep --line-buffered -v '^SUMMARY'
done

echo
echo "== Summary"
{
  printf 'figure\tproduct\tbaseline\tratio\tgoal\n'
  grep '^SUMMARY' "$log" | cut -f2-
} | awk -F'\t' '{
  printf "%-28s %10s %10s %7s  %s\n", $1, $2, $3, $4, $5
  if (NR == 1) print "----------------------------------------------------------------"
}'
echo
echo "Finished in $(($(date +%s) - started)) s."
