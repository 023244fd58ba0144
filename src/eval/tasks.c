/* tasks.c -- multiple-choice tasks: reading a stranger's JSONL file,
 * scoring choices at every depth, and building a cloze task (see tasks.h). */
#define _GNU_SOURCE
#include "strata/tasks.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "strata/comm.h"
#include "strata/dataset.h"
#include "strata/rng.h"
#include "strata/tokenizer.h"
#include "strata/utf8.h"

/* ---- names and files ---------------------------------------------------- */

void task_name_of(const char *path, char name[TASK_NAME_MAX])
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t n = strlen(base);
    static const char *const exts[] = {".jsonl", ".json", ".txt"};
    for (size_t e = 0; e < sizeof exts / sizeof exts[0]; e++) {
        size_t el = strlen(exts[e]);
        if (n > el && strcmp(base + n - el, exts[e]) == 0) {
            n -= el;
            break;
        }
    }
    if (n > TASK_NAME_MAX - 1) n = TASK_NAME_MAX - 1;
    for (size_t i = 0; i < n; i++) {
        char c = base[i];
        name[i] = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ? c : '_';
    }
    name[n] = '\0';
    if (n == 0) snprintf(name, TASK_NAME_MAX, "task");
}

/* The whole file, refused unless a regular file of at most TASK_MAX_BYTES
 * (opened non-blocking, so a FIFO cannot hang the reader). */
static st_status read_small_file(const char *path, char **buf, size_t *len)
{
    st_status st = ST_OK;
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    char *b = NULL;
    struct stat sb;
    if (fd < 0) FAIL(ST_EDATA, "task file '%s': %s", path, strerror(errno));
    if (fstat(fd, &sb) != 0) FAIL(ST_EDATA, "task file '%s': %s", path, strerror(errno));
    if (!S_ISREG(sb.st_mode)) FAIL(ST_EDATA, "task file '%s' is not a regular file", path);
    if (sb.st_size > TASK_MAX_BYTES)
        FAIL(ST_EDATA, "task file '%s' holds %lld bytes, more than the limit of %ld", path, (long long)sb.st_size,
             TASK_MAX_BYTES);
    b = malloc((size_t)sb.st_size + 1);
    CHECK_ALLOC(b);
    size_t got = 0;
    while (got < (size_t)sb.st_size) {
        ssize_t r = read(fd, b + got, (size_t)sb.st_size - got);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) FAIL(ST_EDATA, "task file '%s': %s", path, strerror(errno));
        if (r == 0) break;
        got += (size_t)r;
    }
    b[got] = '\0';
    *buf = b;
    *len = got;
    b = NULL;
out:
    if (fd >= 0) close(fd);
    free(b);
    return st;
}

/* ---- reading a task ------------------------------------------------------ */

static st_status encode_ids(const tokenizer *tok, const char *s, size_t n, int32_t **ids, int *nids, double *chars)
{
    st_status st = ST_OK;
    tok_buf b;
    tok_buf_init(&b);
    CHECK(tok_encode(tok, (const uint8_t *)s, n, &b, NULL));
    double c = 0;
    for (size_t i = 0; i < b.n; i++) c += b.chars[i];
    *ids = malloc(sizeof **ids * (b.n ? b.n : 1));
    CHECK_ALLOC(*ids);
    if (b.n) memcpy(*ids, b.ids, sizeof **ids * b.n);
    *nids = (int)b.n;
    if (chars) *chars = c;
out:
    tok_buf_free(&b);
    return st;
}

static bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

