/* error.c -- status codes and the per-thread last-error message. */
#include "strata/error.h"

#include <mpi.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define ERR_MAX 2048

static _Thread_local char err_msg[ERR_MAX];
static _Thread_local char err_where[256];

int st_exit_code(st_status st)
{
    switch (st) {
    case ST_OK: return 0;
    case ST_EUSAGE: return 2;
    case ST_EDATA: return 3;
    case ST_ECKPT: return 4;
    case ST_EDIVERGED: return 5;
    case ST_EPREEMPT: return 75;
    default: return 1;
    }
}

const char *st_status_name(st_status st)
{
    switch (st) {
    case ST_OK: return "ok";
    case ST_ERR: return "error";
    case ST_EUSAGE: return "bad usage or config";
    case ST_EDATA: return "bad input data";
    case ST_ECKPT: return "checkpoint problem";
    case ST_EDIVERGED: return "training diverged";
    case ST_EPREEMPT: return "preempted";
    case ST_ENOMEM: return "out of memory";
    case ST_EIO: return "I/O error";
    case ST_EMPI: return "MPI error";
    case ST_EHDF5: return "HDF5 error";
    case ST_EBLAS: return "BLAS error";
    case ST_ENOTIMPL: return "not implemented";
    }
    return "unknown status";
}

st_status st_fail(st_status code, const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err_msg, sizeof err_msg, fmt, ap);
    va_end(ap);
    const char *base = strrchr(file, '/');
    snprintf(err_where, sizeof err_where, "%s:%d", base ? base + 1 : file, line);
    return code;
}

st_status st_fail_mpi(int mpi_rc, const char *file, int line, const char *call)
{
    char text[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(mpi_rc, text, &len) != MPI_SUCCESS)
        snprintf(text, sizeof text, "MPI error code %d", mpi_rc);
    return st_fail(ST_EMPI, file, line, "%s failed: %s", call, text);
}

void st_add_context(const char *fmt, ...)
{
    char ctx[ERR_MAX], old[ERR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx, sizeof ctx, fmt, ap);
    va_end(ap);
    memcpy(old, err_msg, sizeof old);
    if (old[0])
        snprintf(err_msg, sizeof err_msg, "%.1000s: %.1000s", ctx, old);
    else
        snprintf(err_msg, sizeof err_msg, "%s", ctx);
}

const char *st_last_error(void) { return err_msg; }
const char *st_last_error_where(void) { return err_where; }

void st_clear_error(void)
{
    err_msg[0] = '\0';
    err_where[0] = '\0';
}
