/* branch.c -- a run started from another run's stage checkpoint (`strata
 * grow --from P`).
 *
 * A branch is a new run directory whose first stage is the one after P's:
 * it takes P's blocks (frozen), head, trainable table (if any), data
 * position, step count, init stream and metric tables -- everything a
 * resume of P would take -- but trains under its own settings.  P's
 * optimizer state is not taken: a stage checkpoint holds none, and every
 * stage starts its AdamW moments afresh anyway.  Settings that fix what P's
 * tensors mean (model shape, substrate, tokenizer, context) must be P's.
 *
 * P may also be an ensemble file of one member -- what `strata import`
 * writes for a model trained elsewhere, or `strata merge` of one
 * checkpoint: its member's blocks, head (and trainable table) are a finished
 * stage n_blocks, checked against the member's settings like a checkpoint's;
 * such a file has no data position, steps, init stream or metric rows, so
 * those start afresh.
 *
 * The run directory remembers its parent twice: in PARENT (a small text
 * file written when the branch starts, so a branch stopped before its first
 * checkpoint restarts from P with plain `strata grow --config`) and in /parent
 * of every checkpoint it writes (docs/FORMAT.md), which resumes read back.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "run.h"
#include "strata/agree.h"
#include "strata/ckpt_model.h"
#include "strata/ckptdir.h"
#include "strata/layout.h"
#include "strata/log.h"
#include "strata/publish.h"
#include "strata/sha256.h"
#include "strata/tokenizer.h"

#define PARENT_NAME "PARENT"

/* Rank 0's string to every rank (buf of len bytes, NUL-terminated). */
static st_status bcast_str(char *buf, size_t len, MPI_Comm comm)
{
    st_status st = ST_OK;
    CHECK_MPI(MPI_Bcast(buf, (int)len, MPI_CHAR, 0, comm));
    buf[len - 1] = '\0';
out:
    return st;
}

/* Rank 0: the stage file `from` means (see run.h branch_plan). */
static st_status resolve_local(const char *from, char *out, size_t len)
{
    st_status st = ST_OK;
    ckpt_list l = {0};
    char dir[PATH_MAX];
    struct stat sb;
    if (stat(from, &sb) != 0) FAIL(ST_EUSAGE, "--from '%s': %s", from, strerror(errno));
    const char *base = strrchr(from, '/');
    base = base ? base + 1 : from;
    if (S_ISDIR(sb.st_mode) || strcmp(base, CKPT_LATEST) == 0) {
        if (S_ISDIR(sb.st_mode))
            snprintf(dir, sizeof dir, "%s", from);
        else if (base == from)
            snprintf(dir, sizeof dir, ".");
        else
            snprintf(dir, sizeof dir, "%.*s", (int)(base - from - 1), from);
        /* The newest finished stage: LATEST may name a mid-stage file. */
        CHECK(ckpt_list_dir(dir, &l, MPI_COMM_SELF));
        int64_t best = -1;
        for (size_t i = 0; i < l.n; i++)
            if (l.items[i].is_stage && l.items[i].number > best) best = l.items[i].number;
        if (best < 0) FAIL(ST_EUSAGE, "--from '%s': run directory '%s' holds no stage checkpoint", from, dir);
        char name[CKPT_NAME_MAX];
        ckpt_name_stage(name, (int)best);
        snprintf(dir + strlen(dir), sizeof dir - strlen(dir), "/%s", name);
        log_info("branching from %s, the newest stage checkpoint of %s", dir, from);
    } else if (S_ISREG(sb.st_mode)) {
        snprintf(dir, sizeof dir, "%s", from);
    } else {
        FAIL(ST_EUSAGE, "--from '%s' is neither a checkpoint file nor a run directory", from);
    }
    if (!realpath(dir, out) || strlen(out) >= len) FAIL(ST_EUSAGE, "--from '%s': %s", dir, strerror(errno));
    /* PARENT holds it on one line. */
    if (strchr(out, '\n')) FAIL(ST_EUSAGE, "--from '%s': a path with a newline cannot be recorded", out);
out:
    ckpt_list_free(&l);
    return st;
}

