/* tok_learn.c -- counting characters and n-grams, reducing the counts over
 * ranks and building a tokenizer from them.
 *
 * Reduction: every n-gram has one owner rank (its hash modulo the rank
 * count); counts travel to their owner with one all-to-all, so each owner
 * holds exact global counts of its n-grams.  Each owner proposes its own top
 * K; the global top K is a subset of the union of the proposals, which every
 * rank gathers and ranks the same way.  Nothing depends on the rank count.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "strata/log.h"
#include "strata/utf8.h"
#include "tok_internal.h"

#define N_CODEPOINTS (UTF8_MAX_CP + 1)

typedef struct ng_entry {
    uint64_t hash;
    uint64_t count;
    uint32_t off; /* into pool */
    uint8_t len;  /* bytes */
    uint8_t nch;  /* characters */
} ng_entry;

typedef struct ng_table {
    ng_entry *tab; /* [cap]; count == 0 marks a free slot */
    size_t cap, n;
    uint8_t *pool;
    size_t pool_n, pool_cap;
} ng_table;

struct tok_counts {
    int ngram_max;
    uint64_t *chars; /* [N_CODEPOINTS] occurrences of each code point */
    ng_table ng;
};

/* ---- the n-gram hash table --------------------------------------------- */

static st_status ng_init(ng_table *t, size_t cap)
{
    st_status st = ST_OK;
    memset(t, 0, sizeof *t);
    t->tab = calloc(cap, sizeof *t->tab);
    CHECK_ALLOC(t->tab);
    t->cap = cap;
out:
    return st;
}

static void ng_free(ng_table *t)
{
    free(t->tab);
    free(t->pool);
    memset(t, 0, sizeof *t);
}

static st_status ng_grow(ng_table *t)
{
    st_status st = ST_OK;
    size_t cap = t->cap * 2;
    ng_entry *tab = calloc(cap, sizeof *tab);
    CHECK_ALLOC(tab);
    for (size_t i = 0; i < t->cap; i++) {
        if (!t->tab[i].count) continue;
        size_t j = t->tab[i].hash & (cap - 1);
        while (tab[j].count) j = (j + 1) & (cap - 1);
        tab[j] = t->tab[i];
    }
    free(t->tab);
    t->tab = tab;
    t->cap = cap;
out:
    return st;
}

/* Add `count` to the n-gram s[0..len) with hash h. */
static st_status ng_add(ng_table *t, uint64_t h, const uint8_t *s, size_t len, int nch,
                        uint64_t count)
{
    st_status st = ST_OK;
    size_t j = h & (t->cap - 1);
    for (;;) {
        ng_entry *e = &t->tab[j];
        if (!e->count) break;
        if (e->hash == h && e->len == len && memcmp(t->pool + e->off, s, len) == 0) {
            e->count += count;
            goto out;
        }
        j = (j + 1) & (t->cap - 1);
    }
    if (t->pool_n + len > t->pool_cap) {
        size_t cap = t->pool_cap ? t->pool_cap * 2 : 1 << 16;
        while (cap < t->pool_n + len) cap *= 2;
        if (cap > UINT32_MAX) FAIL(ST_ENOMEM, "n-gram table exceeds 4 GiB of text");
        uint8_t *p = realloc(t->pool, cap);
        CHECK_ALLOC(p);
        t->pool = p;
        t->pool_cap = cap;
    }
    memcpy(t->pool + t->pool_n, s, len);
    t->tab[j] = (ng_entry){.hash = h, .count = count, .off = (uint32_t)t->pool_n,
                           .len = (uint8_t)len, .nch = (uint8_t)nch};
    t->pool_n += len;
    t->n++;
    if (2 * t->n > t->cap) CHECK(ng_grow(t));
out:
    return st;
}

#define FNV_OFFSET 0xcbf29ce484222325ull
#define FNV_PRIME 0x100000001b3ull

/* Hash of a byte string, fed from its last byte to its first (so the
 * n-grams ending at one character share the work); mixed at the end. */
static inline uint64_t hash_mix(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h;
}

static uint64_t hash_bytes(const uint8_t *s, size_t len)
{
    uint64_t h = FNV_OFFSET;
    for (size_t k = len; k-- > 0;) h = (h ^ s[k]) * FNV_PRIME;
    return hash_mix(h);
}

/* ---- counting ---------------------------------------------------------- */