/* One line -> one item; a problem -> ST_EDATA naming file, line and what. */
static st_status parse_line(const char *path, long line, const char *text, size_t len, const tokenizer *tok,
                            task_item *it)
{
    st_status st = ST_OK;
    json_error_t je;
    json_t *o = NULL;
    char *ctx = NULL, *cont = NULL;
    memset(it, 0, sizeof *it);
    it->line = line;
    if (len > (size_t)TASK_MAX_LINE)
        FAIL(ST_EDATA, "%s:%ld: line of %zu bytes is longer than the limit of %ld", path, line, len, TASK_MAX_LINE);
    o = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (!o) FAIL(ST_EDATA, "%s:%ld: not valid JSON (column %d: %s)", path, line, je.column, je.text);
    if (!json_is_object(o)) FAIL(ST_EDATA, "%s:%ld: not a JSON object", path, line);
    json_t *c = json_object_get(o, "context"), *ch = json_object_get(o, "choices"), *a = json_object_get(o, "answer");
    if (!c) FAIL(ST_EDATA, "%s:%ld: no \"context\"", path, line);
    if (!json_is_string(c)) FAIL(ST_EDATA, "%s:%ld: \"context\" is not a string", path, line);
    if (!ch) FAIL(ST_EDATA, "%s:%ld: no \"choices\"", path, line);
    if (!json_is_array(ch)) FAIL(ST_EDATA, "%s:%ld: \"choices\" is not an array", path, line);
    if (!a) FAIL(ST_EDATA, "%s:%ld: no \"answer\"", path, line);
    if (!json_is_integer(a)) FAIL(ST_EDATA, "%s:%ld: \"answer\" is not an integer", path, line);
    size_t nc = json_array_size(ch);
    if (nc < 2 || nc > TASK_MAX_CHOICES)
        FAIL(ST_EDATA, "%s:%ld: %zu choices (need 2..%d)", path, line, nc, TASK_MAX_CHOICES);
    json_int_t ans = json_integer_value(a);
    if (ans < 0 || (size_t)ans >= nc)
        FAIL(ST_EDATA, "%s:%ld: \"answer\" %lld is outside [0, %zu)", path, line, (long long)ans, nc);
    for (size_t i = 0; i < nc; i++) {
        json_t *s = json_array_get(ch, i);
        if (!json_is_string(s)) FAIL(ST_EDATA, "%s:%ld: choice %zu is not a string", path, line, i);
        if (json_string_length(s) == 0) FAIL(ST_EDATA, "%s:%ld: choice %zu is empty", path, line, i);
    }
    it->answer = (int)ans;
    /* Whitespace at the end of the context belongs to the continuation. */
    size_t cl = json_string_length(c), keep = cl;
    const char *cs = json_string_value(c);
    while (keep > 0 && is_space(cs[keep - 1])) keep--;
    CHECK(encode_ids(tok, cs, keep, &it->ctx, &it->nctx, NULL));
    if (it->nctx == 0) {
        it->ctx[0] = tok_special_id(tok, TOK_EOS);
        it->nctx = 1;
    }
    it->choices = calloc(nc, sizeof *it->choices);
    CHECK_ALLOC(it->choices);
    it->nchoices = (int)nc;
    for (size_t i = 0; i < nc; i++) {
        json_t *s = json_array_get(ch, i);
        size_t sl = json_string_length(s), n = (cl - keep) + sl;
        free(cont);
        cont = malloc(n + 1);
        CHECK_ALLOC(cont);
        memcpy(cont, cs + keep, cl - keep);
        memcpy(cont + (cl - keep), json_string_value(s), sl);
        task_choice *tc = &it->choices[i];
        CHECK(encode_ids(tok, cont, n, &tc->ids, &tc->n, &tc->chars));
    }
out:
    json_decref(o);
    free(ctx);
    free(cont);
    return st;
}

static void item_free(task_item *it)
{
    free(it->ctx);
    for (int i = 0; it->choices && i < it->nchoices; i++) free(it->choices[i].ids);
    free(it->choices);
    memset(it, 0, sizeof *it);
}

void task_free(task_set *t)
{
    for (long i = 0; t->items && i < t->n; i++) item_free(&t->items[i]);
    free(t->items);
    memset(t, 0, sizeof *t);
}

st_status task_load(const char *path, const tokenizer *tok, task_set *out)
{
    st_status st = ST_OK;
    char *buf = NULL;
    size_t len = 0, cap = 0;
    memset(out, 0, sizeof *out);
    snprintf(out->path, sizeof out->path, "%s", path);
    task_name_of(path, out->name);
    CHECK(read_small_file(path, &buf, &len));
    long line = 0;
    for (size_t p = 0; p < len;) {
        const char *nl = memchr(buf + p, '\n', len - p);
        size_t e = nl ? (size_t)(nl - buf) : len, n = e - p;
        line++;
        const char *s = buf + p;
        p = e + 1;
        if (n > 0 && s[n - 1] == '\r') n--;
        size_t blank = 0;
        while (blank < n && is_space(s[blank])) blank++;
        if (blank == n) continue;
        if ((size_t)out->n == cap) {
            cap = cap ? 2 * cap : 64;
            task_item *g = realloc(out->items, cap * sizeof *g);
            CHECK_ALLOC(g);
            out->items = g;
        }
        st = parse_line(path, line, s, n, tok, &out->items[out->n]);
        if (st != ST_OK) {
            item_free(&out->items[out->n]);
            goto out;
        }
        out->n++;
    }
    if (out->n == 0) FAIL(ST_EDATA, "task file '%s' holds no items", path);
out:
    free(buf);
    if (st != ST_OK) task_free(out);
    return st;
}

