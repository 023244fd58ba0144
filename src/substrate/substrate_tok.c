/* substrate_tok.c -- the thin adapter from a tokenizer to glyph items; the
 * rest of the substrate area never sees the tokenizer. */
#include <stdlib.h>

#include "strata/substrate.h"
#include "strata/tokenizer.h"

st_status substrate_items_from_tokenizer(const tokenizer *t, glyph_item **items, long *vocab)
{
    st_status st = ST_OK;
    int v = tok_vocab_size(t);
    glyph_item *it = NULL;
    if (v < 2) FAIL(ST_EDATA, "tokenizer has %d ids; a substrate needs at least 2", v);
    it = calloc((size_t)v, sizeof *it);
    CHECK_ALLOC(it);
    for (int id = 0; id < v; id++) {
        tok_kind k = tok_kind_of(t, id);
        size_t len = 0;
        const char *text = k == TOK_UNUSED ? NULL : tok_render_text(t, id, &len);
        it[id].id = id;
        it[id].text = text;
        it[id].len = text ? len : 0;
        switch (k) {
        case TOK_SPECIAL: it[id].kind = GLYPH_SPECIAL; break;
        case TOK_BYTE: it[id].kind = GLYPH_BYTE; break;
        case TOK_CHAR: it[id].kind = GLYPH_CHAR; break;
        case TOK_NGRAM: it[id].kind = GLYPH_NGRAM; break;
        default: it[id].kind = GLYPH_UNUSED; break;
        }
        if (!text) it[id].kind = GLYPH_UNUSED;
    }
    *items = it;
    *vocab = v;
    it = NULL;
out:
    free(it);
    return st;
}
