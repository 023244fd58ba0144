/* tokenizer.c -- the tokenizer's index, queries, encoding and decoding. */
#include <stdlib.h>
#include <string.h>

#include "strata/config.h"
#include "strata/sha256.h"
#include "strata/utf8.h"
#include "tok_internal.h"

const char *const tok_special_names[TOK_N_SPECIALS] = {"<|pad|>", "<|bos|>", "<|eos|>"};

#define TRIE_EMPTY UINT64_MAX

void tok_options_from_config(const struct st_config *c, tok_options *o)
{
    o->mode = strcmp(c->tokenizer.mode, "bmp") == 0 ? TOK_MODE_BMP : TOK_MODE_COMPACT;
    o->vocab_size = (int)c->tokenizer.vocab_size;
    o->min_count = c->tokenizer.min_count;
    o->ngram_max = (int)c->tokenizer.ngram_max;
    o->ngrams = (int)c->tokenizer.ngrams;
}

/* ---- trie -------------------------------------------------------------- */

static inline size_t trie_slot(uint64_t key, size_t cap)
{
    /* Fibonacci hashing: the high bits of the product are well mixed. */
    return (size_t)((key * 0x9E3779B97F4A7C15ull) >> 20) & (cap - 1);
}

static inline int32_t trie_child(const tok_trie *tr, int32_t parent, uint32_t cp)
{
    uint64_t key = ((uint64_t)parent << 21) | cp;
    size_t i = trie_slot(key, tr->cap);
    for (;;) {
        uint64_t k = tr->keys[i];
        if (k == key) return tr->child[i];
        if (k == TRIE_EMPTY) return -1;
        i = (i + 1) & (tr->cap - 1);
    }
}

static st_status trie_new_node(tok_trie *tr, int len, int32_t *out)
{
    st_status st = ST_OK;
    if (tr->nodes == tr->node_cap) {
        int32_t cap = tr->node_cap ? 2 * tr->node_cap : 256;
        int32_t *ids = realloc(tr->node_id, (size_t)cap * sizeof *ids);
        CHECK_ALLOC(ids);
        tr->node_id = ids;
        uint8_t *lens = realloc(tr->node_len, (size_t)cap);
        CHECK_ALLOC(lens);
        tr->node_len = lens;
        tr->node_cap = cap;
    }
    tr->node_id[tr->nodes] = -1;
    tr->node_len[tr->nodes] = (uint8_t)len;
    *out = tr->nodes++;
out:
    return st;
}

static st_status trie_init(tok_trie *tr, size_t expected_edges)
{
    st_status st = ST_OK;
    memset(tr, 0, sizeof *tr);
    size_t cap = 64;
    while (cap < 2 * expected_edges + 2) cap *= 2;
    tr->keys = malloc(cap * sizeof *tr->keys);
    CHECK_ALLOC(tr->keys);
    tr->child = malloc(cap * sizeof *tr->child);
    CHECK_ALLOC(tr->child);
    memset(tr->keys, 0xFF, cap * sizeof *tr->keys);
    tr->cap = cap;
    int32_t root;
    CHECK(trie_new_node(tr, 0, &root)); /* node 0 = root */
out:
    return st;
}

static void trie_free(tok_trie *tr)
{
    free(tr->keys);
    free(tr->child);
    free(tr->node_id);
    free(tr->node_len);
    memset(tr, 0, sizeof *tr);
}

/* Child of parent for cp, created when missing.  The table is sized for all
 * edges up front (trie_init), so it never needs to grow. */
static st_status trie_walk(tok_trie *tr, int32_t parent, uint32_t cp, int32_t *out)
{
    st_status st = ST_OK;
    uint64_t key = ((uint64_t)parent << 21) | cp;
    size_t i = trie_slot(key, tr->cap);
    while (tr->keys[i] != TRIE_EMPTY && tr->keys[i] != key) i = (i + 1) & (tr->cap - 1);
    if (tr->keys[i] == key) {
        *out = tr->child[i];
        goto out;
    }
    if (2 * (tr->n + 1) > tr->cap) FAIL(ST_ERR, "tokenizer trie is full (internal sizing error)");
    int32_t node;
    CHECK(trie_new_node(tr, tr->node_len[parent] + 1, &node));
    tr->keys[i] = key;
    tr->child[i] = node;
    tr->n++;
    *out = node;
out:
    return st;
}

