/* config.h -- every setting strata knows, in one declarative table.
 *
 * CFG_SECTIONS lists each key once with its type, default, range or choices,
 * whether it may change when a run resumes, and one line of help.  The same
 * list generates the st_config struct (typed fields, e.g. cfg.model.n_heads),
 * the lookup table used for parsing and validation, `--help` and
 * `strata config --dump`.  Settings come from defaults, then an INI file
 * (--config), then --set overrides, in that order.
 */
#ifndef STRATA_CONFIG_H
#define STRATA_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "strata/error.h"

#define CFG_STR_MAX 1024
#define CFG_CHOICE_MAX 32

/* X(section, key, TYPE, default, min, max, choices, resume_may_change, help)
 * TYPE: INT (long), FLOAT (double), BOOL, STRING, CHOICE (one of "a|b|c"). */
#define CFG_RUN_KEYS(X)                                                                          \
    X(run, name, STRING, "demo", 0, 0, NULL, 1, "run name; checkpoints go to <run.dir>/<run.name>/") \
    X(run, dir, STRING, "checkpoints", 0, 0, NULL, 1, "directory that holds run directories")   \
    X(run, seed, INT, "1234", 0, 9007199254740992.0, NULL, 0, "seed of every random stream")

#define CFG_DATA_KEYS(X)                                                                         \
    X(data, corpus, STRING, "", 0, 0, NULL, 1, "UTF-8 text files or directories (comma-separated) to prepare when data.dataset does not exist") \
    X(data, dataset, STRING, "", 0, 0, NULL, 0, "HDF5 dataset file written by 'strata prepare'") \
    X(data, tokenizer, STRING, "", 0, 0, NULL, 0, "strata file whose /tokenizer encodes the corpus instead of learning one (tokenizer file, dataset or checkpoint; empty = learn)") \
    X(data, jsonl_field, STRING, "", 0, 0, NULL, 1, "JSON Lines: the field holding each line's text (files named *.jsonl or *.ndjson, also gzipped, are one document per line; empty = \"text\"); when set, stdin (-) is read as JSON Lines too") \
    X(data, inflate_limit_mb, INT, "16384", 1, 1048576, NULL, 1, "largest decompressed size of one gzip input or of stdin, in MiB (decompression-bomb guard)") \
    X(data, ctx, INT, "256", 4, 65536, NULL, 0, "context length in tokens (chunks hold ctx+1 tokens)") \
    X(data, val_fraction, FLOAT, "0.05", 0, 0.5, NULL, 0, "share of chunks held out for validation") \
    X(data, split_seed, INT, "17", 0, 9007199254740992.0, NULL, 0, "seed of the train/validation split (split = random)") \
    X(data, split, CHOICE, "random", 0, 0, "random|tail", 0, "validation chunks: random (by split_seed) or tail (the last val_fraction of each document)") \
    X(data, test, STRING, "", 0, 0, NULL, 1, "test set evaluated at every stage end (test_* columns of /metrics/depth): a dataset with the run's tokenizer, or text encoded with it into <run dir>/test.h5")

#define CFG_TOKENIZER_KEYS(X)                                                                    \
    X(tokenizer, mode, CHOICE, "compact", 0, 0, "bmp|compact", 0, "bmp: id = code point (65,536 ids); compact: dense ids for seen characters") \
    X(tokenizer, vocab_size, INT, "4096", 300, 65536, NULL, 0, "compact mode: vocabulary size including specials, bytes and n-grams") \
    X(tokenizer, min_count, INT, "1", 1, 1000000000, NULL, 0, "compact mode: least count for a character to get its own id") \
    X(tokenizer, ngram_max, INT, "4", 1, 16, NULL, 0, "longest learned character n-gram, within words or CJK runs (1 = none)") \
    X(tokenizer, ngrams, INT, "1024", 0, 60000, NULL, 0, "number of learned n-grams (top-K by count x (n-1); bmp mode holds at most 7936)")

