/* publish.h -- publish a file atomically: readers see the old file or the
 * complete new one, never a half-written one, also after a crash.
 *
 * An output is written under a temporary name in its final directory
 * ("<path>.tmp") and renamed into place only when complete:
 *     publish_file p;
 *     CHECK(publish_begin(&p, "run/step-00000100.h5", comm));
 *     ... h5_create(&f, p.tmp, comm, ...); write; h5_close(&f) ...
 *     CHECK(publish_commit(&p, comm));      -- or publish_abort(&p, comm)
 * publish_commit fsyncs the temp file, renames it and fsyncs the directory.
 * On failure the temp file is removed and the previous file at `path` is
 * left untouched; the message names the path and strerror.  Small outputs
 * written by rank 0 alone (CSV, text markers) take one call,
 * publish_write / publish_write_text.
 *
 * Ranks.  Every function is collective over `comm`: rank 0 does the
 * file-system work and broadcasts the outcome (st_agree_root), so all ranks
 * return the same status and message.  The writes in between are the
 * caller's, on p.tmp (collective HDF5 writes, or rank 0 alone).  Use
 * MPI_COMM_SELF for a file that one process writes on its own.
 *
 * Statuses.  ST_EIO for every file-system failure.
 *
 * Fault injection (tests).  STRATA_FAULT is a comma-separated list of
 * NAME or NAME@N (only the N-th occurrence in this process, 1-based,
 * counted since STRATA_FAULT last changed):
 *     ckpt_commit    publish_commit fails after the data was written, as a
 *                    crash would: the temp file stays, nothing is renamed
 *     ckpt_enospc    publish_commit fails as on a full disk (ENOSPC while
 *                    syncing): the temp file is removed
 *     latest_commit  the same as ckpt_commit for a file named LATEST
 *     ckpt_optim     (a writer's own point, publish_fault) a growth
 *                    checkpoint's /optim fails to write on rank 0, as on a
 *                    full disk, while the other ranks still gather moments
 * ckpt_* faults count commits of every file except LATEST.  (The names are
 * older than this module: checkpoints were its first users, and the run
 * directory's LATEST marker has a fault of its own so that a test can
 * "crash" between a checkpoint and its marker.)
 *
 * Ownership.  publish_file owns its two path strings until commit/abort.
 */
#ifndef STRATA_PUBLISH_H
#define STRATA_PUBLISH_H

#include <mpi.h>
#include <stdbool.h>
#include <stddef.h>

#include "strata/error.h"

#define PUBLISH_FAULT_ENV "STRATA_FAULT"

typedef struct publish_file {
    char *path; /* final name */
    char *tmp;  /* "<path>.tmp": write here */
} publish_file;

/* Prepare to write `path`: checks that its directory is writable (creating
 * the empty temp file, replacing a stale one).  An unwritable or missing
 * directory fails with ST_EIO naming the directory. */
st_status publish_begin(publish_file *p, const char *path, MPI_Comm comm);

/* Publish the temp file as `path` (fsync, rename, fsync directory).  Call
 * after every rank has closed the temp file.  Releases p in any case. */
st_status publish_commit(publish_file *p, MPI_Comm comm);

/* Remove the temp file and release p (safe after a failed begin, twice, or
 * on a zeroed publish_file).  Keeps the current error message. */
void publish_abort(publish_file *p, MPI_Comm comm);

/* Atomically replace `path` with rank 0's `n` bytes at `data` (the other
 * ranks' data is not used and may be NULL). */
st_status publish_write(const char *path, const void *data, size_t n, MPI_Comm comm);
/* Does STRATA_FAULT name `name` for this occurrence (counted as above)?  For
 * a writer's own fault points (tests); false when STRATA_FAULT is unset. */
bool publish_fault(const char *name);
/* The same for a NUL-terminated text. */
st_status publish_write_text(const char *path, const char *text, MPI_Comm comm);

#endif
