/* log.h -- rank-aware logging.
 *
 * Errors are printed by every rank (a failure on rank 3 must not vanish);
 * warnings, info and debug only by rank 0 unless all_ranks is set
 * (`--log-all-ranks`).  Everything goes to stderr; results (tables, dumps)
 * go to stdout so they can be redirected cleanly.
 */
#ifndef STRATA_LOG_H
#define STRATA_LOG_H

#include <mpi.h>
#include <stdbool.h>

#include "strata/error.h"

typedef enum log_level {
    ST_LOG_ERROR = 0,
    ST_LOG_WARN = 1,
    ST_LOG_INFO = 2,
    ST_LOG_DEBUG = 3,
} log_level;

/* Safe to call before MPI_Init (then every process counts as rank 0). */
void log_init(MPI_Comm comm, log_level level, bool all_ranks);
log_level log_get_level(void);
/* Parse "error|warn|info|debug"; returns ST_EUSAGE for anything else. */
st_status log_parse_level(const char *s, log_level *out);
bool log_enabled(log_level level);

void log_msg(log_level level, const char *fmt, ...) ST_PRINTF(2, 3);

#define log_error(...) log_msg(ST_LOG_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(ST_LOG_WARN, __VA_ARGS__)
#define log_info(...) log_msg(ST_LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(ST_LOG_DEBUG, __VA_ARGS__)

#endif
