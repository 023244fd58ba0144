/* metrics.c -- per-step and per-depth metric tables (see metrics.h). */
#include "strata/metrics.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The one definition of the standard columns: name, stored type, units and
 * long name.  Units follow UDUNITS spelling where one exists ("1" for counts
 * and ratios). */
static const h5_column steps_cols[MS_NCOLS] = {
    [MS_STEP] = {"step", H5_DT_I64, "1", "optimizer step, counted over all stages"},
    [MS_STAGE] = {"stage", H5_DT_I64, "1", "growth stage (= depth being trained)"},
    [MS_TOKENS] = {"tokens", H5_DT_I64, "1", "training tokens seen so far, over all stages"},
    [MS_LR] = {"lr", H5_DT_F64, "1", "learning rate of this step"},
    [MS_TRAIN_LOSS] = {"train_loss", H5_DT_F64, "nats/token", "training cross-entropy of this step's batch"},
    [MS_GRAD_NORM] = {"grad_norm", H5_DT_F64, "1", "global gradient L2 norm before clipping"},
    [MS_TOKENS_PER_S] = {"tokens_per_s", H5_DT_F64, "tokens/s", "training throughput over all ranks"},
    [MS_WALL_S] = {"wall_s", H5_DT_F64, "s", "wall-clock time since the start of the run"},
};

static const h5_column depth_cols[MD_NCOLS] = {
    [MD_DEPTH] = {"depth", H5_DT_I64, "1", "number of blocks in the model"},
    [MD_STEPS] = {"steps", H5_DT_I64, "1", "optimizer steps spent on this stage"},
    [MD_TOKENS] = {"tokens", H5_DT_I64, "1", "training tokens spent on this stage"},
    [MD_WALL_S] = {"wall_s", H5_DT_F64, "s", "wall-clock time of this stage, over every session that trained it"},
    [MD_TRAIN_LOSS] = {"train_loss", H5_DT_F64, "nats/token", "mean training cross-entropy over the stage's steps"},
    [MD_VAL_LOSS] = {"val_loss", H5_DT_F64, "nats/token", "validation cross-entropy"},
    [MD_VAL_BPC] = {"val_bits_per_char", H5_DT_F64, "bits/char", "validation bits per character of text"},
    [MD_VAL_TOP1] = {"val_top1", H5_DT_F64, "1", "validation next-token top-1 accuracy"},
    [MD_TOKENS_PER_S] = {"tokens_per_s", H5_DT_F64, "tokens/s", "mean training throughput of the stage"},
    [MD_MFU] = {"mfu", H5_DT_F64, "1", "model FLOPs utilisation (achieved / peak FLOP/s)"},
    [MD_FLOPS] = {"flops", H5_DT_F64, "FLOP", "floating-point operations spent on this stage"},
};

static const h5_column probe_cols[] = {
    {MET_INDUCTION_GAIN, H5_DT_F64, "nats/token",
     "induction probe: loss on the first copy of random-token sequences minus loss on the second copy"},
    {MET_INDUCTION_FIRST, H5_DT_F64, "nats/token", "induction probe: loss on the first copy (no repetition yet)"},
    {MET_INDUCTION_SECOND, H5_DT_F64, "nats/token", "induction probe: loss on the second copy (the sequence repeats)"},
};

static const struct {
    const char *suffix, *long_name;
} task_cols[MET_TASK_NCOLS] = {
    {"acc", "accuracy, choice scored by summed log-likelihood of its continuation"},
    {"acc_se", "standard error of acc, sqrt(acc (1 - acc) / (n - 1))"},
    {"acc_char", "accuracy, choice scored by log-likelihood per character of its continuation"},
    {"acc_char_se", "standard error of acc_char"},
};

static bool is_int(h5_dtype t) { return t != H5_DT_F32 && t != H5_DT_F64; }

static st_status col_copy(h5_column *dst, const char *name, h5_dtype dtype, const char *units,
                          const char *long_name)
{
    st_status st = ST_OK;
    dst->dtype = dtype;
    dst->name = strdup(name);
    dst->units = strdup(units ? units : "");
    dst->long_name = strdup(long_name ? long_name : "");
    CHECK_ALLOC(dst->name);
    CHECK_ALLOC(dst->units);
    CHECK_ALLOC(dst->long_name);
out:
    return st;
}

static void col_release(h5_column *c)
{
    free((char *)c->name);
    free((char *)c->units);
    free((char *)c->long_name);
    memset(c, 0, sizeof *c);
}

st_status met_init(met_table *t, const char *group, size_t ncols, const h5_column *cols)
{
    st_status st = ST_OK;
    memset(t, 0, sizeof *t);
    t->group = strdup(group);
    CHECK_ALLOC(t->group);
    for (size_t i = 0; i < ncols; i++)
        CHECK(met_add_column(t, cols[i].name, cols[i].dtype, cols[i].units, cols[i].long_name));
out:
    if (st != ST_OK) met_free(t);
    return st;
}

