/* live.c -- <run dir>/metrics.jsonl: the run's metrics as it trains, one
 * JSON object per line, written by rank 0 and flushed line by line so that
 * `tail -f` and pandas (pd.read_json(path, lines=True)) see every step.
 *
 * Records ("type"): "step" every optimizer step, "eval" every evaluation,
 * "stage" at every stage end (after its checkpoint), "rollback" when the
 * divergence guard went back.  Every record has "step" (global) and
 * "stage".  A value that was not measured is left out of the record; a
 * measured value that is not finite is the string "NaN", "Infinity" or
 * "-Infinity", so the two can never be confused.
 *
 * Append-only across sessions, without a step twice: when a run resumes (or
 * rolls back) to step S, the lines of steps after S -- written by a session
 * that then stopped before its next checkpoint -- are dropped first (the
 * file is rewritten atomically, publish.h), then new lines are appended. */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "run.h"
#include "strata/log.h"
#include "strata/publish.h"

#define LIVE_NAME "metrics.jsonl"

/* The "step" of a line, or -1 when it has none. */
static long line_step(const char *line)
{
    const char *p = strstr(line, "\"step\": ");
    return p ? strtol(p + 8, NULL, 10) : -1;
}

/* Keep the lines of steps <= upto (rank 0 reads; every rank publishes). */
static st_status truncate_after(grow_run *g, const char *path, long upto)
{
    st_status st = ST_OK;
    char *keep = NULL, *line = NULL;
    size_t keep_len = 0, cap = 0;
    FILE *in = NULL, *out = NULL;
    int changed = 0;
    if (g->rank == 0) {
        in = fopen(path, "r");
        if (!in && errno != ENOENT) FAIL(ST_EIO, "cannot read '%s': %s", path, strerror(errno));
        out = open_memstream(&keep, &keep_len);
        CHECK_ALLOC(out);
        while (in && getline(&line, &cap, in) > 0) {
            if (line_step(line) > upto || line[strlen(line) - 1] != '\n') {
                changed = 1; /* a later step, or a line cut by a crash */
                continue;
            }
            fputs(line, out);
        }
        fclose(out);
        out = NULL;
    }
    CHECK_MPI(MPI_Bcast(&changed, 1, MPI_INT, 0, g->comm));
    if (changed) CHECK(publish_write_text(path, keep ? keep : "", g->comm));
out:
    if (in) fclose(in);
    if (out) fclose(out);
    free(line);
    free(keep);
    return st;
}

st_status live_open(grow_run *g)
{
    st_status st = ST_OK;
    char path[sizeof g->dir + sizeof LIVE_NAME + 1];
    snprintf(path, sizeof path, "%s/%s", g->dir, LIVE_NAME);
    CHECK(truncate_after(g, path, g->st.step));
    if (g->rank == 0) {
        g->live = fopen(path, "a");
        if (!g->live) FAIL(ST_EIO, "cannot append to '%s': %s", path, strerror(errno));
    }
out:
    return st;
}

st_status live_rewind(grow_run *g)
{
    live_close(g);
    return live_open(g);
}

void live_close(grow_run *g)
{
    if (g->live) fclose(g->live);
    g->live = NULL;
}

/* One record: type, then "name", value pairs ending with NULL; a value that
 * is NAN-with-no-measurement is passed as LIVE_MISSING and left out. */
void live_write(grow_run *g, const char *type, ...)
{
    if (!g->live) return;
    FILE *f = g->live;
    fprintf(f, "{\"type\": \"%s\", \"step\": %ld, \"stage\": %d", type, g->st.step, g->st.stage);
    va_list ap;
    va_start(ap, type);
    for (const char *name; (name = va_arg(ap, const char *)) != NULL;) {
        double v = va_arg(ap, double);
        if (v == LIVE_MISSING) continue;
        fprintf(f, ", \"%s\": ", name);
        if (isnan(v))
            fputs("\"NaN\"", f);
        else if (isinf(v))
            fputs(v > 0 ? "\"Infinity\"" : "\"-Infinity\"", f);
        else if (v == floor(v) && fabs(v) < 9007199254740992.0)
            fprintf(f, "%.0f", v);
        else
            fprintf(f, "%.17g", v);
    }
    va_end(ap);
    fputs("}\n", f);
    if (fflush(f) != 0) {
        log_warn("cannot write %s/%s (%s): live metrics stop here; the checkpoints keep them", g->dir, LIVE_NAME,
                 strerror(errno));
        live_close(g);
    }
}

double live_rss_mb(void)
{
    struct rusage u;
    return getrusage(RUSAGE_SELF, &u) == 0 ? (double)u.ru_maxrss / 1024.0 : LIVE_MISSING;
}
