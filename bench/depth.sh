#!/bin/sh
# depth.sh -- stage cost against depth on a corpus much larger than a stage
# (issue "scale out", benchmark 5(b)): an 8-block growth run on Moby-Dick
# (~5,500 training chunks of 128 tokens) whose stages train 40 steps x 16
# chunks = 640 chunks, an eighth of the corpus, so most chunks a stage
# visits were not visited by the stage before.  Prints, per depth, the median
# step rate and the stage's wall time, the step time at depth 8 / depth 1
# (target <= 1.15) and the time the activation cache took to come forward.
# With a second binary (bench/depth.sh OLD_STRATA) the same run is measured
# with it too, in this run, as the baseline.
# Usage: bench/depth.sh [OLD_STRATA] (top_builddir/top_srcdir set, or via
# `make bench`); the corpus is $BENCH_CORPUS or data/moby-dick.txt
# (tools/demo.sh fetches it).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
. "$here/env.sh"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
STRATA=${STRATA:-$top_builddir/strata}
corpus=${BENCH_CORPUS:-$top_srcdir/data/moby-dick.txt}
[ -s "$corpus" ] || { echo "depth.sh: no corpus '$corpus' (run tools/demo.sh once, or set BENCH_CORPUS)" >&2; exit 1; }
W=$(mktemp -d "${TMPDIR:-/tmp}/strata-bench.XXXXXX")
trap 'rm -rf "$W"' EXIT
echo "# $(lscpu | sed -n 's/^Model name: *//p'), OpenBLAS core ${OPENBLAS_CORETYPE:-auto}, load $(cut -d' ' -f1-3 /proc/loadavg)"

# measure NAME BINARY: the run, then "depth rate wall" lines in $W/NAME.rates
measure() {
    name=$1 bin=$2
    # Each binary builds its own dataset and substrate (formats may differ).
    if ! mpirun -np 1 "$bin" grow --config "$here/grow-bench.ini" --set run.dir="$W" --set run.name="$name" \
        --set data.corpus="$corpus" --set data.dataset="$W/$name-data.h5" --set substrate.file="$W/$name-sub.h5" \
        --set substrate.dim=128 --set model.d_ff=512 --set train.batch=16 --set grow.steps=40 \
        --log-level info >/dev/null 2>"$W/$name.err"; then
        echo "depth.sh: $bin failed:" >&2
        tail -5 "$W/$name.err" >&2
        exit 1
    fi
    # median tokens/s of a stage's steps after its first, and the stage's wall time
    "$bin" metrics --table steps "$W/$name/stage-008.h5" | awk -F, '
        NR == 1 { for (i = 1; i <= NF; i++) { if ($i == "stage") s = i; if ($i == "tokens_per_s") r = i }; next }
        { n[$s]++; if (n[$s] > 1) v[$s, n[$s] - 1] = $r }
        END { for (k in n) { c = n[k] - 1
                for (i = 1; i <= c; i++) a[i] = v[k, i]
                for (i = 2; i <= c; i++) { x = a[i]; j = i - 1; while (j > 0 && a[j] > x) { a[j + 1] = a[j]; j-- } a[j + 1] = x }
                printf "%d %.1f\n", k, (c % 2) ? a[(c + 1) / 2] : (a[c / 2] + a[c / 2 + 1]) / 2 } }' | sort -n >"$W/$name.r"
    "$bin" metrics --table depth "$W/$name/stage-008.h5" | awk -F, '
        NR == 1 { for (i = 1; i <= NF; i++) { if ($i == "depth") d = i; if ($i == "wall_s") w = i }; next }
        { print $d, (w ? $w : "nan") }' | sort -n >"$W/$name.w"
    join "$W/$name.r" "$W/$name.w" >"$W/$name.rates"
    chunks=$(sed -n 's/.*activation cache: \([0-9]*\) chunks on this rank.*/\1/p' "$W/$name.err" | head -1)
    echo "# $name ($bin): ${chunks:-?} chunks cached"
    awk '{ printf "#   depth %d: %.0f tokens/s, stage wall %.2f s\n", $1, $2, $3 }' "$W/$name.rates"
    sed -n 's/.*\(activation cache: [0-9]* of [0-9]* entries brought to depth [0-9]* in [0-9.]* s [^;]*\).*/#   \1)/p' "$W/$name.err"
    awk -v n="$name" '$1 == 1 { r1 = $2; w1 = $3 } $1 == 8 { r8 = $2; w8 = $3 }
        END { printf "%s: step time depth 8 / depth 1: %.3f (target <= 1.15); stage wall time depth 8 / depth 1: %.3f\n", n, r1 / r8, w8 / w1 }' "$W/$name.rates"
}

measure new "$STRATA"
[ $# -ge 1 ] && measure old "$1"
exit 0