/* ---- construction ------------------------------------------------------ */

st_status tok_alloc(tokenizer **out, tok_mode mode, int vocab, size_t text_cap)
{
    st_status st = ST_OK;
    tokenizer *t = calloc(1, sizeof *t);
    CHECK_ALLOC(t);
    t->mode = mode;
    t->vocab = vocab;
    t->kind = malloc((size_t)vocab);
    CHECK_ALLOC(t->kind);
    memset(t->kind, TOK_UNUSED, (size_t)vocab);
    t->count = calloc((size_t)vocab, sizeof *t->count);
    CHECK_ALLOC(t->count);
    t->text_off = calloc((size_t)vocab + 1, sizeof *t->text_off);
    CHECK_ALLOC(t->text_off);
    t->text = malloc(text_cap ? text_cap : 1);
    CHECK_ALLOC(t->text);
    t->nchars = calloc((size_t)vocab, 1);
    CHECK_ALLOC(t->nchars);
    t->byte_val = calloc((size_t)vocab, 1);
    CHECK_ALLOC(t->byte_val);
    t->bmp_id = malloc(65536 * sizeof *t->bmp_id);
    CHECK_ALLOC(t->bmp_id);
    t->bmp_node = malloc(65536 * sizeof *t->bmp_node);
    CHECK_ALLOC(t->bmp_node);
out:
    if (st != ST_OK) {
        tok_free(t);
        t = NULL;
    }
    *out = t;
    return st;
}

st_status tok_from_def(tok_mode mode, int vocab, int ngram_max, const uint8_t *kind, const char *const *text,
                        const size_t *len, const uint64_t *count, tokenizer **out)
{
    st_status st = ST_OK;
    tokenizer *t = NULL;
    *out = NULL;
    if (vocab < TOK_N_SPECIALS + 256 || vocab > 16777216 || (mode == TOK_MODE_BMP && vocab != TOK_BMP_VOCAB))
        FAIL(ST_EDATA, "tokenizer: vocabulary size %d is impossible for mode %s", vocab,
             mode == TOK_MODE_BMP ? "bmp" : "compact");
    size_t total = 0;
    for (int i = 0; i < vocab; i++) {
        if (kind[i] > TOK_UNUSED) FAIL(ST_EDATA, "tokenizer id %d: unknown kind %d", i, kind[i]);
        size_t l = kind[i] == TOK_UNUSED ? 0 : len[i];
        if (l > 4 * TOK_MAX_NGRAM) FAIL(ST_EDATA, "tokenizer id %d: text of %zu bytes is too long", i, l);
        total += l + 1;
    }
    CHECK(tok_alloc(&t, mode, vocab, total));
    t->ngram_max = ngram_max;
    uint32_t p = 0;
    for (int i = 0; i < vocab; i++) {
        size_t l = kind[i] == TOK_UNUSED ? 0 : len[i];
        t->kind[i] = kind[i];
        t->count[i] = count ? count[i] : 0;
        if (l && memchr(text[i], 0, l) && kind[i] != TOK_CHAR)
            FAIL(ST_EDATA, "tokenizer id %d: text contains a NUL byte", i);
        if (l) memcpy(t->text + p, text[i], l);
        t->text_off[i] = p;
        t->text[p + l] = '\0';
        p += (uint32_t)l + 1;
    }
    t->text_off[vocab] = p;
    CHECK(tok_index(t));
    *out = t;
    t = NULL;
out:
    tok_free(t);
    return st;
}