/* ---- scoring -------------------------------------------------------------- */

/* Rows of context + choice for the pairs pr[0..nb) (item, choice), scored
 * in one eval_target_logprobs call: score [pairs, nd, 2] gets ll and
 * ll/char of each. */
typedef struct task_pair {
    long item;   /* index into t->items */
    int choice;
    long slot;   /* row of score */
} task_pair;

static st_status score_batch(eval_member *pm, int n, ckpt_combine how, const double *prior, const task_set *t, int T,
                             int lo, int hi, const task_pair *pr, int nb, int32_t *rows, double *logp, int *start,
                             double *score)
{
    st_status st = ST_OK;
    const int nd = hi - lo + 1, V = pm[0].m->dims.V;
    int Tb = 1; /* targets of this batch: the longest row - 1 */
    for (int i = 0; i < nb; i++) {
        const task_item *it = &t->items[pr[i].item];
        const task_choice *ch = &it->choices[pr[i].choice];
        if (ch->n > T)
            FAIL(ST_EDATA, "%s:%ld: choice %d is %d tokens, longer than the context of %d", t->path, it->line,
                 pr[i].choice, ch->n, T);
        int nctx = it->nctx < T + 1 - ch->n ? it->nctx : T + 1 - ch->n; /* cut from the left */
        if (nctx + ch->n - 1 > Tb) Tb = nctx + ch->n - 1;
    }
    for (int i = 0; i < nb; i++) {
        const task_item *it = &t->items[pr[i].item];
        const task_choice *ch = &it->choices[pr[i].choice];
        int nctx = it->nctx < T + 1 - ch->n ? it->nctx : T + 1 - ch->n, len = nctx + ch->n;
        int32_t *r = rows + (size_t)i * (size_t)(Tb + 1); /* [Tb + 1] */
        memcpy(r, it->ctx + (it->nctx - nctx), sizeof *r * (size_t)nctx);
        memcpy(r + nctx, ch->ids, sizeof *r * (size_t)ch->n);
        for (int q = len; q <= Tb; q++) r[q] = r[len - 1]; /* padding after every target: causal, never seen */
        for (int q = 0; q < len; q++)
            if (r[q] < 0 || r[q] >= V)
                FAIL(ST_EDATA, "%s:%ld: token id %d outside the model's vocabulary [0, %d)", t->path, it->line,
                     (int)r[q], V);
        start[i] = nctx - 1; /* target q predicts r[q + 1]: the choice is r[nctx..] */
    }
    eval_chunks d = {.chunks = rows, .ids = NULL, .n = nb, .T = Tb};
    eval_positions p = {.logp = logp};
    CHECK(eval_target_logprobs(pm, n, how, prior, &d, lo, hi, nb, &p));
    for (int k = 0; k < nd; k++)
        for (int i = 0; i < nb; i++) {
            const task_choice *ch = &t->items[pr[i].item].choices[pr[i].choice];
            const double *lp = logp + ((size_t)k * (size_t)nb + (size_t)i) * (size_t)Tb; /* [Tb] */
            double ll = 0;
            for (int u = 0; u < ch->n; u++) ll += lp[start[i] + u];
            double *sc = score + ((size_t)pr[i].slot * (size_t)nd + (size_t)k) * 2;
            sc[0] = ll;
            sc[1] = ch->chars > 0 ? ll / ch->chars : ll;
        }
out:
    return st;
}