st_status tok_counts_init(tok_counts **out, int ngram_max)
{
    st_status st = ST_OK;
    tok_counts *c = calloc(1, sizeof *c);
    CHECK_ALLOC(c);
    if (ngram_max < 1 || ngram_max > TOK_MAX_NGRAM)
        FAIL(ST_EUSAGE, "tokenizer.ngram_max = %d is outside 1..%d", ngram_max, TOK_MAX_NGRAM);
    c->ngram_max = ngram_max;
    c->chars = calloc(N_CODEPOINTS, sizeof *c->chars);
    CHECK_ALLOC(c->chars);
    CHECK(ng_init(&c->ng, 1 << 16));
out:
    if (st != ST_OK) {
        tok_counts_free(c);
        c = NULL;
    }
    *out = c;
    return st;
}

void tok_counts_free(tok_counts *c)
{
    if (!c) return;
    free(c->chars);
    ng_free(&c->ng);
    free(c);
}

st_status tok_counts_add(tok_counts *c, const uint8_t *text, size_t n)
{
    st_status st = ST_OK;
    const int nmax = c->ngram_max;
    size_t start[TOK_MAX_NGRAM]; /* ring: byte starts of the run's last nmax characters */
    int run = 0;                 /* characters in the current run */
    utf8_class run_cls = UTF8_OTHER;
    size_t i = 0;
    while (i < n) {
        uint32_t cp;
        size_t len = text[i] < 0x80 ? (cp = text[i], 1) : utf8_decode(text + i, n - i, &cp);
        if (len == 0) { /* an invalid byte ends every run */
            run = 0;
            i++;
            continue;
        }
        c->chars[cp]++;
        utf8_class cls = utf8_class_of(cp);
        if (cls == UTF8_OTHER || cls != run_cls) run = 0;
        run_cls = cls;
        if (cls == UTF8_OTHER) {
            i += len;
            continue;
        }
        start[run % nmax] = i;
        run++;
        size_t end = i + len;
        int m = run < nmax ? run : nmax;
        /* n-grams of 2..m characters that end here, hashed back to front */
        uint64_t h = FNV_OFFSET;
        size_t hashed_from = end;
        for (int k = 1; k <= m; k++) {
            size_t s = start[(run - k) % nmax];
            for (size_t b = hashed_from; b-- > s;) h = (h ^ text[b]) * FNV_PRIME;
            hashed_from = s;
            if (k >= 2) CHECK(ng_add(&c->ng, hash_mix(h), text + s, end - s, k, 1));
        }
        i = end;
    }
out:
    return st;
}

/* ---- ranking ----------------------------------------------------------- */

typedef struct ng_cand {
    uint64_t count, score;
    const uint8_t *s;
    uint8_t len, nch;
} ng_cand;

/* Best first: score = count x (n-1) descending, then byte-wise smaller string,
 * a prefix before its extensions. */
static int cmp_cand(const void *pa, const void *pb)
{
    const ng_cand *a = pa, *b = pb;
    if (a->score != b->score) return a->score > b->score ? -1 : 1;
    size_t m = a->len < b->len ? a->len : b->len;
    int r = memcmp(a->s, b->s, m);
    if (r) return r;
    return (int)a->len - (int)b->len;
}

/* The best k candidates of a table (n-grams seen at least twice). */
static st_status top_k(const ng_table *t, size_t k, ng_cand **out, size_t *nout)
{
    st_status st = ST_OK;
    ng_cand *c = malloc((t->n ? t->n : 1) * sizeof *c);
    CHECK_ALLOC(c);
    size_t n = 0;
    for (size_t i = 0; i < t->cap; i++) {
        const ng_entry *e = &t->tab[i];
        if (e->count < 2) continue;
        c[n++] = (ng_cand){.count = e->count, .score = e->count * (uint64_t)(e->nch - 1),
                           .s = t->pool + e->off, .len = e->len, .nch = e->nch};
    }
    qsort(c, n, sizeof *c, cmp_cand);
    *nout = n < k ? n : k;
out:
    *out = c;
    return st;
}

/* Record: len u8, nch u8, count u64 (native order: all ranks run the same
 * binary), bytes. */
static size_t rec_size(size_t len) { return 2 + 8 + len; }

static uint8_t *rec_put(uint8_t *p, const uint8_t *s, size_t len, int nch, uint64_t count)
{
    p[0] = (uint8_t)len;
    p[1] = (uint8_t)nch;
    memcpy(p + 2, &count, 8);
    memcpy(p + 10, s, len);
    return p + rec_size(len);
}

