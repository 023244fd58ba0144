/* error.h -- status codes and the CHECK macros every library function uses.
 *
 * Convention: a function that can fail returns st_status, declares
 * `st_status st = ST_OK;`, jumps to a single `out:` label on failure and
 * releases what it owns there.  st_fail() records a message (with file:line)
 * that the CLI prints; the library never exits or aborts.
 *
 * The values of the first group are also the process exit codes (README,
 * "Exit codes"); internal causes map to exit code 1 via st_exit_code().
 */
#ifndef STRATA_ERROR_H
#define STRATA_ERROR_H

#include <stddef.h>

typedef enum st_status {
    ST_OK = 0,
    ST_ERR = 1,        /* anything else */
    ST_EUSAGE = 2,     /* bad usage or config */
    ST_EDATA = 3,      /* bad input data */
    ST_ECKPT = 4,      /* checkpoint problem */
    ST_EDIVERGED = 5,  /* training kept diverging (train.max_rollbacks exceeded) */
    ST_EPREEMPT = 75,  /* preempted after a clean checkpoint (EX_TEMPFAIL) */
    /* internal causes; exit code 1 */
    ST_ENOMEM = 101,
    ST_EIO = 102,
    ST_EMPI = 103,
    ST_EHDF5 = 104,
    ST_EBLAS = 105,
    ST_ENOTIMPL = 106,
} st_status;

#if defined(__GNUC__)
#define ST_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define ST_PRINTF(f, a)
#endif

/* Process exit code for a status (see README "Exit codes"). */
int st_exit_code(st_status st);
/* Short name of a status, e.g. "bad usage or config". */
const char *st_status_name(st_status st);

/* Record an error message and return `code`.  The message is kept per thread
 * until the next st_fail()/st_clear_error(); file:line are kept separately so
 * the CLI can show them at debug level without cluttering user messages. */
st_status st_fail(st_status code, const char *file, int line, const char *fmt, ...)
    ST_PRINTF(4, 5);
/* Record an MPI error (text from MPI_Error_string). */
st_status st_fail_mpi(int mpi_rc, const char *file, int line, const char *call);
/* Prepend context to the recorded message: "context: previous message". */
void st_add_context(const char *fmt, ...) ST_PRINTF(1, 2);
const char *st_last_error(void);      /* "" when none */
const char *st_last_error_where(void); /* "file.c:123" of the st_fail call */
void st_clear_error(void);

/* st_fail() at this place, as an expression. */
#define ST_ERROR(code, ...) st_fail((code), __FILE__, __LINE__, __VA_ARGS__)

#define FAIL(code, ...)                                                      \
    do {                                                                     \
        st = st_fail((code), __FILE__, __LINE__, __VA_ARGS__);               \
        goto out;                                                            \
    } while (0)

#define CHECK(expr)                                                          \
    do {                                                                     \
        st = (expr);                                                         \
        if (st != ST_OK) goto out;                                           \
    } while (0)

#define CHECK_ALLOC(ptr)                                                     \
    do {                                                                     \
        if ((ptr) == NULL) FAIL(ST_ENOMEM, "out of memory (%s)", #ptr);      \
    } while (0)

#define CHECK_MPI(call)                                                      \
    do {                                                                     \
        int mpi_rc_ = (call);                                                \
        if (mpi_rc_ != 0) {                                                  \
            st = st_fail_mpi(mpi_rc_, __FILE__, __LINE__, #call);            \
            goto out;                                                        \
        }                                                                    \
    } while (0)

#define CHECK_H5(call)                                                       \
    do {                                                                     \
        if ((call) < 0) FAIL(ST_EHDF5, "HDF5 call failed: %s", #call);       \
    } while (0)

#endif
