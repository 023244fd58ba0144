/* cmd_inspect.c -- `strata inspect FILE`: summarise any strata HDF5 file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_config.h"
#include "inspect_model.h"
#include "strata/grow.h"
#include "strata/corpus.h"
#include "strata/h5.h"
#include "strata/metrics.h"
#include "strata/sha256.h"
#include "strata/substrate.h"

static const cli_opt opts[] = {
    {"sha256", CLI_FLAG, NULL, NULL, "print the SHA-256 of every dataset under /model (compare runs bitwise)"},
    {NULL, 0, NULL, NULL, NULL},
};

/* --sha256: one line per /model dataset, "hex  path", in name order. */
typedef struct sha_visit {
    h5_file *f;
    FILE *out;
    st_status st;
} sha_visit;

static herr_t sha_one(hid_t obj, const char *name, const H5O_info_t *info, void *user)
{
    (void)obj;
    sha_visit *v = user;
    if (info->type != H5O_TYPE_DATASET) return 0;
    char path[512];
    snprintf(path, sizeof path, "model/%s", name);
    int rank = 0;
    size_t dims[H5_MAX_RANK];
    void *data = NULL;
    v->st = h5_read(v->f, path, H5_DT_F32, &rank, dims, &data);
    if (v->st != ST_OK) return -1;
    size_t n = 1;
    for (int i = 0; i < rank; i++) n *= dims[i];
    sha256_ctx c;
    uint8_t digest[32];
    char hex[65];
    sha256_init(&c);
    sha256_update(&c, data, n * sizeof(float));
    sha256_final(&c, digest);
    sha256_hex(digest, hex);
    if (v->out) fprintf(v->out, "%s  /%s\n", hex, path);
    free(data);
    return 0;
}

static st_status print_sha256(h5_file *f, FILE *out)
{
    st_status st = ST_OK;
    sha_visit v = {.f = f, .out = out, .st = ST_OK};
    hid_t g = H5Gopen2(f->id, "model", H5P_DEFAULT);
    if (g < 0) FAIL(ST_EDATA, "'%s' has no /model group", f->path);
    herr_t rc = H5Ovisit(g, H5_INDEX_NAME, H5_ITER_INC, sha_one, &v);
    H5Gclose(g);
    if (v.st != ST_OK) {
        st = v.st;
        goto out;
    }
    if (rc < 0) FAIL(ST_EHDF5, "cannot walk /model of '%s'", f->path);
out:
    return st;
}

/* A branch's checkpoint: where it started (/parent, docs/FORMAT.md). */
static st_status describe_parent(h5_file *f, FILE *out)
{
    st_status st = ST_OK;
    grow_parent p = {0};
    CHECK(grow_parent_read(f, &p));
    if (!p.set || !out) goto out;
    fprintf(out, "\nbranched from (/parent):\n  path   %s\n  sha256 %s\n  stage  %d (step %ld)\n", p.path, p.sha256,
            p.stage, p.step);
    /* Older ancestors: the lines after the parent's own. */
    const char *rest = strchr(p.lineage, '\n');
    if (rest && rest[1]) {
        fprintf(out, "  ancestors (stage  sha256  path):\n");
        for (const char *l = rest + 1; *l;) {
            size_t n = strcspn(l, "\n");
            fputs("    ", out);
            for (size_t i = 0; i < n; i++)
                if (l[i] == '\t')
                    fputs("  ", out);
                else
                    fputc(l[i], out);
            fputc('\n', out);
            l += n + (l[n] == '\n');
        }
    }
out:
    grow_parent_free(&p);
    return st;
}

