/* progress.h -- progress display on rank 0.
 *
 * Two styles: a bar -- one status line redrawn in place with \r (at most 10
 * times a second) -- or plain lines, one every `interval` seconds, so a
 * batch log stays readable and grep-able.  PROGRESS_AUTO picks the bar when
 * stderr is a terminal.  Under mpirun it never is: Open MPI (4.1) forwards a
 * rank's stderr through a pipe (stdout through a pty, whatever mpirun's own
 * output is), and sets no variable telling whether mpirun's stderr is a
 * terminal, so auto gives lines there; PROGRESS_BAR redraws through the pipe
 * (mpirun passes the \r on to the terminal). */
#ifndef STRATA_PROGRESS_H
#define STRATA_PROGRESS_H

#include <mpi.h>
#include <stdbool.h>
#include <stdio.h>

#include "strata/error.h"

typedef enum progress_mode { PROGRESS_AUTO = 0, PROGRESS_BAR, PROGRESS_LINES } progress_mode;

typedef struct progress {
    FILE *out;       /* stderr on rank 0; NULL on other ranks (prints nothing) */
    bool tty;        /* bar: redraw in place */
    double interval; /* seconds between plain lines */
    double t_start, t_last;
    int last_len;    /* length of the line drawn last (bar) */
} progress;

/* "auto" | "bar" | "lines" (log.progress); ST_EUSAGE naming the value otherwise. */
st_status progress_mode_parse(const char *s, progress_mode *out);
void progress_init(progress *p, MPI_Comm comm, double interval_s, progress_mode mode);
/* Show a status line; `force` prints even when the interval has not passed. */
void progress_update(progress *p, bool force, const char *fmt, ...) ST_PRINTF(3, 4);
/* Finish the in-place line (bar) so later output starts on a new line. */
void progress_end(progress *p);
/* Format seconds as "1h02m", "3m05s" or "12s". */
void progress_format_eta(double seconds, char *buf, size_t len);

#endif
