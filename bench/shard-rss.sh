#!/bin/sh
# shard-rss.sh [OLD_STRATA] -- peak RSS per rank of a short growth run vs
# corpus size (Moby-Dick, 1.2 MB, and 8 copies of it, 9.8 MB) and rank count
# (1, 2, 4; 4 is oversubscribed on 2 cores), with grow.cache = off so the
# figure is the token memory plus a fixed model/workspace part.  With
# OLD_STRATA (a build that reads the whole token array on every rank) the
# same runs are repeated with it, in the same invocation, for the ratio.
# The datasets and the substrate are built once first, so prepare's own
# memory is not counted.  Prints one line per run and the token array size.
#   top_builddir=build top_srcdir=. sh bench/shard-rss.sh /path/to/old/strata
set -eu
: "${top_builddir:=.}" "${top_srcdir:=.}"
new=$(cd "$top_builddir" && pwd)/strata
old=${1:-}
moby=${BENCH_MOBY:-/work/ref/moby-dick.txt}
[ -f "$moby" ] || { echo "shard-rss.sh: no $moby (set BENCH_MOBY)" >&2; exit 2; }
. "$top_srcdir/bench/env.sh"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
w=$(mktemp -d)
trap 'rm -rf "$w"' EXIT
cp "$moby" "$w/c1.txt"
for i in 1 2 3 4 5 6 7 8; do cat "$moby"; done >"$w/c8.txt"
cat >"$w/b.ini" <<INI
[run]
dir = $w/ck
seed = 1
[data]
ctx = 128
val_fraction = 0.05
[tokenizer]
mode = compact
vocab_size = 512
ngrams = 64
[substrate]
kind = glyph
file = $w/sub.h5
dim = 64
cell = 16
[model]
n_layers = 1
n_heads = 2
d_ff = 128
[train]
batch = 8
[grow]
steps = 4
cache = off
[eval]
interval = 0
batches = 1
[ckpt]
interval = 1000
INI
args() { # args CORPUS NAME
    echo "grow --config $w/b.ini --set data.corpus=$w/$1.txt --set data.dataset=$w/$1.h5 --set run.name=$2"
}
# build each dataset (and the substrate) once, untimed
for c in c1 c8; do mpirun -np 2 "$new" $(args "$c" warm-"$c") >"$w/warm.log" 2>&1 || { tail -5 "$w/warm.log"; exit 1; }; done
for c in c1 c8; do
    n=$(h5dump -H -d /chunks/tokens "$w/$c.h5" 2>/dev/null | sed -n 's/.*DATASPACE  SIMPLE { ( \([0-9]*\), \([0-9]*\) ).*/\1 \2/p')
    set -- $n
    echo "corpus $c: $(wc -c <"$w/$c.txt") bytes of text, token array $1 x $2 int32 = $(( $1 * $2 * 4 / 1048576 )) MiB"
done
run_one() { # run_one BIN LABEL CORPUS NP
    rm -rf "$w/ck/m"
    mpirun -np "$4" /usr/bin/time -f "rss_kb %M" "$1" $(args "$3" m) >"$w/out" 2>"$w/err" || { tail -5 "$w/err"; exit 1; }
    rss=$(sed -n 's/^rss_kb //p' "$w/err" | sort -n | tail -1)
    echo "$2 $3 np=$4 peak_rss_per_rank_MiB=$(( rss / 1024 ))"
}
for np in 1 2 4; do
    for c in c1 c8; do
        run_one "$new" sharded "$c" "$np"
        [ -n "$old" ] && run_one "$old" whole "$c" "$np"
    done
done
# Throughput of the same short stage (100 steps, c8, 2 ranks), new and old
# alternating twice: the cost of reading each step's rows from the file.
[ -n "$old" ] || exit 0
rate() { # rate BIN: training tokens per wall second of stage 1
    rm -rf "$w/ck/t"
    mpirun -np 2 "$1" $(args c8 t) --set grow.steps=100 >/dev/null 2>&1
    "$new" metrics --table depth "$w/ck/t/stage-001.h5" | awk -F, 'NR==1{for(i=1;i<=NF;i++)h[$i]=i} NR==2{printf "%.0f", $h["tokens"]/$h["wall_s"]}'
}
for rep in 1 2; do
    echo "throughput rep $rep: sharded $(rate "$new") tok/s, whole $(rate "$old") tok/s"
done
