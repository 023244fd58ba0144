#!/bin/sh
# zero-mem.sh -- memory of train.zero (ZeRO-1) at the issue-14 shape: V =
# 65,536 (tokenizer.mode = bmp), d = 1024, one block + head, 2 ranks, a
# short stage (3 steps of 4 chunks of 32 tokens), without and with a
# mid-stage checkpoint.  The same run with train.zero off and on, in this
# invocation: the AdamW
# moments per rank (strata's own count, rank 0) and the peak RSS of every
# rank (/usr/bin/time), then the ratios on/off.  Expected saving per rank:
# 2 x 4 B x trained parameters x (1 - 1/N) for the moments and for the
# divergence guard's copy of them.  Also checks that both runs end with
# bitwise-equal weights.
#   top_builddir=build top_srcdir=. sh bench/zero-mem.sh
set -eu
: "${top_builddir:=.}" "${top_srcdir:=.}"
strata=$(cd "$top_builddir" && pwd)/strata
. "$top_srcdir/bench/env.sh"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
np=${BENCH_NP:-2}
w=$(mktemp -d)
[ -n "${BENCH_KEEP:-}" ] || trap 'rm -rf "$w"' EXIT
cat >"$w/z.ini" <<INI
[run]
dir = $w/ck
seed = 1
[data]
corpus = $(cd "$top_srcdir" && pwd)/tests/data/moby-60k.txt
dataset = $w/data.h5
ctx = 32
val_fraction = 0.1
[tokenizer]
mode = bmp
ngrams = 0
[substrate]
kind = random
file = $w/sub.h5
dim = 1024
[model]
n_layers = 1
n_heads = 8
d_ff = 4096
[train]
batch = 4
warmup = 1
[grow]
steps = 3
cache = off
[eval]
interval = 0
batches = 1
[ckpt]
interval = 1000
INI
echo "# $(lscpu | sed -n 's/^Model name: *//p'), load $(cut -d' ' -f1-3 /proc/loadavg), $np ranks"
# dataset and substrate once, untimed
mpirun -np "$np" "$strata" grow --config "$w/z.ini" --set run.name=warm --set grow.steps=1 >"$w/warm.log" 2>&1 ||
    { tail -5 "$w/warm.log"; exit 1; }
max() { echo "$1" | tr ' ' '\n' | sort -n | tail -1; }
# ckpt.interval 1000: no checkpoint inside the stage; 2: one at step 2, whose
# /optim rank 0 gathers arena by arena (the head is the largest).
for ck in 1000 2; do
    for z in false true; do
        t0=$(date +%s)
        mpirun -np "$np" /usr/bin/time -f "rss_kb %M" "$strata" grow --config "$w/z.ini" --set run.name="z$z$ck" \
            --set train.zero=$z --set ckpt.interval=$ck >"$w/out.$z" 2>"$w/err.$z" || { tail -5 "$w/err.$z"; exit 1; }
        t1=$(date +%s)
        opt=$(sed -n 's/.*AdamW moments \([0-9.]*\) MiB on rank 0 (\([0-9]*\) trained.*/\1 \2/p' "$w/err.$z" | head -1)
        rss=$(sed -n 's/^rss_kb //p' "$w/err.$z" | sort -n | awk '{ printf "%s%.0f", (NR > 1 ? " " : ""), $1 / 1024 }')
        set -- $opt
        echo "ckpt.interval=$ck train.zero=$z: moments_MiB_rank0=$1 trained_params=$2 peak_rss_MiB_per_rank=[$rss] wall_s=$((t1 - t0))"
        eval "opt_$z=$1 rss_$z=\"$rss\" n_train=$2"
    done
    awk -v a="$opt_false" -v b="$opt_true" -v ra="$(max "$rss_false")" -v rb="$(max "$rss_true")" -v n="$n_train" -v N="$np" -v ck="$ck" 'BEGIN {
        printf "ckpt.interval=%s: optimizer moments per rank on/off: %.3f (1/N = %.3f)\n", ck, b / a, 1 / N
        printf "ckpt.interval=%s: peak RSS (largest rank) on/off: %.3f (%.0f -> %.0f MiB, saved %.0f MiB; moments + the guard copy: 2 x 2 x 4 B x %d x (1 - 1/%d) = %.0f MiB)\n",
            ck, rb / ra, ra, rb, ra - rb, n, N, 16 * n * (1 - 1 / N) / 1048576 }'
    "$strata" inspect --sha256 "$w/ck/zfalse$ck/stage-001.h5" >"$w/a.sha"
    "$strata" inspect --sha256 "$w/ck/ztrue$ck/stage-001.h5" >"$w/b.sha"
    cmp -s "$w/a.sha" "$w/b.sha" && echo "ckpt.interval=$ck: weights after the stage bitwise equal with zero on and off" ||
        { echo "weights differ with zero on and off" >&2; exit 1; }
done
