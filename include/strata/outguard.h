/* outguard.h -- nothing is overwritten by accident.
 *
 * Every command that writes an output file asks out_guard first, before it
 * does any work:
 *     CHECK(out_guard(output, cli_flag(a, "force"), inputs, n_inputs));
 * It refuses, with ST_EUSAGE (exit code 2) and a message naming the file:
 *   - an existing output without force ("exists; pass --force to replace it");
 *   - an output that is one of the command's inputs -- the same file (st_dev
 *     and st_ino), also when reached through another path, a symbolic link or
 *     a hard link, or a file inside an input directory -- even with force:
 *     replacing it would destroy the data the output is made from;
 *   - an existing output that is not a regular file (a directory, a FIFO, a
 *     device), even with force.
 * A missing output is fine.  Inputs that do not exist (or "-", standard
 * input) are skipped: the command reports them itself.
 *
 * Pure: no MPI, no side effects, only stat(2).  Call it on every rank before
 * the first collective (every rank sees the same files on a shared file
 * system and returns the same status), or on rank 0 and share the status.
 * It does not make the write atomic: the writers do that (temp + rename).
 */
#ifndef STRATA_OUTGUARD_H
#define STRATA_OUTGUARD_H

#include <stdbool.h>

#include "strata/error.h"

st_status out_guard(const char *output, bool force, const char *const *inputs, int n_inputs);

#endif
