/* params.h -- parameter arenas driven by ONE descriptor table.
 *
 * An arena holds every tensor of one unit (a block, the head, the trainable
 * embedding table, the LoRA adapters of one block) in a single contiguous
 * float buffer `w`.  The descriptor table (name, shape, offset, init rule,
 * weight decay) is the only list of tensors: init, zero-grad, all-reduce,
 * AdamW, checkpoint I/O and printing all iterate it.  Gradients `g` and the
 * AdamW moments `m`, `v` use the same layout (same offsets), so tensor i of
 * the gradient is at a->g + a->desc[i].offset.
 *
 * Ownership: the arena owns `w`.  `g`, `m`, `v` are VIEWS into buffers owned
 * by the model (model_train_setup() lays the gradients of all trainable
 * arenas out back to back: each arena's gradient is one contiguous slice to
 * all-reduce, the clip one pass); they are NULL while
 * the arena is not being trained.  With a sharded optimizer m, v are the
 * rank's slice only (see `sharded` below).  Tensor order and names follow
 * docs/MODEL.md, "Parameters"; the order is the arena order.
 */
#ifndef STRATA_PARAMS_H
#define STRATA_PARAMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "strata/error.h"
#include "strata/rng.h"

#define PARAM_NAME_MAX 48
#define PARAM_MAX_TENSORS 16

typedef enum param_init {
    PINIT_ONES = 0,   /* norm gains */
    PINIT_ZEROS = 1,  /* LoRA B */
    PINIT_NORMAL = 2, /* normal(0, std) */
} param_init;

/* One tensor of an arena. */
typedef struct param_desc {
    char name[PARAM_NAME_MAX]; /* e.g. "attn_qkv_w", "mlp_in_w.lora_A" */
    int ndim;                  /* 1 or 2 */
    int shape[2];              /* [out, in] for matrices (row-major), [n] for vectors */
    size_t offset;             /* in floats from the start of the arena */
    size_t numel;              /* shape[0] * (ndim == 2 ? shape[1] : 1) */
    param_init init;
    double std;                /* PINIT_NORMAL only */
    bool decay;                /* AdamW weight decay applies */
} param_desc;

typedef enum arena_kind {
    ARENA_BLOCK = 0,
    ARENA_HEAD = 1,
    ARENA_EMBED = 2,
    ARENA_LORA = 3,
} arena_kind;

typedef struct param_arena {
    arena_kind kind;
    int n;                               /* number of tensors */
    param_desc desc[PARAM_MAX_TENSORS];  /* in arena order */
    size_t numel;                        /* total floats */
    float *w;                            /* [numel] values (owned, 64-byte aligned) */
    float *g;                            /* [numel] gradients (view) or NULL */
    float *m;                            /* [numel] AdamW first moment (view) or NULL */
    float *v;                            /* [numel] AdamW second moment (view) or NULL */
    bool trainable;                      /* compute gradients / update in AdamW */
    /* Sharded optimizer (train.zero): this rank updates only the elements
     * own_first .. own_first + own_count - 1 of the arena, and m, v hold just
     * those ([own_count]; m[i] belongs to element own_first + i).  When
     * `sharded` is false the rank owns every element and m, v are [numel]. */
    bool sharded;
    size_t own_first, own_count;
} param_arena;

/* The elements of `a` this rank updates: [*first, *first + *count). */
void param_owned(const param_arena *a, size_t *first, size_t *count);

/* Tensor indices of the fixed tables (docs/MODEL.md order). */
enum { BLK_LN1_G = 0, BLK_ATTN_QKV_W, BLK_ATTN_OUT_W, BLK_LN2_G, BLK_MLP_IN_W, BLK_MLP_OUT_W,
       BLK_NTENSORS };
enum { HEAD_NORM_G = 0, HEAD_OUT_W, HEAD_NTENSORS };
enum { EMB_TOK = 0, EMB_NTENSORS };
/* LoRA: matrix j (LORA_QKV..LORA_MLP_OUT) has A at 2j, B at 2j+1. */
enum { LORA_QKV = 0, LORA_OUT, LORA_MLP_IN, LORA_MLP_OUT, LORA_NMATS };

/* Build the descriptor tables and allocate `w` (zeroed; call param_init_values).
 * D model width, F MLP width, L total blocks (for the 1/sqrt(2L) scaling),
 * V vocabulary, r LoRA rank. */
st_status param_arena_block(param_arena *a, int D, int F, int L, double init_std);
st_status param_arena_head(param_arena *a, int D, int V, double init_std);
st_status param_arena_embed(param_arena *a, int V, int D);
st_status param_arena_lora(param_arena *a, int D, int F, int r);
/* Generic: build from a caller's table (offsets/numel are computed). */
st_status param_arena_from_table(param_arena *a, arena_kind kind, const param_desc *table, int n);
/* Free `w`; the views are dropped. Safe on a zeroed struct. */
void param_arena_free(param_arena *a);
/* Deep copy of the values and table (views not copied). */
st_status param_arena_clone(param_arena *dst, const param_arena *src);

/* Fill `w` following each tensor's init rule, tensors in arena order,
 * elements in row-major order, one rng_normal() per normal element. */
void param_init_values(param_arena *a, rng_t *rng);
/* Zero `g` (no-op when NULL). */
void param_zero_grad(param_arena *a);
/* Index of the tensor called `name`, or -1. */
int param_find(const param_arena *a, const char *name);
/* Pointer to tensor i in w (or g/m/v via param_ptr_in). */
float *param_ptr(const param_arena *a, int i);
float *param_ptr_in(const param_arena *a, const float *base, int i);
/* Zeroed float buffer aligned to 64 bytes (sgemm and vector loops start on
 * cache lines); release with free().  NULL when out of memory. */
float *param_falloc(size_t n);
/* Human-readable name of an arena kind: "block", "head", "embed", "lora". */
const char *param_arena_kind_name(arena_kind k);
/* One line per tensor: name, shape, numel, init, decay, rms of w (and g). */
void param_arena_print(const param_arena *a, const char *title, FILE *f);

#endif
