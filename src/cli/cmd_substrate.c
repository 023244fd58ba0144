/* cmd_substrate.c -- `strata substrate`: build the frozen input embedding table (HDF5 substrate). */
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cli_config.h"
#include "strata/h5.h"
#include "strata/log.h"
#include "strata/outguard.h"
#include "strata/substrate.h"
#include "strata/tokenizer.h"
#include "strata/utf8.h"

static const cli_opt opts[] = {
    {"dataset", CLI_VALUE, "FILE", "data.dataset", "dataset (or tokenizer file, checkpoint) whose tokenizer defines the vocabulary"},
    {"output", CLI_VALUE, "FILE", "substrate.file", "substrate file to write"},
    {"force", CLI_FLAG, NULL, NULL, "replace the output file (or the --dump-output image) when it exists"},
    {"bmp", CLI_FLAG, NULL, NULL, "use all 65,536 BMP code points (id = code point) instead of a tokenizer"},
    {"dump-glyph", CLI_VALUE, "TOKEN", NULL, "render one token (literal text or U+XXXX) and write it as a PGM image"},
    {"dump-output", CLI_VALUE, "FILE", "glyph.pgm", "where --dump-glyph writes"},
    {NULL, 0, NULL, NULL, NULL},
};

/* --dump-glyph: rank 0 renders the token as the builder would (before any
 * disambiguation mark, which depends on the whole vocabulary). */
static st_status dump_glyph(const cli_args *a, const substrate_opts *o)
{
    st_status st = ST_OK;
    char **paths = NULL;
    int npaths = 0, rank = 0;
    glyph_renderer *g = NULL;
    uint8_t *pix = NULL;
    uint32_t cps[64];
    size_t ncp = 0;
    char text[64 * 4 + 1];
    size_t len = 0;
    const char *tok = cli_value(a, "dump-glyph");
    const char *out = cli_value(a, "dump-output") ? cli_value(a, "dump-output") : "glyph.pgm";
    CHECK_MPI(MPI_Comm_rank(MPI_COMM_WORLD, &rank));
    /* Every rank, so that all of them fail alike. */
    CHECK(out_guard(out, cli_flag(a, "force"), NULL, 0));
    if (rank != 0) goto out;
    CHECK(glyph_parse_token(tok, cps, 64, &ncp));
    for (size_t i = 0; i < ncp; i++) len += utf8_encode(cps[i], (uint8_t *)text + len);
    CHECK(glyph_default_fonts(o->fonts, &paths, &npaths));
    CHECK(glyph_renderer_init(&g, (const char *const *)paths, npaths, o->cell));
    pix = malloc((size_t)o->cell * o->cell);
    CHECK_ALLOC(pix);
    glyph_item it = {.text = text, .len = len, .kind = ncp == 1 ? GLYPH_CHAR : GLYPH_NGRAM, .id = 0};
    CHECK(glyph_render(g, &it, pix));
    CHECK(glyph_write_pgm(out, pix, o->cell, o->cell));
    char how = 'g';
    if (ncp == 1) CHECK(glyph_render_codepoint(g, cps[0], pix, &how));
    printf("%s: %zu character%s (first U+%04X), %dx%d px, %s\n", out, ncp, ncp == 1 ? "" : "s", (unsigned)cps[0],
           o->cell, o->cell, how == 'x' ? "hex box (no glyph or blank in every font)" : "rendered from the fonts");
out:
    glyph_free_paths(paths, npaths);
    glyph_renderer_free(g);
    free(pix);
    return st;
}

/* Fail before the expensive part when the output cannot be created. */
static st_status check_output_dir(const char *path)
{
    st_status st = ST_OK;
    char *copy = strdup(path);
    CHECK_ALLOC(copy);
    const char *dir = dirname(copy);
    if (access(dir, W_OK) != 0)
        FAIL(ST_EUSAGE, "cannot write the substrate file '%s': directory '%s': %s", path, dir, strerror(errno));
out:
    free(copy);
    return st;
}