st_status task_score(eval_member *mem, int n, ckpt_combine how, const double *prior, const task_set *t, int T,
                     int lo, int hi, int batch, MPI_Comm comm, task_row *out)
{
    st_status st = ST_OK;
    const int nd = hi - lo + 1, B = batch < 1 ? 1 : batch;
    int rank = 0, size = 1;
    eval_member *pm = NULL;
    int32_t *rows = NULL;    /* [B, T + 1] context + choice, padded at the end */
    double *logp = NULL;     /* [nd, B, T] */
    double *score = NULL;    /* [local choices, nd, 2]: ll and ll/char */
    double *sums = NULL;     /* [nd, 2]: items right by ll, by ll/char */
    int *start = NULL;       /* [B] first target position of the row's choice */
    long *slot0 = NULL;      /* [local items] first score row of the item */
    task_pair *pr = NULL;    /* [B] the batch being filled */
    if (n < 1 || lo < 1 || hi < lo || T < 1) FAIL(ST_EUSAGE, "task %s: %d members, depths %d..%d", t->name, n, lo, hi);
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    long first, count;
    comm_share(t->n, rank, size, &first, &count);
    slot0 = malloc(sizeof *slot0 * (size_t)(count + 1));
    CHECK_ALLOC(slot0);
    slot0[0] = 0;
    for (long q = 0; q < count; q++) slot0[q + 1] = slot0[q] + t->items[first + q].nchoices;
    pm = calloc((size_t)n, sizeof *pm);
    rows = malloc(sizeof *rows * (size_t)B * (size_t)(T + 1));
    logp = malloc(sizeof *logp * (size_t)nd * (size_t)B * (size_t)T);
    score = malloc(sizeof *score * ((size_t)slot0[count] * (size_t)nd * 2 + 1));
    sums = calloc((size_t)nd * 2, sizeof *sums);
    start = malloc(sizeof *start * (size_t)B);
    pr = malloc(sizeof *pr * (size_t)B);
    CHECK_ALLOC(pm);
    CHECK_ALLOC(rows);
    CHECK_ALLOC(logp);
    CHECK_ALLOC(score);
    CHECK_ALLOC(sums);
    CHECK_ALLOC(start);
    CHECK_ALLOC(pr);
    for (int j = 0; j < n; j++) pm[j].m = mem[j].m; /* rows are not chunks: no prefix source */
    /* Every choice of the rank's items, B rows per forward pass. */
    int nb = 0;
    for (long q = 0; q < count; q++)
        for (int c = 0; c < t->items[first + q].nchoices; c++) {
            pr[nb++] = (task_pair){.item = first + q, .choice = c, .slot = slot0[q] + c};
            if (nb == B) {
                CHECK(score_batch(pm, n, how, prior, t, T, lo, hi, pr, nb, rows, logp, start, score));
                nb = 0;
            }
        }
    if (nb > 0) CHECK(score_batch(pm, n, how, prior, t, T, lo, hi, pr, nb, rows, logp, start, score));
    for (long q = 0; q < count; q++) {
        const task_item *it = &t->items[first + q];
        for (int k = 0; k < nd; k++)
            for (int w = 0; w < 2; w++) {
                int best = 0;
                for (int c = 1; c < it->nchoices; c++) {
                    const double *sc = score + ((size_t)(slot0[q] + c) * (size_t)nd + (size_t)k) * 2;
                    const double *sb = score + ((size_t)(slot0[q] + best) * (size_t)nd + (size_t)k) * 2;
                    if (sc[w] > sb[w]) best = c;
                }
                if (best == it->answer) sums[2 * k + w] += 1;
            }
    }
    CHECK(comm_allreduce_sum_f64(sums, nd * 2, comm));
    const double N = (double)t->n;
    for (int k = 0; k < nd; k++) {
        double a = sums[2 * k] / N, b = sums[2 * k + 1] / N;
        out[k] = (task_row){.depth = lo + k,
                            .acc = a,
                            .acc_se = N > 1 ? sqrt(a * (1 - a) / (N - 1)) : NAN,
                            .acc_char = b,
                            .acc_char_se = N > 1 ? sqrt(b * (1 - b) / (N - 1)) : NAN,
                            .items = N};
    }
out:
    free(pm);
    free(rows);
    free(logp);
    free(score);
    free(sums);
    free(start);
    free(slot0);
    free(pr);
    return st;
}

/* ---- the cloze builder ------------------------------------------------------ */

#define CHUNK_SEP '\x01' /* between chunks of the validation text */

typedef struct word {
    const char *s; /* into the text */
    int len;
    long count;
} word;

static int word_cmp_text(const void *a, const void *b)
{
    const word *x = a, *y = b;
    int n = x->len < y->len ? x->len : y->len, c = memcmp(x->s, y->s, (size_t)n);
    return c ? c : x->len - y->len;
}

