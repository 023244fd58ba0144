/* metrics.h -- per-step and per-depth metric tables.
 *
 * A met_table holds rows in memory (every value a double; NaN = not
 * measured) and is written to / read from an HDF5 column table (h5.h):
 *     /metrics/steps   one row per logged optimizer step, scale `step`
 *     /metrics/depth   one row per finished stage (depth), scale `depth`
 * The columns, their units and long names are defined once, in metrics.c;
 * the enums below index them.  Extra columns are added with met_add_column
 * and are written and read like the standard ones; the probe and task
 * columns of /metrics/depth (probe.h, tasks.h) are defined here too, once,
 * and added with met_add_probe_columns / met_add_task_columns.
 *
 * Integer columns (step, stage, tokens, depth, steps) are stored as int64;
 * a NaN there is stored as -1 and read back as NaN.
 *
 * Ranks.  The table lives in memory on each rank; usually only the
 * coordinator (rank 0) fills it.  met_write is collective and writes rank
 * 0's rows; met_read is collective and gives every rank the stored rows.
 *
 * Ownership.  met_table owns its columns (copies of the names and texts)
 * and rows; release with met_free.
 */
#ifndef STRATA_METRICS_H
#define STRATA_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "strata/error.h"
#include "strata/h5.h"

#define MET_STEPS_GROUP "metrics/steps"
#define MET_DEPTH_GROUP "metrics/depth"

/* Columns of /metrics/steps. */
enum met_steps_col {
    MS_STEP = 0,     /* dimension scale */
    MS_STAGE,
    MS_TOKENS,
    MS_LR,
    MS_TRAIN_LOSS,
    MS_GRAD_NORM,
    MS_TOKENS_PER_S,
    MS_WALL_S,
    MS_NCOLS
};

/* Columns of /metrics/depth. */
enum met_depth_col {
    MD_DEPTH = 0,    /* dimension scale */
    MD_STEPS,
    MD_TOKENS,
    MD_WALL_S,
    MD_TRAIN_LOSS,
    MD_VAL_LOSS,
    MD_VAL_BPC,
    MD_VAL_TOP1,
    MD_TOKENS_PER_S,
    MD_MFU,
    MD_FLOPS,
    MD_NCOLS
};

typedef struct met_table {
    char *group;        /* HDF5 group, e.g. "metrics/depth" */
    size_t ncols;
    h5_column *cols;    /* [ncols]; cols[0] is the dimension scale */
    double *rows;       /* [nrows][ncols] row-major; NaN = not measured */
    size_t nrows, cap;  /* cap: rows allocated */
} met_table;

/* Not measured vs measured.  A cell that was never set holds the standard
 * quiet NaN (NAN, what met_append fills in); integer columns store it as -1.
 * A measured value that is not a number is any other NaN -- store it with
 * met_nan() to be sure -- so files and exports keep the two apart:
 * `strata metrics` writes null / an empty cell for "not measured" and
 * "NaN" / nan for a measured NaN. */
bool met_is_na(double v);
double met_nan(void);

/* Empty tables with the standard columns. */
st_status met_init_steps(met_table *t);
st_status met_init_depth(met_table *t);
/* Empty table with given columns (cols[0] = scale) at `group`. */
st_status met_init(met_table *t, const char *group, size_t ncols, const h5_column *cols);
void met_free(met_table *t);

/* The probe columns of /metrics/depth (probe.h): MET_INDUCTION_GAIN,
 * MET_INDUCTION_FIRST, MET_INDUCTION_SECOND (nats/token).  Columns already
 * present (a resumed run) are kept. */
#define MET_INDUCTION_GAIN "induction_gain"
#define MET_INDUCTION_FIRST "induction_loss_first"
#define MET_INDUCTION_SECOND "induction_loss_second"
st_status met_add_probe_columns(met_table *t);

/* The four columns of multiple-choice task `task` (tasks.h; a name of
 * [A-Za-z0-9_] only): task_<task>_acc, task_<task>_acc_se (by summed
 * log-likelihood), task_<task>_acc_char, task_<task>_acc_char_se (by
 * log-likelihood per character).  met_task_column writes column `which`
 * (0..3, that order) into buf; met_add_task_columns adds the four
 * (those already present are kept). */
#define MET_TASK_NCOLS 4
void met_task_column(char *buf, size_t cap, const char *task, int which);
st_status met_add_task_columns(met_table *t, const char *task);

/* Add a column; existing rows get NaN.  A name already present -> ST_ERR. */
st_status met_add_column(met_table *t, const char *name, h5_dtype dtype, const char *units,
                         const char *long_name);
/* Index of a column, or -1. */
int met_col(const met_table *t, const char *name);

/* Append a row of NaNs; *row (may be NULL) points at its ncols values and
 * stays valid until the next append or add_column. */
st_status met_append(met_table *t, double **row);
/* Set a value by column name (ST_ERR naming it when unknown). */
st_status met_set(met_table *t, size_t row, const char *name, double value);
static inline double met_get(const met_table *t, size_t row, size_t col)
{
    return t->rows[row * t->ncols + col];
}

/* Write the table as a new column table at t->group of f (collective; rank
 * 0's rows).  The group must not exist yet (checkpoints are written fresh). */
st_status met_write(const met_table *t, h5_file *f);

/* Replace t's rows with the table stored at t->group in f (collective): the
 * columns of t are filled (NaN when missing in the file), columns only in the
 * file are added.  A file without the group -> ST_EDATA naming it. */
st_status met_read(met_table *t, h5_file *f);

/* Aligned text table: a header of column names, one line per row; integer
 * columns as integers, others with 4 significant digits, "-" for NaN. */
void met_print(const met_table *t, FILE *out);

#endif