static st_status rec_parse_into(ng_table *t, const uint8_t *p, size_t n)
{
    st_status st = ST_OK;
    size_t q = 0;
    while (q < n) {
        size_t len = p[q];
        int nch = p[q + 1];
        uint64_t count;
        memcpy(&count, p + q + 2, 8);
        CHECK(ng_add(t, hash_bytes(p + q + 10, len), p + q + 10, len, nch, count));
        q += rec_size(len);
    }
out:
    return st;
}

static st_status check_int(size_t v, const char *what)
{
    return v > INT_MAX ? ST_ERROR(ST_ERR, "%s: %zu bytes exceed one MPI message", what, v) : ST_OK;
}

/* Displacements for receive counts and a buffer for their sum (a message
 * must stay below INT_MAX bytes). */
static st_status receive_layout(const int *count, int *disp, int size, const char *what,
                                size_t *total, uint8_t **buf)
{
    st_status st = ST_OK;
    size_t sum = 0;
    for (int r = 0; r < size; r++) {
        CHECK(check_int(sum + (size_t)count[r], what));
        disp[r] = (int)sum;
        sum += (size_t)count[r];
    }
    *buf = malloc(sum ? sum : 1);
    CHECK_ALLOC(*buf);
    *total = sum;
out:
    return st;
}

/* Move every n-gram count to its owner rank; `t` is replaced by the owned,
 * globally summed table. */
static st_status exchange(ng_table *t, MPI_Comm comm)
{
    st_status st = ST_OK;
    int size = 1;
    MPI_Comm_size(comm, &size);
    int *scount = calloc((size_t)size, sizeof *scount), *sdisp = calloc((size_t)size, sizeof *sdisp);
    int *rcount = calloc((size_t)size, sizeof *rcount), *rdisp = calloc((size_t)size, sizeof *rdisp);
    size_t *fill = calloc((size_t)size, sizeof *fill);
    uint8_t *sbuf = NULL, *rbuf = NULL;
    ng_table owned = {0};
    CHECK_ALLOC(scount);
    CHECK_ALLOC(sdisp);
    CHECK_ALLOC(rcount);
    CHECK_ALLOC(rdisp);
    CHECK_ALLOC(fill);
    size_t total = 0;
    for (size_t i = 0; i < t->cap; i++)
        if (t->tab[i].count) fill[t->tab[i].hash % (uint64_t)size] += rec_size(t->tab[i].len);
    for (int r = 0; r < size; r++) {
        CHECK(check_int(total + fill[r], "n-gram exchange"));
        sdisp[r] = (int)total;
        scount[r] = (int)fill[r];
        fill[r] = total;
        total += (size_t)scount[r];
    }
    sbuf = malloc(total ? total : 1);
    CHECK_ALLOC(sbuf);
    for (size_t i = 0; i < t->cap; i++) {
        const ng_entry *e = &t->tab[i];
        if (!e->count) continue;
        int r = (int)(e->hash % (uint64_t)size);
        rec_put(sbuf + fill[r], t->pool + e->off, e->len, e->nch, e->count);
        fill[r] += rec_size(e->len);
    }
    CHECK_MPI(MPI_Alltoall(scount, 1, MPI_INT, rcount, 1, MPI_INT, comm));
    size_t rtotal = 0;
    CHECK(receive_layout(rcount, rdisp, size, "n-gram exchange", &rtotal, &rbuf));
    CHECK_MPI(MPI_Alltoallv(sbuf, scount, sdisp, MPI_BYTE, rbuf, rcount, rdisp, MPI_BYTE, comm));
    free(sbuf);
    sbuf = NULL;
    ng_free(t);
    CHECK(ng_init(&owned, 1 << 16));
    CHECK(rec_parse_into(&owned, rbuf, rtotal));
    *t = owned;
    memset(&owned, 0, sizeof owned);
out:
    ng_free(&owned);
    free(scount);
    free(sdisp);
    free(rcount);
    free(rdisp);
    free(fill);
    free(sbuf);
    free(rbuf);
    return st;
}

/* The global top k n-grams, identical on every rank: (*out)[0..*nout) point into
 * *hold, which the caller frees with ng_free. */
