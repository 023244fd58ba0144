/* ckpt_model.c -- models read back from checkpoint and ensemble files; the
 * logit lens over them and KV-cache generation.  See ckpt_model.h. */
#define _GNU_SOURCE
#include "strata/ckpt_model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strata/ckptdir.h"
#include "strata/comm.h"
#include "strata/head.h"
#include "strata/log.h"
#include "strata/sample.h"
#include "strata/tokenizer.h"

/* ---- tensor layout ------------------------------------------------------ */

int ckpt_arenas(model *m, param_arena **out, int cap)
{
    int n = 0;
    if (!m->substrate && n < cap) out[n++] = &m->embed;
    for (int l = 0; l < m->n_blocks && n < cap; l++) out[n++] = &m->blocks[l];
    for (int l = 0; l < m->n_blocks && n < cap; l++)
        if (m->lora[l].r > 0 && n < cap) out[n++] = &m->lora[l].p;
    if (n < cap) out[n++] = &m->head;
    return n;
}

void ckpt_arena_path(const model *m, const param_arena *a, const char *root, char *buf, size_t len)
{
    if (a == &m->head) {
        snprintf(buf, len, "%s/head", root);
        return;
    }
    if (a == &m->embed) {
        snprintf(buf, len, "%s/embed", root);
        return;
    }
    for (int l = 0; l < m->n_blocks; l++) {
        if (a == &m->blocks[l]) {
            snprintf(buf, len, "%s/block_%03d", root, l + 1);
            return;
        }
        if (a == &m->lora[l].p) {
            snprintf(buf, len, "%s/block_%03d/lora", root, l + 1);
            return;
        }
    }
    snprintf(buf, len, "%s/unknown", root);
}

st_status ckpt_arena_io(h5_file *f, const param_arena *a, const char *prefix, float *base, bool write)
{
    st_status st = ST_OK;
    for (int i = 0; i < a->n; i++) {
        const param_desc *d = &a->desc[i];
        char path[512];
        snprintf(path, sizeof path, "%s/%s", prefix, d->name);
        size_t dims[2] = {(size_t)d->shape[0], (size_t)d->shape[1]};
        if (write)
            CHECK(h5_write(f, path, H5_DT_F32, d->ndim, dims, base + d->offset));
        else
            CHECK(h5_read_into(f, path, H5_DT_F32, d->ndim, dims, base + d->offset));
    }
out:
    return st;
}

int64_t ckpt_substrate_checksum(const float *table, int V, int D)
{
    if (!table) return 0;
    /* >> 1: stored as a non-negative int64 */
    return (int64_t)(comm_checksum(table, sizeof(float) * (size_t)V * (size_t)D) >> 1);
}

/* ---- loading ------------------------------------------------------------ */

void ckpt_model_free(ckpt_model *cm)
{
    for (int i = 0; i < cm->n; i++) model_free(&cm->mem[i].m);
    free(cm->mem);
    tok_free(cm->tok);
    free(cm->substrate);
    memset(cm, 0, sizeof *cm);
}

/* One member: settings at cfg_path, tensors under root ("model" or
 * "member_NNN/model"), n_blocks blocks. */
