/* runlock.h -- one job per run directory.
 *
 * Two jobs growing the same run would interleave checkpoints, prune each
 * other's step files and move LATEST under each other's feet.  A job that
 * uses a run directory therefore holds `<dir>/LOCK`, a small text file
 * naming the holder:
 *     host=node017
 *     pid=41234
 *     job=812345           (SLURM_JOB_ID or PBS_JOBID; "-" outside a scheduler)
 *     since=2026-12-03T13:40:00Z
 *     boot=<the kernel's boot id>
 *     token=<host>:<pid>:<ns since the epoch>  (what release compares)
 *
 *     run_lock lk = RUN_LOCK_INIT;
 *     CHECK(run_lock_acquire(&lk, dir, comm));   -- after ckpt_dir_make(dir)
 *     ... the run ...
 *     run_lock_release(&lk, comm);               -- on every path out
 *
 * Acquire (rank 0 does the file work, every rank returns the same status
 * and message):
 *   - The lock is written complete under a temporary name, fsynced, and
 *     published with link(2), which fails with EEXIST when LOCK exists.
 *     link is atomic on local file systems, on NFS v3 and later and on
 *     Lustre, and a reader never sees a half-written LOCK.  (On NFS a lost
 *     reply can make a successful link report an error; the link count of
 *     the temporary file decides.)  The directory is fsynced afterwards.
 *   - LOCK held by a live job -> ST_ECKPT (exit code 4) naming the holder
 *     (host, pid, job, since) and the lock file.
 *   - LOCK from this host whose pid no longer runs (kill(pid, 0) fails with
 *     ESRCH) or from an earlier boot of this host is stale: it is taken
 *     over with a warning, l->took_over is set.  The take-over is
 *     serialised by a second file, `<dir>/LOCK.takeover`, created with
 *     O_CREAT|O_EXCL (atomic on the same file systems); its holder re-reads
 *     LOCK and replaces it with rename(2) only if it is still the stale one,
 *     so two jobs starting together cannot both win.
 *   - LOCK from another host is never taken over: strata cannot see that
 *     host's processes.  ST_ECKPT; the message says to check the job is
 *     dead (squeue / qstat) and then `rm <dir>/LOCK`.
 *   - A LOCK that cannot be read as one of ours (empty, edited) is refused
 *     the same way, naming the file.
 *   - File-system failures (missing or unwritable dir) -> ST_EIO naming dir.
 *
 * Release is not collective (it may run on error paths where the ranks no
 * longer meet): rank 0 removes LOCK if it still holds our token, other
 * ranks only free memory.  Call it on every rank after the last checkpoint
 * write.  Safe on a zeroed/RUN_LOCK_INIT lock, after a failed acquire and
 * twice.  A job killed with SIGKILL leaves LOCK behind; the next start on
 * the same host takes it over, on another host it is refused (see above).
 *
 * HDF5's own file locking (HDF5_USE_FILE_LOCKING) is unrelated: it guards
 * single files while they are open, this guards the run for the whole job.
 *
 * Ownership: run_lock owns its strings until run_lock_release.
 */
#ifndef STRATA_RUNLOCK_H
#define STRATA_RUNLOCK_H

#include <mpi.h>
#include <stdbool.h>

#include "strata/error.h"

#define RUN_LOCK_NAME "LOCK"
#define RUN_LOCK_TAKEOVER "LOCK.takeover"

typedef struct run_lock {
    char *path;     /* "<dir>/LOCK" while held (every rank), else NULL */
    char *token;    /* our token line (rank 0), else NULL */
    bool took_over; /* acquire replaced a stale lock (every rank) */
} run_lock;

#define RUN_LOCK_INIT {NULL, NULL, false}

/* Collective over comm.  Take the lock of run directory `dir` (which must
 * exist) or fail as described above; on failure l holds nothing. */
st_status run_lock_acquire(run_lock *l, const char *dir, MPI_Comm comm);

/* Not collective.  Give the lock back (rank 0 removes LOCK if it is still
 * ours) and free l's strings. */
void run_lock_release(run_lock *l, MPI_Comm comm);

#endif
