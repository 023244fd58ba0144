/* export.c -- export directories: a model as safetensors + JSON, and back
 * (see export.h; the format is docs/FORMAT.md "Export directories"). */
#define _GNU_SOURCE
#include "strata/export.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "strata/agree.h"
#include "strata/layout.h"
#include "strata/log.h"
#include "strata/safetensors.h"
#include "strata/tokenizer.h"

static const char *const FILES[] = {"model.safetensors", "config.json", "tokenizer.json"};
#define N_FILES 3
#define MAX_JSON (256u << 20) /* config.json / tokenizer.json: bmp tokenizers are a few MB */

static const char *const KIND_NAMES[] = {"special", "byte", "char", "ngram", "unused"};

/* ---- the directory ------------------------------------------------------ */

st_status export_guard(const char *dir, bool force)
{
    st_status st = ST_OK;
    struct stat sb;
    DIR *d = NULL;
    if (!dir || !dir[0]) FAIL(ST_EUSAGE, "no output directory given");
    if (lstat(dir, &sb) != 0) {
        if (errno == ENOENT) goto out;
        FAIL(ST_EUSAGE, "cannot check the output '%s': %s", dir, strerror(errno));
    }
    if (!S_ISDIR(sb.st_mode)) FAIL(ST_EUSAGE, "output '%s' exists and is not a directory; choose another output name", dir);
    if (!force) FAIL(ST_EUSAGE, "output '%s' exists; pass --force to replace it", dir);
    d = opendir(dir);
    if (!d) FAIL(ST_EUSAGE, "cannot read the output directory '%s': %s", dir, strerror(errno));
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        bool ours = false;
        for (int i = 0; i < N_FILES; i++) ours |= strcmp(e->d_name, FILES[i]) == 0;
        if (!ours)
            FAIL(ST_EUSAGE, "output '%s' holds '%s', so it is not an export directory; even with --force only an "
                 "export is replaced: choose another output name", dir, e->d_name);
    }
out:
    if (d) closedir(d);
    return st;
}

static void join(char *buf, size_t len, const char *dir, const char *name) { snprintf(buf, len, "%s/%s", dir, name); }

static int sync_dir(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return -1;
    int r = fsync(fd);
    close(fd);
    return r;
}

static void remove_tree(const char *dir)
{
    char p[PATH_MAX];
    for (int i = 0; i < N_FILES; i++) {
        join(p, sizeof p, dir, FILES[i]);
        unlink(p);
    }
    rmdir(dir);
}

static char *parent_of(const char *path)
{
    char *p = strdup(path);
    if (!p) return NULL;
    size_t n = strlen(p);
    while (n > 1 && p[n - 1] == '/') p[--n] = '\0';
    char *s = strrchr(p, '/');
    if (!s) {
        free(p);
        return strdup(".");
    }
    if (s == p) s[1] = '\0';
    else *s = '\0';
    return p;
}

/* ---- writing ------------------------------------------------------------ */

static st_status write_json(const char *path, json_t *j)
{
    st_status st = ST_OK;
    char *text = json_dumps(j, JSON_INDENT(1) | JSON_ENSURE_ASCII);
    FILE *fp = NULL;
    CHECK_ALLOC(text);
    fp = fopen(path, "w");
    if (!fp) FAIL(ST_EIO, "cannot create '%s': %s", path, strerror(errno));
    if (fputs(text, fp) == EOF || fputc('\n', fp) == EOF || fflush(fp) != 0 || fsync(fileno(fp)) != 0)
        FAIL(ST_EIO, "cannot write '%s': %s", path, strerror(errno));
    int r = fclose(fp);
    fp = NULL;
    if (r != 0) FAIL(ST_EIO, "cannot write '%s': %s", path, strerror(errno));
out:
    if (fp) fclose(fp);
    free(text);
    return st;
}