#define CFG_SUBSTRATE_KEYS(X)                                                                    \
    X(substrate, kind, CHOICE, "glyph", 0, 0, "glyph|random|binary|trainable", 0, "input embeddings: glyph pictures, frozen Gaussian, token-id bits, or a trainable table") \
    X(substrate, file, STRING, "", 0, 0, NULL, 0, "HDF5 substrate file written by 'strata substrate'") \
    X(substrate, dim, INT, "256", 8, 8192, NULL, 0, "embedding dimension D (= model width)") \
    X(substrate, cell, INT, "32", 8, 128, NULL, 0, "glyph cell size in pixels (cell x cell)") \
    X(substrate, flatten, CHOICE, "polar", 0, 0, "polar|rowmajor", 0, "pixel order before PCA: polar snake (radius, then angle) or row-major") \
    X(substrate, fonts, STRING, "", 0, 0, NULL, 0, "extra font files after Unifont, comma-separated")

#define CFG_MODEL_KEYS(X)                                                                        \
    X(model, n_layers, INT, "4", 1, 1024, NULL, 1, "number of blocks L the run grows to (raise it to grow a finished run deeper)")        \
    X(model, n_heads, INT, "4", 1, 256, NULL, 0, "attention heads (substrate.dim must be divisible)") \
    X(model, d_ff, INT, "1024", 4, 262144, NULL, 0, "MLP hidden width")                          \
    X(model, rope_theta, FLOAT, "10000", 1, 1e9, NULL, 0, "RoPE base")                           \
    X(model, norm_eps, FLOAT, "1e-5", 1e-12, 1e-1, NULL, 0, "RMSNorm epsilon")                   \
    X(model, init_std, FLOAT, "0.02", 1e-6, 1, NULL, 0, "std of the normal initialisation of weight matrices")

#define CFG_TRAIN_KEYS(X)                                                                        \
    X(train, batch, INT, "8", 1, 1048576, NULL, 0, "global batch in chunks per step, independent of the rank count") \
    X(train, lr, FLOAT, "3e-3", 0, 10, NULL, 0, "peak learning rate")                            \
    X(train, min_lr, FLOAT, "3e-4", 0, 10, NULL, 0, "learning rate at the end of the cosine decay") \
    X(train, warmup, INT, "50", 0, 100000000, NULL, 0, "linear warmup steps at the start of each stage") \
    X(train, weight_decay, FLOAT, "0.1", 0, 10, NULL, 0, "AdamW decoupled weight decay (not on norm gains)") \
    X(train, beta1, FLOAT, "0.9", 0, 0.999999, NULL, 0, "AdamW beta1")                          \
    X(train, beta2, FLOAT, "0.95", 0, 0.999999, NULL, 0, "AdamW beta2")                         \
    X(train, adam_eps, FLOAT, "1e-8", 0, 1, NULL, 0, "AdamW epsilon")                           \
    X(train, grad_clip, FLOAT, "1.0", 0, 1e9, NULL, 0, "global gradient-norm clip (0 = off)") \
    X(train, overlap_reduce, BOOL, "true", 0, 0, NULL, 1, "start each trained arena's gradient reduction during the backward as soon as its gradient is final (false = the same reductions after the backward; results are bitwise the same)") \
    X(train, zero, BOOL, "false", 0, 0, NULL, 1, "ZeRO-1: shard the AdamW moments over the ranks (each keeps and updates 1/N of every trained arena, then the weights are all-gathered); saves 8 x trained parameters x (1 - 1/N) bytes per rank, results are bitwise the same, checkpoints hold the whole moments") \
    X(train, precision, CHOICE, "float32", 0, 0, "float32|bfloat16", 1, "matrix products in float32 (OpenBLAS) or bfloat16 with fp32 accumulation (oneDNN; needs AVX512_BF16 or AMX); weights, optimizer state, norms, softmax and loss stay float32") \
    X(train, spike_factor, FLOAT, "4", 0, 1e9, NULL, 1, "a step whose loss exceeds this times the running mean diverged (0 = only non-finite values)") \
    X(train, max_rollbacks, INT, "5", 0, 1000000, NULL, 1, "rollbacks after divergence before the run stops with exit code 5") \
    X(train, rollback_lr_factor, FLOAT, "0.5", 1e-6, 1, NULL, 1, "each rollback multiplies the learning rate by this")