static int word_cmp_count(const void *a, const void *b)
{
    const word *x = a, *y = b;
    if (x->count != y->count) return x->count > y->count ? -1 : 1;
    return word_cmp_text(a, b);
}

/* Word runs (letters and digits, utf8.h's WORD class) of s[0..n): calls
 * fn(ctx, start, len) for each. */
typedef st_status (*word_fn)(void *ctx, const char *s, int len);
static st_status for_words(const char *s, size_t n, word_fn fn, void *ctx)
{
    st_status st = ST_OK;
    size_t p = 0;
    while (p < n) {
        uint32_t cp = 0;
        size_t l = utf8_decode((const uint8_t *)s + p, n - p, &cp);
        if (l == 0 || utf8_class_of(cp) != UTF8_WORD) {
            p += l ? l : 1;
            continue;
        }
        size_t q = p;
        while (q < n) {
            l = utf8_decode((const uint8_t *)s + q, n - q, &cp);
            if (l == 0 || utf8_class_of(cp) != UTF8_WORD) break;
            q += l;
        }
        if (q - p < 1024) CHECK(fn(ctx, s + p, (int)(q - p)));
        p = q;
    }
out:
    return st;
}

typedef struct word_list {
    word *w;
    size_t n, cap;
} word_list;

static st_status word_push(void *ctx, const char *s, int len)
{
    st_status st = ST_OK;
    word_list *l = ctx;
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 1024;
        word *g = realloc(l->w, cap * sizeof *g);
        CHECK_ALLOC(g);
        l->w = g;
        l->cap = cap;
    }
    l->w[l->n++] = (word){.s = s, .len = len, .count = 1};
out:
    return st;
}

/* The text of the validation split: each chunk's targets (ids 1..T, so
 * neighbouring chunks do not repeat their shared token), decoded, with a
 * blank line at every end-of-document token and CHUNK_SEP after each run of
 * neighbouring chunks. */
static st_status val_text(const dataset *d, char **text, size_t *len)
{
    st_status st = ST_OK;
    char *buf = NULL, *piece = NULL;
    size_t n = 0, cap = 0, pl = 0;
    const int T = d->ctx, eos = tok_special_id(d->tok, TOK_EOS);
    for (long v = 0; v < d->n_val; v++) {
        const int32_t *r = dataset_chunk(d, d->val[v]) + 1; /* [T] */
        for (int a = 0; a < T;) {
            int b = a;
            while (b < T && r[b] != eos) b++;
            free(piece);
            piece = NULL;
            CHECK(tok_decode(d->tok, r + a, (size_t)(b - a), &piece, &pl));
            if (n + pl + 4 > cap) {
                cap = 2 * (n + pl + 4) + 4096;
                char *g = realloc(buf, cap);
                CHECK_ALLOC(g);
                buf = g;
            }
            memcpy(buf + n, piece, pl);
            n += pl;
            if (b < T) {
                buf[n++] = '\n'; /* a document ends: a blank line */
                buf[n++] = '\n';
            }
            a = b + 1;
        }
        /* chunks of the split need not be neighbours (chunk c + 1 continues
         * chunk c: the stride is T) */
        if (v + 1 == d->n_val || d->val[v + 1] != d->val[v] + 1) buf[n++] = CHUNK_SEP;
    }
    if (!buf) FAIL(ST_EDATA, "%s: the validation split is empty", d->path);
    buf[n] = '\0';
    *text = buf;
    *len = n;
    buf = NULL;
out:
    free(buf);
    free(piece);
    return st;
}

typedef struct sentence {
    size_t start, end;   /* text[start..end): the sentence without its final punctuation */
    size_t last;         /* start of its last word */
} sentence;

static st_status count_word(void *ctx, const char *s, int len)
{
    (void)s;
    (void)len;
    ++*(int *)ctx;
    return ST_OK;
}

/* The sentence text[a..q) (q at its terminator) as a cloze item, if it
 * qualifies: at least 6 words, valid UTF-8, its last word directly before
 * the terminator and after a space. */