/* PARENT: "path = ...", "sha256 = ...", "stage = ..." lines. */
static st_status parent_file_read(grow_run *g, bool *found)
{
    st_status st = ST_OK;
    char path[sizeof g->dir + 16];
    char *line = NULL;
    size_t cap = 0;
    FILE *f = NULL;
    int have = 0;
    grow_parent *p = &g->parent;
    snprintf(path, sizeof path, "%s/%s", g->dir, PARENT_NAME);
    if (g->rank == 0) {
        f = fopen(path, "r");
        if (!f && errno != ENOENT) FAIL(ST_ECKPT, "cannot read '%s': %s", path, strerror(errno));
        while (f && getline(&line, &cap, f) > 0) {
            line[strcspn(line, "\n")] = '\0';
            if (strncmp(line, "path = ", 7) == 0 && strlen(line + 7) < sizeof p->path) {
                snprintf(p->path, sizeof p->path, "%s", line + 7);
                have |= 1;
            } else if (strncmp(line, "sha256 = ", 9) == 0 && strlen(line + 9) == 64) {
                snprintf(p->sha256, sizeof p->sha256, "%s", line + 9);
                have |= 2;
            } else if (strncmp(line, "stage = ", 8) == 0) {
                p->stage = atoi(line + 8);
                have |= 4;
            }
        }
        if (f && have != 7)
            FAIL(ST_ECKPT, "'%s' is not a strata PARENT file (it needs path, sha256 and stage lines)", path);
        have = f ? have : 0;
    }
out:
    if (f) fclose(f);
    free(line);
    st = st_agree_root(st, g->comm);
    if (st == ST_OK) {
        CHECK_MPI(MPI_Bcast(&have, 1, MPI_INT, 0, g->comm));
        CHECK(bcast_str(p->path, sizeof p->path, g->comm));
        CHECK(bcast_str(p->sha256, sizeof p->sha256, g->comm));
        CHECK_MPI(MPI_Bcast(&p->stage, 1, MPI_INT, 0, g->comm));
        *found = have == 7;
    }
    return st;
}

st_status branch_plan(grow_run *g, const char *from)
{
    st_status st = ST_OK;
    ckpt_list l = {0};
    grow_parent *p = &g->parent;
    grow_parent old = {0};
    bool has_parent_file = false;
    CHECK(ckpt_list_dir(g->dir, &l, g->comm));
    if (!from) {
        /* A branch that wrote no checkpoint yet starts again from PARENT. */
        if (l.n == 0) {
            CHECK(parent_file_read(g, &has_parent_file));
            if (has_parent_file) {
                p->set = true;
                log_info("run directory %s is a branch of %s (stage %d) that holds no checkpoint yet: starting it "
                         "from there",
                         g->dir, p->path, p->stage);
            }
        }
        goto out;
    }
    if (l.n > 0)
        FAIL(ST_EUSAGE,
             "cannot branch into run directory '%s': it holds checkpoints already (%s%s); resume it with 'strata "
             "grow --config ...' without --from, or choose another run.name",
             g->dir, l.items[l.n - 1].name, l.n > 1 ? ", ..." : "");
    CHECK(parent_file_read(g, &has_parent_file));
    old = *p;
    memset(p, 0, sizeof *p);
    char resolved[CFG_STR_MAX] = "";
    if (g->rank == 0) st = resolve_local(from, resolved, sizeof resolved);
    CHECK(st_agree_root(st, g->comm));
    CHECK(bcast_str(resolved, sizeof resolved, g->comm));
    if (has_parent_file && strcmp(old.path, resolved) != 0)
        FAIL(ST_EUSAGE, "cannot branch into run directory '%s' from '%s': it is a branch of '%s' (its PARENT file)",
             g->dir, resolved, old.path);
    snprintf(p->path, sizeof p->path, "%s", resolved);
    if (has_parent_file) snprintf(p->sha256, sizeof p->sha256, "%s", old.sha256);
    p->set = true;
out:
    ckpt_list_free(&l);
    return st;
}

