# env.sh -- environment shared by the benchmark scripts (source it).
# One BLAS thread (the engine parallelises over MPI ranks, not threads), and
# OpenBLAS's AVX-512 kernels on a CPU that has them unless the user chose a
# core: OpenBLAS 0.3.21 misdetects some recent CPUs and falls back to slow
# generic kernels.  Both PyTorch and the C engine see the same settings.
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
if [ -z "${OPENBLAS_CORETYPE:-}" ] && grep -qw avx512f /proc/cpuinfo 2>/dev/null; then
    export OPENBLAS_CORETYPE=SkylakeX
fi
echo "# OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-<unset>} OPENBLAS_NUM_THREADS=$OPENBLAS_NUM_THREADS"
: "${top_builddir:=.}"
: "${top_srcdir:=.}"
: "${BENCH_REPS:=5}"
