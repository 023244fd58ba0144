/* ckpt_model.c -- models read back from checkpoint and ensemble files, and
 * ensembles written.  See ckpt_model.h. */
#define _GNU_SOURCE
#include "strata/ckpt_model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strata/agree.h"
#include "strata/publish.h"
#include "strata/h5.h"
#include "strata/layout.h"
#include "strata/log.h"
#include "strata/tokenizer.h"

/* ---- combination modes -------------------------------------------------- */

static const char *const combine_names[] = {
    [CKPT_MEAN_LOGITS] = "mean-logits",
    [CKPT_MEAN_PROBS] = "mean-probs",
    [CKPT_POSTERIOR] = "posterior",
};
enum { N_COMBINE = (int)(sizeof combine_names / sizeof combine_names[0]) };

const char *ckpt_combine_name(ckpt_combine how)
{
    return (int)how >= 0 && (int)how < N_COMBINE ? combine_names[how] : "?";
}

bool ckpt_combine_parse(const char *s, ckpt_combine *how)
{
    for (int i = 0; s && i < N_COMBINE; i++) {
        const char *c = combine_names[i];
        size_t k = 0;
        /* '-' and '_' are the same letter here ("mean_logits" of older files) */
        while (c[k] && (s[k] == c[k] || (c[k] == '-' && s[k] == '_'))) k++;
        if (!c[k] && !s[k]) {
            *how = (ckpt_combine)i;
            return true;
        }
    }
    return false;
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
    if (n_blocks < 1 || n_blocks > MODEL_MAX_LAYERS) FAIL(ST_EDATA, "'%s': %s holds %d blocks", f->path, root, n_blocks);
    model_dims d;
    CHECK(layout_dims(c, D, V, n_blocks > c->model.n_layers ? n_blocks : (int)c->model.n_layers, &d));
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
    param_arena *arenas[MODEL_MAX_ARENAS];
    int na = layout_arenas(&mb->m, arenas, (int)(sizeof arenas / sizeof arenas[0]));
    for (int i = 0; i < na; i++) {
        layout_arena_path(&mb->m, arenas[i], root, p, sizeof p);
        CHECK(layout_arena_io(f, arenas[i], p, arenas[i]->w, false));
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
        /* no attribute: a file from before the modes, which meant mean-logits */
        bool has = false;
        CHECK(h5_attr_exists(&f, "/", "combine", &has));
        if (has) {
            CHECK(h5_attr_get_str(&f, "/", "combine", &s));
            if (!ckpt_combine_parse(s, &cm->combine))
                FAIL(ST_EDATA, "ensemble '%s': attribute combine = '%.64s' is not one of mean-logits, mean-probs, posterior",
                     path, s);
            free(s);
            s = NULL;
        }
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
    cm->sub_checksum = layout_substrate_checksum(cm->substrate, cm->V, cm->D);

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
            bool has = false;
            mb->prior = 1.0;
            CHECK(h5_attr_exists(&f, grp, "prior", &has));
            if (has) CHECK(h5_attr_get_f64(&f, grp, "prior", &mb->prior));
            /* a stranger's weight: NaN, infinities, 0 and below would break the mixture */
            if (!(mb->prior > 0 && mb->prior <= 1e300))
                FAIL(ST_EDATA, "ensemble '%s': %s attribute prior = %g is not a finite number > 0", path, grp,
                     mb->prior);
        } else {
            mb->prior = 1.0;
            snprintf(cfgp, sizeof cfgp, "config");
            snprintf(root, sizeof root, "model");
            CHECK(h5_attr_get_i64(&f, "state", "n_blocks", &nb));
            snprintf(mb->source, sizeof mb->source, "%s", path);
        }
        st = member_load(&f, cfgp, root, (int)nb, cm->substrate, cm->V, cm->D, mb);
        cm->n = i + 1; /* freed by ckpt_model_free even when partly built */
        if (st != ST_OK) goto out;
        if (mb->m.n_blocks > cm->depth) cm->depth = mb->m.n_blocks;
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
    st = st_agree(load_local(cm, path), comm);
    if (st != ST_OK) ckpt_model_free(cm);
    return st;
}