static json_t *tokenizer_json(const tokenizer *t)
{
    json_t *j = json_object(), *toks = json_array(), *sp = json_object();
    if (!j || !toks || !sp) {
        json_decref(j);
        json_decref(toks);
        json_decref(sp);
        return NULL;
    }
    char hash[65];
    tok_hash(t, hash);
    int V = tok_vocab_size(t);
    json_object_set_new(j, "format", json_string("strata-tokenizer"));
    json_object_set_new(j, "mode", json_string(tok_mode_of(t) == TOK_MODE_BMP ? "bmp" : "compact"));
    json_object_set_new(j, "vocab_size", json_integer(V));
    json_object_set_new(j, "ngram_max", json_integer(tok_ngram_max(t)));
    json_object_set_new(j, "sha256", json_string(hash));
    json_object_set_new(j, "byte_fallback", json_true());
    json_object_set_new(j, "encoding", json_string("greedy longest match: learned n-grams, then the character, "
                                                   "then its UTF-8 bytes as byte tokens"));
    static const char *const sp_names[TOK_N_SPECIALS] = {"pad", "bos", "eos"};
    for (int s = 0; s < TOK_N_SPECIALS; s++)
        json_object_set_new(sp, sp_names[s], json_integer(tok_special_id(t, (tok_special)s)));
    json_object_set_new(j, "specials", sp);
    for (int id = 0; id < V; id++) {
        tok_kind k = tok_kind_of(t, id);
        if (k == TOK_UNUSED) continue;
        size_t len = 0;
        const char *text = tok_render_text(t, id, &len);
        json_t *e = json_object();
        if (!e) break;
        json_object_set_new(e, "id", json_integer(id));
        json_object_set_new(e, "kind", json_string(KIND_NAMES[k]));
        json_object_set_new(e, "text", json_stringn(text, len));
        if (k == TOK_BYTE) {
            unsigned b = 0;
            sscanf(text, "<0x%2X>", &b);
            json_object_set_new(e, "byte", json_integer(b));
        }
        json_object_set_new(e, "count", json_integer((json_int_t)tok_id_count(t, id)));
        json_array_append_new(toks, e);
    }
    json_object_set_new(j, "tokens", toks);
    return j;
}

static json_t *config_json(const ckpt_model *cm, const ckpt_member *mb, int depth)
{
    const model_dims *d = &mb->m.dims;
    json_t *j = json_object(), *rope = json_object(), *emb = json_object(), *names = json_object();
    char *settings = cfg_dump(&mb->cfg);
    char hash[65];
    tok_hash(cm->tok, hash);
    if (!j || !rope || !emb || !names || !settings) {
        json_decref(j);
        json_decref(rope);
        json_decref(emb);
        json_decref(names);
        free(settings);
        return NULL;
    }
    json_object_set_new(j, "format", json_string(EXPORT_FORMAT));
    json_object_set_new(j, "format_version", json_integer(EXPORT_FORMAT_VERSION));
    json_object_set_new(j, "architecture", json_string("strata pre-norm transformer (docs/MODEL.md)"));
    json_object_set_new(j, "vocab_size", json_integer(d->V));
    json_object_set_new(j, "d_model", json_integer(d->D));
    json_object_set_new(j, "n_layers", json_integer(depth));
    json_object_set_new(j, "n_layers_in_checkpoint", json_integer(mb->m.n_blocks));
    json_object_set_new(j, "n_heads", json_integer(d->H));
    json_object_set_new(j, "head_dim", json_integer(d->D / d->H));
    json_object_set_new(j, "d_ff", json_integer(d->F));
    json_object_set_new(j, "norm", json_string("rmsnorm"));
    json_object_set_new(j, "norm_eps", json_real(mb->cfg.model.norm_eps));
    json_object_set_new(j, "activation", json_string("gelu_exact"));
    json_object_set_new(j, "bias", json_false());
    json_object_set_new(j, "tie_word_embeddings", json_false());
    json_object_set_new(rope, "layout", json_string("interleaved"));
    json_object_set_new(rope, "theta", json_real(d->theta));
    json_object_set_new(rope, "applies_to", json_string("q and k of every head, pairs (2i, 2i+1), f_i = theta^(-2i/head_dim)"));
    json_object_set_new(j, "rope", rope);
    json_object_set_new(emb, "tensor", json_string("embed.weight"));
    json_object_set_new(emb, "trainable", json_boolean(cm->substrate == NULL));
    json_object_set_new(emb, "substrate_kind", json_string(cm->sub_kind));
    json_object_set_new(emb, "substrate_source", json_string(cm->sub_source));
    json_object_set_new(j, "embedding", emb);
    json_object_set_new(names, "block", json_string("blocks.N.<name>, N = 0 .. n_layers-1: ln1_g [D], attn_qkv_w [3D, D], "
                                                    "attn_out_w [D, D], ln2_g [D], mlp_in_w [F, D], mlp_out_w [D, F]"));
    json_object_set_new(names, "head", json_string("head.norm_g [D], head.out_w [V, D]"));
    json_object_set_new(j, "tensors", names);
    json_object_set_new(j, "tokenizer_sha256", json_string(hash));
    json_object_set_new(j, "source", json_string(mb->source));
    json_object_set_new(j, "strata_settings", json_string(settings));
    free(settings);
    return j;
}

