/* fastmath.h -- (internal to src/nn) exp, the normal CDF and the bfloat16 rounding as inline,
 * branch-free float code the compiler can vectorise.
 *
 * Why: glibc's expf and erff are scalar calls.  The cross-entropy needs
 * B*T*V exponentials per step (10 M at the benchmark shape) and GELU 2 x B*T*F
 * error functions; as calls they cost about a third of a training step.
 *
 * Include this header FIRST in a source file: with GCC it switches the rest
 * of the file to auto-vectorisation (-O2 alone only vectorises loops without
 * remainders) without trapping math (which blocks if-conversion of the
 * clamps) and without errno from sqrtf (which blocks its vectorisation).  A per-function optimize attribute does not work: GCC then refuses
 * to inline these functions into the loops.
 */
#ifndef STRATA_NN_FASTMATH_H
#define STRATA_NN_FASTMATH_H

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("tree-vectorize", "vect-cost-model=dynamic", "no-trapping-math", "no-math-errno")
#endif

#include <stdint.h>
#include <string.h>

/* Hot loops get an AVX-512 clone (x86-64-v4) and an AVX2+FMA clone
 * (x86-64-v3), chosen at load time (GCC ifunc); the default clone runs
 * anywhere x86-64 (SSE2) does.  The AVX-512 clone doubles the lanes of the
 * exp / erfc polynomials, the cross-entropy and GELU loops (bench/bf16.sh
 * measured the step with and without it: bench/RESULTS.md).  The reductions
 * keep their explicit lanes, so every clone returns the same bits. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define ST_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define ST_CLONES
#endif

/* Helpers of the hot loops: always inlined, so each clone gets its own copy
 * (left to itself GCC called the SSE2 row_sum_exp from the AVX-512 clone). */
#if defined(__GNUC__)
#define ST_INLINE static inline __attribute__((always_inline))
#else
#define ST_INLINE static inline
#endif

/* exp(x): the Cephes single-precision algorithm, exp(x) = 2^n p(r) with
 * n = round(x / ln 2), |r| <= ln 2 / 2 and a degree-7 polynomial; relative
 * error < 1e-7 on [-87, 88] (test_ops checks it through the softmax and
 * cross-entropy).  Below -87.3 it returns ~1e-38 instead of 0 (harmless in
 * softmax sums); NaN stays NaN (it fails both clamp comparisons). */
ST_INLINE float st_expf(float x)
{
    x = x < -87.3365f ? -87.3365f : x;
    x = x > 88.7228f ? 88.7228f : x;
    /* n = round(x / ln 2) by the 1.5 * 2^23 trick (branch-free, SSE2-friendly) */
    float nf = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    /* NaN to int is undefined behaviour: a NaN x takes n = 0 and stays NaN
     * through r (a select, so the loop still vectorises) */
    int32_t n = (int32_t)(nf == nf ? nf : 0.0f);
    float r = x - nf * 0.693359375f + nf * 2.12194440e-4f;
    float r2 = r * r;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r2 + r + 1.0f;
    uint32_t bits = (uint32_t)(n + 127) << 23; /* n + 127 >= 1 after the clamps */
    float s;
    memcpy(&s, &bits, sizeof s);
    return p * s;
}

/* Standard normal CDF Phi(x) = erfc(-x / sqrt 2) / 2 with the Chebyshev
 * erfc of Numerical Recipes (fractional error < 1.2e-7 in exact arithmetic;
 * test_ops bounds the float GELU against erf() in double).  Computing erfc
 * keeps the relative accuracy in the negative tail, where 1 + erf(x) would
 * cancel. */
ST_INLINE float st_normcdf(float x)
{
    float u = x * -0.70710678118654752f;
    float z = u < 0 ? -u : u;
    float t = 1.0f / (1.0f + 0.5f * z);
    float p = 0.17087277f;
    p = p * t - 0.82215223f;
    p = p * t + 1.48851587f;
    p = p * t - 1.13520398f;
    p = p * t + 0.27886807f;
    p = p * t - 0.18628806f;
    p = p * t + 0.09678418f;
    p = p * t + 0.37409196f;
    p = p * t + 1.00002368f;
    p = p * t - 1.26551223f;
    float ec = t * st_expf(p - z * z); /* erfc(|u|) */
    return 0.5f * (u < 0 ? 2.0f - ec : ec);
}

/* float -> bfloat16 bits, round to nearest even; NaN stays a (quiet) NaN.
 * The one conversion of nn (gemm.c's operand copies and the cross-entropy's
 * bf16 gradient): branch-free, so it vectorises inside the callers' loops. */
ST_INLINE uint16_t st_bf16_of(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    uint32_t r = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
    uint32_t q = (u >> 16) | 0x40u;
    return (uint16_t)((u & 0x7fffffffu) > 0x7f800000u ? q : r);
}

#endif