void tok_free(tokenizer *t)
{
    if (!t) return;
    free(t->kind);
    free(t->count);
    free(t->text_off);
    free(t->text);
    free(t->nchars);
    free(t->byte_val);
    free(t->bmp_id);
    free(t->bmp_node);
    free(t->sup_cp);
    free(t->sup_id);
    trie_free(&t->trie);
    free(t);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Parse "<0xAB>" into a byte value; -1 when the text is not of that form. */
static int parse_byte_name(const char *s, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    if (len != 6 || memcmp(s, "<0x", 3) != 0 || s[5] != '>') return -1;
    const char *h = strchr(hex, s[3]), *l = strchr(hex, s[4]);
    if (!h || !l || !s[3] || !s[4]) return -1;
    return (int)((h - hex) * 16 + (l - hex));
}

static bool bmp_reserved(uint32_t cp) { return cp >= 0xD800 && cp <= 0xF8FF; }

static void put_u32(sha256_ctx *c, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    sha256_update(c, b, 4);
}

/* The content hash covers exactly what makes two tokenizers encode alike,
 * in a fixed byte order (docs/FORMAT-dataset.md, "Content hash"): the
 * header "strata tokenizer v1\n", the mode name and "\n", the vocabulary
 * size (uint32 LE), then for every id in order its kind (one byte), the
 * length of its text (uint32 LE; 0 for UNUSED) and the text bytes.  Counts
 * and ngram_max are learning records, not part of the definition. */
static void tok_compute_hash(tokenizer *t)
{
    sha256_ctx c;
    uint8_t d[32];
    static const char head[] = "strata tokenizer v1\n";
    const char *mode = t->mode == TOK_MODE_BMP ? "bmp\n" : "compact\n";
    sha256_init(&c);
    sha256_update(&c, head, sizeof head - 1);
    sha256_update(&c, mode, strlen(mode));
    put_u32(&c, (uint32_t)t->vocab);
    for (int id = 0; id < t->vocab; id++) {
        uint8_t k = t->kind[id];
        uint32_t len = k == TOK_UNUSED ? 0 : t->text_off[id + 1] - t->text_off[id] - 1;
        sha256_update(&c, &k, 1);
        put_u32(&c, len);
        sha256_update(&c, t->text + t->text_off[id], len);
    }
    sha256_final(&c, d);
    sha256_hex(d, t->hash);
}

void tok_hash(const tokenizer *t, char hex[65]) { memcpy(hex, t->hash, 65); }

st_status tok_index(tokenizer *t)
{
    st_status st = ST_OK;
    uint64_t *sup = NULL; /* (cp << 32 | id) of supplementary characters */
    size_t n_sup = 0;
    for (int b = 0; b < 256; b++) t->byte_id[b] = -1;
    for (int s = 0; s < TOK_N_SPECIALS; s++) t->special_id[s] = -1;
    for (int i = 0; i < 65536; i++) t->bmp_id[i] = t->bmp_node[i] = -1;
    t->n_chars = t->n_ngrams = 0;
    size_t edges = 0;
    for (int id = 0; id < t->vocab; id++) {
        if (t->kind[id] == TOK_NGRAM) edges += t->text_off[id + 1] - t->text_off[id];
        if (t->kind[id] == TOK_CHAR && t->text_off[id + 1] - t->text_off[id] == 5) n_sup++;
    }
    sup = malloc((n_sup ? n_sup : 1) * sizeof *sup);
    CHECK_ALLOC(sup);
    n_sup = 0;
    trie_free(&t->trie);
    CHECK(trie_init(&t->trie, edges));
    for (int id = 0; id < t->vocab; id++) {
        /* entries are stored NUL-terminated: the length excludes the NUL */
        const uint8_t *s = (const uint8_t *)t->text + t->text_off[id];
        size_t len = t->text_off[id + 1] - t->text_off[id] - 1;
        uint32_t cp;
        switch (t->kind[id]) {
        case TOK_UNUSED:
            t->nchars[id] = 0;
            break;
        case TOK_SPECIAL: {
            int k = 0;
            while (k < TOK_N_SPECIALS && (strlen(tok_special_names[k]) != len ||
                                          memcmp(tok_special_names[k], s, len) != 0))
                k++;
            if (k == TOK_N_SPECIALS || t->special_id[k] >= 0)
                FAIL(ST_EDATA, "tokenizer id %d: unknown or repeated special '%.*s'", id, (int)len, s);
            t->special_id[k] = id;
            t->nchars[id] = 0;
            break;
        }
        case TOK_BYTE: {
            int b = parse_byte_name((const char *)s, len);
            if (b < 0 || t->byte_id[b] >= 0)
                FAIL(ST_EDATA, "tokenizer id %d: bad or repeated byte token '%.*s'", id, (int)len, s);
            t->byte_id[b] = id;
            t->byte_val[id] = (uint8_t)b;
            t->nchars[id] = 1;
            break;
        }
        case TOK_CHAR:
            if (len == 0 || utf8_decode(s, len, &cp) != len)
                FAIL(ST_EDATA, "tokenizer id %d: character token is not one UTF-8 character", id);
            if (t->mode == TOK_MODE_BMP && (cp != (uint32_t)id || bmp_reserved(cp)))
                FAIL(ST_EDATA, "tokenizer id %d: bmp mode needs id = code point (U+%04X)", id, cp);
            if (cp < 65536) {
                if (t->bmp_id[cp] >= 0) FAIL(ST_EDATA, "tokenizer id %d: U+%04X has two ids", id, cp);
                t->bmp_id[cp] = id;
            } else {
                sup[n_sup++] = ((uint64_t)cp << 32) | (uint32_t)id;
            }
            t->nchars[id] = 1;
            t->n_chars++;
            break;
        case TOK_NGRAM: {
            int32_t node = 0;
            size_t p = 0;
            int n = 0;
            while (p < len) {
                size_t k = utf8_decode(s + p, len - p, &cp);
                if (k == 0) FAIL(ST_EDATA, "tokenizer id %d: n-gram is not valid UTF-8", id);
                CHECK(trie_walk(&t->trie, node, cp, &node));
                if (n == 0 && cp < 65536) t->bmp_node[cp] = node;
                p += k;
                n++;
            }
            if (n < 2 || n > TOK_MAX_NGRAM || t->trie.node_id[node] >= 0)
                FAIL(ST_EDATA, "tokenizer id %d: n-gram '%.*s' has %d characters or is repeated", id,
                     (int)len, s, n);
            t->trie.node_id[node] = id;
            t->nchars[id] = (uint8_t)n;
            t->n_ngrams++;
            break;
        }
        default:
            FAIL(ST_EDATA, "tokenizer id %d: unknown kind %d", id, t->kind[id]);
        }
    }
    for (int b = 0; b < 256; b++)
        if (t->byte_id[b] < 0) FAIL(ST_EDATA, "tokenizer has no byte token for 0x%02X", b);
    for (int s = 0; s < TOK_N_SPECIALS; s++)
        if (t->special_id[s] < 0) FAIL(ST_EDATA, "tokenizer has no special %s", tok_special_names[s]);
    qsort(sup, n_sup, sizeof *sup, cmp_u64);
    free(t->sup_cp);
    free(t->sup_id);
    t->sup_cp = malloc((n_sup ? n_sup : 1) * sizeof *t->sup_cp);
    t->sup_id = malloc((n_sup ? n_sup : 1) * sizeof *t->sup_id);
    CHECK_ALLOC(t->sup_cp);
    CHECK_ALLOC(t->sup_id);
    for (size_t i = 0; i < n_sup; i++) {
        t->sup_cp[i] = (uint32_t)(sup[i] >> 32);
        t->sup_id[i] = (int32_t)(uint32_t)sup[i];
        if (i > 0 && t->sup_cp[i] == t->sup_cp[i - 1])
            FAIL(ST_EDATA, "tokenizer: U+%04X has two ids", t->sup_cp[i]);
    }
    t->n_sup = (int)n_sup;
    tok_compute_hash(t);
out:
    free(sup);
    return st;
}

/* ---- queries ----------------------------------------------------------- */

int tok_vocab_size(const tokenizer *t) { return t->vocab; }
tok_mode tok_mode_of(const tokenizer *t) { return t->mode; }
int tok_n_ngrams(const tokenizer *t) { return t->n_ngrams; }
int tok_n_chars(const tokenizer *t) { return t->n_chars; }
int tok_ngram_max(const tokenizer *t) { return t->ngram_max; }

tok_kind tok_kind_of(const tokenizer *t, int id)
{
    return (id < 0 || id >= t->vocab) ? TOK_UNUSED : (tok_kind)t->kind[id];
}

const char *tok_render_text(const tokenizer *t, int id, size_t *len)
{
    if (id < 0 || id >= t->vocab || t->kind[id] == TOK_UNUSED) {
        if (len) *len = 0;
        return NULL;
    }
    if (len) *len = t->text_off[id + 1] - t->text_off[id] - 1;
    return t->text + t->text_off[id];
}

int tok_special_id(const tokenizer *t, tok_special s)
{
    return (s >= 0 && s < TOK_N_SPECIALS) ? t->special_id[s] : -1;
}

int tok_byte_id(const tokenizer *t, uint8_t b) { return t->byte_id[b]; }

int tok_char_id(const tokenizer *t, uint32_t cp)
{
    if (cp < 65536) return t->bmp_id[cp];
    int lo = 0, hi = t->n_sup;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (t->sup_cp[mid] < cp)
            lo = mid + 1;
        else
            hi = mid;
    }
    return (lo < t->n_sup && t->sup_cp[lo] == cp) ? t->sup_id[lo] : -1;
}