/* Settings that give the parent's tensors their meaning. */
static const char *const match_keys[][2] = {
    {"model", "n_heads"},  {"model", "d_ff"},    {"model", "rope_theta"}, {"model", "norm_eps"},
    {"substrate", "kind"}, {"substrate", "dim"}, {"data", "ctx"},         {"grow", "schedule"},
};

/* The parent's settings pc, tokenizer tok and substrate checksum sum (of
 * the file at path) against the run's. */
static st_status check_parent(grow_run *g, const st_config *pc, const tokenizer *tok, int64_t sum, const char *path)
{
    st_status st = ST_OK;
    const char *mine = g->config_path ? g->config_path : "the run's settings";
    for (size_t i = 0; i < sizeof match_keys / sizeof match_keys[0]; i++) {
        const cfg_key *k = cfg_find(match_keys[i][0], match_keys[i][1]);
        char a[128], b[128];
        cfg_format_value(&g->cfg, k, a, sizeof a);
        cfg_format_value(pc, k, b, sizeof b);
        if (strcmp(a, b) != 0)
            FAIL(ST_EDATA,
                 "cannot branch from '%s': %s.%s = %s in %s but %s in the parent's /config; a branch keeps the "
                 "parent's model shape, substrate, tokenizer and context",
                 path, k->section, k->name, a, mine, b);
    }
    if (strcmp(g->cfg.grow.schedule, "progressive") != 0)
        FAIL(ST_EUSAGE, "cannot branch from '%s': a monolithic run has a single stage to branch from", path);
    /* The ids must mean the same: the tokenizers' content hashes. */
    char ha[65], hb[65];
    tok_hash(g->data.tok, ha);
    tok_hash(tok, hb);
    if (strcmp(ha, hb) != 0)
        FAIL(ST_EDATA,
             "cannot branch from '%s': the tokenizer of dataset '%s' (sha256 %.16s...) is not the parent's "
             "(sha256 %.16s...); prepare the dataset with --tokenizer %s",
             path, g->data.path, ha, hb, path);
    if (!g->sub.trainable) {
        int64_t ours = layout_substrate_checksum(g->sub.table, g->sub.V, g->sub.D);
        if (sum != ours)
            FAIL(ST_EDATA,
                 "cannot branch from '%s': substrate file '%s' (checksum %lld) is not the substrate the parent was "
                 "trained on (checksum %lld)",
                 path, g->sub.path, (long long)ours, (long long)sum);
    }
    /* A branch with another seed draws its new blocks and data order from it. */
    if (pc->run.seed != g->cfg.run.seed)
        log_info("branch: run.seed = %ld (the parent's: %ld): new blocks and the data order follow the new seed",
                 g->cfg.run.seed, pc->run.seed);
out:
    return st;
}

/* check_parent for a stage checkpoint: its /config, /tokenizer and
 * /substrate checksum. */
static st_status check_parent_file(grow_run *g, h5_file *f, const char *path)
{
    st_status st = ST_OK;
    char *text = NULL;
    tokenizer *tok = NULL;
    int64_t sum = 0;
    st_config *pc = malloc(sizeof *pc);
    CHECK_ALLOC(pc);
    CHECK(h5_read_string(f, "config", &text));
    cfg_defaults(pc);
    CHECK(cfg_load_string(pc, text, path));
    CHECK(tok_load(f, "tokenizer", &tok));
    if (!g->sub.trainable) CHECK(h5_attr_get_i64(f, "substrate", "checksum", &sum));
    CHECK(check_parent(g, pc, tok, sum, path));
out:
    tok_free(tok);
    free(text);
    free(pc);
    return st;
}

/* The parent's stage and step; a mid-stage parent is refused. */
static st_status check_finished(grow_run *g, h5_file *f, const char *path, grow_state *s)
{
    st_status st = ST_OK;
    CHECK(grow_state_read(f, "state", s));
    if (!s->stage_done) {
        const char *slash = strrchr(path, '/');
        int len = slash ? (int)(slash - path) : 1;
        if (s->stage > 1)
            FAIL(ST_EUSAGE,
                 "cannot branch from '%s': it is a mid-stage checkpoint (stage %d at step %ld); a branch starts "
                 "after a finished stage: use %.*s/stage-%03d.h5, or finish stage %d and use its stage file",
                 path, s->stage, s->step, len, slash ? path : ".", s->stage - 1, s->stage);
        FAIL(ST_EUSAGE,
             "cannot branch from '%s': it is a checkpoint in the middle of stage 1 (step %ld); nothing is finished "
             "to branch from yet",
             path, s->step);
    }
out:
    return st;
}

