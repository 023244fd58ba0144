/* model.h -- the strata transformer: blocks + head over a (frozen) embedding.
 *
 * ENGINE DESIGN NOTES
 * - Math, names, shapes, layouts and the optimiser: docs/MODEL.md, exactly.
 *   Weights are row-major [out, in]; y = x W^T.  Activations are row-major
 *   [N, width] with N = B*T rows (row n = b*T + t).
 * - Parameters live in arenas (params.h): one per block, one for the head, one
 *   for a trainable embedding table, one per block's LoRA adapters.  Each is a
 *   single float buffer addressed by one descriptor table.
 * - Training state: model_train_setup() lays out the gradients of ALL
 *   trainable arenas back to back in one buffer `grad` [n_train] (and the AdamW
 *   moments in `adam_m`, `adam_v` with the same layout, or only the rank's
 *   slice of each arena with model_train_setup_shard()), in the fixed order
 *   embed, block 0..L-1, lora 0..L-1, head (each only if trainable).  The
 *   gradient reduction covers (grad, n_train) arena by arena (the growth
 *   engine starts each from model_backward_hooked()); the grad-norm clip
 *   is one pass over it.  Arena g/m/v pointers are views into these buffers.
 * - Performance: every projection is one cblas_sgemm over all B*T rows;
 *   attention runs per (batch, head) with sgemm for Q K^T and P V reading Q, K,
 *   V in place from the [N, 3D] qkv buffer (leading dimension 3D), skipping
 *   the key blocks above the diagonal; the causal softmax is a tight loop.
 *   exp and the normal CDF (GELU) are inline vectorisable approximations
 *   (src/nn/fastmath.h, error ~1e-7), and the elementwise kernels get
 *   AVX-512 and AVX2+FMA clones picked at load time; in training the
 *   cross-entropy and its gradient are one pass over the [N, V] logits with
 *   one exp per logit.  No OpenMP; one rank per core with OPENBLAS_NUM_THREADS=1 is the
 *   intended configuration.  Measured (d=256, 4 heads, F=1024, T=256, B=8,
 *   V=5000, one trainable block + head, CPU time): a training step runs at
 *   ~80 % of the single-core sgemm peak on AMD Zen 5 with OpenBLAS's
 *   SkylakeX kernels (bench/RESULTS.md).
 * - Loss scale: the gradient is that of the MEAN loss over the local B*T
 *   positions; with equal local batches, averaging `grad` over ranks gives
 *   the gradient of the global mean.
 * - Memory: a workspace (model_ws) is allocated once per (B, T, n_keep).  It
 *   stores the activations of at most n_keep blocks: the blocks that need a
 *   backward pass.  Frozen blocks below the lowest block that needs a backward
 *   run forward through two ping-pong buffers and keep nothing.
 * - Which blocks need a backward: block l needs one iff it is trainable or has
 *   trainable LoRA adapters, or a block below it does (gradient must flow
 *   through it), or the embedding is trainable and the forward started from
 *   tokens.  The lowest such block is the "floor"; no backward runs below it,
 *   and the input gradient of the floor block is only computed when the
 *   trainable embedding needs it.
 * - Start anywhere: the forward can start at block k from tokens (k = 0) or
 *   from a given x_{k-1} [B,T,D] (the growth engine's activation cache, or the
 *   logit lens walking one block at a time).  The head can be applied to any
 *   block output (per-depth evaluation, logit lens).
 * - Backward functions ADD into gradients; zero them with model_zero_grad().
 * - Decoding: a KV cache per block gives incremental decoding (batch 1) that
 *   equals the full forward's last-position logits (tests/nn/test_model.c).
 *
 * Ownership: model owns its arenas and training buffers; the frozen substrate
 * table passed to model_init() is borrowed and must outlive the model.  The
 * workspace owns its buffers; pointers returned by model_ws_output() and
 * ws->head.logits are valid until the next forward on that workspace.
 *
 * Typical stage (growth, block k trainable, blocks below frozen, cache on):
 *     m.blocks[k-1].trainable = false; model_add_block(&m, rng);
 *     model_train_setup(&m); model_ws_init(&ws, &m.dims, B, T, 1, 0);
 *     per step: model_zero_grad(&m);
 *               model_forward(&m, &ws, &batch, x_cached, k, k + 1, B, T, true, &loss);
 *               model_backward(&m, &ws); allreduce-average(m.grad, m.n_train);
 *               (or model_backward_hooked() to start each arena's all-reduce early)
 *               model_optim_step(&m, &cfg, lr_schedule(s, S, w, peak, min), s + 1);
 */