int tok_id_chars(const tokenizer *t, int id)
{
    return (id < 0 || id >= t->vocab) ? 0 : t->nchars[id];
}

uint64_t tok_id_count(const tokenizer *t, int id)
{
    return (id < 0 || id >= t->vocab) ? 0 : t->count[id];
}

/* ---- token buffers ----------------------------------------------------- */

void tok_buf_init(tok_buf *b) { memset(b, 0, sizeof *b); }

void tok_buf_free(tok_buf *b)
{
    free(b->ids);
    free(b->chars);
    memset(b, 0, sizeof *b);
}

static st_status tok_buf_reserve(tok_buf *b, size_t extra)
{
    st_status st = ST_OK;
    if (b->n + extra <= b->cap) goto out;
    size_t cap = b->cap ? b->cap : 1024;
    while (cap < b->n + extra) cap *= 2;
    int32_t *ids = realloc(b->ids, cap * sizeof *ids);
    CHECK_ALLOC(ids);
    b->ids = ids;
    uint8_t *ch = realloc(b->chars, cap);
    CHECK_ALLOC(ch);
    b->chars = ch;
    b->cap = cap;
out:
    return st;
}

st_status tok_buf_push(tok_buf *b, int32_t id, uint8_t chars)
{
    st_status st = ST_OK;
    CHECK(tok_buf_reserve(b, 1));
    b->ids[b->n] = id;
    b->chars[b->n] = chars;
    b->n++;
out:
    return st;
}

