#!/bin/sh
# overlap.sh -- train.overlap_reduce: stage step time with the gradient
# all-reduce started during the backward / started after it, 2 ranks, the
# grow-bench.ini shape (d=256, 4 heads, d_ff=1024, ctx 128), monolithic
# schedule with 2 blocks (head + both blocks reduced).  Median tokens/s of
# the last half of the stage; rounds alternate on and off so a change of the
# machine's load hits both.  Usage: bench/overlap.sh [ROUNDS] (from a build
# dir via top_builddir/top_srcdir, like bench/grow.sh).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
. "$here/env.sh"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export OPENBLAS_NUM_THREADS=1
STRATA=${STRATA:-$top_builddir/strata}
rounds=${1:-2}
W=$(mktemp -d "${TMPDIR:-/tmp}/strata-bench.XXXXXX")
trap 'rm -rf "$W"' EXIT
cfg="--config $here/grow-bench.ini --set run.dir=$W --set data.corpus=$top_srcdir/tests/data/moby-60k.txt
     --set data.dataset=$W/data.h5 --set substrate.file=$W/sub.h5 --log-level warn
     --set model.n_layers=2 --set grow.schedule=monolithic --set grow.steps=20"
rate() { # median tokens/s of the last half of the steps
    "$STRATA" metrics --table steps "$1" | awk -F, '
        NR == 1 { for (i = 1; i <= NF; i++) if ($i == "tokens_per_s") r = i; next }
        { v[++n] = $r }
        END { c = 0; for (i = int(n / 2) + 1; i <= n; i++) a[++c] = v[i]
              for (i = 2; i <= c; i++) { x = a[i]; j = i - 1; while (j > 0 && a[j] > x) { a[j + 1] = a[j]; j-- } a[j + 1] = x }
              printf "%.1f\n", (c % 2) ? a[(c + 1) / 2] : (a[c / 2] + a[c / 2 + 1]) / 2 }'
}
for r in $(seq 1 "$rounds"); do
    for ov in true false; do
        mpirun -np 2 "$STRATA" grow $cfg --set run.name=$ov$r --set train.overlap_reduce=$ov >/dev/null
        echo "$ov $(rate "$W/$ov$r/stage-001.h5")" >>"$W/rates"
    done
done
# Each round's on/off pair ran back to back: its ratio is the paired figure;
# the median over rounds is the one to quote on a loaded machine.
awk '{ printf "#   overlap_reduce=%s: %s tokens/s\n", $1, $2 }
     $1 == "true" { on = $2 } $1 == "false" { r[++n] = $2 / on }
     END { for (i = 2; i <= n; i++) { x = r[i]; j = i - 1; while (j > 0 && r[j] > x) { r[j + 1] = r[j]; j-- } r[j + 1] = x }
           printf "#   per-round step time overlap / blocking:"; for (i = 1; i <= n; i++) printf " %.3f", r[i]; print ""
           printf "step time overlap / blocking, 2 ranks (median of %d paired rounds): %.3f\n", n,
                  (n % 2) ? r[(n + 1) / 2] : (r[n / 2] + r[n / 2 + 1]) / 2 }' "$W/rates"
echo "# load: $(uptime | sed 's/.*load/load/')"