#ifndef STRATA_MODEL_H
#define STRATA_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "strata/adamw.h"
#include "strata/block.h"
#include "strata/error.h"
#include "strata/head.h"
#include "strata/lora.h"
#include "strata/params.h"
#include "strata/rng.h"

/* Most blocks a model may have, and so most arenas a list of them holds
 * (embed + blocks + their LoRA adapters + head): size arena lists with it. */
#define MODEL_MAX_LAYERS 4096
#define MODEL_ARENAS(L) (2 * (L) + 2)
#define MODEL_MAX_ARENAS MODEL_ARENAS(MODEL_MAX_LAYERS)

/* Sizes and constants of a model (docs/MODEL.md notation). */
typedef struct model_dims {
    int D;           /* model width (= substrate dimension) */
    int H;           /* heads; D % H == 0 and (D / H) even */
    int F;           /* MLP width */
    int V;           /* vocabulary */
    int L;           /* blocks the model grows to (init scaling, capacity; <= MODEL_MAX_LAYERS) */
    float eps;       /* RMSNorm epsilon (1e-5) */
    double theta;    /* RoPE base (10000) */
    double init_std; /* std of weight-matrix init (0.02) */
} model_dims;

typedef struct model {
    model_dims dims;
    int n_blocks;            /* blocks built so far (<= dims.L) */
    const float *substrate;  /* [V, D] frozen embeddings (borrowed) or NULL */
    param_arena embed;       /* trainable table tok_emb [V, D] (when substrate == NULL) */
    param_arena *blocks;     /* [L] block arenas; 0..n_blocks-1 are built */
    lora_t *lora;            /* [L] adapters; lora[l].r == 0 means none */
    param_arena head;        /* norm_g [D], out_w [V, D] */
    /* training state (model_train_setup) */
    size_t n_train;          /* floats in grad */
    size_t n_moments;        /* floats in adam_m/adam_v: n_train, or the rank's shard */
    float *grad;             /* [n_train] all trainable gradients, contiguous */
    float *adam_m;           /* [n_moments] AdamW first moments */
    float *adam_v;           /* [n_moments] AdamW second moments */
} model;

/* Defaults of docs/MODEL.md for eps, theta, init_std. */
void model_dims_default(model_dims *d, int D, int H, int F, int V, int L);
/* Check divisibility and ranges; ST_EUSAGE naming the bad value. */
st_status model_dims_check(const model_dims *d);

/* Create a model with no blocks and an initialised head.  substrate [V, D]
 * is the frozen embedding table (borrowed); pass NULL for a trainable table
 * (tok_emb, initialised from rng, trainable by default).  The head is
 * trainable by default; blocks are trainable when added.  Change any arena's
 * .trainable flag, then call model_train_setup().  rng draws: the table (if
 * any) first, then the head; each block draws when it is added. */
st_status model_init(model *m, const model_dims *d, const float *substrate, rng_t *rng);
void model_free(model *m);
/* Append block n_blocks, initialised from rng (docs/MODEL.md rules).  The new
 * block is trainable; the caller freezes older blocks (blocks[l].trainable). */
st_status model_add_block(model *m, rng_t *rng);
/* Embedding table in use: substrate or embed.w.  [V, D] */
const float *model_embed_table(const model *m);