static st_status write_tensors(const ckpt_model *cm, const ckpt_member *mb, int depth, const char *path)
{
    st_status st = ST_OK;
    const model *m = &mb->m;
    int cap = 1 + depth * PARAM_MAX_TENSORS + PARAM_MAX_TENSORS;
    sft_tensor *t = calloc((size_t)cap, sizeof *t);
    char (*names)[64] = calloc((size_t)cap, sizeof *names);
    int n = 0;
    CHECK_ALLOC(t);
    CHECK_ALLOC(names);
    snprintf(names[n], sizeof names[n], "embed.weight");
    t[n] = (sft_tensor){.name = names[n], .ndim = 2, .shape = {m->dims.V, m->dims.D},
                        .data = cm->substrate ? cm->substrate : m->embed.w};
    n++;
    for (int l = 0; l <= depth; l++) {
        const param_arena *a = l < depth ? &m->blocks[l] : &m->head;
        for (int i = 0; i < a->n; i++) {
            const param_desc *ds = &a->desc[i];
            if (l < depth) snprintf(names[n], sizeof names[n], "blocks.%d.%s", l, ds->name);
            else snprintf(names[n], sizeof names[n], "head.%s", ds->name);
            t[n] = (sft_tensor){.name = names[n], .ndim = ds->ndim, .shape = {ds->shape[0], ds->ndim == 2 ? ds->shape[1] : 0},
                                .data = a->w + ds->offset};
            n++;
        }
    }
    char V[16];
    snprintf(V, sizeof V, "%d", EXPORT_FORMAT_VERSION);
    const char *meta[] = {"format", EXPORT_FORMAT, "format_version", V};
    CHECK(sft_write(path, t, n, meta, 2));
out:
    free(t);
    free(names);
    return st;
}

