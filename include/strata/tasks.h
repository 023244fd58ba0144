/* tasks.h -- multiple-choice tasks in the lm-eval-harness convention,
 * scored at every depth (the logit lens), and the cloze-task builder.
 *
 * A task is a JSONL file (docs/FORMAT.md "Task files"): one JSON object per
 * line, {"context": STRING, "choices": [STRING, ...], "answer": INDEX};
 * other keys are ignored, blank lines skipped.  The file may come from a
 * stranger: task_load refuses (ST_EDATA, exit 3) a file that is not a
 * regular file or is larger than TASK_MAX_BYTES, and any line that is longer
 * than TASK_MAX_LINE, is not valid JSON (or not UTF-8), is not an object,
 * lacks a key, has a key of the wrong type, has fewer than 2 or more than
 * TASK_MAX_CHOICES choices, an empty choice, or an answer outside
 * [0, choices) -- naming the file, the line number and what is wrong.
 *
 * Tokens (the harness's rule): whitespace at the end of the context moves to
 * the start of every choice; the context and each choice are then encoded
 * separately with the model's tokenizer and joined, so every choice is
 * scored on the same context tokens and a choice's tokens do not depend on
 * the context (no n-gram spans the boundary).  An empty context is the
 * end-of-document token (what precedes a document in a prepared dataset).
 * When context + choice exceed T + 1 tokens, the context is cut from the
 * left; a choice longer than T tokens -> ST_EDATA naming file and line.
 *
 * Scores of a choice: ll = sum of the log-probabilities of its tokens given
 * everything before them, and ll / chars (its characters, leading
 * whitespace included).  The item is right when the answer has the
 * highest score (ties: the first choice).  acc = right / items and its
 * standard error sqrt(acc (1 - acc) / (items - 1)) (the harness's sample
 * standard error of a 0/1 mean).
 *
 * Distribution: task_score is collective over `comm`; rank r scores the
 * items comm_share(items, r, size), the choices of its items packed `batch`
 * rows per forward pass, and the counts of right items are all-reduced: the
 * accuracy is independent of the rank count except where two choices score
 * the same to float rounding.
 */
#ifndef STRATA_TASKS_H
#define STRATA_TASKS_H

#include <mpi.h>
#include <stdint.h>

#include "strata/error.h"
#include "strata/eval.h"

struct tokenizer;
struct dataset;

#define TASK_MAX_BYTES (256L << 20) /* a task file */
#define TASK_MAX_LINE (1L << 20)    /* one line */
#define TASK_MAX_CHOICES 64
#define TASK_NAME_MAX 64

typedef struct task_choice {
    int32_t *ids;  /* [n] continuation tokens */
    int n;
    double chars;  /* characters of the continuation */
} task_choice;

typedef struct task_item {
    long line;              /* 1-based line in the file */
    int32_t *ctx;           /* [nctx] context tokens */
    int nctx;
    task_choice *choices;   /* [nchoices] */
    int nchoices;
    int answer;
} task_item;

typedef struct task_set {
    char name[TASK_NAME_MAX]; /* from the file name (task_name_of) */
    char path[1024];
    task_item *items;         /* [n] */
    long n;
} task_set;

typedef struct task_row {
    int depth;
    double acc, acc_se;           /* by summed log-likelihood */
    double acc_char, acc_char_se; /* by log-likelihood per character */
    double items;
} task_row;

/* The task's name: the file's base name without its extension (".jsonl",
 * ".json", ".txt"), every byte outside [A-Za-z0-9_] replaced by '_', cut to
 * TASK_NAME_MAX - 1 bytes ("hellaswag-val.jsonl" -> "hellaswag_val"). */
void task_name_of(const char *path, char name[TASK_NAME_MAX]);

/* Read, check and tokenize a task file (see the top).  No items -> ST_EDATA. */
st_status task_load(const char *path, const struct tokenizer *tok, task_set *out);
void task_free(task_set *t);

/* Accuracy of the n members combined as `how` (prior as eval_depths_mix) at
 * depths lo..hi; rows of at most T + 1 tokens, `batch` rows per forward
 * pass; out[hi - lo + 1].  The members' prefix sources and workspaces are
 * not used. */
st_status task_score(eval_member *mem, int n, ckpt_combine how, const double *prior, const task_set *t, int T,
                     int lo, int hi, int batch, MPI_Comm comm, task_row *out);

/* A LAMBADA-style cloze task from the validation split of d (every rank
 * the same text, *jsonl malloc'd): up to n items, each a sentence of the
 * validation text (at least 6 words, ending in . ! or ?) whose context is
 * the sentence up to its last word and whose choices are the last word
 * (with a leading space) and 3 other words of the corpus with the nearest
 * frequency ranks, in an order drawn from the seed.  Deterministic from
 * (d, n, seed).  *items gets the number made; none -> ST_EDATA. */
st_status task_cloze_build(const struct dataset *d, long n, uint64_t seed, char **jsonl, long *items);

#endif
