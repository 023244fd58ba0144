/* gemm.c -- the one matrix-product entry point of nn (ops.h "Matrix
 * products"): float32 through OpenBLAS's cblas_sgemm, bfloat16 through
 * oneDNN's matmul primitive (bf16 operands, fp32 accumulation and output).
 *
 * bf16 path: each operand is rounded to bf16 (round to nearest even) into a
 * contiguous scratch copy, then one oneDNN matmul writes the fp32 result
 * (alpha as an output scale, beta as a sum post-op).  Primitives are cached
 * per (shape, transposes, ldc, alpha, beta): creating one costs far more
 * than running a small product, and a training step reuses a dozen shapes.
 * The process-wide precision is set once by the command (grow) after
 * op_bf16_unavailable() said yes; everything else (tests, eval, generate)
 * stays float32 and bitwise as before.
 */
#include "fastmath.h" /* first: vectorises the conversion loops */

#include "strata_build.h"

#include <cblas.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "strata/log.h"
#include "strata/ops.h"

#ifdef HAVE_DNNL
#include <oneapi/dnnl/dnnl.h>
void omp_set_num_threads(int n); /* libgomp: Debian's oneDNN runs on OpenMP */
#endif

static op_precision g_prec = OP_FP32;

op_precision op_precision_get(void) { return g_prec; }

const char *op_bf16_unavailable(void)
{
#ifndef HAVE_DNNL
    return "this strata was built without oneDNN (apt-get install libdnnl-dev, then configure "
           "and build again)";
#else
    /* oneDNN's own view of the CPU (it honours DNNL_MAX_CPU_ISA, which is how
     * the tests simulate a CPU without bf16 instructions): without
     * AVX512_BF16 or AMX it would emulate bf16 and run slower than float32. */
    dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
    /* STRATA_TEST_BF16_EMULATED=1 (test suite only) accepts the emulation
     * oneDNN runs on any AVX-512 CPU: slow, but the same arithmetic (bf16
     * operands, fp32 accumulation), so the bf16 path is tested on every
     * machine of the suite, not only where it is fast. */
    const char *emu = getenv("STRATA_TEST_BF16_EMULATED");
    bool native = (isa & dnnl_cpu_isa_avx512_core_bf16) == dnnl_cpu_isa_avx512_core_bf16;
    if (!native && emu && strcmp(emu, "1") == 0 && (isa & dnnl_cpu_isa_avx512_core) == dnnl_cpu_isa_avx512_core) {
        static bool said;
        if (!said) log_warn("STRATA_TEST_BF16_EMULATED=1: bf16 matrix products run emulated (slower than float32)");
        said = true;
        return NULL;
    }
    if (!native)
        return "oneDNN finds no bf16 matrix instructions on this CPU (AVX512_BF16 or AMX); "
               "bf16 would be emulated and slower than float32";
    return NULL;
#endif
}

int op_precision_set(op_precision p)
{
    if (p == OP_BF16 && op_bf16_unavailable()) return -1;
    g_prec = p;
    return 0;
}

/* ---- bf16 conversion ---------------------------------------------------- */

float op_bf16_round(float f)
{
    uint32_t u = (uint32_t)st_bf16_of(f) << 16;
    float g;
    memcpy(&g, &u, sizeof g);
    return g;
}

/* dst [rows, cols] contiguous = bf16(src [rows, cols] with row stride ld) */
ST_CLONES static void to_bf16(uint16_t *dst, const float *src, int rows, int cols, int ld)
{
    for (int r = 0; r < rows; r++) {
        const float *s = src + (size_t)r * ld;
        uint16_t *d = dst + (size_t)r * cols;
        for (int c = 0; c < cols; c++) d[c] = st_bf16_of(s[c]);
    }
}

/* ---- GEMM --------------------------------------------------------------- */