static st_status write_local(const ckpt_model *cm, int member, int depth, const char *dir, bool force)
{
    st_status st = ST_OK;
    char *tmp = NULL, *old = NULL, *parent = NULL, p[PATH_MAX];
    json_t *cj = NULL, *tj = NULL;
    bool made = false, moved = false;
    const ckpt_member *mb = &cm->mem[member];
    CHECK(export_guard(dir, force));
    if (asprintf(&tmp, "%s.tmp.XXXXXX", dir) < 0 || asprintf(&old, "%s.old.%ld", dir, (long)getpid()) < 0) {
        tmp = old = NULL;
        CHECK_ALLOC(NULL);
    }
    while (strlen(tmp) > 1 && tmp[strlen(tmp) - 1] == '/') tmp[strlen(tmp) - 1] = '\0';
    if (!mkdtemp(tmp)) FAIL(ST_EIO, "cannot create the directory '%s': %s", tmp, strerror(errno));
    made = true;
    chmod(tmp, 0755);
    join(p, sizeof p, tmp, "model.safetensors");
    CHECK(write_tensors(cm, mb, depth, p));
    cj = config_json(cm, mb, depth);
    tj = tokenizer_json(cm->tok);
    CHECK_ALLOC(cj);
    CHECK_ALLOC(tj);
    join(p, sizeof p, tmp, "config.json");
    CHECK(write_json(p, cj));
    join(p, sizeof p, tmp, "tokenizer.json");
    CHECK(write_json(p, tj));
    if (sync_dir(tmp) != 0) FAIL(ST_EIO, "cannot sync '%s': %s", tmp, strerror(errno));
    struct stat sb;
    if (stat(dir, &sb) == 0) {
        /* force (export_guard): the old export goes aside, then away */
        if (rename(dir, old) != 0) FAIL(ST_EIO, "cannot move '%s' aside: %s", dir, strerror(errno));
        moved = true;
    }
    if (rename(tmp, dir) != 0) FAIL(ST_EIO, "cannot rename '%s' to '%s': %s", tmp, dir, strerror(errno));
    made = false;
    if (moved) remove_tree(old);
    moved = false;
    parent = parent_of(dir);
    if (parent) sync_dir(parent);
out:
    if (moved) rename(old, dir);
    if (made) remove_tree(tmp);
    json_decref(cj);
    json_decref(tj);
    free(tmp);
    free(old);
    free(parent);
    return st;
}

st_status export_write(const ckpt_model *cm, int member, int depth, const char *dir, bool force, MPI_Comm comm)
{
    st_status st = ST_OK;
    int rank = 0;
    MPI_Comm_rank(comm, &rank);
    if (member < 0 || member >= cm->n || depth < 1 || depth > cm->mem[member].m.n_blocks) {
        st = ST_ERROR(ST_EUSAGE, "export of '%s': no member %d with %d blocks", cm->path, member + 1, depth);
    } else if (rank == 0) {
        st = write_local(cm, member, depth, dir, force);
    }
    return st_agree_root(st, comm);
}

/* ---- reading ------------------------------------------------------------ */

static st_status load_json(const char *path, json_t **out)
{
    st_status st = ST_OK;
    json_error_t err;
    struct stat sb;
    *out = NULL;
    if (stat(path, &sb) != 0) FAIL(ST_EDATA, "cannot open '%s': %s", path, strerror(errno));
    if (!S_ISREG(sb.st_mode) || (uint64_t)sb.st_size > MAX_JSON)
        FAIL(ST_EDATA, "'%s' is not a regular file of at most %u MiB", path, MAX_JSON >> 20);
    *out = json_load_file(path, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &err);
    if (!*out) FAIL(ST_EDATA, "'%s' is not valid JSON (line %d, column %d: %s)", path, err.line, err.column, err.text);
    if (!json_is_object(*out)) FAIL(ST_EDATA, "'%s' is not a JSON object", path);
out:
    return st;
}

static st_status get_int(const char *path, json_t *o, const char *key, long lo, long hi, long *v)
{
    st_status st = ST_OK;
    json_t *x = json_object_get(o, key);
    if (!json_is_integer(x) || json_integer_value(x) < lo || json_integer_value(x) > hi)
        FAIL(ST_EDATA, "'%s': \"%s\" must be an integer in %ld..%ld", path, key, lo, hi);
    *v = (long)json_integer_value(x);
out:
    return st;
}

static st_status get_num(const char *path, json_t *o, const char *key, double lo, double hi, double *v)
{
    st_status st = ST_OK;
    json_t *x = json_object_get(o, key);
    if (!json_is_number(x) || !(json_number_value(x) >= lo && json_number_value(x) <= hi))
        FAIL(ST_EDATA, "'%s': \"%s\" must be a number in %g..%g", path, key, lo, hi);
    *v = json_number_value(x);
out:
    return st;
}