static bool sentence_of(const char *s, size_t a, size_t q, sentence *out)
{
    while (a < q && (is_space(s[a]) || s[a] == '"' || s[a] == '\'')) a++;
    size_t w = q;
    while (w > a) {
        size_t b = w - 1;
        while (b > a && ((unsigned char)s[b] & 0xC0) == 0x80) b--;
        uint32_t cp = 0;
        if (utf8_decode((const uint8_t *)s + b, w - b, &cp) != w - b || utf8_class_of(cp) != UTF8_WORD) break;
        w = b;
    }
    if (w == q || w <= a || s[w - 1] != ' ') return false;
    size_t invalid = 0;
    utf8_count((const uint8_t *)s + a, q - a, &invalid);
    int words = 0;
    for_words(s + a, q - a, count_word, &words);
    if (invalid || words < 6) return false;
    *out = (sentence){.start = a, .end = q, .last = w};
    return true;
}

/* Sentences of the text: a sentence starts after a terminator (. ! ?) or a
 * blank line (paragraph or document end) and ends at the next terminator;
 * one that would cross a blank line or CHUNK_SEP is dropped (a chunk may
 * begin or end mid-sentence, and chunks of the split need not be
 * neighbours). */
static st_status find_sentences(const char *s, size_t n, sentence **out, size_t *nout)
{
    st_status st = ST_OK;
    sentence *v = NULL;
    size_t nv = 0, cap = 0;
    const size_t none = (size_t)-1;
    size_t a = none; /* start of the current sentence, none: mid-sentence */
    for (size_t p = 0; p < n; p++) {
        char c = s[p];
        if (c == CHUNK_SEP) {
            a = none;
        } else if (c == '\n' && p + 1 < n && s[p + 1] == '\n') {
            a = p + 2;
        } else if (c == '.' || c == '!' || c == '?') {
            sentence se;
            if (a != none && sentence_of(s, a, p, &se)) {
                if (nv == cap) {
                    cap = cap ? 2 * cap : 256;
                    sentence *g = realloc(v, cap * sizeof *g);
                    CHECK_ALLOC(g);
                    v = g;
                }
                v[nv++] = se;
            }
            a = p + 1;
        }
    }
    *out = v;
    *nout = nv;
    v = NULL;
out:
    free(v);
    return st;
}

/* Rank (by count) of a word, by binary search in the text-sorted list. */
static long find_word(const word *sorted, const long *rank, size_t n, const char *s, int len)
{
    word key = {.s = s, .len = len};
    const word *w = bsearch(&key, sorted, n, sizeof *sorted, word_cmp_text);
    return w ? rank[w - sorted] : -1;
}

static int ci_equal(const char *a, int al, const char *b, int bl)
{
    if (al != bl) return 0;
    for (int i = 0; i < al; i++) {
        char x = a[i], y = b[i];
        if (x >= 'A' && x <= 'Z') x = (char)(x - 'A' + 'a');
        if (y >= 'A' && y <= 'Z') y = (char)(y - 'A' + 'a');
        if (x != y) return 0;
    }
    return 1;
}

