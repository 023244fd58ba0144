/* agree.h -- every rank of a communicator ends a step with the same status
 * and the same message.
 *
 * Library functions are collective: when one rank fails (a file it cannot
 * read, memory it cannot get) the others must not run into the next
 * collective and hang, and the CLI of every rank must print the same words.
 * These two calls are the one implementation of that idiom; use them instead
 * of hand-written all-reduces and broadcasts of a status.
 *
 *   st_agree       every rank did some work: if any rank failed, every rank
 *                  returns the status of the *lowest-numbered* failing rank
 *                  and records its message (and file:line, st_last_error_where).
 *                  The lowest rank, not the "worst" status, because status
 *                  codes have no order of severity, and a rank order is
 *                  deterministic whatever the timing.
 *   st_agree_root  rank 0 did the work and the others waited: rank 0's
 *                  status and message become every rank's (the other ranks'
 *                  `local` is ignored).
 *
 *     st = do_my_part(...);
 *     CHECK_AGREE(st, comm);      -- or: st = st_agree(st, comm);
 *
 * Both are collective over comm and cost one small all-reduce / broadcast
 * when everything went well.  An MPI failure inside them returns ST_EMPI.
 * The message travels whole (up to error.h's message size).
 */
#ifndef STRATA_AGREE_H
#define STRATA_AGREE_H

#include <mpi.h>

#include "strata/error.h"

st_status st_agree(st_status local, MPI_Comm comm);
st_status st_agree_root(st_status local, MPI_Comm comm);

/* CHECK for a collective step: agree on `expr`, jump to out: on failure. */
#define CHECK_AGREE(expr, comm)                                              \
    do {                                                                     \
        st = st_agree((expr), (comm));                                       \
        if (st != ST_OK) goto out;                                           \
    } while (0)

#endif
