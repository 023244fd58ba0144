/* layout.h -- where a model's tensors sit in a strata file, written once for
 * every file that holds a model: growth checkpoints (grow/), ensembles and
 * the loaders of eval / generate / merge (ckpt_model.h).
 *
 * Below a root group ("model", or "member_NNN/model" in an ensemble):
 *     <root>/embed/<tensor>           trainable substrate table only
 *     <root>/block_NNN/<tensor>       block NNN (1-based depth)
 *     <root>/block_NNN/lora/<tensor>  LoRA adapters of block NNN, if any
 *     <root>/head/<tensor>
 * Tensor names and shapes come from each arena's descriptor table (params.h).
 *
 * Also here: the model shape a member's settings describe (so every reader
 * builds it the same way) and the fingerprint of a substrate table.
 */
#ifndef STRATA_LAYOUT_H
#define STRATA_LAYOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "strata/config.h"
#include "strata/error.h"
#include "strata/h5.h"
#include "strata/model.h"

/* Every arena of m in file order: embed (trainable table only), blocks,
 * LoRA adapters of blocks that have them, head.  Returns the count (<= cap;
 * MODEL_ARENAS(m->dims.L) always suffices). */
int layout_arenas(model *m, param_arena **out, int cap);
/* Group of arena a below `root`. */
void layout_arena_path(const model *m, const param_arena *a, const char *root, char *buf, size_t len);
/* Write (or read) every tensor of a from/to base (a->w, a->m or a->v) as
 * prefix/<tensor name>; reading checks every shape. */
st_status layout_arena_io(h5_file *f, const param_arena *a, const char *prefix, float *base, bool write);
/* The dimensions settings c describe for a substrate [V, D] and L blocks. */
st_status layout_dims(const st_config *c, int D, int V, int L, model_dims *d);
/* Fingerprint of a substrate table [V, D] as stored in /substrate checksum
 * (0 for NULL: the trainable kind). */
int64_t layout_substrate_checksum(const float *table, int V, int D);

#endif