/* Checkpoint: state, blocks, and the per-depth table. */
static st_status describe_checkpoint(h5_file *f, FILE *out)
{
    st_status st = ST_OK;
    met_table depth = {0};
    char *kind = NULL, *source = NULL;
    static const char *const keys[] = {"stage", "stage_done", "step", "tokens", "n_blocks", "nranks"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        int64_t v = 0;
        CHECK(h5_attr_get_i64(f, "state", keys[i], &v));
        if (out) fprintf(out, "  %-12s %lld\n", keys[i], (long long)v);
    }
    double wall = 0;
    CHECK(h5_attr_get_f64(f, "state", "wall_s", &wall));
    if (out) fprintf(out, "  %-12s %.1f\n", "wall_s", wall);
    CHECK(met_init_depth(&depth));
    CHECK(met_read(&depth, f));
    if (out) {
        fprintf(out, "\nper-depth evaluation (/metrics/depth):\n");
        met_print(&depth, out);
        fprintf(out, "\nsubstrate:\n");
    }
    /* A checkpoint's /substrate carries kind, source and checksum (the table
     * itself, without the substrate file's rendering details). */
    int64_t sum = 0;
    CHECK(h5_attr_get_str(f, "substrate", "kind", &kind));
    CHECK(h5_attr_get_str(f, "substrate", "source", &source));
    CHECK(h5_attr_get_i64(f, "substrate", "checksum", &sum));
    if (out) fprintf(out, "  kind %s, from %s, checksum %lld\n", kind, source, (long long)sum);
    CHECK(describe_parent(f, out));
out:
    free(kind);
    free(source);
    met_free(&depth);
    return st;
}

static int run(const cli_args *a)
{
    st_status st = ST_OK;
    h5_file f;
    h5_file_zero(&f);
    char *kind = NULL;
    tokenizer *tok = NULL;
    char *path = NULL; /* the file (a run directory or LATEST: its newest checkpoint) */
    int rank = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    FILE *out = rank == 0 ? stdout : NULL;
    if (a->npos != 1) {
        fprintf(stderr, "strata inspect: expected one FILE (see 'strata inspect --help')\n");
        return 2;
    }
    CHECK(cli_checkpoint_path(a->pos[0], &path, MPI_COMM_WORLD));
    CHECK(h5_open_kind(&f, path, MPI_COMM_WORLD, NULL, ST_EDATA));
    CHECK(h5_attr_get_str(&f, "/", "kind", &kind));
    if (cli_flag(a, "sha256")) {
        CHECK(print_sha256(&f, out));
        goto out;
    }
    if (out) fprintf(out, "%s: strata %s file\n", path, kind);
    if (strcmp(kind, H5_KIND_DATASET) == 0)
        CHECK(corpus_describe(&f, out));
    else if (strcmp(kind, H5_KIND_SUBSTRATE) == 0)
        CHECK(substrate_describe(&f, "substrate", out));
    else if (strcmp(kind, H5_KIND_CHECKPOINT) == 0)
        CHECK(describe_checkpoint(&f, out));
    if (strcmp(kind, H5_KIND_CHECKPOINT) == 0 || strcmp(kind, H5_KIND_ENSEMBLE) == 0)
        CHECK(inspect_model(path, out, MPI_COMM_WORLD)); /* shape, parameters, members */
    else if (strcmp(kind, H5_KIND_TOKENIZER) == 0) {
        CHECK(tok_load(&f, "tokenizer", &tok));
        if (out) tok_describe(tok, out);
    }
out:
    tok_free(tok);
    free(kind);
    free(path);
    h5_close(&f);
    return cli_report(st);
}

const cli_cmd cmd_inspect = {
    .name = "inspect",
    .summary = "summarise any strata HDF5 file",
    .usage = "[--sha256] FILE",
    .description = "Datasets: counts, chunks, split, tokenizer.  Tokenizer files: the tokenizer\n"
                   "with its hash.  Substrates: kind, fonts and their SHA-256, cell, duplicates,\n"
                   "explained variance.  Checkpoints: state, the per-depth table, the model's\n"
                   "shape and parameters per block and of the head.  Ensembles: the substrate and\n"
                   "every member.  FILE may be a run directory or its LATEST (the newest usable\n"
                   "checkpoint).  The files also open with h5py and h5dump (docs/FORMAT.md).",
    .opts = opts,
    .run = run,
    .uses_config = false,
};