st_status task_cloze_build(const dataset *d, long n, uint64_t seed, char **jsonl, long *items)
{
    st_status st = ST_OK;
    char *text = NULL, *outbuf = NULL, *choice = NULL;
    size_t len = 0, nsent = 0, olen = 0;
    sentence *sent = NULL;
    word_list all = {0};
    word *uniq = NULL, *byc = NULL;
    long *rank = NULL, *order = NULL;
    FILE *f = NULL;
    json_t *o = NULL;
    *jsonl = NULL;
    *items = 0;
    if (n < 1) FAIL(ST_EUSAGE, "cloze: %ld items", n);
    CHECK(val_text(d, &text, &len));
    /* Word frequencies of the same corpus: the validation text. */
    CHECK(for_words(text, len, word_push, &all));
    if (all.n < 4) FAIL(ST_EDATA, "%s: the validation split has %zu words (need at least 4)", d->path, all.n);
    qsort(all.w, all.n, sizeof *all.w, word_cmp_text);
    size_t nu = 0;
    uniq = malloc(all.n * sizeof *uniq);
    CHECK_ALLOC(uniq);
    for (size_t i = 0; i < all.n; i++) {
        if (nu > 0 && word_cmp_text(&uniq[nu - 1], &all.w[i]) == 0)
            uniq[nu - 1].count++;
        else
            uniq[nu++] = all.w[i];
    }
    if (nu < 4) FAIL(ST_EDATA, "%s: the validation split has %zu distinct words (need at least 4)", d->path, nu);
    byc = malloc(nu * sizeof *byc);
    rank = malloc(nu * sizeof *rank);
    CHECK_ALLOC(byc);
    CHECK_ALLOC(rank);
    memcpy(byc, uniq, nu * sizeof *byc);
    qsort(byc, nu, sizeof *byc, word_cmp_count);
    for (size_t i = 0; i < nu; i++) {
        word *u = bsearch(&byc[i], uniq, nu, sizeof *uniq, word_cmp_text);
        rank[u - uniq] = (long)i;
    }
    CHECK(find_sentences(text, len, &sent, &nsent));
    if (nsent == 0)
        FAIL(ST_EDATA, "%s: no sentence of the validation split qualifies (6+ words ending in . ! or ?)", d->path);
    /* Which sentences: a seeded shuffle, the first n, in text order. */
    order = malloc(nsent * sizeof *order);
    CHECK_ALLOC(order);
    for (size_t i = 0; i < nsent; i++) order[i] = (long)i;
    rng_t r;
    rng_init(&r, seed, 0, RNG_DATA);
    for (size_t i = nsent - 1; i > 0; i--) {
        size_t j = (size_t)rng_below(&r, i + 1);
        long t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    long take = (long)nsent < n ? (long)nsent : n;
    f = open_memstream(&outbuf, &olen);
    if (!f) FAIL(ST_ENOMEM, "cloze: open_memstream failed");
    const int window = 20; /* distractors from the nearest frequency ranks, +- this many */
    for (long it = 0; it < take; it++) {
        const sentence *s = &sent[order[it]];
        const char *aw = text + s->last;
        int al = (int)(s->end - s->last);
        long ra = find_word(uniq, rank, nu, aw, al);
        if (ra < 0) FAIL(ST_ERR, "cloze: word not counted");
        /* 3 distinct distractors, none equal to the answer ignoring case */
        long pick[3];
        int np = 0, tries = 0;
        while (np < 3 && tries < 10000) {
            tries++;
            long lo = ra - window < 0 ? 0 : ra - window, hi = ra + window >= (long)nu ? (long)nu - 1 : ra + window;
            if (tries > 1000) lo = 0, hi = (long)nu - 1; /* a tiny corpus: any word */
            long c = lo + (long)rng_below(&r, (uint64_t)(hi - lo + 1));
            if (c == ra || ci_equal(byc[c].s, byc[c].len, aw, al)) continue;
            bool dup = false;
            for (int k = 0; k < np; k++) dup |= pick[k] == c || ci_equal(byc[pick[k]].s, byc[pick[k]].len, byc[c].s,
                                                                           byc[c].len);
            if (!dup) pick[np++] = c;
        }
        if (np < 3) FAIL(ST_EDATA, "%s: too few distinct words for 3 distractors", d->path);
        int answer = (int)rng_below(&r, 4);
        o = json_object();
        json_t *ch = json_array();
        if (!o || !ch) FAIL(ST_ENOMEM, "cloze: out of memory");
        json_object_set_new(o, "context", json_stringn(text + s->start, s->last - 1 - s->start));
        for (int c = 0, k = 0; c < 4; c++) {
            const char *w = c == answer ? aw : byc[pick[k]].s;
            int wl = c == answer ? al : byc[pick[k]].len;
            if (c != answer) k++;
            free(choice);
            choice = malloc((size_t)wl + 2);
            CHECK_ALLOC(choice);
            choice[0] = ' ';
            memcpy(choice + 1, w, (size_t)wl);
            json_array_append_new(ch, json_stringn(choice, (size_t)wl + 1));
        }
        json_object_set_new(o, "choices", ch);
        json_object_set_new(o, "answer", json_integer(answer));
        char *line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
        if (!line) FAIL(ST_EDATA, "%s: a sentence is not valid UTF-8", d->path);
        fprintf(f, "%s\n", line);
        free(line);
        json_decref(o);
        o = NULL;
    }
    if (fclose(f) != 0) {
        f = NULL;
        FAIL(ST_ENOMEM, "cloze: writing the items failed");
    }
    f = NULL;
    *jsonl = outbuf;
    outbuf = NULL;
    *items = take;
out:
    if (f) fclose(f);
    json_decref(o);
    free(outbuf);
    free(text);
    free(sent);
    free(all.w);
    free(uniq);
    free(byc);
    free(rank);
    free(order);
    free(choice);
    return st;
}