static st_status member_load(h5_file *f, const char *cfg_path, const char *root, int n_blocks,
                             const float *substrate, int V, int D, ckpt_member *mb)
{
    st_status st = ST_OK;
    char *text = NULL, p[600];
    CHECK(h5_read_string(f, cfg_path, &text));
    cfg_defaults(&mb->cfg);
    CHECK(cfg_load_string(&mb->cfg, text, f->path));
    const st_config *c = &mb->cfg;
    if (n_blocks < 1 || n_blocks > 4096) FAIL(ST_EDATA, "'%s': %s holds %d blocks", f->path, root, n_blocks);
    model_dims d;
    model_dims_default(&d, D, (int)c->model.n_heads, (int)c->model.d_ff, V,
                       n_blocks > c->model.n_layers ? n_blocks : (int)c->model.n_layers);
    d.eps = (float)c->model.norm_eps;
    d.theta = c->model.rope_theta;
    d.init_std = c->model.init_std;
    CHECK(model_dims_check(&d));
    /* The init stream only gives the structure; every value is read back. */
    rng_t rng;
    rng_init(&rng, (uint64_t)c->run.seed, 0, RNG_INIT);
    CHECK(model_init(&mb->m, &d, substrate, &rng));
    for (int l = 0; l < n_blocks; l++) {
        CHECK(model_add_block(&mb->m, &rng));
        snprintf(p, sizeof p, "%s/block_%03d/lora", root, l + 1);
        bool lora = false;
        CHECK(h5_exists(f, p, &lora));
        if (lora) {
            int64_t r = 0;
            double alpha = 0;
            CHECK(h5_attr_get_i64(f, p, "rank", &r));
            CHECK(h5_attr_get_f64(f, p, "alpha", &alpha));
            if (r < 1 || r > D) FAIL(ST_EDATA, "'%s': %s has LoRA rank %lld", f->path, p, (long long)r);
            CHECK(model_lora_add(&mb->m, l, (int)r, (float)alpha, &rng));
        }
    }
    param_arena *arenas[2 * 4096 + 2];
    int na = ckpt_arenas(&mb->m, arenas, (int)(sizeof arenas / sizeof arenas[0]));
    for (int i = 0; i < na; i++) {
        ckpt_arena_path(&mb->m, arenas[i], root, p, sizeof p);
        CHECK(ckpt_arena_io(f, arenas[i], p, arenas[i]->w, false));
    }
    /* A mid-stage checkpoint: evaluate what the stage would merge. */
    for (int l = 0; l < n_blocks; l++)
        if (mb->m.lora[l].r > 0) CHECK(model_lora_merge(&mb->m, l));
out:
    free(text);
    return st;
}

static st_status load_local(ckpt_model *cm, const char *path)
{
    st_status st = ST_OK;
    h5_file f;
    h5_file_zero(&f);
    char *kind = NULL, *s = NULL;
    CHECK(h5_open_kind(&f, path, MPI_COMM_SELF, NULL, ST_EDATA));
    CHECK(h5_attr_get_str(&f, "/", "kind", &kind));
    int64_t n = 1;
    if (strcmp(kind, H5_KIND_ENSEMBLE) == 0) {
        cm->ensemble = true;
        CHECK(h5_attr_get_i64(&f, "/", "n_members", &n));
        if (n < 1 || n > 1024) FAIL(ST_EDATA, "ensemble '%s' lists %lld members", path, (long long)n);
    } else if (strcmp(kind, H5_KIND_CHECKPOINT) != 0) {
        FAIL(ST_EDATA, "'%s' is a strata %s file, not a checkpoint or an ensemble", path, kind);
    }
    CHECK(tok_load(&f, "tokenizer", &cm->tok));
    bool has_table = false;
    CHECK(h5_exists(&f, "substrate/embeddings", &has_table));
    int rank = 0;
    size_t dims[H5_MAX_RANK];
    if (has_table) {
        /* One row per token id, checked before the table is allocated. */
        const h5_expect vd = {.rank = 2, .dims = {(size_t)tok_vocab_size(cm->tok), H5_ANY}};
        CHECK(h5_read_expect(&f, "substrate/embeddings", H5_DT_F32, &vd, &rank, dims,
                             (void **)&cm->substrate));
        if (rank != 2) FAIL(ST_EDATA, "'%s': substrate/embeddings is not [V, D]", path);
    } else {
        /* trainable table: the shape comes from the (first) head */
        CHECK(h5_shape(&f, cm->ensemble ? "member_001/model/head/out_w" : "model/head/out_w", &rank, dims));
        if (rank != 2) FAIL(ST_EDATA, "'%s': head/out_w is not [V, D]", path);
    }
    cm->V = (int)dims[0];
    cm->D = (int)dims[1];
    if (cm->V != tok_vocab_size(cm->tok))
        FAIL(ST_EDATA, "'%s': the substrate has %d rows but the tokenizer %d ids", path, cm->V,
             tok_vocab_size(cm->tok));
    CHECK(h5_attr_get_str(&f, "substrate", "kind", &s));
    snprintf(cm->sub_kind, sizeof cm->sub_kind, "%s", s);
    free(s);
    s = NULL;
    CHECK(h5_attr_get_str(&f, "substrate", "source", &s));
    snprintf(cm->sub_source, sizeof cm->sub_source, "%s", s);
    cm->sub_checksum = ckpt_substrate_checksum(cm->substrate, cm->V, cm->D);

    cm->mem = calloc((size_t)n, sizeof *cm->mem);
    CHECK_ALLOC(cm->mem);
    for (int i = 0; i < (int)n; i++) {
        ckpt_member *mb = &cm->mem[i];
        char cfgp[64], root[64];
        int64_t nb = 0;
        if (cm->ensemble) {
            char grp[32];
            snprintf(grp, sizeof grp, "member_%03d", i + 1);
            snprintf(cfgp, sizeof cfgp, "%s/config", grp);
            snprintf(root, sizeof root, "%s/model", grp);
            CHECK(h5_attr_get_i64(&f, grp, "n_blocks", &nb));
            free(s);
            s = NULL;
            CHECK(h5_attr_get_str(&f, grp, "source", &s));
            snprintf(mb->source, sizeof mb->source, "%s", s);
        } else {
            snprintf(cfgp, sizeof cfgp, "config");
            snprintf(root, sizeof root, "model");
            CHECK(h5_attr_get_i64(&f, "state", "n_blocks", &nb));
            snprintf(mb->source, sizeof mb->source, "%s", path);
        }
        st = member_load(&f, cfgp, root, (int)nb, cm->substrate, cm->V, cm->D, mb);
        cm->n = i + 1; /* freed by ckpt_model_free even when partly built */
        if (st != ST_OK) goto out;
        if (i == 0 || mb->m.n_blocks < cm->depth) cm->depth = mb->m.n_blocks;
    }
    CHECK(h5_close(&f));
out:
    if (st != ST_OK) h5_close(&f);
    free(kind);
    free(s);
    return st;
}

