/* gradcheck.h -- central finite differences for the nn tests.
 *
 * Method: the float kernels themselves are checked (not a separate double
 * implementation: that would test other code than the one that trains).  The
 * scalar loss is accumulated in double from the float outputs, each checked
 * input is moved by +-h, h = 3e-3 * max(|x|, 1), and the denominator is the
 * difference of the two float values actually used.  Why 3e-3: at 1e-2 the
 * O(h^2) truncation error of the 2-block model reaches 1e-3 relative; at 1e-3
 * float rounding of the loss (~1e-7 relative) divided by 2h dominates; 3e-3
 * balances both (measured: worst error 5-10x below the limit below).
 * Tolerance, per checked entry:
 *     |numeric - analytic| <= 1e-3 * |analytic| + 2e-3 * max|analytic|
 * (max over the checked entries of the tensor).  A wrong gradient (a missing
 * term, a wrong sign or scale) errs by O(max|analytic|); test_ops shows that a
 * 5% error in one entry, or a dropped term, fails the check.
 */
#ifndef STRATA_TEST_GRADCHECK_H
#define STRATA_TEST_GRADCHECK_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strata/rng.h"

#define GC_RTOL 1e-3
#define GC_ATOL 2e-3
/* step: h = GC_H * max(|x|, 1) (env GC_H overrides, for studying the error) */
#define GC_H 3e-3f

typedef double (*gc_loss_fn)(void *ctx);

/* Compare analytic g [n] with central differences of f over p [n] (at most
 * max_checks entries, evenly strided).  Returns 1 on pass and prints the worst
 * entry on failure (or always when STRATA_TEST_VERBOSE is set). */
static inline int gc_check(const char *what, float *p, const float *g, size_t n, gc_loss_fn f,
                           void *ctx, int max_checks)
{
    size_t stride = n > (size_t)max_checks ? n / (size_t)max_checks : 1;
    double gmax = 0;
    for (size_t i = 0; i < n; i += stride) gmax = fmax(gmax, fabs(g[i]));
    double worst = 0, worst_num = 0, worst_ana = 0;
    size_t worst_i = 0;
    int ok = 1;
    for (size_t i = 0; i < n; i += stride) {
        float x0 = p[i];
        float hr = getenv("GC_H") ? (float)atof(getenv("GC_H")) : GC_H;
        float h = fmaxf(hr * fabsf(x0), hr);
        float xp = x0 + h, xm = x0 - h;
        p[i] = xp;
        double lp = f(ctx);
        p[i] = xm;
        double lm = f(ctx);
        p[i] = x0;
        double num = (lp - lm) / ((double)xp - (double)xm);
        double ana = g[i];
        double err = fabs(num - ana), lim = GC_RTOL * fabs(ana) + GC_ATOL * gmax + 1e-7;
        if (err / lim > worst) {
            worst = err / lim;
            worst_num = num;
            worst_ana = ana;
            worst_i = i;
        }
        if (err > lim) ok = 0;
    }
    if (!ok || getenv("STRATA_TEST_VERBOSE"))
        fprintf(stderr, "# gradcheck %-28s n=%zu max|g|=%.3g worst err/limit=%.3g at %zu (num %.6g, ana %.6g)\n",
                what, n, gmax, worst, worst_i, worst_num, worst_ana);
    /* an all-zero analytic gradient would pass trivially: demand some signal */
    if (gmax == 0) {
        fprintf(stderr, "# gradcheck %s: analytic gradient is identically zero\n", what);
        ok = 0;
    }
    return ok;
}

/* Fill with normal(0, std) from a test stream. */
static inline void gc_fill(float *x, size_t n, double std, rng_t *r)
{
    for (size_t i = 0; i < n; i++) x[i] = (float)(std * rng_normal(r));
}

/* sum_i w_i y_i in double: the scalar loss whose gradient wrt y is w. */
static inline double gc_dot(const float *w, const float *y, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)w[i] * y[i];
    return s;
}

static inline float *gc_alloc(size_t n) { return calloc(n ? n : 1, sizeof(float)); }

#endif