static st_status get_str(const char *path, json_t *o, const char *key, const char *want, const char **v)
{
    st_status st = ST_OK;
    json_t *x = json_object_get(o, key);
    if (!json_is_string(x)) FAIL(ST_EDATA, "'%s': \"%s\" must be a string", path, key);
    if (want && strcmp(json_string_value(x), want) != 0)
        FAIL(ST_EDATA, "'%s': \"%s\" is '%.64s'; this strata reads '%s'", path, key, json_string_value(x), want);
    if (v) *v = json_string_value(x);
out:
    return st;
}

static st_status read_tokenizer(const char *path, tokenizer **out)
{
    st_status st = ST_OK;
    json_t *j = NULL;
    uint8_t *kind = NULL;
    const char **text = NULL;
    size_t *len = NULL;
    uint64_t *count = NULL;
    const char *mode = NULL, *hash = NULL;
    long V = 0, nmax = 0;
    *out = NULL;
    CHECK(load_json(path, &j));
    CHECK(get_str(path, j, "format", "strata-tokenizer", NULL));
    CHECK(get_str(path, j, "mode", NULL, &mode));
    tok_mode m;
    if (strcmp(mode, "bmp") == 0) m = TOK_MODE_BMP;
    else if (strcmp(mode, "compact") == 0) m = TOK_MODE_COMPACT;
    else FAIL(ST_EDATA, "'%s': \"mode\" '%.32s' is neither bmp nor compact", path, mode);
    CHECK(get_int(path, j, "vocab_size", TOK_N_SPECIALS + 256, 16777216, &V));
    CHECK(get_int(path, j, "ngram_max", 1, TOK_MAX_NGRAM, &nmax));
    CHECK(get_str(path, j, "sha256", NULL, &hash));
    json_t *toks = json_object_get(j, "tokens");
    if (!json_is_array(toks) || json_array_size(toks) > (size_t)V)
        FAIL(ST_EDATA, "'%s': \"tokens\" must be an array of at most vocab_size (%ld) entries", path, V);
    kind = malloc((size_t)V);
    text = calloc((size_t)V, sizeof *text);
    len = calloc((size_t)V, sizeof *len);
    count = calloc((size_t)V, sizeof *count);
    CHECK_ALLOC(kind);
    CHECK_ALLOC(text);
    CHECK_ALLOC(len);
    CHECK_ALLOC(count);
    memset(kind, TOK_UNUSED, (size_t)V);
    size_t i;
    json_t *e;
    json_array_foreach(toks, i, e) {
        long id = 0;
        const char *k = NULL;
        if (!json_is_object(e)) FAIL(ST_EDATA, "'%s': tokens[%zu] is not an object", path, i);
        json_t *jt = json_object_get(e, "text"), *jc = json_object_get(e, "count");
        st = get_int(path, e, "id", 0, V - 1, &id);
        if (st == ST_OK) st = get_str(path, e, "kind", NULL, &k);
        if (st != ST_OK) {
            st_add_context("tokens[%zu]", i);
            goto out;
        }
        int kk = 0;
        while (kk < TOK_UNUSED && strcmp(KIND_NAMES[kk], k) != 0) kk++;
        if (kk == TOK_UNUSED) FAIL(ST_EDATA, "'%s': token id %ld has kind '%.16s'", path, id, k);
        if (kind[id] != TOK_UNUSED) FAIL(ST_EDATA, "'%s': token id %ld is listed twice", path, id);
        if (!json_is_string(jt)) FAIL(ST_EDATA, "'%s': token id %ld has no \"text\" string", path, id);
        if (jc && (!json_is_integer(jc) || json_integer_value(jc) < 0))
            FAIL(ST_EDATA, "'%s': token id %ld has a bad \"count\"", path, id);
        kind[id] = (uint8_t)kk;
        text[id] = json_string_value(jt);
        len[id] = json_string_length(jt);
        count[id] = jc ? (uint64_t)json_integer_value(jc) : 0;
    }
    st = tok_from_def(m, (int)V, (int)nmax, kind, text, len, count, out);
    if (st != ST_OK) {
        st_add_context("'%s'", path);
        goto out;
    }
    char h[65];
    tok_hash(*out, h);
    if (strcmp(h, hash) != 0)
        FAIL(ST_EDATA, "'%s': the tokens give content hash %s, the file says %.64s (edited after export?)", path, h, hash);
out:
    if (st != ST_OK && *out) {
        tok_free(*out);
        *out = NULL;
    }
    json_decref(j);
    free(kind);
    free(text);
    free(len);
    free(count);
    return st;
}

