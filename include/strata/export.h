/* export.h -- a model leaves strata and comes back: the export directory
 * (docs/FORMAT.md "Export directories") written by `strata export` and read
 * by `strata import`.
 *
 *     DIR/model.safetensors  embed.weight [V, D], blocks.N.<tensor> (N = 0-based
 *                            block, names of the block descriptor table),
 *                            head.norm_g [D], head.out_w [V, D]  (F32)
 *     DIR/config.json        shapes and the model's math constants
 *     DIR/tokenizer.json     every id's kind and text, the specials, the
 *                            byte fallback, the content hash
 *
 * The directory is published atomically: written as DIR.tmp.XXXXXX, then
 * renamed (an existing DIR is replaced only with force, and only when it
 * holds nothing but these three files).  tools/strata_torch.py is the
 * reference loader.
 */
#ifndef STRATA_EXPORT_H
#define STRATA_EXPORT_H

#include <mpi.h>
#include <stdbool.h>

#include "strata/ckpt_model.h"
#include "strata/error.h"

#define EXPORT_FORMAT "strata-export"
#define EXPORT_FORMAT_VERSION 1

/* Collective: rank 0 writes member `member` (0-based) of cm with its first
 * `depth` blocks (1..cm->depth) to dir; every rank returns the outcome. */
st_status export_write(const ckpt_model *cm, int member, int depth, const char *dir, bool force, MPI_Comm comm);

/* Collective: every rank reads dir into cm (one member, depth = the blocks
 * exported; cm->path = dir).  Any defect -> ST_EDATA naming the file and the
 * key or tensor. */
st_status export_read(const char *dir, ckpt_model *cm, MPI_Comm comm);

/* Refuse (ST_EUSAGE) an existing dir unless force, and with force a dir
 * holding anything but an export's files. */
st_status export_guard(const char *dir, bool force);

#endif
