#!/bin/sh
# shard-rss.sh -- per-rank memory of the training data (tokens + activation
# cache) against corpus size and rank count (issue "scale out",
# benchmark 5(a); target: per rank <= 1.2 x the 1-rank figure / N).
# Corpora: 8 and 82 copies of Moby-Dick (9.8 MB and 100 MB of text); ranks
# 1, 2, 4 (4 oversubscribed on 2 cores).  A 2-block d=32 model, ctx 128,
# grow.cache = memory with grow.cache_dtype = bfloat16; stage 2 brings every
# cached chunk forward before its first step (cache.h), so the cache is
# wholly filled when the peak is read.  The data part of a rank's peak RSS
# (/usr/bin/time, the largest rank) is the peak minus that of the same run
# on one copy with the cache off on as many ranks (model, workspaces, MPI,
# HDF5).  Datasets are built once first (prepare's own memory not counted).
#   top_builddir=build top_srcdir=. sh bench/shard-rss.sh
set -eu
: "${top_builddir:=.}" "${top_srcdir:=.}"
bin=$(cd "$top_builddir" && pwd)/strata
moby=${BENCH_MOBY:-$top_srcdir/data/moby-dick.txt}
[ -s "$moby" ] || { echo "shard-rss.sh: no $moby (run tools/demo.sh once, or set BENCH_MOBY)" >&2; exit 2; }
. "$top_srcdir/bench/env.sh"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
echo "# $(lscpu | sed -n 's/^Model name: *//p'), load $(cut -d' ' -f1-3 /proc/loadavg)"
w=$(mktemp -d)
trap 'rm -rf "$w"' EXIT
copies() { i=0; while [ $i -lt "$1" ]; do cat "$moby"; i=$((i + 1)); done; }
copies 1 >"$w/c1.txt"
copies 8 >"$w/c8.txt"
copies 82 >"$w/c82.txt"
cat >"$w/b.ini" <<INI
[run]
dir = $w/ck
seed = 1
[data]
ctx = 128
val_fraction = 0.01
[tokenizer]
mode = compact
vocab_size = 512
ngrams = 64
[substrate]
kind = glyph
file = $w/sub.h5
dim = 32
cell = 16
[model]
n_layers = 2
n_heads = 2
d_ff = 64
[train]
batch = 8
[grow]
steps = 2
cache = memory
cache_dtype = bfloat16
[eval]
interval = 0
batches = 1
[ckpt]
interval = 1000
INI
args() { # args CORPUS NAME
    echo "grow --config $w/b.ini --set data.corpus=$w/$1.txt --set data.dataset=$w/$1.h5 --set run.name=$2"
}
for c in c1 c8 c82; do
    mpirun -np 2 "$bin" $(args "$c" warm-"$c") --set grow.until_stage=1 >"$w/warm.log" 2>&1 || { tail -5 "$w/warm.log"; exit 1; }
    n=$(h5dump -H -d /chunks/tokens "$w/$c.h5" 2>/dev/null | sed -n 's/.*DATASPACE  SIMPLE { ( \([0-9]*\), \([0-9]*\) ).*/\1 \2/p')
    set -- $n
    echo "# corpus $c: $(wc -c <"$w/$c.txt") bytes of text, $1 chunks, token array $(( $1 * $2 * 4 / 1048576 )) MiB, bf16 cache of every chunk $(( $1 * 128 * 32 * 2 / 1048576 )) MiB"
done
rss() { # rss CORPUS NP [--set ...]: the largest rank's peak RSS in MiB
    c=$1 np=$2
    shift 2
    rm -rf "$w/ck/m"
    mpirun -np "$np" /usr/bin/time -f "rss_kb %M" "$bin" $(args "$c" m) "$@" >"$w/out" 2>"$w/err" || { tail -5 "$w/err" >&2; exit 1; }
    grep -o 'rss_kb [0-9]*' "$w/err" | awk '$2 > m { m = $2 } END { printf "%.1f", m / 1024 }'
}
for np in 1 2 4; do
    base=$(rss c1 $np --set grow.cache=off)
    for c in c8 c82; do
        peak=$(rss $c $np)
        chunks=$(sed -n 's/.*activation cache: \([0-9]*\) chunks on this rank.*/\1/p' "$w/err" | head -1)
        echo "$c np=$np peak_rss_MiB=$peak fixed_MiB=$base data_MiB=$(echo "$peak $base" | awk '{ printf "%.1f", $1 - $2 }') rank0_cached_chunks=$chunks"
    done
done | tee "$w/rows"
for c in c8 c82; do
    awk -v c=$c '$1 == c { split($2, a, "="); split($5, d, "="); v[a[2]] = d[2] }
        END { for (np = 2; np <= 4; np *= 2) printf "%s: data memory per rank at %d ranks / (1 rank / %d): %.3f (target <= 1.2)\n", c, np, np, v[np] / (v[1] / np) }' "$w/rows"
done