st_status ckpt_model_depth(const ckpt_model *cm, long *depth)
{
    st_status st = ST_OK;
    if (*depth == 0) *depth = cm->depth;
    if (*depth < 1 || *depth > cm->depth)
        FAIL(ST_EUSAGE, "--depth %ld: '%s' has %d block%s%s (the largest depth is %d)", *depth, cm->path,
             cm->depth, cm->depth == 1 ? "" : "s", cm->n > 1 ? " in its deepest member" : "", cm->depth);
out:
    return st;
}

bool ckpt_same_tokenizer(const struct tokenizer *a, const char *a_path, const struct tokenizer *b,
                         const char *b_path, char *why, size_t len)
{
    char diff[64] = "";
    int va = tok_vocab_size(a), vb = tok_vocab_size(b);
    if (va != vb) snprintf(diff, sizeof diff, "vocabulary sizes %d and %d", va, vb);
    for (int id = 0; !diff[0] && id < va; id++) {
        size_t la = 0, lb = 0;
        const char *ta = tok_render_text(a, id, &la), *tb = tok_render_text(b, id, &lb);
        if (tok_kind_of(a, id) != tok_kind_of(b, id) || (ta == NULL) != (tb == NULL) ||
            (ta && (la != lb || memcmp(ta, tb, la) != 0)))
            snprintf(diff, sizeof diff, "token id %d differs", id);
    }
    if (!diff[0]) return true;
    /* the hashes say which tokenizer each file holds (tokenizer show) */
    char ha[65], hb[65];
    tok_hash(a, ha);
    tok_hash(b, hb);
    snprintf(why, len, "'%s' (tokenizer %.16s...) and '%s' (tokenizer %.16s...) do not share the tokenizer: %s",
             a_path, ha, b_path, hb, diff);
    return false;
}

st_status ckpt_model_join(ckpt_model *dst, ckpt_model *src)
{
    st_status st = ST_OK;
    char why[2048];
    if (dst->n == 0) {
        /* take everything */
        char keep[sizeof dst->path];
        snprintf(keep, sizeof keep, "%s", dst->path);
        *dst = *src;
        snprintf(dst->path, sizeof dst->path, "%s", keep);
        memset(src, 0, sizeof *src);
        goto out;
    }
    if (!ckpt_same_tokenizer(dst->tok, dst->mem[0].source, src->tok, src->path, why, sizeof why))
        FAIL(ST_EDATA, "%s", why);
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
        if (mem[dst->n].m.n_blocks > dst->depth) dst->depth = mem[dst->n].m.n_blocks;
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
    CHECK(h5_attr_set_str(&f, "/", "combine", ckpt_combine_name(cm->combine)));
    CHECK(tok_save(&f, "tokenizer", cm->tok));
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
        CHECK(h5_attr_set_f64(&f, grp, "prior", mb->prior));
        text = cfg_dump(&mb->cfg);
        CHECK_ALLOC(text);
        snprintf(p, sizeof p, "%s/config", grp);
        CHECK(h5_write_string(&f, p, text));
        free(text);
        text = NULL;
        char root[64];
        snprintf(root, sizeof root, "%s/model", grp);
        param_arena *arenas[MODEL_MAX_ARENAS];
        int na = layout_arenas(&mb->m, arenas, (int)(sizeof arenas / sizeof arenas[0]));
        for (int k = 0; k < na; k++) {
            layout_arena_path(&mb->m, arenas[k], root, p, sizeof p);
            CHECK(layout_arena_io(&f, arenas[k], p, arenas[k]->w, true));
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
    publish_file a = {0};
    int rank = 0;
    MPI_Comm_rank(comm, &rank);
    CHECK(publish_begin(&a, path, comm));
    st = st_agree_root(rank == 0 ? write_ensemble(cm, a.tmp) : ST_OK, comm);
    if (st != ST_OK) {
        st_add_context("writing ensemble '%s'", path);
        goto out;
    }
    CHECK(publish_commit(&a, comm));
out:
    if (st != ST_OK) publish_abort(&a, comm);
    return st;
}