/* Every arena's table (param_arena_print) under the titles embed, block_NNN,
 * block_NNN.lora, head; then the parameter totals. */
void model_print(const model *m, FILE *f);
/* Floats in all built arenas (trainable or not). */
size_t model_param_count(const model *m);

/* Add LoRA adapters (rank r, scale alpha / r) to block l (trainable).  */
st_status model_lora_add(model *m, int l, int r, float alpha, rng_t *rng);
/* Merge block l's adapters into its weights (W += s B A) and drop them. */
st_status model_lora_merge(model *m, int l);

/* Lay out grad/adam_m/adam_v for every arena whose .trainable is set (see the
 * notes above), zero them and point the arenas' g/m/v views into them.  Call
 * again after changing any .trainable flag or adding/merging LoRA (moments
 * restart at zero, as at the start of a stage). */
st_status model_train_setup(model *m);
/* The same with a sharded optimizer: trainable arena i (model_trainable_arenas
 * order) owns elements first[i] .. first[i] + count[i] - 1, and adam_m/adam_v
 * hold just those, arena after arena (params.h `sharded`).  The caller
 * chooses the shares (the growth engine: comm_share per arena). */
st_status model_train_setup_shard(model *m, const size_t *first, const size_t *count);
/* Drop the training buffers; arenas' views become NULL. */
void model_train_release(model *m);
void model_zero_grad(model *m);
/* Trainable arenas in the `grad` layout order; returns the count (<= cap;
 * MODEL_ARENAS(dims.L) always suffices). */
int model_trainable_arenas(model *m, param_arena **out, int cap);
/* AdamW step over every trainable arena (clip at cfg->grad_clip, then update
 * with learning rate lr at step t >= 1); returns the pre-clip global norm.
 * Call after the gradient all-reduce so every rank updates identically. */
double model_optim_step(model *m, const adamw_cfg *cfg, double lr, long t);
/* Lowest block in [start, depth) needing a backward (see notes), or depth if
 * none.  With start == 0 and a trainable table the floor is 0. */
int model_backward_floor(const model *m, int start, int depth);

/* One batch of tokens: row b's inputs are tokens[b*ld + t], t < T; targets
 * the same with `targets` (NULL when there is no loss).  For chunk rows of
 * T+1 ids: tokens = chunk, targets = chunk + 1, ld = T + 1. */
typedef struct model_batch {
    const int32_t *tokens;  /* [B, ld] (or NULL when starting from x_in) */
    const int32_t *targets; /* [B, ld] or NULL */
    int ld;                 /* row stride of tokens/targets, >= T */
} model_batch;

/* Workspace: every activation buffer, allocated once. */
typedef struct model_ws {
    int cap_B, cap_T;        /* capacity */
    int n_keep;              /* blocks whose activations can be stored */
    int r_max;               /* largest LoRA rank supported */
    int D, H, F, V;
    int B, T;                /* shape of the last forward */
    block_ctx ctx;           /* rope tables [cap_T, hd/2] and dims */
    block_acts *acts;        /* [n_keep] stored activations */
    float **xs;              /* [n_keep + 1] [N, D]: input of kept block i; xs[i+1] its output */
    float *tmp[2];           /* [N, D] ping-pong for blocks that keep nothing */
    block_acts scratch;      /* activations of a block that keeps nothing */
    block_scratch bscr;      /* backward scratch */
    head_acts head;          /* head activations, logits [N, V] */
    float *dx[2];            /* [N, D] gradient ping-pong */
    const float *out;        /* [N, D] output of the last forward's last block */
    /* recorded by the last forward for model_backward */
    bool train;              /* forward kept activations */
    bool have_loss;          /* head ran with targets */
    int start, depth, floor;
    const int32_t *tokens;   /* borrowed from the batch (must stay valid until backward) */
    const int32_t *targets;  /* borrowed from the batch of the head forward */
    const float *head_x;     /* [N, D] input of the last head forward */
    int ld;
    void *mem;               /* bookkeeping of the allocations */
} model_ws;

