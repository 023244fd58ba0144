/* ckptdir.h -- the mechanics of a run's checkpoint directory.
 *
 * Every file here is published atomically (publish.h: temp name, fsync,
 * rename, fsync of the directory).
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
 * Statuses.  ckpt_* return ST_ECKPT (exit code 4) for missing, corrupt or
 * unreadable checkpoints, ST_EIO for a directory they cannot write.
 *
 * Fault injection (tests): STRATA_FAULT, see publish.h.
 *
 * Ownership.  Strings and lists returned through pointers are malloc'd;
 * free them with free() / ckpt_list_free().
 */
#ifndef STRATA_CKPTDIR_H
#define STRATA_CKPTDIR_H

#include <mpi.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "strata/error.h"
#include "strata/publish.h"

#define CKPT_LATEST "LATEST"
#define CKPT_NAME_MAX 64


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