st_status met_init_steps(met_table *t) { return met_init(t, MET_STEPS_GROUP, MS_NCOLS, steps_cols); }
st_status met_init_depth(met_table *t) { return met_init(t, MET_DEPTH_GROUP, MD_NCOLS, depth_cols); }

void met_free(met_table *t)
{
    for (size_t i = 0; t->cols && i < t->ncols; i++) col_release(&t->cols[i]);
    free(t->cols);
    free(t->rows);
    free(t->group);
    memset(t, 0, sizeof *t);
}

int met_col(const met_table *t, const char *name)
{
    for (size_t i = 0; i < t->ncols; i++)
        if (strcmp(t->cols[i].name, name) == 0) return (int)i;
    return -1;
}

st_status met_add_column(met_table *t, const char *name, h5_dtype dtype, const char *units,
                         const char *long_name)
{
    st_status st = ST_OK;
    h5_column *cols = NULL;
    double *rows = NULL;
    if (met_col(t, name) >= 0) FAIL(ST_ERR, "metric table %s already has a column '%s'", t->group, name);
    size_t nc = t->ncols + 1;
    cols = realloc(t->cols, nc * sizeof *cols);
    CHECK_ALLOC(cols);
    t->cols = cols;
    memset(&cols[nc - 1], 0, sizeof *cols);
    /* Re-lay the rows with one more value each. */
    if (t->cap > 0) {
        rows = malloc(t->cap * nc * sizeof *rows);
        CHECK_ALLOC(rows);
        for (size_t r = 0; r < t->nrows; r++) {
            memcpy(rows + r * nc, t->rows + r * t->ncols, t->ncols * sizeof *rows);
            rows[r * nc + nc - 1] = NAN;
        }
    }
    CHECK(col_copy(&cols[nc - 1], name, dtype, units, long_name));
    if (t->cap > 0) {
        free(t->rows);
        t->rows = rows;
        rows = NULL;
    }
    t->ncols = nc;
out:
    if (st != ST_OK && cols) col_release(&cols[nc - 1]);
    free(rows);
    return st;
}

st_status met_add_probe_columns(met_table *t)
{
    st_status st = ST_OK;
    for (size_t i = 0; i < sizeof probe_cols / sizeof probe_cols[0]; i++)
        if (met_col(t, probe_cols[i].name) < 0)
            CHECK(met_add_column(t, probe_cols[i].name, probe_cols[i].dtype, probe_cols[i].units,
                                 probe_cols[i].long_name));
out:
    return st;
}

void met_task_column(char *buf, size_t cap, const char *task, int which)
{
    snprintf(buf, cap, "task_%s_%s", task, task_cols[which].suffix);
}

st_status met_add_task_columns(met_table *t, const char *task)
{
    st_status st = ST_OK;
    char name[256], long_name[512];
    for (int i = 0; i < MET_TASK_NCOLS; i++) {
        met_task_column(name, sizeof name, task, i);
        if (met_col(t, name) >= 0) continue;
        snprintf(long_name, sizeof long_name, "task %s: %s", task, task_cols[i].long_name);
        CHECK(met_add_column(t, name, H5_DT_F64, "1", long_name));
    }
out:
    return st;
}

st_status met_append(met_table *t, double **row)
{
    st_status st = ST_OK;
    if (t->nrows == t->cap) {
        size_t cap = t->cap ? 2 * t->cap : 64;
        double *grown = realloc(t->rows, cap * t->ncols * sizeof *grown);
        CHECK_ALLOC(grown);
        t->rows = grown;
        t->cap = cap;
    }
    double *r = t->rows + t->nrows * t->ncols;
    for (size_t i = 0; i < t->ncols; i++) r[i] = NAN;
    t->nrows++;
    if (row) *row = r;
out:
    return st;
}

st_status met_set(met_table *t, size_t row, const char *name, double value)
{
    st_status st = ST_OK;
    int c = met_col(t, name);
    if (c < 0) FAIL(ST_ERR, "metric table %s has no column '%s'", t->group, name);
    if (row >= t->nrows) FAIL(ST_ERR, "metric table %s has no row %zu", t->group, row);
    t->rows[row * t->ncols + (size_t)c] = value;
out:
    return st;
}

st_status met_write(const met_table *t, h5_file *f)
{
    st_status st = ST_OK;
    void **bufs = NULL;
    size_t n = t->nrows;
    /* Rank 0's rows are written; the others take part with no data. */
    if (f->rank != 0) n = 0;
    CHECK(h5_table_create(f, t->group, t->ncols, t->cols));
    bufs = calloc(t->ncols, sizeof *bufs);
    CHECK_ALLOC(bufs);
    for (size_t c = 0; c < t->ncols; c++) {
        bufs[c] = malloc((n ? n : 1) * 8);
        CHECK_ALLOC(bufs[c]);
        for (size_t r = 0; r < n; r++) {
            double v = t->rows[r * t->ncols + c];
            if (is_int(t->cols[c].dtype))
                ((int64_t *)bufs[c])[r] = !isfinite(v) ? -1 : (int64_t)llround(v);
            else
                ((double *)bufs[c])[r] = v;
        }
    }
    /* Columns go out in their memory type: int64 or float64. */
    h5_column *mem = calloc(t->ncols, sizeof *mem);
    CHECK_ALLOC(mem);
    for (size_t c = 0; c < t->ncols; c++) {
        mem[c] = t->cols[c];
        mem[c].dtype = is_int(t->cols[c].dtype) ? H5_DT_I64 : H5_DT_F64;
    }
    st = h5_table_append(f, t->group, t->ncols, mem, n, (const void *const *)bufs);
    free(mem);
out:
    for (size_t c = 0; bufs && c < t->ncols; c++) free(bufs[c]);
    free(bufs);
    return st;
}