static void sgemm(bool ta, bool tb, int M, int N, int K, float alpha, const float *A, int lda,
                  const float *B, int ldb, float beta, float *C, int ldc)
{
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M,
                N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

#ifdef HAVE_DNNL

/* Scratch copies of operands in bf16, grown on demand, kept for the process. */
enum { SLOT_A, SLOT_B, SLOT_C, N_SLOTS };
static uint16_t *g_buf[N_SLOTS];
static size_t g_cap[N_SLOTS];

static uint16_t *slot(int i, size_t n)
{
    if (n > g_cap[i]) {
        free(g_buf[i]);
        g_buf[i] = aligned_alloc(64, (n * sizeof(uint16_t) + 63) / 64 * 64);
        g_cap[i] = g_buf[i] ? n : 0;
    }
    return g_buf[i];
}

typedef struct gemm_prim {
    int M, N, K, ldc;
    bool ta, tb;
    float alpha, beta;
    dnnl_primitive_t prim;
    dnnl_memory_t a, b, c;
} gemm_prim;

enum { CACHE_CAP = 64 };
static gemm_prim g_cache[CACHE_CAP];
static int g_ncache, g_next_evict;
static dnnl_engine_t g_engine;
static dnnl_stream_t g_stream;

static void prim_free(gemm_prim *p)
{
    if (p->prim) dnnl_primitive_destroy(p->prim);
    if (p->a) dnnl_memory_destroy(p->a);
    if (p->b) dnnl_memory_destroy(p->b);
    if (p->c) dnnl_memory_destroy(p->c);
    memset(p, 0, sizeof *p);
}

static bool dnnl_setup(void)
{
    if (g_stream) return true;
    /* as many threads as OpenBLAS uses (one per rank by default) unless the
     * user chose OMP_NUM_THREADS */
    if (!getenv("OMP_NUM_THREADS")) omp_set_num_threads(openblas_get_num_threads());
    if (dnnl_engine_create(&g_engine, dnnl_cpu, 0) != dnnl_success) return false;
    if (dnnl_stream_create(&g_stream, g_engine, dnnl_stream_default_flags) != dnnl_success) {
        dnnl_engine_destroy(g_engine);
        g_engine = NULL;
        return false;
    }
    return true;
}

/* The primitive for C [M, N] (row stride ldc, fp32) = alpha op(A) op(B) +
 * beta C with A, B contiguous bf16: A stored [M, K] ([K, M] if ta), B
 * stored [K, N] ([N, K] if tb).  NULL when oneDNN cannot make one. */
static gemm_prim *prim_get(bool ta, bool tb, int M, int N, int K, float alpha, float beta, int ldc)
{
    for (int i = 0; i < g_ncache; i++) {
        gemm_prim *p = &g_cache[i];
        if (p->M == M && p->N == N && p->K == K && p->ldc == ldc && p->ta == ta && p->tb == tb &&
            p->alpha == alpha && p->beta == beta)
            return p;
    }
    if (!dnnl_setup()) return NULL;
    gemm_prim *p;
    if (g_ncache < CACHE_CAP)
        p = &g_cache[g_ncache++];
    else { /* round-robin eviction: a step uses far fewer shapes than CACHE_CAP */
        p = &g_cache[g_next_evict];
        g_next_evict = (g_next_evict + 1) % CACHE_CAP;
        prim_free(p);
    }
    dnnl_memory_desc_t ad, bd, cd;
    dnnl_dims_t adims = {M, K}, bdims = {K, N}, cdims = {M, N};
    dnnl_dims_t as = {ta ? 1 : K, ta ? M : 1}, bs = {tb ? 1 : N, tb ? K : 1}, cs = {ldc, 1};
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t po = NULL;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_matmul_desc_t md;
    bool ok = dnnl_memory_desc_init_by_strides(&ad, 2, adims, dnnl_bf16, as) == dnnl_success &&
              dnnl_memory_desc_init_by_strides(&bd, 2, bdims, dnnl_bf16, bs) == dnnl_success &&
              dnnl_memory_desc_init_by_strides(&cd, 2, cdims, dnnl_f32, cs) == dnnl_success &&
              dnnl_matmul_desc_init(&md, &ad, &bd, NULL, &cd) == dnnl_success &&
              dnnl_primitive_attr_create(&attr) == dnnl_success;
    if (ok && alpha != 1.0f)
        ok = dnnl_primitive_attr_set_output_scales(attr, 1, 0, &alpha) == dnnl_success;
    if (ok && beta != 0.0f)
        ok = dnnl_post_ops_create(&po) == dnnl_success &&
             dnnl_post_ops_append_sum(po, beta) == dnnl_success &&
             dnnl_primitive_attr_set_post_ops(attr, po) == dnnl_success;
    ok = ok && dnnl_primitive_desc_create(&pd, &md, attr, g_engine, NULL) == dnnl_success &&
         dnnl_primitive_create(&p->prim, pd) == dnnl_success &&
         dnnl_memory_create(&p->a, &ad, g_engine, DNNL_MEMORY_NONE) == dnnl_success &&
         dnnl_memory_create(&p->b, &bd, g_engine, DNNL_MEMORY_NONE) == dnnl_success &&
         dnnl_memory_create(&p->c, &cd, g_engine, DNNL_MEMORY_NONE) == dnnl_success;
    if (pd) dnnl_primitive_desc_destroy(pd);
    if (po) dnnl_post_ops_destroy(po);
    if (attr) dnnl_primitive_attr_destroy(attr);
    if (!ok) {
        prim_free(p);
        if (p == &g_cache[g_ncache - 1]) g_ncache--;
        return NULL;
    }
    p->M = M, p->N = N, p->K = K, p->ldc = ldc, p->ta = ta, p->tb = tb, p->alpha = alpha,
    p->beta = beta;
    return p;
}

/* C = alpha op(A16) op(B16) + beta C on bf16 operands laid out as prim_get says. */
static bool gemm_bf16(bool ta, bool tb, int M, int N, int K, float alpha, const uint16_t *A,
                      const uint16_t *B, float beta, float *C, int ldc)
{
    gemm_prim *p = prim_get(ta, tb, M, N, K, alpha, beta, ldc);
    if (!p) return false;
    dnnl_exec_arg_t args[3] = {{DNNL_ARG_SRC, p->a}, {DNNL_ARG_WEIGHTS, p->b}, {DNNL_ARG_DST, p->c}};
    return dnnl_memory_set_data_handle(p->a, (void *)A) == dnnl_success &&
           dnnl_memory_set_data_handle(p->b, (void *)B) == dnnl_success &&
           dnnl_memory_set_data_handle(p->c, C) == dnnl_success &&
           dnnl_primitive_execute(p->prim, g_stream, 3, args) == dnnl_success &&
           dnnl_stream_wait(g_stream) == dnnl_success;
}

/* An operand as bf16 in scratch slot s: op(X) is [r, c] (stored [c, r] when
 * transposed) with row stride ld in the stored layout. */
static const uint16_t *operand(int s, const float *X, bool t, int r, int c, int ld)
{
    int rows = t ? c : r, cols = t ? r : c;
    uint16_t *d = slot(s, (size_t)rows * cols);
    if (d) to_bf16(d, X, rows, cols, ld);
    return d;
}

static void bf16_failed(int M, int N, int K)
{
    static bool warned;
    if (!warned)
        log_warn("oneDNN could not run a bf16 %dx%dx%d product; such products fall back to float32",
                 M, N, K);
    warned = true;
}

#endif /* HAVE_DNNL */

void op_gemm(bool ta, bool tb, int M, int N, int K, float alpha, const float *A, int lda,
             const float *B, int ldb, float beta, float *C, int ldc)
{
#ifdef HAVE_DNNL
    if (g_prec == OP_BF16 && M > 0 && N > 0 && K > 0) {
        const uint16_t *a = operand(SLOT_A, A, ta, M, K, lda), *b = operand(SLOT_B, B, tb, K, N, ldb);
        if (a && b && gemm_bf16(ta, tb, M, N, K, alpha, a, b, beta, C, ldc)) return;
        bf16_failed(M, N, K);
    }
#endif
    sgemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

/* op_linear_backward's float32 products from dy16 when there is no float32
 * dy: tiles of dy16 widened into a fixed buffer (so this fallback needs no
 * allocation that could fail).  Per row tile all of dW first, then dx: dx
 * may alias x. */
static void backward_widened(float *dx, float dx_beta, float *dW, const uint16_t *dy16,
                             const float *x, const float *W, int N, int in, int out, float alpha)
{
    enum { TILE = 1 << 16 };
    static float buf[TILE];
    int cols = out < TILE ? out : TILE, rows = TILE / cols;
    for (int r0 = 0; r0 < N; r0 += rows) {
        int nr = N - r0 < rows ? N - r0 : rows;
        for (int pass = 0; pass < 2; pass++) {
            if (!(pass == 0 ? dW : dx)) continue;
            for (int c0 = 0; c0 < out; c0 += cols) {
                int nc = out - c0 < cols ? out - c0 : cols;
                for (int i = 0; i < nr; i++)
                    for (int j = 0; j < nc; j++) {
                        uint32_t u = (uint32_t)dy16[(size_t)(r0 + i) * out + c0 + j] << 16;
                        memcpy(&buf[(size_t)i * nc + j], &u, sizeof u);
                    }
                if (pass == 0) /* dW [c0.., in] += alpha dy_tile^T x [r0.., in] */
                    sgemm(true, false, nc, in, nr, alpha, buf, nc, x + (size_t)r0 * in, in, 1.0f,
                          dW + (size_t)c0 * in, in);
                else /* dx [r0.., in] (=, then +=) alpha dy_tile W [c0.., in] */
                    sgemm(false, false, nr, in, nc, alpha, buf, nc, W + (size_t)c0 * in, in,
                          c0 == 0 ? dx_beta : 1.0f, dx + (size_t)r0 * in, in);
            }
        }
    }
}

void op_linear_backward(float *dx, float dx_beta, float *dW, const float *dy, const float *x,
                        const float *W, int N, int in, int out, float alpha)
{
    op_linear_backward_dy16(dx, dx_beta, dW, dy, NULL, x, W, N, in, out, alpha);
}

void op_linear_backward_dy16(float *dx, float dx_beta, float *dW, const float *dy,
                             const uint16_t *dy16, const float *x, const float *W, int N, int in,
                             int out, float alpha)
{
#ifdef HAVE_DNNL
    if (g_prec == OP_BF16 && N > 0 && in > 0 && out > 0) {
        /* dy is the big operand (the head's dlogits [N, V]): round it once for
         * both products, unless the caller has (op_xent_fused's dlogits16) */
        if (!dy16) dy16 = operand(SLOT_C, dy, false, N, out, out);
        bool ok = dy16 != NULL;
        if (ok && dW) { /* dW [out, in] += alpha dy^T x */
            const uint16_t *x16 = operand(SLOT_B, x, false, N, in, in);
            ok = x16 && gemm_bf16(true, false, out, in, N, alpha, dy16, x16, 1.0f, dW, in);
            if (ok) dW = NULL;
        }
        if (ok && dx) { /* dx [N, in] = alpha dy W + dx_beta dx (after dW: dx may alias x) */
            const uint16_t *w16 = operand(SLOT_B, W, false, out, in, in);
            ok = w16 && gemm_bf16(false, false, N, in, out, alpha, dy16, w16, dx_beta, dx, in);
            if (ok) dx = NULL;
        }
        if (!ok) bf16_failed(N, in, out);
    }
#else
    (void)dy16;
#endif
    if (!dy && dy16) {
        backward_widened(dx, dx_beta, dW, dy16, x, W, N, in, out, alpha);
        return;
    }
    if (dW) sgemm(true, false, out, in, N, alpha, dy, out, x, in, 1.0f, dW, in);
    if (dx) sgemm(false, false, N, in, out, alpha, dy, out, W, in, dx_beta, dx, in);
}