st_status ckpt_model_load(ckpt_model *cm, const char *path, MPI_Comm comm)
{
    st_status st = ST_OK;
    memset(cm, 0, sizeof *cm);
    snprintf(cm->path, sizeof cm->path, "%s", path);
    /* Every rank reads the same file independently (as a resume does). */
    st = load_local(cm, path);
    int rc = st, worst = 0;
    CHECK_MPI(MPI_Allreduce(&rc, &worst, 1, MPI_INT, MPI_MAX, comm));
    if (worst != ST_OK && st == ST_OK) FAIL(ST_EDATA, "reading '%s' failed on another rank", path);
out:
    if (st != ST_OK) ckpt_model_free(cm);
    return st;
}

st_status ckpt_model_depth(const ckpt_model *cm, long *depth)
{
    st_status st = ST_OK;
    if (*depth == 0) *depth = cm->depth;
    if (*depth < 1 || *depth > cm->depth)
        FAIL(ST_EUSAGE, "--depth %ld: '%s' has %d block%s%s (the largest depth is %d)", *depth, cm->path,
             cm->depth, cm->depth == 1 ? "" : "s", cm->n > 1 ? " in its shallowest member" : "", cm->depth);
out:
    return st;
}

bool ckpt_same_tokenizer(const struct tokenizer *a, const struct tokenizer *b, char *why, size_t len)
{
    int va = tok_vocab_size(a), vb = tok_vocab_size(b);
    if (va != vb) {
        snprintf(why, len, "vocabulary sizes %d and %d", va, vb);
        return false;
    }
    for (int id = 0; id < va; id++) {
        size_t la = 0, lb = 0;
        const char *ta = tok_render_text(a, id, &la), *tb = tok_render_text(b, id, &lb);
        if (tok_kind_of(a, id) != tok_kind_of(b, id) || (ta == NULL) != (tb == NULL) ||
            (ta && (la != lb || memcmp(ta, tb, la) != 0))) {
            snprintf(why, len, "token id %d differs", id);
            return false;
        }
    }
    return true;
}

