/* ckptdir.h -- atomic files and the mechanics of a run's checkpoint directory.
 *
 * Atomic files.  An output is written under a temporary name in its final
 * directory ("<path>.tmp") and renamed into place only when complete:
 *     atomic_file a;
 *     CHECK(atomic_begin(&a, "run/step-00000100.h5", comm));
 *     ... h5_create(&f, a.tmp, comm, ...); write; h5_close(&f) ...
 *     CHECK(atomic_commit(&a, comm));      -- or atomic_abort(&a, comm)
 * atomic_commit fsyncs the temp file, renames it and fsyncs the directory, so
 * after a crash either the old file or the complete new one is there, never a
 * half-written one.  On failure the temp file is removed and the previous
 * file at `path` is left untouched; the message names the path and strerror.
 *
 * Checkpoint directory of one run (`<run.dir>/<run.name>/`):
 *     stage-NNN.h5        end of stage NNN, kept forever
 *     step-NNNNNNNN.h5    periodic, the last K are kept (ckpt_prune)
 *     LATEST              one line: the file name of the newest complete
 *                         checkpoint; written (atomically) after the
 *                         checkpoint itself has been committed
 *     *.tmp               leftovers of interrupted writes; ignored
 * ckpt_newest_good follows LATEST; when that file is missing or fails
 * verification it warns and falls back to the newest other complete file
 * (newest by modification time).
 *
 * Ranks.  Every function here is collective over `comm`: rank 0 does the
 * file-system work and broadcasts the result, so all ranks return the same
 * status and message.  (The HDF5 writes in between are the caller's, on the
 * temp name, and are collective as h5.h describes.)
 *
 * Statuses.  atomic_* return ST_EIO for file-system failures; ckpt_* return
 * ST_ECKPT (exit code 4) for missing, corrupt or unreadable checkpoints.
 *
 * Fault injection (tests).  STRATA_FAULT is a comma-separated list of
 * NAME or NAME@N (only the N-th occurrence in this process, 1-based,
 * counted since STRATA_FAULT last changed):
 *     ckpt_commit    atomic_commit fails after the data was written, as a
 *                    crash would: the temp file stays, nothing is renamed
 *     ckpt_enospc    atomic_commit fails as on a full disk (ENOSPC while
 *                    syncing): the temp file is removed
 *     latest_commit  the same as ckpt_commit for the LATEST marker
 * ckpt_* faults count commits of every file except LATEST.
 *
 * Ownership.  atomic_file owns its two path strings until commit/abort.
 * Strings and lists returned through pointers are malloc'd; free them with
 * free() / ckpt_list_free().
 */
#ifndef STRATA_CKPTDIR_H
#define STRATA_CKPTDIR_H

#include <mpi.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "strata/error.h"

#define CKPT_FAULT_ENV "STRATA_FAULT"
#define CKPT_LATEST "LATEST"
#define CKPT_NAME_MAX 64

/* ---- atomic files ------------------------------------------------------ */

typedef struct atomic_file {
    char *path; /* final name */
    char *tmp;  /* "<path>.tmp": write here */
} atomic_file;

/* Prepare to write `path`: checks that its directory is writable (creating
 * the empty temp file, replacing a stale one).  An unwritable or missing
 * directory fails with ST_EIO naming the directory. */
st_status atomic_begin(atomic_file *a, const char *path, MPI_Comm comm);

/* Publish the temp file as `path` (fsync, rename, fsync directory).  Call
 * after every rank has closed the temp file.  Releases a in any case. */
st_status atomic_commit(atomic_file *a, MPI_Comm comm);

/* Remove the temp file and release a (safe after a failed begin, twice, or
 * on a zeroed atomic_file).  Keeps the current error message. */
void atomic_abort(atomic_file *a, MPI_Comm comm);

/* Atomically replace `path` with `text` (rank 0's). */
st_status atomic_write_text(const char *path, const char *text, MPI_Comm comm);

/* ---- checkpoint directory ---------------------------------------------- */

/* Create dir (and parents) when missing; ST_EIO naming it when it cannot be
 * created or written. */
st_status ckpt_dir_make(const char *dir, MPI_Comm comm);

/* File names: "stage-003.h5", "step-00001200.h5" (buf: CKPT_NAME_MAX). */
void ckpt_name_stage(char *buf, int stage);
void ckpt_name_step(char *buf, int64_t step);

/* Write LATEST = name (after the checkpoint itself was committed). */
st_status ckpt_latest_write(const char *dir, const char *name, MPI_Comm comm);
/* *name = the file LATEST names (malloc'd), NULL when there is no LATEST.
 * A LATEST that does not hold a checkpoint file name -> ST_ECKPT. */
st_status ckpt_latest_read(const char *dir, char **name, MPI_Comm comm);

typedef struct ckpt_entry {
    char name[CKPT_NAME_MAX]; /* "stage-003.h5" */
    bool is_stage;            /* stage-NNN (kept) or step-N (periodic) */
    int64_t number;           /* NNN */
    int64_t mtime_ns;         /* modification time, ns since the epoch */
} ckpt_entry;

typedef struct ckpt_list {
    ckpt_entry *items; /* [n], oldest first (mtime, then name) */
    size_t n;
} ckpt_list;

/* The complete checkpoint files in dir (names matching the patterns above;
 * temp files and other names are ignored).  A missing dir is an empty list. */
st_status ckpt_list_dir(const char *dir, ckpt_list *out, MPI_Comm comm);
void ckpt_list_free(ckpt_list *l);

/* Delete periodic step files except the `keep` highest-numbered ones and the
 * one LATEST names.  Stage files are never deleted. *removed may be NULL. */
st_status ckpt_prune(const char *dir, int keep, size_t *removed, MPI_Comm comm);

/* Open `path` as a strata checkpoint and read every dataset (Fletcher32
 * checksums are verified).  Rank 0 reads; ST_ECKPT naming the path. */
st_status ckpt_verify(const char *path, MPI_Comm comm);

/* *path = "<dir>/<name>" of the newest checkpoint that verifies (malloc'd),
 * following LATEST first and falling back with a warning.  NULL when dir
 * holds no checkpoint at all; ST_ECKPT when there are some but none is good. */
st_status ckpt_newest_good(const char *dir, char **path, MPI_Comm comm);
/* The same, passing over the files named in skip[n_skip] (names inside dir,
 * e.g. ones that verified but could not be loaded). */
st_status ckpt_newest_good_except(const char *dir, const char *const *skip, int n_skip, char **path,
                                  MPI_Comm comm);

#endif
