/* progress.h -- progress display on rank 0.
 *
 * On a terminal: one status line redrawn in place (at most 10 times a
 * second).  Otherwise (batch logs): a plain line every `interval` seconds,
 * so a job log stays readable and grep-able. */
#ifndef STRATA_PROGRESS_H
#define STRATA_PROGRESS_H

#include <mpi.h>
#include <stdbool.h>
#include <stdio.h>

#include "strata/error.h"

typedef struct progress {
    FILE *out;       /* stderr on rank 0; NULL on other ranks (prints nothing) */
    bool tty;        /* redraw in place */
    double interval; /* seconds between plain lines */
    double t_start, t_last;
    int last_len;    /* length of the line drawn last (tty) */
} progress;

void progress_init(progress *p, MPI_Comm comm, double interval_s);
/* Show a status line; `force` prints even when the interval has not passed. */
void progress_update(progress *p, bool force, const char *fmt, ...) ST_PRINTF(3, 4);
/* Finish the in-place line (tty) so later output starts on a new line. */
void progress_end(progress *p);
/* Format seconds as "1h02m", "3m05s" or "12s". */
void progress_format_eta(double seconds, char *buf, size_t len);

#endif
