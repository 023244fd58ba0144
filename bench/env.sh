# env.sh -- environment shared by the benchmark scripts (source it).
# One BLAS thread (the engine parallelises over MPI ranks, not threads).
# OPENBLAS_CORETYPE: the user's choice stands; unset, the fastest core on
# this CPU as measured by strata-blas-core (CPU flags do not say which is
# fastest: on AMD Zen 5 they once favoured the wrong one).  Both PyTorch and
# the C engine see the same settings.
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
: "${top_builddir:=.}"
: "${top_srcdir:=.}"
: "${BENCH_REPS:=5}"
if [ -z "${OPENBLAS_CORETYPE:-}" ] && [ -x "$top_builddir/strata-blas-core" ]; then
    "$top_builddir/strata-blas-core" --rounds 2 >"${TMPDIR:-/tmp}/blas-core.$$" 2>&1 || true
    sed 's/^[^#]/# &/' "${TMPDIR:-/tmp}/blas-core.$$"
    core=$(sed -n 's/^fastest: \([A-Za-z0-9]*\).*/\1/p' "${TMPDIR:-/tmp}/blas-core.$$")
    rm -f "${TMPDIR:-/tmp}/blas-core.$$"
    [ -n "$core" ] && export OPENBLAS_CORETYPE="$core"
fi
echo "# OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-<unset>} OPENBLAS_NUM_THREADS=$OPENBLAS_NUM_THREADS"
