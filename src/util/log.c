/* log.c -- rank-aware logging to stderr. */
#include "strata/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static log_level cur_level = ST_LOG_INFO;
static bool cur_all_ranks = false;
static int cur_rank = 0;

void log_init(MPI_Comm comm, log_level level, bool all_ranks)
{
    int inited = 0;
    MPI_Initialized(&inited);
    cur_rank = 0;
    if (inited && comm != MPI_COMM_NULL) MPI_Comm_rank(comm, &cur_rank);
    cur_level = level;
    cur_all_ranks = all_ranks;
}

log_level log_get_level(void) { return cur_level; }

st_status log_parse_level(const char *s, log_level *out)
{
    static const char *names[] = {"error", "warn", "info", "debug"};
    for (int i = 0; i < 4; i++)
        if (strcmp(s, names[i]) == 0) {
            *out = (log_level)i;
            return ST_OK;
        }
    return ST_EUSAGE;
}

bool log_enabled(log_level level)
{
    if (level > cur_level) return false;
    return level == ST_LOG_ERROR || cur_rank == 0 || cur_all_ranks;
}

void log_msg(log_level level, const char *fmt, ...)
{
    static const char *tags[] = {"error", "warning", "info", "debug"};
    if (!log_enabled(level)) return;
    char line[4096];
    int n;
    if (cur_rank == 0)
        n = snprintf(line, sizeof line, "strata: %s: ", tags[level]);
    else
        n = snprintf(line, sizeof line, "strata[rank %d]: %s: ", cur_rank, tags[level]);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    va_end(ap);
    /* One fputs per message so lines from different ranks do not interleave. */
    size_t len = strlen(line);
    if (len + 1 < sizeof line) {
        line[len] = '\n';
        line[len + 1] = '\0';
    }
    fputs(line, stderr);
    fflush(stderr);
}
