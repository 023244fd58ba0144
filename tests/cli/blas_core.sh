#!/bin/sh
# blas_core.sh -- strata-blas-core: measures each candidate OPENBLAS_CORETYPE
# in a child process and names the fastest; keeps a core the user set; the
# job scripts and bench/env.sh ask it instead of hard-coding a core.
. "$top_srcdir/tests/lib.sh"
BC=$top_builddir/strata-blas-core

expect_exit 0 "--pick keeps the user's OPENBLAS_CORETYPE" -- env OPENBLAS_CORETYPE=Haswell "$BC" --pick
[ "$(cat "$T/out")" = "Haswell" ] && ok "and prints it back" || not_ok "printed '$(cat "$T/out")'"
expect_grep "set by the user; kept, not measured" "$T/err" "saying so"

expect_exit 0 "measure the candidates" -- env -u OPENBLAS_CORETYPE "$BC" --rounds 1 --reps 1
n=$(grep -c '^# OPENBLAS_CORETYPE=.*GFLOP/s' "$T/out")
[ "$n" -ge 1 ] && ok "$n candidate cores measured" || { not_ok "no core measured"; sed 's/^/# /' "$T/out"; }
best=$(sed -n 's/^# OPENBLAS_CORETYPE=\([A-Za-z0-9]*\) .*<- fastest$/\1/p' "$T/out")
# the marked core has the highest rate of the table
top=$(awk '/GFLOP\/s/ { sub("^# OPENBLAS_CORETYPE=", ""); if ($2 > r) { r = $2; c = $1 } } END { print c }' "$T/out")
[ -n "$best" ] && [ "$best" = "$top" ] && ok "the fastest core ($best) is the one recommended" ||
    { not_ok "recommended '$best', table's fastest '$top'"; sed 's/^/# /' "$T/out"; }
grep -q "^fastest: $best (export OPENBLAS_CORETYPE=$best)" "$T/out" && ok "the recommendation line names it" ||
    not_ok "no recommendation line"
expect_exit 2 "bad usage" -- "$BC" --bogus

for f in jobs/local/grow.sh jobs/slurm/grow.sbatch jobs/slurm/prepare.sbatch jobs/pbs/grow.pbs bench/env.sh; do
    if grep -q 'OPENBLAS_CORETYPE=SkylakeX' "$top_srcdir/$f" || ! grep -q 'strata-blas-core' "$top_srcdir/$f"; then
        not_ok "$f does not ask strata-blas-core"
    else
        ok "$f asks strata-blas-core, hard-codes no core"
    fi
done
finish
