/* generate.h -- text sampled from one or more members (strata generate).
 *
 * KV-cache decoding; with several members the next token is drawn from
 * their combined prediction, as cm->combine says (eval_mix_row, eval.h): the
 * posterior's weights follow the prompt and the text generated so far.
 * Depth k uses each member's first min(k, its blocks) blocks.  Deterministic
 * for a seed; every rank computes the same text.
 *
 * Context: a prompt longer than the shortest member's training context
 * (its data.ctx) keeps only its last data.ctx tokens (a warning says so), so
 * the cost of a call is bounded by the context and --tokens, not by the
 * prompt's length.
 */
#ifndef STRATA_GENERATE_H
#define STRATA_GENERATE_H

#include <stdint.h>

#include "strata/ckpt_model.h"
#include "strata/error.h"

typedef struct gen_opts {
    int depth;          /* blocks used */
    int tokens;         /* tokens to generate */
    float temperature;  /* <= 0: greedy */
    int top_k;          /* <= 0: all */
    uint64_t seed;
} gen_opts;

/* Continue `prompt` (UTF-8; empty: start from BOS) by o->tokens sampled
 * tokens; *out = prompt + continuation (malloc'd, NUL-terminated). */
st_status gen_text(ckpt_model *cm, const char *prompt, const gen_opts *o, char **out);

#endif