st_status ckpt_model_join(ckpt_model *dst, ckpt_model *src)
{
    st_status st = ST_OK;
    char why[128];
    if (dst->n == 0) {
        /* take everything */
        char keep[sizeof dst->path];
        snprintf(keep, sizeof keep, "%s", dst->path);
        *dst = *src;
        snprintf(dst->path, sizeof dst->path, "%s", keep);
        memset(src, 0, sizeof *src);
        goto out;
    }
    if (!ckpt_same_tokenizer(dst->tok, src->tok, why, sizeof why))
        FAIL(ST_EDATA, "'%s' and '%s' do not share the tokenizer (%s)", dst->mem[0].source, src->path, why);
    if (strcmp(dst->sub_kind, src->sub_kind) != 0)
        FAIL(ST_EDATA, "'%s' and '%s' do not share the substrate: kinds %s and %s", dst->mem[0].source,
             src->path, dst->sub_kind, src->sub_kind);
    if (dst->D != src->D || dst->sub_checksum != src->sub_checksum)
        FAIL(ST_EDATA, "'%s' and '%s' do not share the substrate: %s (dim %d) and %s (dim %d) differ",
             dst->mem[0].source, src->path, dst->sub_source, dst->D, src->sub_source, src->D);
    ckpt_member *mem = realloc(dst->mem, sizeof *mem * (size_t)(dst->n + src->n));
    CHECK_ALLOC(mem);
    dst->mem = mem;
    for (int i = 0; i < src->n; i++) {
        mem[dst->n] = src->mem[i];
        /* the tables are equal (checksum): borrow the one dst keeps */
        mem[dst->n].m.substrate = dst->substrate;
        if (mem[dst->n].m.n_blocks < dst->depth) dst->depth = mem[dst->n].m.n_blocks;
        dst->n++;
    }
    free(src->mem);
    src->mem = NULL;
    src->n = 0;
    ckpt_model_free(src);
out:
    return st;
}

/* ---- ensemble files ----------------------------------------------------- */

static st_status write_ensemble(const ckpt_model *cm, const char *path)
{
    st_status st = ST_OK;
    h5_file f;
    h5_file_zero(&f);
    char *text = NULL;
    CHECK(h5_create(&f, path, MPI_COMM_SELF, H5_KIND_ENSEMBLE));
    CHECK(h5_attr_set_i64(&f, "/", "n_members", cm->n));
    CHECK(h5_attr_set_str(&f, "/", "combine", "mean_logits"));
    CHECK(h5_group(&f, "tokenizer"));
    CHECK(tok_save_h5(f.id, "tokenizer", cm->tok));
    if (cm->substrate) {
        size_t dims[2] = {(size_t)cm->V, (size_t)cm->D};
        CHECK(h5_write(&f, "substrate/embeddings", H5_DT_F32, 2, dims, cm->substrate));
    }
    CHECK(h5_group(&f, "substrate"));
    CHECK(h5_attr_set_str(&f, "substrate", "kind", cm->sub_kind));
    CHECK(h5_attr_set_str(&f, "substrate", "source", cm->sub_source));
    CHECK(h5_attr_set_i64(&f, "substrate", "checksum", cm->sub_checksum));
    for (int i = 0; i < cm->n; i++) {
        ckpt_member *mb = &cm->mem[i];
        char grp[32], p[600];
        snprintf(grp, sizeof grp, "member_%03d", i + 1);
        CHECK(h5_group(&f, grp));
        CHECK(h5_attr_set_str(&f, grp, "source", mb->source));
        CHECK(h5_attr_set_i64(&f, grp, "n_blocks", mb->m.n_blocks));
        text = cfg_dump(&mb->cfg);
        CHECK_ALLOC(text);
        snprintf(p, sizeof p, "%s/config", grp);
        CHECK(h5_write_string(&f, p, text));
        free(text);
        text = NULL;
        char root[64];
        snprintf(root, sizeof root, "%s/model", grp);
        param_arena *arenas[2 * 4096 + 2];
        int na = ckpt_arenas(&mb->m, arenas, (int)(sizeof arenas / sizeof arenas[0]));
        for (int k = 0; k < na; k++) {
            ckpt_arena_path(&mb->m, arenas[k], root, p, sizeof p);
            CHECK(ckpt_arena_io(&f, arenas[k], p, arenas[k]->w, true));
        }
    }
    CHECK(h5_close(&f));
out:
    if (st != ST_OK) h5_close(&f);
    free(text);
    return st;
}