#define CFG_GROW_KEYS(X)                                                                         \
    X(grow, schedule, CHOICE, "progressive", 0, 0, "progressive|monolithic", 0, "grow block by block, or train all blocks end to end (baseline)") \
    X(grow, init, CHOICE, "random", 0, 0, "random|copy", 0, "a new block starts random or as a copy of the block below") \
    X(grow, reinit_head, BOOL, "false", 0, 0, NULL, 0, "re-initialise the head at each stage instead of continuing") \
    X(grow, lora_from_depth, INT, "0", 0, 1024, NULL, 0, "from this stage on, frozen blocks get LoRA adapters (0 = never)") \
    X(grow, lora_rank, INT, "8", 1, 4096, NULL, 0, "LoRA rank r")                               \
    X(grow, lora_alpha, FLOAT, "16", 0, 1e6, NULL, 0, "LoRA alpha (update scaled by alpha/r)") \
    X(grow, stop, CHOICE, "steps", 0, 0, "steps|tokens|plateau", 1, "when a stage ends")         \
    X(grow, steps, INT, "200", 1, 1000000000, NULL, 1, "steps per stage (stop = steps)")        \
    X(grow, tokens, INT, "0", 0, 9007199254740992.0, NULL, 1, "tokens per stage (stop = tokens)") \
    X(grow, min_steps, INT, "50", 0, 1000000000, NULL, 1, "plateau: never stop before this many steps") \
    X(grow, max_steps, INT, "5000", 1, 1000000000, NULL, 1, "plateau: always stop after this many steps") \
    X(grow, patience, INT, "3", 1, 1000000, NULL, 1, "plateau: evals without enough improvement before stopping") \
    X(grow, min_delta, FLOAT, "0.01", 0, 1e9, NULL, 1, "plateau: least val-loss improvement (nats/token) that counts") \
    X(grow, cache, CHOICE, "memory", 0, 0, "memory|disk|off", 1, "activation cache of frozen blocks: in memory, per-rank scratch file, or off") \
    X(grow, cache_dtype, CHOICE, "float32", 0, 0, "float32|bfloat16", 1, "how activation cache entries are stored: float32 (bit for bit: the run is the same with the cache on, off or on disk) or bfloat16 (half the memory or disk; values rounded to bf16)") \
    X(grow, cache_dir, STRING, "", 0, 0, NULL, 1, "directory of the per-rank scratch files of grow.cache = disk (node-local scratch; empty = the run directory)") \
    X(grow, until_stage, INT, "0", 0, 1024, NULL, 1, "end the run cleanly (exit 0) after this stage; run grow again to continue (0 = all stages)")

#define CFG_EVAL_KEYS(X)                                                                         \
    X(eval, interval, INT, "50", 0, 1000000000, NULL, 1, "evaluate every this many steps (0 = only at stage ends)") \
    X(eval, batches, INT, "8", 1, 1000000, NULL, 1, "validation batches per evaluation") \
    X(eval, induction_seqs, INT, "16", 0, 1000000, NULL, 1, "random-token sequences of the induction probe at each stage end (0 = off)") \
    X(eval, induction_len, INT, "32", 2, 32768, NULL, 1, "tokens in each of the two copies of an induction sequence") \
    X(eval, tasks, STRING, "", 0, 0, NULL, 1, "multiple-choice task files (JSONL, comma-separated) scored at each stage end")

#define CFG_CKPT_KEYS(X)                                                                         \
    X(ckpt, interval, INT, "200", 0, 1000000000, NULL, 1, "write step-NNNNNNNN.h5 every this many steps (0 = off)") \
    X(ckpt, keep, INT, "2", 1, 1000000, NULL, 1, "periodic checkpoints kept (stage checkpoints are always kept)")

#define CFG_LOG_KEYS(X)                                                                          \
    X(log, interval, FLOAT, "10", 0, 1e6, NULL, 1, "seconds between progress lines (log.progress = lines)") \
    X(log, progress, CHOICE, "auto", 0, 0, "auto|bar|lines", 1, "progress display of rank 0: bar (one line redrawn with \\r, also through mpirun's pipe), lines (a line every log.interval s), auto (bar when stderr is a terminal, else lines; under mpirun stderr is a pipe: set bar)")

