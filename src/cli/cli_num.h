/* cli_num.h -- numeric option values of eval/generate/merge: parsed whole,
 * range-checked, refused with ST_EUSAGE naming the option and the value. */
#ifndef STRATA_CLI_NUM_H
#define STRATA_CLI_NUM_H

#include <errno.h>
#include <stdlib.h>

#include "cli.h"

/* *out = --name as an integer in [lo, hi], or def when absent. */
static inline st_status cli_long(const cli_args *a, const char *name, long def, long lo, long hi, long *out)
{
    st_status st = ST_OK;
    const char *v = cli_value(a, name);
    *out = def;
    if (!v) goto out;
    char *end = NULL;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno || end == v || *end) FAIL(ST_EUSAGE, "--%s '%s' is not an integer", name, v);
    if (x < lo || x > hi) FAIL(ST_EUSAGE, "--%s %ld is outside %ld..%ld", name, x, lo, hi);
    *out = x;
out:
    return st;
}

/* *out = --name as a number in [lo, hi], or def when absent. */
static inline st_status cli_double(const cli_args *a, const char *name, double def, double lo, double hi,
                                   double *out)
{
    st_status st = ST_OK;
    const char *v = cli_value(a, name);
    *out = def;
    if (!v) goto out;
    char *end = NULL;
    errno = 0;
    double x = strtod(v, &end);
    if (errno || end == v || *end) FAIL(ST_EUSAGE, "--%s '%s' is not a number", name, v);
    if (!(x >= lo && x <= hi)) FAIL(ST_EUSAGE, "--%s %g is outside %g..%g", name, x, lo, hi);
    *out = x;
out:
    return st;
}

#endif
