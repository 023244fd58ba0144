#!/bin/sh
# mfu.sh -- the MFU a monolithic run reports against its same-run sgemm peak,
# on a model big enough for BLAS to run near its peak (D 128, F 512, T 64,
# 3 blocks, batch 16): RUNS runs of 30 steps; prints each run's logged peak,
# the range of the step records' mfu and the stage's mfu.  MFU must stay in
# (0, 1].  Usage: bench/mfu.sh [STRATA] [RUNS]   (from the source tree)
set -eu
STRATA=${1:-build/strata}
RUNS=${2:-3}
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
lscpu | grep 'Model name'
uptime
for i in $(seq 1 "$RUNS"); do
    OPENBLAS_NUM_THREADS=1 "$STRATA" grow --set run.dir="$W/ck" --set run.name="m$i" \
        --set data.corpus=tests/data/moby-60k.txt --set data.dataset="$W/data.h5" --set data.ctx=64 \
        --set substrate.file="$W/sub.h5" --set substrate.dim=128 --set model.n_layers=3 --set model.n_heads=4 \
        --set model.d_ff=512 --set train.batch=16 --set grow.schedule=monolithic --set grow.steps=10 \
        --set eval.interval=10 --set log.progress=lines 2>"$W/err" >/dev/null
    peak=$(grep -o 'sgemm peak [0-9.]* GFLOP/s (OpenBLAS core [^;]*' "$W/err")
    steps=$(grep '"type": "step"' "$W/ck/m$i/metrics.jsonl" | sed 's/.*"mfu": \([^,}]*\).*/\1/' |
        awk 'NR == 1 { lo = hi = $1 } { lo = $1 < lo ? $1 : lo; hi = $1 > hi ? $1 : hi } END { printf "%.3f..%.3f", lo, hi }')
    stage=$(grep '"type": "stage"' "$W/ck/m$i/metrics.jsonl" | sed 's/.*"mfu": \([^,}]*\).*/\1/')
    echo "run $i: $peak; step mfu $steps; stage mfu $(printf %.3f "$stage")"
done
