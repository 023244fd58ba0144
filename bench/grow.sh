#!/bin/sh
# grow.sh -- benchmarks of the growth engine (issue: distributed growth):
#  1. stage-step time at depth 8 / depth 1 with the activation cache
#     (steady state: the last half of each stage, when every chunk is cached)
#  2. tokens/s of 2 ranks / 1 rank on the same global batch
#  3. (BENCH_DEMO=1) share of the demo's wall time spent writing checkpoints
# Prints ratios measured in this run.  Usage: bench/grow.sh (from a build dir
# via `make bench`, or with top_builddir/top_srcdir set).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
. "$here/env.sh"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
STRATA=${STRATA:-$top_builddir/strata}
W=$(mktemp -d "${TMPDIR:-/tmp}/strata-bench.XXXXXX")
trap 'rm -rf "$W"' EXIT
cfg="--config $here/grow-bench.ini --set run.dir=$W --set data.corpus=$top_srcdir/tests/data/moby-60k.txt
     --set data.dataset=$W/data.h5 --set substrate.file=$W/sub.h5 --log-level warn"

# median tokens/s of the last half of each stage: "stage tok/s" lines
stage_rates() {
    "$STRATA" metrics --table steps "$1" | awk -F, '
        NR == 1 { for (i = 1; i <= NF; i++) { if ($i == "stage") s = i; if ($i == "tokens_per_s") r = i }; next }
        { n[$s]++; v[$s, n[$s]] = $r }
        END { for (k in n) { m = 0; c = 0
                for (i = int(n[k] / 2) + 1; i <= n[k]; i++) { a[++c] = v[k, i] }
                # insertion sort, then the median
                for (i = 2; i <= c; i++) { x = a[i]; j = i - 1; while (j > 0 && a[j] > x) { a[j + 1] = a[j]; j-- } a[j + 1] = x }
                printf "%d %.1f\n", k, (c % 2) ? a[(c + 1) / 2] : (a[c / 2] + a[c / 2 + 1]) / 2 } }' | sort -n
}

echo "# 1. stage-step time at depth 8 / depth 1, activation cache in memory, 1 rank"
mpirun -np 1 "$STRATA" grow $cfg --set run.name=depth >/dev/null
stage_rates "$W/depth/stage-008.h5" >"$W/rates"
awk '{ printf "#   depth %d: %.0f tokens/s\n", $1, $2 } $1 == 1 { r1 = $2 } $1 == 8 { r8 = $2 }
     END { printf "step time depth 8 / depth 1: %.3f (target <= 1.15)\n", r1 / r8 }' "$W/rates"

echo "# 2. tokens/s with 2 ranks / 1 rank (one block + head, same global batch)"
for np in 1 2; do
    mpirun -np $np "$STRATA" grow $cfg --set run.name=np$np --set model.n_layers=1 --set train.batch=16 >/dev/null
    stage_rates "$W/np$np/stage-001.h5" | awk -v np=$np '{ print np, $2 }' >>"$W/scale"
done
awk '{ r[$1] = $2; printf "#   %d rank(s): %.0f tokens/s\n", $1, $2 }
     END { printf "tokens/s 2 ranks / 1 rank: %.3f (target >= 1.8)\n", r[2] / r[1] }' "$W/scale"

if [ "${BENCH_DEMO:-0}" = 1 ]; then
    echo "# 3. checkpoint share of the demo's wall time (jobs/configs/demo.ini, 2 ranks)"
    [ -s "$top_srcdir/data/moby-dick.txt" ] || { echo "# run tools/demo.sh once first (fetches the text)"; exit 1; }
    (cd "$top_srcdir" && mpirun -np 2 "$STRATA" grow --config jobs/configs/demo.ini --set run.dir="$W" \
        --set data.dataset="$W/demo-data.h5" --set substrate.file="$W/demo-sub.h5") 2>"$W/demo.err" >/dev/null
    grep "checkpoints:" "$W/demo.err" | sed 's/^strata: info: //'
fi