static st_status load_items(const cli_args *a, const st_config *cfg, tokenizer **tok, glyph_item **items,
                            char **storage, long *vocab)
{
    st_status st = ST_OK;
    h5_file f;
    h5_file_zero(&f);
    if (cli_flag(a, "bmp")) return substrate_items_bmp(items, storage, vocab);
    const char *ds = cli_value(a, "dataset") ? cli_value(a, "dataset") : cfg->data.dataset;
    if (!ds[0]) FAIL(ST_EUSAGE, "no vocabulary: give --dataset FILE, set data.dataset, or use --bmp");
    if (access(ds, R_OK) != 0) FAIL(ST_EDATA, "cannot read the dataset file '%s': %s", ds, strerror(errno));
    /* any strata file with a tokenizer: one substrate can serve every
     * corpus prepared with a shared tokenizer file */
    CHECK(h5_open_kind(&f, ds, MPI_COMM_WORLD, NULL, ST_EDATA));
    st = tok_load(&f, "tokenizer", tok);
    if (st != ST_OK) {
        st_add_context("dataset '%s'", ds);
        goto out;
    }
    CHECK(substrate_items_from_tokenizer(*tok, items, vocab));
out:
    h5_close(&f);
    return st;
}

static int run(const cli_args *a)
{
    st_config cfg;
    substrate_opts o;
    substrate s = {0};
    tokenizer *tok = NULL;
    glyph_item *items = NULL;
    char *storage = NULL;
    long vocab = 0;
    st_status st = ST_OK;
    if (a->npos > 0) {
        fprintf(stderr, "strata substrate: unexpected argument '%s' (see 'strata substrate --help')\n", a->pos[0]);
        return 2;
    }
    CHECK(cli_load_config(a, &cfg));
    CHECK(substrate_opts_from_config(&cfg, &o));
    if (cli_value(a, "dump-glyph")) {
        CHECK(dump_glyph(a, &o));
        goto out;
    }
    const char *output = cli_value(a, "output") ? cli_value(a, "output") : cfg.substrate.file;
    if (!output[0]) FAIL(ST_EUSAGE, "no output file: give --output FILE or set substrate.file");
    /* Every rank, before the expensive part: an existing substrate needs
     * --force, and the dataset it is built from is never replaced. */
    const char *ds = cli_flag(a, "bmp") ? NULL : cli_value(a, "dataset") ? cli_value(a, "dataset") : cfg.data.dataset;
    const char *inputs[1] = {ds};
    CHECK(out_guard(output, cli_flag(a, "force"), inputs, ds && ds[0] ? 1 : 0));
    CHECK(check_output_dir(output));
    CHECK(load_items(a, &cfg, &tok, &items, &storage, &vocab));
    log_info("substrate: kind %s, %ld ids, dim %d%s", substrate_kind_name(o.kind), vocab, o.dim,
             o.kind == SUBSTRATE_GLYPH ? (o.flatten == GLYPH_FLATTEN_POLAR ? ", polar flatten" : ", row-major flatten")
                                       : "");
    CHECK(substrate_build(&o, items, vocab, MPI_COMM_WORLD, &s));
    CHECK(substrate_save(&s, output, MPI_COMM_WORLD));
    if (s.n_duplicates) log_warn("substrate: %ld rows equal the row of a smaller id", s.n_duplicates);
    log_info("substrate: wrote %s (%ld x %d, %ld duplicate rows%s) in %.1f s", output, s.vocab, s.dim,
             s.n_duplicates, s.kind == SUBSTRATE_GLYPH ? ", see 'strata inspect'" : "", s.build_seconds);
out:
    substrate_free(&s);
    free(items);
    free(storage);
    tok_free(tok);
    return cli_report(st);
}

const cli_cmd cmd_substrate = {
    .name = "substrate",
    .summary = "build the frozen input embedding table (HDF5 substrate)",
    .usage = "[options]",
    .description = "Builds E[V, D] for the vocabulary of a dataset's tokenizer (or, with --bmp, every\n"
                   "BMP code point) and writes it to substrate.file.  Kinds: glyph (Unifont pictures,\n"
                   "PCA over all ranks), random, binary, trainable; see docs/FORMAT-substrate.md.\n"
                   "Run under mpirun to spread rendering and PCA over ranks.  An existing output\n"
                   "is replaced only with --force, and never when it is the dataset (exit 2).",
    .opts = opts,
    .run = run,
    .uses_config = true,
};
