/* cmd_metrics.c -- `strata metrics`: export a checkpoint's metric tables. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_config.h"
#include "strata/h5.h"
#include "strata/metrics.h"

static const cli_opt opts[] = {
    {"table", CLI_VALUE, "NAME", "depth", "depth (one row per stage) or steps (one row per step)"},
    {"format", CLI_VALUE, "FMT", "csv", "csv or json (records)"},
    {NULL, 0, NULL, NULL, NULL},
};

/* Values print with 17 significant digits, so they read back bit for bit;
 * a value that was not measured is empty (CSV) or null (JSON); a measured
 * value that is not finite is nan/inf/-inf (CSV, as pandas reads them) or
 * the string "NaN"/"Infinity"/"-Infinity" (JSON has no such numbers). */
static void print_table(const met_table *t, bool json, FILE *out)
{
    if (json) fputs("[\n", out);
    else
        for (size_t c = 0; c < t->ncols; c++) fprintf(out, "%s%s", c ? "," : "", t->cols[c].name);
    if (!json) fputc('\n', out);
    for (size_t r = 0; r < t->nrows; r++) {
        if (json) fputs("  {", out);
        for (size_t c = 0; c < t->ncols; c++) {
            double v = met_get(t, r, c);
            if (json) fprintf(out, "%s\"%s\": ", c ? ", " : "", t->cols[c].name);
            else if (c)
                fputc(',', out);
            if (met_is_na(v))
                fputs(json ? "null" : "", out);
            else if (isnan(v))
                fputs(json ? "\"NaN\"" : "nan", out);
            else if (isinf(v))
                fputs(json ? (v > 0 ? "\"Infinity\"" : "\"-Infinity\"") : (v > 0 ? "inf" : "-inf"), out);
            else
                fprintf(out, "%.17g", v);
        }
        if (json) fprintf(out, "}%s\n", r + 1 < t->nrows ? "," : "");
        else
            fputc('\n', out);
    }
    if (json) fputs("]\n", out);
}

static int run(const cli_args *a)
{
    st_status st = ST_OK;
    h5_file f;
    h5_file_zero(&f);
    met_table t = {0};
    char *ckpt = NULL; /* the checkpoint file (a run directory or LATEST: its newest) */
    const char *table = cli_value(a, "table") ? cli_value(a, "table") : "depth";
    const char *format = cli_value(a, "format") ? cli_value(a, "format") : "csv";
    if (a->npos != 1) {
        fprintf(stderr, "strata metrics: expected one CHECKPOINT file (see 'strata metrics --help')\n");
        return 2;
    }
    if (strcmp(format, "csv") != 0 && strcmp(format, "json") != 0)
        FAIL(ST_EUSAGE, "--format '%s' is not one of csv, json", format);
    if (strcmp(table, "depth") == 0)
        CHECK(met_init_depth(&t));
    else if (strcmp(table, "steps") == 0)
        CHECK(met_init_steps(&t));
    else
        FAIL(ST_EUSAGE, "--table '%s' is not one of depth, steps", table);
    CHECK(cli_checkpoint_path(a->pos[0], &ckpt, MPI_COMM_WORLD));
    CHECK(h5_open_kind(&f, ckpt, MPI_COMM_WORLD, H5_KIND_CHECKPOINT, ST_EDATA));
    CHECK(met_read(&t, &f));
    int rank = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    if (rank == 0) print_table(&t, strcmp(format, "json") == 0, stdout);
out:
    met_free(&t);
    free(ckpt);
    h5_close(&f);
    return cli_report(st);
}

const cli_cmd cmd_metrics = {
    .name = "metrics",
    .summary = "export per-step and per-depth tables as CSV or JSON",
    .usage = "[--table depth|steps] [--format csv|json] CHECKPOINT",
    .description = "Prints /metrics/depth or /metrics/steps of a checkpoint on stdout, one row per\n"
                   "line, values with 17 significant digits (exact).  pandas: pd.read_csv(...).",
    .opts = opts,
    .run = run,
    .uses_config = false,
};
