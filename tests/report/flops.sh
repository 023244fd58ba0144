#!/bin/sh
# flops.sh -- /metrics/depth's flops count what was computed: with the
# activation cache off every frozen block runs forward again (the column grows
# with depth); with it on, cached blocks cost nothing (a small corpus makes
# the stages reuse their chunks).  MFU is in (0, 1] in metrics.jsonl and the
# table; the same-run sgemm peak is logged and stored per rank.
. "$top_srcdir/tests/lib.sh"

tiny_config "$T/tiny.ini"
head -c 1500 "$top_srcdir/tests/data/moby-60k.txt" >"$T/small.txt" # 64 train chunks < 12 steps x 6
cfg="--config $T/tiny.ini --set data.corpus=$T/small.txt"
flops() { # flops FILE: the flops column, one value a line
    "$STRATA" metrics --table depth "$1" | awk -F, '
        NR == 1 { for (i = 1; i <= NF; i++) if ($i == "flops") c = i; next }
        { print $c }'
}

expect_exit 0 "grow with the cache off" -- run 1 -- grow $cfg --set run.name=off --set grow.cache=off
expect_grep "sgemm peak [0-9.]* GFLOP/s (OpenBLAS core [A-Za-z0-9]*" "$T/err" "the sgemm peak is logged with the BLAS core"
flops "$T/ck/off/stage-003.h5" >"$T/off"
awk 'NR > 1 && !($1 > prev) { bad = 1 } { prev = $1 } END { exit bad || NR != 3 }' "$T/off" &&
    ok "cache off: flops grow with depth (frozen forwards counted)" || { not_ok "cache off flops"; sed 's/^/# /' "$T/off"; }
# Each stage recomputes one more frozen block per token: equal increments.
awk '{ v[NR] = $1 } END { exit !(v[3] - v[2] == v[2] - v[1]) }' "$T/off" &&
    ok "cache off: one frozen block costs the same at every depth" || not_ok "cache off increments differ"

expect_exit 0 "grow with the cache in memory on 2 ranks" -- run 2 -- grow $cfg --set run.name=mem --set grow.cache=memory
flops "$T/ck/mem/stage-003.h5" >"$T/mem"
paste -d' ' "$T/off" "$T/mem" | awk '
    NR == 1 && $1 != $2 { bad = 1 }   # stage 1 has no frozen block
    NR > 1 && !($2 < $1) { bad = 1 }  # cache hits are not counted
    END { exit bad || NR != 3 }' &&
    ok "cache on: stage 1 the same, later stages count fewer flops (hits excluded)" ||
    { not_ok "cache on flops"; paste "$T/off" "$T/mem" | sed 's/^/# /'; }
"$STRATA" metrics --table depth "$T/ck/mem/stage-003.h5" | awk -F, '
    NR == 1 { for (i = 1; i <= NF; i++) if ($i == "mfu") c = i; next }
    !($c > 0 && $c <= 1) { bad = 1 } END { exit bad || NR != 4 }' &&
    ok "/metrics/depth mfu in (0, 1]" || not_ok "/metrics/depth mfu out of range"
for run in off mem; do
    n=$(grep -c '"type": "step"' "$T/ck/$run/metrics.jsonl")
    bad=$(grep '"type": "step"' "$T/ck/$run/metrics.jsonl" | sed 's/.*"mfu": \([^,}]*\).*/\1/' |
        awk '!($1 > 0 && $1 <= 1)' | wc -l)
    [ "$n" -eq 36 ] && [ "$bad" -eq 0 ] && ok "$run: every step record has an mfu in (0, 1]" ||
        not_ok "$run: $n step records, $bad with mfu outside (0, 1]"
done
grep '"type": "stage"' "$T/ck/mem/metrics.jsonl" | grep -c '"flops": [0-9]' | grep -qx 3 &&
    ok "stage records carry flops" || not_ok "stage records without flops"

# The peak behind MFU: one value per rank, and the core it was measured with.
H5DUMP=${H5DUMP:-h5dump}
"$H5DUMP" -a /metrics/sgemm_peak_flops "$T/ck/mem/stage-003.h5" >"$T/peak" 2>&1
grep -q 'DATASPACE  SIMPLE { ( 2 ) / ( 2 ) }' "$T/peak" &&
    ok "sgemm_peak_flops holds one value per rank" || { not_ok "sgemm_peak_flops attribute"; sed 's/^/# /' "$T/peak" | head; }
"$H5DUMP" -a /metrics/blas_core "$T/ck/mem/stage-003.h5" >"$T/core" 2>&1
grep -q '(0): "[A-Za-z0-9]*"' "$T/core" && ok "blas_core attribute names the core" || not_ok "blas_core attribute"
finish
