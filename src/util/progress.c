/* progress.c -- status line redrawn in place (bar) or periodic lines (batch log). */
#include "strata/progress.h"

#include <stdarg.h>
#include <string.h>
#include <unistd.h>

#include "strata/log.h"
#include "strata/timer.h"

st_status progress_mode_parse(const char *s, progress_mode *out)
{
    if (strcmp(s, "auto") == 0) *out = PROGRESS_AUTO;
    else if (strcmp(s, "bar") == 0) *out = PROGRESS_BAR;
    else if (strcmp(s, "lines") == 0) *out = PROGRESS_LINES;
    else return ST_ERROR(ST_EUSAGE, "log.progress = '%s' is not one of auto, bar, lines", s);
    return ST_OK;
}

void progress_init(progress *p, MPI_Comm comm, double interval_s, progress_mode mode)
{
    int rank = 0;
    MPI_Comm_rank(comm, &rank);
    memset(p, 0, sizeof *p);
    /* Progress is information: --log-level warn or error silences it. */
    p->out = rank == 0 && log_enabled(ST_LOG_INFO) ? stderr : NULL;
    p->tty = rank == 0 && (mode == PROGRESS_BAR || (mode == PROGRESS_AUTO && isatty(STDERR_FILENO)));
    p->interval = interval_s;
    p->t_start = timer_now();
    p->t_last = -1e30;
}

void progress_update(progress *p, bool force, const char *fmt, ...)
{
    if (!p->out) return;
    double now = timer_now();
    double gap = p->tty ? 0.1 : p->interval;
    if (!force && now - p->t_last < gap) return;
    p->t_last = now;
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if (n >= (int)sizeof line) n = (int)sizeof line - 1;
    if (p->tty) {
        /* Pad with spaces so a shorter line fully covers the previous one. */
        fprintf(p->out, "\r%s%*s", line, p->last_len > n ? p->last_len - n : 0, "");
        p->last_len = n;
    } else {
        fprintf(p->out, "[%8.1fs] %s\n", now - p->t_start, line);
    }
    fflush(p->out);
}

void progress_end(progress *p)
{
    if (p->out && p->tty && p->last_len > 0) {
        fputc('\n', p->out);
        fflush(p->out);
    }
    p->last_len = 0;
}

void progress_format_eta(double seconds, char *buf, size_t len)
{
    if (!(seconds >= 0) || seconds > 1e8) {
        snprintf(buf, len, "?");
        return;
    }
    long s = (long)(seconds + 0.5);
    if (s >= 3600)
        snprintf(buf, len, "%ldh%02ldm", s / 3600, (s % 3600) / 60);
    else if (s >= 60)
        snprintf(buf, len, "%ldm%02lds", s / 60, s % 60);
    else
        snprintf(buf, len, "%lds", s);
}