static st_status read_local(const char *dir, ckpt_model *cm)
{
    st_status st = ST_OK;
    char p[PATH_MAX], tp[PATH_MAX];
    json_t *cj = NULL;
    sft_file *sf = NULL;
    const char *s = NULL;
    join(p, sizeof p, dir, "tokenizer.json");
    CHECK(read_tokenizer(p, &cm->tok));
    join(p, sizeof p, dir, "config.json");
    CHECK(load_json(p, &cj));
    long ver = 0, V = 0, D = 0, L = 0, H = 0, F = 0;
    double eps = 0, theta = 0;
    CHECK(get_str(p, cj, "format", EXPORT_FORMAT, NULL));
    CHECK(get_int(p, cj, "format_version", 1, EXPORT_FORMAT_VERSION, &ver));
    CHECK(get_int(p, cj, "vocab_size", 1, 16777216, &V));
    CHECK(get_int(p, cj, "d_model", 2, 65536, &D));
    CHECK(get_int(p, cj, "n_layers", 1, 1024, &L));
    CHECK(get_int(p, cj, "n_heads", 1, 256, &H));
    CHECK(get_int(p, cj, "d_ff", 4, 262144, &F));
    CHECK(get_num(p, cj, "norm_eps", 1e-12, 1e-1, &eps));
    CHECK(get_str(p, cj, "norm", "rmsnorm", NULL));
    CHECK(get_str(p, cj, "activation", "gelu_exact", NULL));
    json_t *rope = json_object_get(cj, "rope"), *emb = json_object_get(cj, "embedding");
    if (!json_is_object(rope) || !json_is_object(emb))
        FAIL(ST_EDATA, "'%s': \"rope\" and \"embedding\" must be objects", p);
    CHECK(get_str(p, rope, "layout", "interleaved", NULL));
    CHECK(get_num(p, rope, "theta", 1, 1e9, &theta));
    json_t *tie = json_object_get(cj, "tie_word_embeddings"), *tr = json_object_get(emb, "trainable");
    if (!json_is_false(tie)) FAIL(ST_EDATA, "'%s': \"tie_word_embeddings\" must be false (strata's head has its own out_w)", p);
    if (!json_is_boolean(tr)) FAIL(ST_EDATA, "'%s': \"embedding\".\"trainable\" must be true or false", p);
    if (V != tok_vocab_size(cm->tok))
        FAIL(ST_EDATA, "'%s': vocab_size %ld but tokenizer.json has %d ids", p, V, tok_vocab_size(cm->tok));
    cm->n = 1;
    cm->mem = calloc(1, sizeof *cm->mem);
    CHECK_ALLOC(cm->mem);
    ckpt_member *mb = &cm->mem[0];
    mb->prior = 1.0; /* a one-member ensemble: its prediction is the member's */
    cfg_defaults(&mb->cfg);
    json_t *set = json_object_get(cj, "strata_settings");
    if (set) {
        if (!json_is_string(set)) FAIL(ST_EDATA, "'%s': \"strata_settings\" must be a string", p);
        st = cfg_load_string(&mb->cfg, json_string_value(set), p);
        if (st != ST_OK) {
            st_add_context("'%s': \"strata_settings\"", p);
            goto out;
        }
    }
    /* the shape fields are what the tensors follow; the settings record the rest */
    mb->cfg.model.n_heads = H;
    mb->cfg.model.d_ff = F;
    mb->cfg.model.norm_eps = eps;
    mb->cfg.model.rope_theta = theta;
    if (mb->cfg.model.n_layers < L) mb->cfg.model.n_layers = L;
    mb->cfg.substrate.dim = D;
    snprintf(mb->source, sizeof mb->source, "%s", dir);
    CHECK(get_str(p, emb, "substrate_kind", NULL, &s));
    snprintf(cm->sub_kind, sizeof cm->sub_kind, "%s", s);
    CHECK(get_str(p, emb, "substrate_source", NULL, &s));
    snprintf(cm->sub_source, sizeof cm->sub_source, "%s", s);

    join(tp, sizeof tp, dir, "model.safetensors");
    CHECK(sft_read(tp, &sf));
    const char *fmt = sft_meta(sf, "format");
    if (!fmt || strcmp(fmt, EXPORT_FORMAT) != 0)
        FAIL(ST_EDATA, "'%s': __metadata__ format is '%s', not " EXPORT_FORMAT, tp, fmt ? fmt : "(none)");
    const float *w = NULL;
    int64_t vd[2] = {V, D};
    CHECK(sft_get(sf, "embed.weight", 2, vd, &w));
    cm->V = (int)V;
    cm->D = (int)D;
    if (!json_is_true(tr)) {
        cm->substrate = malloc(sizeof(float) * (size_t)V * (size_t)D);
        CHECK_ALLOC(cm->substrate);
        memcpy(cm->substrate, w, sizeof(float) * (size_t)V * (size_t)D);
    }
    cm->sub_checksum = layout_substrate_checksum(cm->substrate, cm->V, cm->D);
    model_dims d;
    st = layout_dims(&mb->cfg, (int)D, (int)V, (int)mb->cfg.model.n_layers, &d);
    if (st != ST_OK) {
        st_add_context("'%s'", p);
        goto out;
    }
    rng_t rng;
    rng_init(&rng, (uint64_t)mb->cfg.run.seed, 0, RNG_INIT);
    CHECK(model_init(&mb->m, &d, cm->substrate, &rng));
    if (!cm->substrate) memcpy(mb->m.embed.w, w, sizeof(float) * (size_t)V * (size_t)D);
    for (int l = 0; l < L; l++) CHECK(model_add_block(&mb->m, &rng));
    for (int l = 0; l <= L; l++) {
        param_arena *a = l < L ? &mb->m.blocks[l] : &mb->m.head;
        for (int i = 0; i < a->n; i++) {
            const param_desc *ds = &a->desc[i];
            char name[64];
            if (l < L) snprintf(name, sizeof name, "blocks.%d.%s", l, ds->name);
            else snprintf(name, sizeof name, "head.%s", ds->name);
            int64_t sh[2] = {ds->shape[0], ds->ndim == 2 ? ds->shape[1] : 0};
            CHECK(sft_get(sf, name, ds->ndim, sh, &w));
            memcpy(a->w + ds->offset, w, sizeof(float) * ds->numel);
        }
    }
    const char *extra = sft_unused(sf);
    if (extra) FAIL(ST_EDATA, "'%s': unexpected tensor '%s' (config.json says %ld blocks)", tp, extra, L);
    cm->depth = L;
out:
    json_decref(cj);
    sft_free(sf);
    return st;
}

st_status export_read(const char *dir, ckpt_model *cm, MPI_Comm comm)
{
    memset(cm, 0, sizeof *cm);
    snprintf(cm->path, sizeof cm->path, "%s", dir);
    st_status st = st_agree(read_local(dir, cm), comm);
    if (st != ST_OK) ckpt_model_free(cm);
    return st;
}
