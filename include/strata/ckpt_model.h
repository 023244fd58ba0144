/* ckpt_model.h -- models read back from checkpoint and ensemble files, for
 * evaluation, generation and merging (strata eval / generate / merge).
 *
 * A ckpt_model holds one or more member models that share one tokenizer and
 * one substrate table.  A checkpoint file gives one member (its /model); an
 * ensemble file (docs/FORMAT.md "Ensemble files") gives every member it
 * stores, with how their predictions combine (`combine`: mean of logits,
 * mean of probabilities or the context posterior; docs/MODEL.md
 * "Ensembles") and each member's prior weight.  With one member every mode
 * is that member's prediction bit for bit.  Members share the tokenizer and
 * the substrate; they may differ in depth and width (heads, MLP).
 *
 * Where the tensors sit in the file is layout.h; evaluating members is
 * eval.h, sampling from them generate.h.
 *
 * Distribution: every rank of the communicator reads the whole file and
 * holds all weights (they are small next to the data); the loader returns the
 * same status on every rank.
 *
 * Ownership: ckpt_model owns its members, tokenizer and substrate table;
 * ckpt_model_free releases everything (safe on a zeroed struct).
 */
#ifndef STRATA_CKPT_MODEL_H
#define STRATA_CKPT_MODEL_H

#include <mpi.h>
#include <stdbool.h>
#include <stdint.h>

#include "strata/config.h"
#include "strata/error.h"
#include "strata/model.h"

struct tokenizer;

/* ---- how members combine ------------------------------------------------ */

/* The combination modes (exact formulas: eval.h, docs/MODEL.md "Ensembles").
 * Stored in an ensemble file as the root attribute `combine`. */
typedef enum ckpt_combine { CKPT_MEAN_LOGITS = 0, CKPT_MEAN_PROBS, CKPT_POSTERIOR } ckpt_combine;

/* "mean-logits", "mean-probs", "posterior" (the CLI and file spelling). */
const char *ckpt_combine_name(ckpt_combine how);
/* Parse one of those names (also "mean_logits" etc., as files before the
 * modes existed wrote "mean_logits"); false when s is none of them. */
bool ckpt_combine_parse(const char *s, ckpt_combine *how);

/* ---- loaded models ----------------------------------------------------- */

typedef struct ckpt_member {
    st_config cfg;        /* the settings the member was trained with */
    model m;              /* blocks 0..n_blocks-1, head, trainable table */
    char source[1024];    /* file it came from (for messages and the ensemble's list) */
    double prior;         /* prior weight (> 0 finite; 1 for a checkpoint; normalised by eval) */
} ckpt_member;

typedef struct ckpt_model {
    char path[1024];
    bool ensemble;        /* read from an ensemble file */
    int n;                /* members */
    ckpt_member *mem;     /* [n] */
    struct tokenizer *tok;
    float *substrate;     /* [V, D] frozen table, or NULL (trainable kind: each member has its own) */
    int V, D;
    char sub_kind[32];
    char sub_source[1024];
    int64_t sub_checksum; /* ckpt_substrate_checksum of the table (0: trainable kind) */
    int depth;            /* blocks of the deepest member: the largest usable depth */
    ckpt_combine combine; /* how the members combine (a checkpoint: mean-logits, the same for one member) */
} ckpt_model;

/* Read a checkpoint (kind "checkpoint") or ensemble (kind "ensemble") file
 * on every rank of comm.  A missing or unreadable file, another kind of file,
 * a damaged tensor, an unknown `combine` or a prior that is not a finite
 * number > 0 -> ST_EDATA naming the path (and the object).  LoRA adapters of
 * a mid-stage checkpoint are merged into their blocks. */
st_status ckpt_model_load(ckpt_model *cm, const char *path, MPI_Comm comm);
void ckpt_model_free(ckpt_model *cm);

/* The depth to use: *depth 0 -> cm->depth (every block of the deepest
 * member); beyond cm->depth -> ST_EUSAGE naming the file and the largest
 * depth.  At depth k member j uses min(k, its n_blocks) blocks (eval.h). */
st_status ckpt_model_depth(const ckpt_model *cm, long *depth);

/* Append the members of src to dst (moved, with their priors; src is left
 * empty).  Refuses (ST_EDATA, naming both files and what differs) when the
 * tokenizers or the substrates differ.  dst may be zeroed: it then takes
 * src's tokenizer, substrate and combine mode. */
st_status ckpt_model_join(ckpt_model *dst, ckpt_model *src);

/* Do tokenizers a and b (of the files a_path and b_path) have the same ids
 * rendering the same text?  When not, *why receives a message naming both
 * files, both content hashes (tok_hash) and the first difference. */
bool ckpt_same_tokenizer(const struct tokenizer *a, const char *a_path, const struct tokenizer *b,
                         const char *b_path, char *why, size_t len);

/* Write cm as an ensemble file at path, with cm->combine and the members'
 * priors (rank 0 writes a temp file, then an atomic rename; every rank
 * learns the outcome). */
st_status ckpt_model_save_ensemble(const ckpt_model *cm, const char *path, MPI_Comm comm);

#endif