static st_status global_top_k(tok_counts *c, size_t k, MPI_Comm comm, ng_table *hold,
                              ng_cand **out, size_t *nout)
{
    st_status st = ST_OK;
    int size = 1;
    MPI_Comm_size(comm, &size);
    ng_cand *mine = NULL;
    uint8_t *sbuf = NULL, *rbuf = NULL;
    int *rcount = NULL, *rdisp = NULL;
    *out = NULL;
    *nout = 0;
    if (size > 1) CHECK(exchange(&c->ng, comm));
    size_t nmine;
    CHECK(top_k(&c->ng, k, &mine, &nmine));
    if (size == 1) {
        *hold = c->ng;
        CHECK(ng_init(&c->ng, 16));
        *out = mine;
        *nout = nmine;
        mine = NULL;
        goto out;
    }
    /* Gather every owner's proposals on every rank, rank them again. */
    size_t bytes = 0;
    for (size_t i = 0; i < nmine; i++) bytes += rec_size(mine[i].len);
    CHECK(check_int(bytes, "n-gram proposals"));
    sbuf = malloc(bytes ? bytes : 1);
    CHECK_ALLOC(sbuf);
    uint8_t *p = sbuf;
    for (size_t i = 0; i < nmine; i++) p = rec_put(p, mine[i].s, mine[i].len, mine[i].nch, mine[i].count);
    rcount = calloc((size_t)size, sizeof *rcount);
    rdisp = calloc((size_t)size, sizeof *rdisp);
    CHECK_ALLOC(rcount);
    CHECK_ALLOC(rdisp);
    int b = (int)bytes;
    CHECK_MPI(MPI_Allgather(&b, 1, MPI_INT, rcount, 1, MPI_INT, comm));
    size_t rtotal = 0;
    CHECK(receive_layout(rcount, rdisp, size, "n-gram proposals", &rtotal, &rbuf));
    CHECK_MPI(MPI_Allgatherv(sbuf, b, MPI_BYTE, rbuf, rcount, rdisp, MPI_BYTE, comm));
    CHECK(ng_init(hold, 1 << 10));
    CHECK(rec_parse_into(hold, rbuf, rtotal));
    CHECK(top_k(hold, k, out, nout));
out:
    free(mine);
    free(sbuf);
    free(rbuf);
    free(rcount);
    free(rdisp);
    return st;
}

/* ---- building ---------------------------------------------------------- */

typedef struct char_rank {
    uint32_t cp;
    uint64_t count;
} char_rank;

static int cmp_char_count(const void *pa, const void *pb)
{
    const char_rank *a = pa, *b = pb;
    if (a->count != b->count) return a->count > b->count ? -1 : 1;
    return a->cp < b->cp ? -1 : a->cp > b->cp;
}

static int cmp_char_cp(const void *pa, const void *pb)
{
    const char_rank *a = pa, *b = pb;
    return a->cp < b->cp ? -1 : a->cp > b->cp;
}

/* Append entry `id` to the text pool; entries must come in id order. */
static void put_text(tokenizer *t, int id, const void *s, size_t len)
{
    uint32_t off = t->text_off[id];
    memcpy(t->text + off, s, len);
    t->text[off + len] = '\0';
    t->text_off[id + 1] = off + (uint32_t)len + 1;
}

static void put_byte_name(tokenizer *t, int id, int b)
{
    char name[8];
    snprintf(name, sizeof name, "<0x%02X>", b);
    put_text(t, id, name, 6);
}