/* Rank 0: is path a strata ensemble file?  Anything else (a checkpoint, a
 * file that does not open) takes the checkpoint path, whose checks report it. */
static bool is_ensemble(const char *path)
{
    h5_file f;
    h5_file_zero(&f);
    char *kind = NULL;
    bool yes = false;
    if (h5_open_kind(&f, path, MPI_COMM_SELF, NULL, ST_EDATA) == ST_OK &&
        h5_attr_get_str(&f, "/", "kind", &kind) == ST_OK)
        yes = strcmp(kind, H5_KIND_ENSEMBLE) == 0;
    free(kind);
    h5_close(&f);
    st_clear_error();
    return yes;
}

/* ckpt_verify for an ensemble parent: every dataset read, its checksums
 * checked; a damaged parent is exit 4 whatever its kind.  Collective. */
static st_status verify_ensemble(const char *path, MPI_Comm comm)
{
    st_status st = ST_OK;
    int rank = 0;
    MPI_Comm_rank(comm, &rank);
    if (rank == 0) {
        h5_file f;
        h5_file_zero(&f);
        st = h5_open_kind(&f, path, MPI_COMM_SELF, H5_KIND_ENSEMBLE, ST_ECKPT);
        if (st == ST_OK && h5_read_all(&f, NULL) != ST_OK) {
            st_add_context("parent %s is corrupt", path);
            st = ST_ECKPT;
        }
        if (h5_close(&f) != ST_OK && st == ST_OK) st = ST_ECKPT;
    }
    return st_agree_root(st, comm);
}

/* A one-member ensemble file as the parent (what `strata import` and
 * `strata merge` of one checkpoint write): its member's blocks and head
 * become the run's, as a finished stage n_blocks with nothing else carried
 * over (no data position, steps or metric rows: the file holds none).
 * Collective; *s receives the state the branch starts from. */
static st_status load_member(grow_run *g, const char *path, grow_state *s)
{
    st_status st = ST_OK;
    ckpt_model cm = {0};
    param_arena *mine[MODEL_MAX_ARENAS], *theirs[MODEL_MAX_ARENAS];
    CHECK(ckpt_model_load(&cm, path, g->comm));
    /* Every rank read the same file, so every check below agrees. */
    if (cm.n != 1)
        FAIL(ST_EUSAGE,
             "cannot branch from '%s': it is an ensemble of %d members and a branch grows one model; export the "
             "member to grow ('strata export %s --member K --output DIR'), import it ('strata import DIR --output "
             "M.h5') and branch from that",
             path, cm.n, path);
    ckpt_member *mb = &cm.mem[0];
    int nb = mb->m.n_blocks;
    CHECK(check_parent(g, &mb->cfg, cm.tok, cm.sub_checksum, path));
    if (nb > g->cfg.model.n_layers)
        FAIL(ST_EUSAGE, "cannot branch from '%s': it has %d blocks but model.n_layers = %ld (raise it)", path, nb,
             g->cfg.model.n_layers);
    memset(s, 0, sizeof *s);
    s->stage = nb;
    s->stage_done = true;
    s->n_blocks = nb;
    s->nranks = g->size;
    s->lr_scale = 1.0;
    s->skip_cursor = -1;
    rng_init(&s->rng, (uint64_t)g->cfg.run.seed, 0, RNG_INIT);
    g->st = *s; /* the blocks are drawn from the stream (then overwritten), as run_load does */
    while (g->m.n_blocks < nb) CHECK(model_add_block(&g->m, &g->st.rng));
    /* The same settings and substrate give the same arenas; a difference
     * left (a width the checks above do not name) is refused, not copied. */
    int na = layout_arenas(&g->m, mine, MODEL_MAX_ARENAS);
    int nt = layout_arenas(&mb->m, theirs, MODEL_MAX_ARENAS);
    for (int i = 0; i < na || i < nt; i++) {
        char a[128] = "", b[128] = "";
        if (i < na) layout_arena_path(&g->m, mine[i], "model", a, sizeof a);
        if (i < nt) layout_arena_path(&mb->m, theirs[i], "model", b, sizeof b);
        if (i >= na || i >= nt || strcmp(a, b) != 0 || mine[i]->numel != theirs[i]->numel)
            FAIL(ST_EDATA, "cannot branch from '%s': its member's /%s does not fit the run's /%s (settings %s)", path,
                 b[0] ? b : "(none)", a[0] ? a : "(none)", g->config_path ? g->config_path : "of the run");
        memcpy(mine[i]->w, theirs[i]->w, sizeof(float) * mine[i]->numel);
    }
out:
    ckpt_model_free(&cm);
    return st;
}