st_status ckpt_model_save_ensemble(const ckpt_model *cm, const char *path, MPI_Comm comm)
{
    st_status st = ST_OK;
    atomic_file a = {0};
    int rank = 0;
    MPI_Comm_rank(comm, &rank);
    CHECK(atomic_begin(&a, path, comm));
    int rc = ST_OK;
    char msg[512] = "";
    if (rank == 0) {
        rc = write_ensemble(cm, a.tmp);
        if (rc != ST_OK) snprintf(msg, sizeof msg, "%s", st_last_error());
    }
    CHECK_MPI(MPI_Bcast(&rc, 1, MPI_INT, 0, comm));
    if (rc != ST_OK) {
        CHECK_MPI(MPI_Bcast(msg, sizeof msg, MPI_CHAR, 0, comm));
        FAIL(rc, "writing ensemble '%s': %s", path, msg);
    }
    CHECK(atomic_commit(&a, comm));
out:
    if (st != ST_OK) atomic_abort(&a, comm);
    return st;
}

/* ---- evaluation --------------------------------------------------------- */

st_status ckpt_eval(ckpt_model *cm, const ckpt_eval_data *d, int depth, int batch, MPI_Comm comm,
                    ckpt_eval_row *out)
{
    st_status st = ST_OK;
    const int T = d->T, V = cm->V, n = cm->n;
    int rank = 0, size = 1;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    long first, count;
    comm_share(d->n, rank, size, &first, &count);
    const int B = batch < 1 ? 1 : batch;
    model_ws *ws = calloc((size_t)n, sizeof *ws);
    int32_t *tok = malloc(sizeof(int32_t) * (size_t)B * (size_t)(T + 1)); /* [B, T + 1] */
    double *sums = calloc((size_t)depth * 4, sizeof *sums);  /* [depth, 4]: nats, correct, tokens, chars */
    float *avg = NULL;  /* [B*T, V] mean logits (several members) */
    float *lse = NULL;  /* [B*T] */
    CHECK_ALLOC(ws);
    CHECK_ALLOC(tok);
    CHECK_ALLOC(sums);
    if (depth < 1 || depth > cm->depth) FAIL(ST_EUSAGE, "depth %d is outside 1..%d", depth, cm->depth);
    for (int j = 0; j < n; j++) CHECK(model_ws_init(&ws[j], &cm->mem[j].m.dims, B, T, 1, 0));
    if (n > 1) {
        avg = malloc(sizeof(float) * (size_t)B * (size_t)T * (size_t)V);
        lse = malloc(sizeof(float) * (size_t)B * (size_t)T);
        CHECK_ALLOC(avg);
        CHECK_ALLOC(lse);
    }
    for (long i0 = 0; i0 < count; i0 += B) {
        int nb = (int)(count - i0 < B ? count - i0 : B);
        const int N = nb * T;
        double chars = 0;
        for (int i = 0; i < nb; i++) {
            long row = d->ids[first + i0 + i];
            memcpy(tok + (size_t)i * (T + 1), d->chunks + (size_t)row * (size_t)(T + 1),
                   sizeof(int32_t) * (size_t)(T + 1));
            for (int t = 0; t <= T; t++)
                if (tok[(size_t)i * (T + 1) + t] < 0 || tok[(size_t)i * (T + 1) + t] >= V)
                    FAIL(ST_EDATA, "chunk %ld holds token id %d outside the vocabulary [0, %d)", row,
                         (int)tok[(size_t)i * (T + 1) + t], V);
            chars += d->chars[row];
        }
        model_batch b = {.tokens = tok, .targets = NULL, .ld = T + 1};
        for (int k = 1; k <= depth; k++) {
            /* Each member: block k on its block k-1 output, then its head. */
            for (int j = 0; j < n; j++) {
                model *m = &cm->mem[j].m;
                CHECK(model_forward_blocks(m, &ws[j], &b, k > 1 ? model_ws_output(&ws[j]) : NULL, k - 1, k, nb,
                                           T, false));
                CHECK(model_forward_head(m, &ws[j], model_ws_output(&ws[j]), NULL, NULL, NULL));
                if (n > 1) {
                    const float *z = ws[j].head.logits;
                    size_t nz = (size_t)N * (size_t)V;
                    if (j == 0)
                        memcpy(avg, z, sizeof(float) * nz);
                    else
                        for (size_t q = 0; q < nz; q++) avg[q] += z[q];
                }
            }
            head_acts h = ws[0].head;
            if (n > 1) {
                const float inv = 1.0f / (float)n;
                for (size_t q = 0; q < (size_t)N * (size_t)V; q++) avg[q] *= inv;
                h.logits = avg;
                h.lse = lse;
            }
            long correct = 0;
            double nats = head_loss(&h, tok + 1, N, T, T + 1, V, &correct);
            double *s = sums + (size_t)(k - 1) * 4;
            s[0] += nats;
            s[1] += (double)correct;
            s[2] += (double)N;
            s[3] += chars;
        }
    }
    CHECK(comm_allreduce_sum_f64(sums, depth * 4, comm));
    for (int k = 1; k <= depth; k++) {
        const double *s = sums + (size_t)(k - 1) * 4;
        out[k - 1] = (ckpt_eval_row){
            .depth = k,
            .loss = s[2] > 0 ? s[0] / s[2] : NAN,
            .bpc = s[3] > 0 ? s[0] / log(2.0) / s[3] : NAN,
            .top1 = s[2] > 0 ? s[1] / s[2] : NAN,
            .tokens = s[2],
        };
    }
out:
    for (int j = 0; ws && j < n; j++) model_ws_free(&ws[j]);
    free(ws);
    free(tok);
    free(sums);
    free(avg);
    free(lse);
    return st;
}