/* ---- encoding ---------------------------------------------------------- */

/* Decode one unit with an ASCII fast path; 0 = invalid byte. */
static inline size_t next_cp(const uint8_t *s, size_t n, uint32_t *cp)
{
    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    return utf8_decode(s, n, cp);
}

st_status tok_encode(const tokenizer *t, const uint8_t *text, size_t n, tok_buf *out,
                     tok_stats *stats)
{
    st_status st = ST_OK;
    /* Never more tokens than bytes: reserve once, then write without checks. */
    CHECK(tok_buf_reserve(out, n));
    int32_t *ids = out->ids;
    uint8_t *chars = out->chars;
    size_t m = out->n, i = 0;
    uint64_t nch = 0, invalid = 0, nbytes = 0;
    const tok_trie *tr = &t->trie;
    const bool have_ngrams = t->n_ngrams > 0;
    while (i < n) {
        uint32_t cp;
        size_t len = next_cp(text + i, n - i, &cp);
        if (len == 0) {
            ids[m] = t->byte_id[text[i]];
            chars[m++] = 1;
            nch++;
            invalid++;
            nbytes++;
            i++;
            continue;
        }
        /* Greedy longest n-gram starting here. */
        if (have_ngrams) {
            int32_t node = cp < 65536 ? t->bmp_node[cp] : trie_child(tr, 0, cp);
            int32_t best = -1;
            size_t best_end = 0, j = i + len;
            while (node >= 0 && j < n) {
                uint32_t c2;
                size_t l2 = next_cp(text + j, n - j, &c2);
                if (l2 == 0) break;
                node = trie_child(tr, node, c2);
                if (node < 0) break;
                j += l2;
                if (tr->node_id[node] >= 0) {
                    best = tr->node_id[node];
                    best_end = j;
                }
            }
            if (best >= 0) {
                ids[m] = best;
                chars[m++] = t->nchars[best];
                nch += t->nchars[best];
                i = best_end;
                continue;
            }
        }
        int id = cp < 65536 ? t->bmp_id[cp] : tok_char_id(t, cp);
        if (id >= 0) {
            ids[m] = id;
            chars[m++] = 1;
        } else {
            /* A character without an id: its bytes; it counts once, on the first. */
            for (size_t k = 0; k < len; k++) {
                ids[m] = t->byte_id[text[i + k]];
                chars[m++] = k == 0;
            }
            nbytes += len;
        }
        nch++;
        i += len;
    }
    if (stats) {
        stats->bytes += n;
        stats->chars += nch;
        stats->invalid += invalid;
        stats->tokens += m - out->n;
        stats->byte_tokens += nbytes;
    }
    out->n = m;
out:
    return st;
}

