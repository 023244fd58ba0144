/* tok_internal.h -- shared between the tokenizer's source files (not public).
 *
 * A tokenizer is defined by three arrays over its ids: kind, text (the
 * rendered UTF-8, in one pool) and count.  Everything else (lookup tables,
 * the n-gram trie) is an index built from them by tok_index(), both after
 * learning and after loading, so a loaded tokenizer behaves exactly like the
 * one that was saved.
 */
#ifndef STRATA_TOK_INTERNAL_H
#define STRATA_TOK_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "strata/tokenizer.h"

/* Open-addressing map (parent node, code point) -> child node of the trie. */
typedef struct tok_trie {
    uint64_t *keys;   /* [cap] (parent << 21 | cp), TRIE_EMPTY when free */
    int32_t *child;   /* [cap] */
    size_t cap, n;
    int32_t *node_id; /* [nodes] token id of the n-gram ending here, or -1 */
    uint8_t *node_len; /* [nodes] characters from the root */
    int32_t nodes, node_cap;
} tok_trie;

struct tokenizer {
    tok_mode mode;
    int vocab;       /* number of ids */
    int ngram_max;   /* as learned (attribute only) */
    int n_chars, n_ngrams;
    /* the definition */
    uint8_t *kind;      /* [vocab] tok_kind */
    uint64_t *count;    /* [vocab] corpus counts when learned */
    uint32_t *text_off; /* [vocab+1] offsets into text; entry i is NUL-terminated */
    char *text;         /* pool of rendered texts */
    /* the index */
    uint8_t *nchars;           /* [vocab] characters per id */
    uint8_t *byte_val;         /* [vocab] byte value of BYTE ids */
    int byte_id[256];
    int special_id[TOK_N_SPECIALS];
    int32_t *bmp_id;   /* [65536] id of code point, -1 when none */
    int32_t *bmp_node; /* [65536] trie node of the 1-char prefix, -1 when none */
    uint32_t *sup_cp;  /* [n_sup] supplementary code points with ids, ascending */
    int32_t *sup_id;   /* [n_sup] */
    int n_sup;
    tok_trie trie;
    char hash[65]; /* tok_hash of the definition, set by tok_index */
};

extern const char *const tok_special_names[TOK_N_SPECIALS];

/* Allocate an empty tokenizer for `vocab` ids whose text pool holds up to
 * text_cap bytes (NULs included). */
st_status tok_alloc(tokenizer **out, tok_mode mode, int vocab, size_t text_cap);
/* Build the index (and the content hash) from kind/text/count; ST_EDATA
 * when they are inconsistent. */
st_status tok_index(tokenizer *t);

#endif