static st_status parent_file_write(grow_run *g)
{
    char path[sizeof g->dir + 16], text[CFG_STR_MAX + 256];
    snprintf(path, sizeof path, "%s/%s", g->dir, PARENT_NAME);
    snprintf(text, sizeof text,
             "# strata: this run is a branch of the checkpoint below (strata grow --from)\n"
             "path = %s\nsha256 = %s\nstage = %d\n",
             g->parent.path, g->parent.sha256, g->parent.stage);
    return publish_write_text(path, text, g->comm);
}

st_status branch_start(grow_run *g)
{
    st_status st = ST_OK;
    h5_file f;
    h5_file_zero(&f);
    grow_parent want = g->parent;
    const char *path = want.path;
    char hex[65] = "";
    grow_state s;
    int ens = 0;
    char *older = NULL;
    want.lineage = NULL;
    g->parent.lineage = NULL;
    if (g->rank == 0) ens = is_ensemble(path);
    CHECK_MPI(MPI_Bcast(&ens, 1, MPI_INT, 0, g->comm));
    CHECK(ens ? verify_ensemble(path, g->comm) : ckpt_verify(path, g->comm));
    if (g->rank == 0) st = sha256_file(path, hex);
    CHECK(st_agree_root(st, g->comm));
    CHECK(bcast_str(hex, sizeof hex, g->comm));
    if (want.sha256[0] && strcmp(want.sha256, hex) != 0)
        FAIL(ST_EDATA,
             "the parent of branch '%s' changed since the branch started: '%s' has sha256 %s, its PARENT file "
             "says %s",
             g->dir, path, hex, want.sha256);
    if (ens) {
        CHECK(st_agree(load_member(g, path, &s), g->comm)); /* every rank read the file first */
    } else {
        st = h5_open_kind(&f, path, MPI_COMM_SELF, H5_KIND_CHECKPOINT, ST_EDATA);
        if (st == ST_OK) st = check_parent_file(g, &f, path);
        if (st == ST_OK) st = check_finished(g, &f, path, &s);
        CHECK(st_agree(st, g->comm));
        /* Loading reads the parent's own /parent (its ancestors) into g->parent. */
        CHECK(run_load(g, &f, path));
        older = g->parent.set ? g->parent.lineage : NULL;
        g->parent.lineage = NULL;
    }
    g->parent = want;
    snprintf(g->parent.sha256, sizeof g->parent.sha256, "%s", hex);
    g->parent.stage = s.stage;
    g->parent.step = s.step;
    size_t n = strlen(path) + 100 + (older ? strlen(older) : 0);
    g->parent.lineage = malloc(n);
    if (!g->parent.lineage) free(older);
    CHECK_ALLOC(g->parent.lineage);
    snprintf(g->parent.lineage, n, "%d\t%s\t%s\n%s", s.stage, hex, path, older ? older : "");
    free(older);
    if (g->cfg.run.seed != (long)g->st.rng.seed) rng_init(&g->st.rng, (uint64_t)g->cfg.run.seed, 0, RNG_INIT);
    CHECK(parent_file_write(g));
    log_info("branch: starting after stage %d of %s (step %ld, sha256 %.16s...)", s.stage, path, s.step, hex);
out:
    h5_close(&f);
    return st;
}