/* Allocate a workspace for batches of up to B x T (any B' * T' with B' <= B,
 * T' <= T works), storing activations of up to n_keep blocks, with LoRA up to
 * rank r_max (0: none). */
st_status model_ws_init(model_ws *ws, const model_dims *d, int B, int T, int n_keep, int r_max);
void model_ws_free(model_ws *ws);

/* Forward blocks [start, depth) on a B x T batch.  start == 0: embed
 * batch->tokens; start > 0: x_in [B*T, D] is the output of block start-1
 * (x_in may be model_ws_output(ws) of a previous call).  train: keep the
 * activations of blocks >= model_backward_floor() for model_backward (needs
 * n_keep >= depth - floor, else ST_EUSAGE).  The result is model_ws_output(). */
st_status model_forward_blocks(model *m, model_ws *ws, const model_batch *batch, const float *x_in,
                               int start, int depth, int B, int T, bool train);
/* [B*T, D] output of the last model_forward_blocks. */
const float *model_ws_output(const model_ws *ws);
/* Head on x [B*T, D]: logits into ws->head.logits [B*T, V].  With targets
 * (batch->targets != NULL) *loss = mean nats/token (may be NULL), and
 * *correct = number of positions whose argmax equals the target (may be NULL).
 * After a forward_blocks with train = true, the loss and its gradient are
 * computed in one pass and ws->head.logits then holds dlogits
 * (softmax - onehot) / (B*T), not logits; evaluate with train = false. */
st_status model_forward_head(model *m, model_ws *ws, const float *x, const model_batch *batch,
                             double *loss, long *correct);
/* model_forward_blocks + model_forward_head on its output. */
st_status model_forward(model *m, model_ws *ws, const model_batch *batch, const float *x_in,
                        int start, int depth, int B, int T, bool train, double *loss);
/* Backward of the last model_forward(train = true) with targets: ADDS the
 * gradient of the mean loss into every trainable arena's g (head, blocks
 * >= floor, their LoRA adapters, the embedding table when start == 0). */
st_status model_backward(model *m, model_ws *ws);
/* Called by model_backward_hooked() once for each trainable arena the
 * backward touches, as soon as that arena's gradient is final (no later
 * part of this backward writes it): the head first, then for l = depth-1
 * down to the floor block l's LoRA adapters and block l, then the embedding
 * table.  The growth engine starts the arena's gradient all-reduce there,
 * overlapping it with the rest of the backward; nn knows nothing of MPI.
 * A non-OK status stops the backward and is returned. */
typedef st_status (*model_grad_ready_fn)(void *ctx, param_arena *a);
/* model_backward, calling ready(ctx, arena) as above (ready may be NULL). */
st_status model_backward_hooked(model *m, model_ws *ws, model_grad_ready_fn ready, void *ctx);

/* ---- incremental decoding (batch 1) ---------------------------------- */
typedef struct kv_cache {
    int depth;     /* blocks used */
    int cap_T;     /* positions */
    int pos;       /* tokens consumed so far */
    int D, H, F, V;
    float *k, *v;  /* [depth, cap_T, D] roped keys, values */
    float *x, *a, *qkv, *o, *h, *u, *att; /* scratch: [D] [D] [3D] [D] [F] [r_max] [cap_T] */
    float *logits; /* [V] */
    int r_max;
    float *rope_cos, *rope_sin; /* [cap_T, hd/2] */
} kv_cache;

st_status kv_cache_init(kv_cache *c, const model *m, int depth, int cap_T);
void kv_cache_free(kv_cache *c);
void kv_cache_reset(kv_cache *c);
/* Feed one token at position c->pos through blocks [0, depth) and the head;
 * logits [V] of the next token in c->logits.  ST_EUSAGE when the cache is full. */
st_status model_decode_step(model *m, kv_cache *c, int32_t token);

#endif