#define CFG_SECTIONS(S)                                                                          \
    S(run, CFG_RUN_KEYS)                                                                         \
    S(data, CFG_DATA_KEYS)                                                                       \
    S(tokenizer, CFG_TOKENIZER_KEYS)                                                             \
    S(substrate, CFG_SUBSTRATE_KEYS)                                                             \
    S(model, CFG_MODEL_KEYS)                                                                     \
    S(train, CFG_TRAIN_KEYS)                                                                     \
    S(grow, CFG_GROW_KEYS)                                                                       \
    S(eval, CFG_EVAL_KEYS)                                                                       \
    S(ckpt, CFG_CKPT_KEYS)                                                                       \
    S(log, CFG_LOG_KEYS)

#define CFG_DECL_INT(k) long k;
#define CFG_DECL_FLOAT(k) double k;
#define CFG_DECL_BOOL(k) bool k;
#define CFG_DECL_STRING(k) char k[CFG_STR_MAX];
#define CFG_DECL_CHOICE(k) char k[CFG_CHOICE_MAX];
#define CFG_FIELD_(sec, key, type, def, lo, hi, choices, mut, help) CFG_DECL_##type(key)
#define CFG_SECTION_STRUCT_(sec, KEYS) struct { KEYS(CFG_FIELD_) } sec;

/* The resolved configuration: plain data, safe to copy by assignment. */
typedef struct st_config {
    CFG_SECTIONS(CFG_SECTION_STRUCT_)
} st_config;

typedef enum cfg_type { CFG_INT, CFG_FLOAT, CFG_BOOL, CFG_STRING, CFG_CHOICE } cfg_type;
/* "integer", "number", "boolean", "string" or "choice" (help, man page). */
const char *cfg_type_name(cfg_type t);

typedef struct cfg_key {
    const char *section;
    const char *name;
    cfg_type type;
    const char *def;
    double min, max;     /* INT and FLOAT */
    const char *choices; /* CHOICE: "a|b|c" */
    bool resume_may_change;
    const char *help;
    size_t offset; /* of the field in st_config */
} cfg_key;

extern const cfg_key cfg_keys[];
extern const size_t cfg_nkeys;

/* Defaults for every key. */
void cfg_defaults(st_config *c);
/* Find a key; NULL when unknown. */
const cfg_key *cfg_find(const char *section, const char *name);
/* Set one key from text.  `origin` names where it came from ("run.ini:12",
 * "--set") for the error message.  ST_EUSAGE on unknown key, wrong type or
 * out-of-range value. */
st_status cfg_set_value(st_config *c, const char *section, const char *name, const char *value,
                        const char *origin);
/* Apply "section.key=value" (the --set syntax). */
st_status cfg_set_assignment(st_config *c, const char *assignment);
/* Read an INI file on top of `c`; errors name file:line, key, value. */
st_status cfg_load_file(st_config *c, const char *path);
/* Read INI text (e.g. the /config string of a checkpoint). */
st_status cfg_load_string(st_config *c, const char *text, const char *origin);
/* Checks across keys (e.g. dim divisible by n_heads). */
st_status cfg_validate(const st_config *c);
/* The resolved configuration as INI text; caller frees. */
char *cfg_dump(const st_config *c);
/* Write a key's current value as text into buf. */
void cfg_format_value(const st_config *c, const cfg_key *k, char *buf, size_t len);
/* Keys whose values differ between a and b; when `fixed_only`, only keys that
 * may not change on resume.  Writes "section.key" names separated by ", "
 * into buf and returns how many differ. */
int cfg_diff(const st_config *a, const st_config *b, bool fixed_only, char *buf, size_t len);
/* Table of settings for --help. */
void cfg_print_help(FILE *f);
/* The same for the keys of the sections named in `sections` (space-separated,
 * e.g. "data tokenizer"; NULL = every section). */
void cfg_print_help_sections(FILE *f, const char *sections);

#endif