/* ---- generation ----------------------------------------------------------- */

st_status ckpt_generate(ckpt_model *cm, const char *prompt, const ckpt_gen_opts *o, char **out)
{
    st_status st = ST_OK;
    const int V = cm->V, n = cm->n;
    tok_buf in;
    tok_buf_init(&in);
    kv_cache *kv = calloc((size_t)n, sizeof *kv);
    float *z = malloc(sizeof(float) * (size_t)V);     /* [V] mean logits */
    float *probs = malloc(sizeof(float) * (size_t)V); /* [V] sampling scratch */
    int32_t *gen = malloc(sizeof(int32_t) * (size_t)(o->tokens > 0 ? o->tokens : 1)); /* [tokens] */
    char *cont = NULL;
    size_t cont_len = 0;
    *out = NULL;
    CHECK_ALLOC(kv);
    CHECK_ALLOC(z);
    CHECK_ALLOC(probs);
    CHECK_ALLOC(gen);
    if (o->depth < 1 || o->depth > cm->depth) FAIL(ST_EUSAGE, "depth %d is outside 1..%d", o->depth, cm->depth);
    CHECK(tok_encode(cm->tok, (const uint8_t *)prompt, strlen(prompt), &in, NULL));
    if (in.n == 0) CHECK(tok_buf_push(&in, tok_special_id(cm->tok, TOK_BOS), 0));
    const int cap = (int)in.n + (o->tokens > 0 ? o->tokens : 0);
    for (int j = 0; j < n; j++) CHECK(kv_cache_init(&kv[j], &cm->mem[j].m, o->depth, cap));
    rng_t rng;
    rng_init(&rng, o->seed, 0, RNG_SAMPLE);
    for (size_t i = 0; i < in.n; i++)
        for (int j = 0; j < n; j++) CHECK(model_decode_step(&cm->mem[j].m, &kv[j], in.ids[i]));
    for (int t = 0; t < o->tokens; t++) {
        for (int q = 0; q < V; q++) {
            float s = 0.0f;
            for (int j = 0; j < n; j++) s += kv[j].logits[q];
            z[q] = n > 1 ? s / (float)n : s;
            /* Never emit ids without text (padding, unused bmp ids). */
            tok_kind k = tok_kind_of(cm->tok, q);
            if (k == TOK_UNUSED || k == TOK_SPECIAL) z[q] = -1e30f;
        }
        gen[t] = sample_token(z, V, o->temperature, o->top_k, &rng, probs);
        if (t + 1 < o->tokens)
            for (int j = 0; j < n; j++) CHECK(model_decode_step(&cm->mem[j].m, &kv[j], gen[t]));
    }
    CHECK(tok_decode(cm->tok, gen, (size_t)(o->tokens > 0 ? o->tokens : 0), &cont, &cont_len));
    size_t pl = strlen(prompt);
    *out = malloc(pl + cont_len + 1);
    CHECK_ALLOC(*out);
    memcpy(*out, prompt, pl);
    memcpy(*out + pl, cont, cont_len + 1);
out:
    for (int j = 0; kv && j < n; j++) kv_cache_free(&kv[j]);
    free(kv);
    free(z);
    free(probs);
    free(gen);
    free(cont);
    tok_buf_free(&in);
    return st;
}
