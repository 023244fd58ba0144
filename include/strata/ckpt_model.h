/* ckpt_model.h -- models read back from checkpoint and ensemble files, for
 * evaluation, generation and merging (strata eval / generate / merge).
 *
 * A ckpt_model holds one or more member models that share one tokenizer and
 * one substrate table.  A checkpoint file gives one member (its /model); an
 * ensemble file (docs/FORMAT.md "Ensemble files") gives every member it
 * stores.  The prediction of several members is the MEAN OF THEIR LOGITS
 * (a parameter-free mixture: softmax(mean_i z_i), not mean_i softmax(z_i));
 * with one member it is that member's logits bit for bit.
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

/* ---- loaded models ----------------------------------------------------- */

typedef struct ckpt_member {
    st_config cfg;        /* the settings the member was trained with */
    model m;              /* blocks 0..n_blocks-1, head, trainable table */
    char source[1024];    /* file it came from (for messages and the ensemble's list) */
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
    int depth;            /* blocks every member has: the largest usable depth */
} ckpt_model;

/* Read a checkpoint (kind "checkpoint") or ensemble (kind "ensemble") file
 * on every rank of comm.  A missing or unreadable file, another kind of file
 * or a damaged tensor -> ST_EDATA naming the path (and the object).  LoRA
 * adapters of a mid-stage checkpoint are merged into their blocks. */
st_status ckpt_model_load(ckpt_model *cm, const char *path, MPI_Comm comm);
void ckpt_model_free(ckpt_model *cm);

/* The depth to use: *depth 0 -> cm->depth (every block); beyond cm->depth
 * -> ST_EUSAGE naming the file and the largest depth. */
st_status ckpt_model_depth(const ckpt_model *cm, long *depth);

/* Append the members of src to dst (moved; src is left empty).  Refuses
 * (ST_EDATA, naming both files and what differs) when the tokenizers or the
 * substrates differ.  dst may be zeroed: it then takes src's tokenizer and
 * substrate. */
st_status ckpt_model_join(ckpt_model *dst, ckpt_model *src);

/* Do tokenizers a and b (of the files a_path and b_path) have the same ids
 * rendering the same text?  When not, *why receives a message naming both
 * files, both content hashes (tok_hash) and the first difference. */
bool ckpt_same_tokenizer(const struct tokenizer *a, const char *a_path, const struct tokenizer *b,
                         const char *b_path, char *why, size_t len);

/* Write cm as an ensemble file at path (rank 0 writes a temp file, then an
 * atomic rename; every rank learns the outcome). */
st_status ckpt_model_save_ensemble(const ckpt_model *cm, const char *path, MPI_Comm comm);

#endif