st_status tok_decode(const tokenizer *t, const int32_t *ids, size_t n, char **out, size_t *len)
{
    st_status st = ST_OK;
    char *buf = NULL;
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        int id = ids[i];
        if (id < 0 || id >= t->vocab || t->kind[id] == TOK_UNUSED)
            FAIL(ST_EDATA, "token id %d at position %zu is not in the vocabulary (size %d)", id, i,
                 t->vocab);
        if (t->kind[id] == TOK_BYTE)
            total += 1;
        else if (t->kind[id] != TOK_SPECIAL)
            total += t->text_off[id + 1] - t->text_off[id] - 1;
    }
    buf = malloc(total + 1);
    CHECK_ALLOC(buf);
    size_t p = 0;
    for (size_t i = 0; i < n; i++) {
        int id = ids[i];
        switch (t->kind[id]) {
        case TOK_BYTE:
            buf[p++] = (char)t->byte_val[id];
            break;
        case TOK_CHAR:
        case TOK_NGRAM: {
            size_t k = t->text_off[id + 1] - t->text_off[id] - 1;
            memcpy(buf + p, t->text + t->text_off[id], k);
            p += k;
            break;
        }
        default:
            break;
        }
    }
    buf[p] = '\0';
    *out = buf;
    buf = NULL;
    if (len) *len = p;
out:
    free(buf);
    return st;
}

/* ---- description ------------------------------------------------------- */

void tok_describe(const tokenizer *t, FILE *out)
{
    fprintf(out, "tokenizer: mode %s, %d ids (%d specials, 256 bytes, %d characters, %d n-grams",
            t->mode == TOK_MODE_BMP ? "bmp" : "compact", t->vocab, TOK_N_SPECIALS, t->n_chars,
            t->n_ngrams);
    if (t->ngram_max > 1) fprintf(out, " of up to %d characters", t->ngram_max);
    fprintf(out, ")\n  sha256 %s\n", t->hash);
    /* n-grams are stored best first */
    int shown = 0;
    for (int id = 0; id < t->vocab && shown < 12; id++) {
        if (t->kind[id] != TOK_NGRAM) continue;
        fprintf(out, "%s'%s' (%llu)", shown ? ", " : "  top n-grams: ", t->text + t->text_off[id],
                (unsigned long long)t->count[id]);
        shown++;
    }
    if (shown) fputc('\n', out);
}