st_status tok_learn(tok_counts *c, const tok_options *o, MPI_Comm comm, tokenizer **out)
{
    st_status st = ST_OK;
    tokenizer *t = NULL;
    char_rank *chars = NULL;
    ng_cand *top = NULL;
    ng_table hold = {0};
    size_t nchars = 0, ntop = 0;
    *out = NULL;
    CHECK_MPI(MPI_Allreduce(MPI_IN_PLACE, c->chars, N_CODEPOINTS, MPI_UINT64_T, MPI_SUM, comm));

    size_t k = o->ngram_max >= 2 && o->ngrams > 0 ? (size_t)o->ngrams : 0;
    if (o->mode == TOK_MODE_COMPACT) {
        long fixed = TOK_N_SPECIALS + 256;
        if (o->vocab_size < fixed + 1)
            FAIL(ST_EUSAGE, "tokenizer.vocab_size = %d leaves no room for characters (need > %ld)",
                 o->vocab_size, fixed);
        size_t room = (size_t)(o->vocab_size - fixed);
        for (uint32_t cp = 0; cp < N_CODEPOINTS; cp++)
            if (c->chars[cp] && c->chars[cp] >= (uint64_t)o->min_count) nchars++;
        chars = malloc((nchars ? nchars : 1) * sizeof *chars);
        CHECK_ALLOC(chars);
        nchars = 0;
        for (uint32_t cp = 0; cp < N_CODEPOINTS; cp++)
            if (c->chars[cp] && c->chars[cp] >= (uint64_t)o->min_count)
                chars[nchars++] = (char_rank){cp, c->chars[cp]};
        if (nchars > room) {
            /* keep the most frequent characters; the rest go through bytes */
            log_warn("tokenizer: %zu distinct characters but room for %zu; the rarest become bytes",
                     nchars, room);
            qsort(chars, nchars, sizeof *chars, cmp_char_count);
            nchars = room;
            qsort(chars, nchars, sizeof *chars, cmp_char_cp);
        }
        if (k > room - nchars) k = room - nchars;
    } else if (k > TOK_BMP_NGRAM_CAP) {
        log_warn("tokenizer: bmp mode holds at most %d n-grams (tokenizer.ngrams = %d)",
                 TOK_BMP_NGRAM_CAP, o->ngrams);
        k = TOK_BMP_NGRAM_CAP;
    }
    CHECK(global_top_k(c, k, comm, &hold, &top, &ntop));

    size_t text_bytes = 0;
    for (size_t i = 0; i < ntop; i++) text_bytes += top[i].len + 1u;
    if (o->mode == TOK_MODE_COMPACT) {
        int vocab = TOK_N_SPECIALS + 256 + (int)nchars + (int)ntop;
        text_bytes += 16 * TOK_N_SPECIALS + 7 * 256 + 5 * nchars;
        CHECK(tok_alloc(&t, TOK_MODE_COMPACT, vocab, text_bytes));
        int id = 0;
        for (int s = 0; s < TOK_N_SPECIALS; s++, id++) {
            t->kind[id] = TOK_SPECIAL;
            put_text(t, id, tok_special_names[s], strlen(tok_special_names[s]));
        }
        for (int b = 0; b < 256; b++, id++) {
            t->kind[id] = TOK_BYTE;
            put_byte_name(t, id, b);
        }
        for (size_t i = 0; i < nchars; i++, id++) {
            uint8_t u[4];
            t->kind[id] = TOK_CHAR;
            t->count[id] = chars[i].count;
            put_text(t, id, u, utf8_encode(chars[i].cp, u));
        }
        for (size_t i = 0; i < ntop; i++, id++) {
            t->kind[id] = TOK_NGRAM;
            t->count[id] = top[i].count;
            put_text(t, id, top[i].s, top[i].len);
        }
    } else {
        text_bytes += 4 * TOK_BMP_VOCAB;
        CHECK(tok_alloc(&t, TOK_MODE_BMP, TOK_BMP_VOCAB, text_bytes));
        for (int id = 0; id < TOK_BMP_VOCAB; id++) {
            uint32_t cp = (uint32_t)id;
            if (cp < 0xD800 || cp > 0xF8FF) {
                uint8_t u[4];
                t->kind[id] = TOK_CHAR;
                t->count[id] = c->chars[cp];
                put_text(t, id, u, utf8_encode(cp, u));
            } else if (cp >= TOK_BMP_SPECIAL_BASE && cp < TOK_BMP_SPECIAL_BASE + TOK_N_SPECIALS) {
                const char *name = tok_special_names[cp - TOK_BMP_SPECIAL_BASE];
                t->kind[id] = TOK_SPECIAL;
                put_text(t, id, name, strlen(name));
            } else if (cp >= TOK_BMP_BYTE_BASE && cp < TOK_BMP_BYTE_BASE + 256) {
                t->kind[id] = TOK_BYTE;
                put_byte_name(t, id, (int)(cp - TOK_BMP_BYTE_BASE));
            } else {
                /* n-gram slots: U+E200..U+F8FF first, then the surrogates */
                size_t i = cp >= TOK_BMP_NGRAM_BASE ? cp - TOK_BMP_NGRAM_BASE
                           : cp < 0xE000 ? (size_t)(0xF900 - TOK_BMP_NGRAM_BASE) + (cp - 0xD800)
                                         : SIZE_MAX; /* the gaps after specials and bytes */
                if (i < ntop) {
                    t->kind[id] = TOK_NGRAM;
                    t->count[id] = top[i].count;
                    put_text(t, id, top[i].s, top[i].len);
                } else {
                    put_text(t, id, "", 0);
                }
            }
        }
    }
    t->ngram_max = o->ngram_max;
    CHECK(tok_index(t));
    *out = t;
    t = NULL;
out:
    tok_free(t);
    free(chars);
    free(top);
    ng_free(&hold);
    ng_free(&c->ng);
    ng_init(&c->ng, 16);
    memset(c->chars, 0, N_CODEPOINTS * sizeof *c->chars);
    return st;
}