st_status met_read(met_table *t, h5_file *f)
{
    st_status st = ST_OK;
    char **names = NULL, path[1024], *units = NULL, *long_name = NULL;
    size_t ncol = 0, nrows = 0;
    double *col = NULL;
    bool e = false;
    CHECK(h5_exists(f, t->group, &e));
    if (!e) FAIL(ST_EDATA, "%s has no metric table %s", f->path, t->group);
    CHECK(h5_table_columns(f, t->group, &names, &ncol));
    CHECK(h5_table_nrows(f, t->group, &nrows));
    /* Columns only the file knows (e.g. probes of an earlier run) join t. */
    for (size_t i = 0; i < ncol; i++) {
        if (met_col(t, names[i]) >= 0) continue;
        h5_dtype dt = H5_DT_F64;
        snprintf(path, sizeof path, "%s/%s", t->group, names[i]);
        CHECK(h5_dtype_of(f, path, &dt));
        bool has = false;
        free(units);
        free(long_name);
        units = long_name = NULL;
        CHECK(h5_attr_exists(f, path, "units", &has));
        if (has) CHECK(h5_attr_get_str(f, path, "units", &units));
        CHECK(h5_attr_exists(f, path, "long_name", &has));
        if (has) CHECK(h5_attr_get_str(f, path, "long_name", &long_name));
        CHECK(met_add_column(t, names[i], is_int(dt) ? H5_DT_I64 : H5_DT_F64, units, long_name));
    }
    t->nrows = 0;
    for (size_t r = 0; r < nrows; r++) CHECK(met_append(t, NULL));
    for (size_t i = 0; i < ncol; i++) {
        size_t n = 0;
        int c = met_col(t, names[i]);
        CHECK(h5_column_read(f, t->group, names[i], H5_DT_F64, &n, (void **)&col));
        if (n != nrows)
            FAIL(ST_EDATA, "%s: %s/%s has %zu rows, the table %zu", f->path, t->group, names[i], n,
                 nrows);
        bool integer = is_int(t->cols[c].dtype);
        for (size_t r = 0; r < n; r++)
            t->rows[r * t->ncols + (size_t)c] = integer && col[r] == -1.0 ? NAN : col[r];
        free(col);
        col = NULL;
    }
out:
    free(col);
    free(units);
    free(long_name);
    h5_free_names(names, ncol);
    return st;
}

bool met_is_na(double v)
{
    const double na = NAN;
    return memcmp(&v, &na, sizeof v) == 0;
}

double met_nan(void)
{
    /* A quiet NaN with a payload: never equal to NAN bit for bit. */
    const uint64_t bits = UINT64_C(0x7ff8000000000001);
    double v;
    memcpy(&v, &bits, sizeof v);
    return v;
}

/* One cell as text. */
static void cell_text(char *buf, size_t cap, double v, h5_dtype t)
{
    if (met_is_na(v))
        snprintf(buf, cap, "-");
    else if (!isfinite(v))
        snprintf(buf, cap, "%s", isnan(v) ? "nan" : v > 0 ? "inf" : "-inf");
    else if (is_int(t))
        snprintf(buf, cap, "%lld", (long long)llround(v));
    else
        snprintf(buf, cap, "%.4g", v);
}

void met_print(const met_table *t, FILE *out)
{
    char cell[64];
    size_t *w = calloc(t->ncols ? t->ncols : 1, sizeof *w);
    if (!w) return;
    for (size_t c = 0; c < t->ncols; c++) {
        w[c] = strlen(t->cols[c].name);
        for (size_t r = 0; r < t->nrows; r++) {
            cell_text(cell, sizeof cell, met_get(t, r, c), t->cols[c].dtype);
            if (strlen(cell) > w[c]) w[c] = strlen(cell);
        }
    }
    for (size_t c = 0; c < t->ncols; c++)
        fprintf(out, "%s%*s", c ? "  " : "", (int)w[c], t->cols[c].name);
    fputc('\n', out);
    for (size_t r = 0; r < t->nrows; r++) {
        for (size_t c = 0; c < t->ncols; c++) {
            cell_text(cell, sizeof cell, met_get(t, r, c), t->cols[c].dtype);
            fprintf(out, "%s%*s", c ? "  " : "", (int)w[c], cell);
        }
        fputc('\n', out);
    }
    free(w);
}
