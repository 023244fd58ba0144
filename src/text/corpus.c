/* corpus.c -- `strata prepare`: files -> tokenizer + chunks (corpus.h).
 *
 * Phases (all ranks take part in each; any rank's failure is agreed on
 * before the next collective, so every rank returns the same status):
 *   1. rank 0 lists the files, checks them and the output, broadcasts;
 *   2. the concatenated bytes are cut into one range per rank at safe breaks;
 *   3. each rank counts its range, tok_learn reduces and builds the tokenizer
 *      (or every rank has loaded the given one before phase 1:
 *      corpus_options.tokenizer_path);
 *   4. each rank encodes its range; tokens move to the ranks that write the
 *      chunks holding them; one collective write into a temporary file;
 *   5. it is published as the output (publish.h: fsync, rename, fsync dir).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "strata/agree.h"
#include "strata/config.h"
#include "strata/corpus.h"
#include "strata/h5.h"
#include "strata/log.h"
#include "strata/publish.h"
#include "strata/rng.h"
#include "strata/utf8.h"
#include "tok_internal.h"

#define SNIFF_BYTES 65536
#define BREAK_WINDOW 65536
#define MAX_DEPTH 64

void corpus_options_from_config(const struct st_config *c, corpus_options *o)
{
    memset(o, 0, sizeof *o);
    o->ctx = (int)c->data.ctx;
    o->val_fraction = c->data.val_fraction;
    o->split_seed = (uint64_t)c->data.split_seed;
    o->split_tail = strcmp(c->data.split, "tail") == 0;
    tok_options_from_config(c, &o->tok);
    o->tokenizer_path = c->data.tokenizer[0] ? c->data.tokenizer : NULL;
    corpus_ingest_from_config(c, &o->ingest);
}

void corpus_ingest_from_config(const struct st_config *c, corpus_ingest *g)
{
    g->jsonl_field = c->data.jsonl_field[0] ? c->data.jsonl_field : NULL;
    g->inflate_limit = (uint64_t)c->data.inflate_limit_mb << 20;
}

st_status corpus_split_list(const char *list, char ***items, int *n)
{
    st_status st = ST_OK;
    char **v = NULL;
    int k = 0;
    size_t len = strlen(list);
    v = calloc(len / 2 + 2, sizeof *v);
    CHECK_ALLOC(v);
    const char *p = list;
    while (*p) {
        const char *e = strchr(p, ',');
        if (!e) e = p + strlen(p);
        const char *a = p, *b = e;
        while (a < b && (*a == ' ' || *a == '\t')) a++;
        while (b > a && (b[-1] == ' ' || b[-1] == '\t')) b--;
        if (b > a) {
            v[k] = strndup(a, (size_t)(b - a));
            CHECK_ALLOC(v[k]);
            k++;
        }
        p = *e ? e + 1 : e;
    }
out:
    if (st != ST_OK) {
        corpus_free_list(v, k);
        v = NULL;
        k = 0;
    }
    *items = v;
    *n = k;
    return st;
}

void corpus_free_list(char **items, int n)
{
    for (int i = 0; items && i < n; i++) free(items[i]);
    free(items);
}

/* Every phase ends with all ranks agreeing on its outcome (agree.h). */
#define AGREE(expr) CHECK_AGREE((expr), comm)

/* ---- the file list (rank 0) -------------------------------------------- */

typedef struct cfile {
    char *path;     /* file to read */
    char *name;     /* what it came from, for /corpus/files ("docs.jsonl:17"), or NULL: path */
    uint64_t base;  /* first byte in path (a document in the spool file) */
    uint64_t size;
    uint64_t start; /* offset in the concatenation */
} cfile;

typedef struct flist {
    cfile *f;
    size_t n, cap;
    uint64_t found, binary, total;
    uint64_t jsonl_docs, jsonl_invalid;
    /* rank 0: decoded inputs (gzip, stdin, JSON Lines) go to the spool */
    corpus_ingest ing;
    const char *spool_dir;
    char *spool_path;
    FILE *spool;
    uint64_t spool_size;
} flist;

static void spool_remove(flist *l)
{
    if (l->spool) fclose(l->spool);
    l->spool = NULL;
    if (l->spool_path) unlink(l->spool_path);
    free(l->spool_path);
    l->spool_path = NULL;
}

static void flist_free(flist *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->f[i].path);
        free(l->f[i].name);
    }
    free(l->f);
    spool_remove(l);
    memset(l, 0, sizeof *l);
}

static const char *cfile_name(const cfile *f) { return f->name ? f->name : f->path; }

static st_status flist_push_part(flist *l, const char *path, uint64_t base, uint64_t size, const char *name);

static st_status flist_push(flist *l, const char *path, uint64_t size)
{
    return flist_push_part(l, path, 0, size, NULL);
}

static st_status flist_push_part(flist *l, const char *path, uint64_t base, uint64_t size, const char *name)
{
    st_status st = ST_OK;
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 16;
        cfile *f = realloc(l->f, cap * sizeof *f);
        CHECK_ALLOC(f);
        l->f = f;
        l->cap = cap;
    }
    char *p = strdup(path), *nm = name ? strdup(name) : NULL;
    if (!p || (name && !nm)) {
        free(p);
        free(nm);
        CHECK_ALLOC(NULL);
    }
    l->f[l->n++] = (cfile){.path = p, .name = nm, .base = base, .size = size, .start = l->total};
    l->total += size;
out:
    return st;
}

/* Share of control and invalid bytes in the first SNIFF_BYTES of a file. */
static st_status sniff(const char *path, int fd, double *share, size_t *nread)
{
    st_status st = ST_OK;
    uint8_t *buf = malloc(SNIFF_BYTES);
    CHECK_ALLOC(buf);
    size_t n = 0;
    while (n < SNIFF_BYTES) {
        ssize_t k = read(fd, buf + n, SNIFF_BYTES - n);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) FAIL(ST_EDATA, "cannot read '%s': %s", path, strerror(errno));
        if (k == 0) break;
        n += (size_t)k;
    }
    size_t bad = 0;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t k = utf8_decode(buf + i, n - i, &cp);
        if (k == 0) {
            /* a sequence cut by the sniff window is not evidence */
            if (n - i >= 4) bad++;
            i++;
            continue;
        }
        if ((cp < 0x20 && cp != '\t' && cp != '\n' && cp != '\v' && cp != '\f' && cp != '\r') ||
            cp == 0x7F)
            bad++;
        i += k;
    }
    *share = n ? (double)bad / (double)n : 0.0;
    *nread = n;
out:
    free(buf);
    return st;
}

/* ---- decoded inputs: gzip, stdin, JSON Lines (rank 0) ------------------- */

#define JSONL_MAX_LINE (256u << 20) /* a longer line is invalid (and skipped) */
#define JSONL_SHOW 5                /* invalid lines named one by one */
#define DEFAULT_INFLATE_LIMIT (16ull << 30)

static bool ends_with(const char *s, const char *suf)
{
    size_t n = strlen(s), k = strlen(suf);
    return n >= k && strcmp(s + n - k, suf) == 0;
}

/* Named *.jsonl or *.ndjson, with or without .gz? */
static bool jsonl_name(const char *path)
{
    size_t n = strlen(path);
    char *b = strdup(path);
    if (!b) return false;
    if (ends_with(b, ".gz")) b[n - 3] = '\0';
    bool r = ends_with(b, ".jsonl") || ends_with(b, ".ndjson");
    free(b);
    return r;
}

static st_status spool_open(flist *l)
{
    st_status st = ST_OK;
    if (l->spool) goto out;
    const char *dir = l->spool_dir;
    if (!dir) dir = getenv("TMPDIR");
    if (!dir || !dir[0]) dir = "/tmp";
    if (asprintf(&l->spool_path, "%s/.strata-spool-XXXXXX", dir) < 0) {
        l->spool_path = NULL;
        CHECK_ALLOC(NULL);
    }
    int fd = mkstemp(l->spool_path);
    if (fd < 0) FAIL(ST_EUSAGE, "cannot create a spool file for decoded input in '%s': %s", dir, strerror(errno));
    l->spool = fdopen(fd, "w+");
    if (!l->spool) {
        close(fd);
        FAIL(ST_EIO, "cannot open the spool file '%s': %s", l->spool_path, strerror(errno));
    }
out:
    return st;
}

static st_status spool_write(flist *l, const void *p, size_t n)
{
    st_status st = ST_OK;
    if (n && fwrite(p, 1, n, l->spool) != n)
        FAIL(ST_EIO, "cannot write the spool file '%s': %s", l->spool_path, strerror(errno));
    l->spool_size += n;
out:
    return st;
}

/* Everything written reaches the file before other ranks read it. */
static st_status spool_finish(flist *l)
{
    st_status st = ST_OK;
    if (l->spool && (fflush(l->spool) != 0 || fsync(fileno(l->spool)) != 0))
        FAIL(ST_EIO, "cannot write the spool file '%s': %s", l->spool_path, strerror(errno));
out:
    return st;
}

/* A byte source: zlib's gz reader, which also passes plain data through. */
typedef struct src {
    gzFile gz;
    const char *name;
    uint64_t out, limit;
} src;

static st_status src_read(src *s, uint8_t *buf, size_t cap, size_t *n)
{
    st_status st = ST_OK;
    int e = Z_OK;
    int k = gzread(s->gz, buf, (unsigned)cap);
    if (k < 0 || (k == 0 && (gzerror(s->gz, &e), e != Z_OK && e != Z_STREAM_END))) {
        const char *m = gzerror(s->gz, &e);
        FAIL(ST_EDATA, "cannot read '%s': %s", s->name, e == Z_ERRNO ? strerror(errno) : m);
    }
    s->out += (uint64_t)k;
    if (s->out > s->limit)
        FAIL(ST_EDATA, "'%s' decodes to more than %llu MiB (data.inflate_limit_mb): a decompression bomb? "
             "Raise data.inflate_limit_mb if the file is genuine", s->name, (unsigned long long)(s->limit >> 20));
    *n = (size_t)k;
out:
    return st;
}

/* One JSON Lines line: a document, or counted (and the first few named) as invalid. */
static st_status jsonl_line(flist *l, const char *name, uint64_t lineno, const char *p, size_t n, bool too_long)
{
    st_status st = ST_OK;
    json_t *j = NULL;
    char why[200] = "";
    char *nm = NULL;
    const char *field = l->ing.jsonl_field && l->ing.jsonl_field[0] ? l->ing.jsonl_field : "text";
    if (n && p[n - 1] == '\r') n--;
    size_t k = 0;
    while (k < n && (p[k] == ' ' || p[k] == '\t')) k++;
    if (k == n && !too_long) goto out; /* blank lines separate nothing and are not documents */
    json_t *v = NULL;
    if (too_long) {
        snprintf(why, sizeof why, "longer than %u MiB", JSONL_MAX_LINE >> 20);
    } else {
        json_error_t err;
        j = json_loadb(p, n, 0, &err);
        if (!j) snprintf(why, sizeof why, "not valid JSON (column %d: %s)", err.column, err.text);
        else if (!json_is_object(j)) snprintf(why, sizeof why, "not a JSON object");
        else if (!(v = json_object_get(j, field))) snprintf(why, sizeof why, "no field \"%.64s\"", field);
        else if (!json_is_string(v)) snprintf(why, sizeof why, "field \"%.64s\" is not a string", field);
    }
    if (why[0]) {
        l->jsonl_invalid++;
        if (l->jsonl_invalid <= JSONL_SHOW)
            log_warn("%s:%llu: skipping an invalid line: %s", name, (unsigned long long)lineno, why);
        goto out;
    }
    size_t len = json_string_length(v);
    l->jsonl_docs++;
    if (len == 0) goto out;
    if (asprintf(&nm, "%s:%llu", name, (unsigned long long)lineno) < 0) {
        nm = NULL;
        CHECK_ALLOC(NULL);
    }
    uint64_t base = l->spool_size;
    CHECK(spool_write(l, json_string_value(v), len));
    CHECK(flist_push_part(l, l->spool_path, base, len, nm));
out:
    json_decref(j);
    free(nm);
    return st;
}

/* Decode fd (gzip or plain; stdin too) into the spool: as one text
 * document, or as JSON Lines documents. */
static st_status ingest(flist *l, int fd, const char *name, bool jsonl, bool limited)
{
    st_status st = ST_OK;
    uint8_t *buf = NULL;
    char *line = NULL;
    size_t lcap = 0, llen = 0;
    bool too_long = false;
    uint64_t lineno = 0, invalid0 = l->jsonl_invalid;
    src s = {.gz = gzdopen(fd, "rb"), .name = name,
             .limit = limited ? (l->ing.inflate_limit ? l->ing.inflate_limit : DEFAULT_INFLATE_LIMIT) : UINT64_MAX};
    if (!s.gz) {
        close(fd);
        FAIL(ST_EDATA, "cannot read '%s': %s", name, strerror(errno));
    }
    gzbuffer(s.gz, 1 << 17);
    CHECK(spool_open(l));
    buf = malloc(1 << 16);
    CHECK_ALLOC(buf);
    uint64_t base = l->spool_size;
    l->found++;
    for (;;) {
        size_t n = 0;
        CHECK(src_read(&s, buf, 1 << 16, &n));
        if (n == 0) break;
        if (!jsonl) {
            CHECK(spool_write(l, buf, n));
            continue;
        }
        for (size_t i = 0; i < n;) {
            uint8_t *nl = memchr(buf + i, '\n', n - i);
            size_t k = nl ? (size_t)(nl - (buf + i)) : n - i;
            if (!too_long && llen + k > JSONL_MAX_LINE) too_long = true;
            if (!too_long) {
                if (llen + k > lcap) {
                    size_t cap = lcap ? lcap : 4096;
                    while (cap < llen + k) cap *= 2;
                    char *p = realloc(line, cap);
                    CHECK_ALLOC(p);
                    line = p;
                    lcap = cap;
                }
                memcpy(line + llen, buf + i, k);
                llen += k;
            }
            i += k;
            if (nl) {
                CHECK(jsonl_line(l, name, ++lineno, line, llen, too_long));
                llen = 0;
                too_long = false;
                i++;
            }
        }
    }
    if (jsonl && (llen || too_long)) CHECK(jsonl_line(l, name, ++lineno, line, llen, too_long));
    if (jsonl) {
        if (l->jsonl_invalid > invalid0)
            log_warn("%s: skipped %llu invalid line(s) of %llu (not trained on; counted in /corpus jsonl_invalid_lines)",
                     name, (unsigned long long)(l->jsonl_invalid - invalid0), (unsigned long long)lineno);
        goto out;
    }
    /* one text document: checked like a plain file */
    CHECK(spool_finish(l));
    uint64_t n = l->spool_size - base;
    double share = 0;
    size_t nread = 0;
    int sfd = open(l->spool_path, O_RDONLY);
    if (sfd < 0) FAIL(ST_EIO, "cannot read the spool file '%s': %s", l->spool_path, strerror(errno));
    st = lseek(sfd, (off_t)base, SEEK_SET) < 0 ? ST_ERROR(ST_EIO, "cannot seek in '%s'", l->spool_path)
                                                : sniff(name, sfd, &share, &nread);
    close(sfd);
    if (st != ST_OK) goto out;
    if (share > CORPUS_BINARY_SHARE) {
        log_warn("skipping '%s': %.0f%% of its first %zu bytes are NUL/control bytes or invalid "
                 "UTF-8 (binary file?)", name, 100.0 * share, nread);
        l->binary++;
        goto out;
    }
    if (n > 0) CHECK(flist_push_part(l, l->spool_path, base, n, strcmp(name, l->spool_path) ? name : NULL));
out:
    if (s.gz) gzclose(s.gz);
    free(buf);
    free(line);
    return st;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static st_status add_path(flist *l, const char *path, int depth)
{
    st_status st = ST_OK;
    DIR *d = NULL;
    char **names = NULL;
    size_t nn = 0, cap = 0;
    char *child = NULL;
    int fd = -1;
    struct stat sb;
    if (depth > MAX_DEPTH) FAIL(ST_EDATA, "'%s': directories nested deeper than %d (a symlink loop?)", path, MAX_DEPTH);
    if (depth == 0 && strcmp(path, "-") == 0) {
        /* stdin: JSON Lines when data.jsonl_field is set */
        int in = dup(STDIN_FILENO);
        if (in < 0) FAIL(ST_EDATA, "cannot read stdin: %s", strerror(errno));
        CHECK(ingest(l, in, "-", l->ing.jsonl_field && l->ing.jsonl_field[0], true));
        goto out;
    }
    if (stat(path, &sb) != 0) FAIL(ST_EDATA, "cannot read '%s': %s", path, strerror(errno));
    if (S_ISDIR(sb.st_mode)) {
        d = opendir(path);
        if (!d) FAIL(ST_EDATA, "cannot read directory '%s': %s", path, strerror(errno));
        struct dirent *e;
        while ((e = readdir(d))) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
            if (nn == cap) {
                cap = cap ? 2 * cap : 32;
                char **v = realloc(names, cap * sizeof *v);
                CHECK_ALLOC(v);
                names = v;
            }
            names[nn] = strdup(e->d_name);
            CHECK_ALLOC(names[nn]);
            nn++;
        }
        if (nn > 1) qsort(names, nn, sizeof *names, cmp_str);
        for (size_t i = 0; i < nn; i++) {
            size_t len = strlen(path) + strlen(names[i]) + 2;
            child = malloc(len);
            CHECK_ALLOC(child);
            snprintf(child, len, "%s%s%s", path, path[strlen(path) - 1] == '/' ? "" : "/", names[i]);
            struct stat cs;
            /* inside directories, skip what is neither a file nor a directory */
            if (stat(child, &cs) == 0 && !S_ISREG(cs.st_mode) && !S_ISDIR(cs.st_mode)) {
                free(child);
                child = NULL;
                continue;
            }
            CHECK(add_path(l, child, depth + 1));
            free(child);
            child = NULL;
        }
        goto out;
    }
    if (!S_ISREG(sb.st_mode)) FAIL(ST_EDATA, "'%s' is not a regular file or directory", path);
    fd = open(path, O_RDONLY);
    if (fd < 0) FAIL(ST_EDATA, "cannot read '%s': %s", path, strerror(errno));
    uint8_t magic[2] = {0, 0};
    bool gz = pread(fd, magic, 2, 0) == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
    if (gz || jsonl_name(path)) {
        int dfd = dup(fd);
        if (dfd < 0) FAIL(ST_EDATA, "cannot read '%s': %s", path, strerror(errno));
        CHECK(ingest(l, dfd, path, jsonl_name(path), gz));
        goto out;
    }
    double share = 0;
    size_t n = 0;
    CHECK(sniff(path, fd, &share, &n));
    l->found++;
    if (share > CORPUS_BINARY_SHARE) {
        log_warn("skipping '%s': %.0f%% of its first %zu bytes are NUL/control bytes or invalid "
                 "UTF-8 (binary file?)", path, 100.0 * share, n);
        l->binary++;
        goto out;
    }
    if (sb.st_size > 0) CHECK(flist_push(l, path, (uint64_t)sb.st_size));
out:
    if (fd >= 0) close(fd);
    if (d) closedir(d);
    for (size_t i = 0; i < nn; i++) free(names[i]);
    free(names);
    free(child);
    return st;
}

/* Output checks before any work: refuse to overwrite, need a writable directory. */
static st_status check_output(const char *output, bool force)
{
    st_status st = ST_OK;
    char *dir = NULL;
    struct stat sb;
    if (stat(output, &sb) == 0) {
        if (S_ISDIR(sb.st_mode)) FAIL(ST_EUSAGE, "output '%s' is a directory", output);
        if (!force) FAIL(ST_EUSAGE, "output '%s' exists; pass --force to replace it", output);
    }
    dir = strdup(output);
    CHECK_ALLOC(dir);
    char *slash = strrchr(dir, '/');
    if (!slash)
        strcpy(dir, ".");
    else if (slash == dir)
        dir[1] = '\0';
    else
        *slash = '\0';
    if (access(dir, W_OK | X_OK) != 0)
        FAIL(ST_EUSAGE, "cannot write the output directory '%s' of '%s': %s", dir, output, strerror(errno));
out:
    free(dir);
    return st;
}

/* Rank 0 builds the list; everyone receives it (paths, sizes, counts). */
static st_status share_list(flist *l, int rank, MPI_Comm comm)
{
    st_status st = ST_OK;
    char *buf = NULL;
    uint64_t head[6] = {l->n, l->found, l->binary, 0, l->jsonl_docs, l->jsonl_invalid};
    if (rank == 0)
        for (size_t i = 0; i < l->n; i++) head[3] += strlen(l->f[i].path) + 1 + strlen(cfile_name(&l->f[i])) + 1 + 16;
    CHECK_MPI(MPI_Bcast(head, 6, MPI_UINT64_T, 0, comm));
    if (head[3] > INT_MAX) FAIL(ST_EDATA, "the file list is too long (%llu bytes)", (unsigned long long)head[3]);
    buf = malloc(head[3] ? head[3] : 1);
    CHECK_ALLOC(buf);
    if (rank == 0) {
        char *p = buf;
        for (size_t i = 0; i < l->n; i++) {
            memcpy(p, &l->f[i].size, 8);
            memcpy(p + 8, &l->f[i].base, 8);
            strcpy(p + 16, l->f[i].path);
            p += 16 + strlen(l->f[i].path) + 1;
            strcpy(p, cfile_name(&l->f[i]));
            p += strlen(p) + 1;
        }
    }
    CHECK_MPI(MPI_Bcast(buf, (int)head[3], MPI_BYTE, 0, comm));
    if (rank != 0) {
        const char *p = buf;
        for (uint64_t i = 0; i < head[0]; i++) {
            uint64_t size, base;
            memcpy(&size, p, 8);
            memcpy(&base, p + 8, 8);
            const char *path = p + 16, *name = path + strlen(path) + 1;
            CHECK(flist_push_part(l, path, base, size, strcmp(name, path) ? name : NULL));
            p = name + strlen(name) + 1;
        }
        l->found = head[1];
        l->binary = head[2];
        l->jsonl_docs = head[4];
        l->jsonl_invalid = head[5];
    }
out:
    free(buf);
    return st;
}

/* ---- reading ranges ------------------------------------------------------ */

static st_status read_at(const cfile *f, uint64_t off, uint8_t *buf, size_t n)
{
    st_status st = ST_OK;
    int fd = open(f->path, O_RDONLY);
    if (fd < 0) FAIL(ST_EDATA, "cannot read '%s': %s", cfile_name(f), strerror(errno));
    size_t got = 0;
    while (got < n) {
        ssize_t k = pread(fd, buf + got, n - got, (off_t)(f->base + off + got));
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) FAIL(ST_EDATA, "cannot read '%s': %s", cfile_name(f), strerror(errno));
        if (k == 0) FAIL(ST_EDATA, "'%s' became shorter while it was being prepared", cfile_name(f));
        got += (size_t)k;
    }
out:
    if (fd >= 0) close(fd);
    return st;
}

/* Index of the file holding global byte q (q < total). */
static size_t file_of(const flist *l, uint64_t q)
{
    size_t lo = 0, hi = l->n;
    while (hi - lo > 1) {
        size_t mid = (lo + hi) / 2;
        if (l->f[mid].start <= q)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

/* First safe break at or after global byte q. */
static st_status find_break(const flist *l, uint64_t q, uint64_t *out)
{
    st_status st = ST_OK;
    uint8_t *buf = NULL;
    if (q >= l->total) {
        *out = l->total;
        goto out;
    }
    const cfile *f = &l->f[file_of(l, q)];
    uint64_t o = q - f->start;
    buf = malloc(BREAK_WINDOW + 8);
    CHECK_ALLOC(buf);
    for (;;) {
        uint64_t lo = o >= 4 ? o - 4 : 0;
        size_t n = (size_t)(f->size - lo < BREAK_WINDOW + 8 ? f->size - lo : BREAK_WINDOW + 8);
        CHECK(read_at(f, lo, buf, n));
        bool at_end = lo + n == f->size;
        size_t p = utf8_next_break(buf, n, (size_t)(o - lo), lo == 0, at_end);
        if (p != SIZE_MAX) {
            *out = f->start + lo + p;
            goto out;
        }
        o = lo + n - 4; /* positions this close to the window's end were not decided */
    }
out:
    free(buf);
    return st;
}

/* ---- the pipeline ------------------------------------------------------- */

typedef struct segment {
    size_t off, len;  /* in the rank's buffer */
    bool ends_file;   /* the file's last byte is in this segment */
} segment;

/* Chunk rows [c0, c1) of rank r out of n ranks. */
static void chunk_share(uint64_t n_chunks, int r, int n, uint64_t *c0, uint64_t *c1)
{
    *c0 = n_chunks * (uint64_t)r / (uint64_t)n;
    *c1 = n_chunks * (uint64_t)(r + 1) / (uint64_t)n;
}

/* Tokens [a, b) that the writer of chunks [c0, c1) needs. */
static void chunk_tokens(uint64_t c0, uint64_t c1, int ctx, uint64_t *a, uint64_t *b)
{
    if (c1 <= c0) {
        *a = *b = 0;
        return;
    }
    *a = c0 * (uint64_t)ctx;
    *b = c1 * (uint64_t)ctx + 1;
}

static uint64_t overlap(uint64_t a0, uint64_t a1, uint64_t b0, uint64_t b1, uint64_t *start)
{
    uint64_t lo = a0 > b0 ? a0 : b0, hi = a1 < b1 ? a1 : b1;
    *start = lo;
    return hi > lo ? hi - lo : 0;
}

/* Move tokens from the encoding ranks to the chunk writers. `mine` holds
 * global tokens [tok_off[rank], tok_off[rank+1]); *need gets [a, b). */
static st_status redistribute(const tok_buf *mine, const uint64_t *tok_off, uint64_t n_chunks,
                              int ctx, int rank, int size, MPI_Comm comm, tok_buf *need)
{
    st_status st = ST_OK;
    int *sc = calloc((size_t)size, sizeof(int)), *sd = calloc((size_t)size, sizeof(int));
    int *rc = calloc((size_t)size, sizeof(int)), *rd = calloc((size_t)size, sizeof(int));
    CHECK_ALLOC(sc);
    CHECK_ALLOC(sd);
    CHECK_ALLOC(rc);
    CHECK_ALLOC(rd);
    uint64_t c0, c1, a, b, s;
    chunk_share(n_chunks, rank, size, &c0, &c1);
    chunk_tokens(c0, c1, ctx, &a, &b);
    for (int d = 0; d < size; d++) {
        uint64_t d0, d1, da, db;
        chunk_share(n_chunks, d, size, &d0, &d1);
        chunk_tokens(d0, d1, ctx, &da, &db);
        uint64_t k = overlap(tok_off[rank], tok_off[rank + 1], da, db, &s);
        if (k > INT_MAX) FAIL(ST_ERR, "more than %d tokens for one rank: use more ranks", INT_MAX);
        sc[d] = (int)k;
        sd[d] = k ? (int)(s - tok_off[rank]) : 0;
        k = overlap(tok_off[d], tok_off[d + 1], a, b, &s);
        if (k > INT_MAX) FAIL(ST_ERR, "more than %d tokens for one rank: use more ranks", INT_MAX);
        rc[d] = (int)k;
        rd[d] = k ? (int)(s - a) : 0;
    }
    tok_buf_free(need);
    need->ids = malloc((b - a + 1) * sizeof *need->ids);
    need->chars = malloc(b - a + 1);
    CHECK_ALLOC(need->ids);
    CHECK_ALLOC(need->chars);
    need->n = need->cap = b - a;
    CHECK_MPI(MPI_Alltoallv(mine->ids, sc, sd, MPI_INT32_T, need->ids, rc, rd, MPI_INT32_T, comm));
    CHECK_MPI(MPI_Alltoallv(mine->chars, sc, sd, MPI_UINT8_T, need->chars, rc, rd, MPI_UINT8_T, comm));
out:
    free(sc);
    free(sd);
    free(rc);
    free(rd);
    return st;
}

/* The validation flags of every chunk (see corpus.h "Split"). */
static st_status make_split(uint64_t n, double frac, uint64_t seed, uint8_t **is_val, uint64_t *n_val)
{
    st_status st = ST_OK;
    uint64_t *perm = NULL;
    uint8_t *v = calloc(n ? n : 1, 1);
    CHECK_ALLOC(v);
    uint64_t k = (uint64_t)floor(frac * (double)n + 0.5);
    if (frac > 0 && k == 0 && n >= 2) k = 1;
    if (n > 0 && k >= n) k = n - 1;
    perm = malloc((n ? n : 1) * sizeof *perm);
    CHECK_ALLOC(perm);
    for (uint64_t i = 0; i < n; i++) perm[i] = i;
    rng_t r;
    rng_init(&r, seed, 0, RNG_DATA);
    for (uint64_t i = 0; i < k; i++) {
        uint64_t j = i + rng_below(&r, n - i);
        uint64_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
        v[perm[i]] = 1;
    }
    *n_val = k;
out:
    free(perm);
    if (st != ST_OK) {
        free(v);
        v = NULL;
    }
    *is_val = v;
    return st;
}

st_status corpus_split_tail(uint64_t n_chunks, int ctx, const uint64_t *doc_end, size_t n_docs, double frac,
                            uint8_t **is_val, uint64_t *n_val)
{
    st_status st = ST_OK;
    uint8_t *v = calloc(n_chunks ? n_chunks : 1, 1);
    CHECK_ALLOC(v);
    uint64_t k_total = 0, c = 0;
    for (size_t d = 0; d < n_docs && c < n_chunks; d++) {
        /* This document's chunks: those whose first target lies before its end. */
        uint64_t first = c;
        while (c < n_chunks && c * (uint64_t)ctx + 1 < doc_end[d]) c++;
        uint64_t m = c - first;
        uint64_t k = (uint64_t)floor(frac * (double)m + 0.5);
        if (m > 0 && k >= m) k = m - 1;
        for (uint64_t i = c - k; i < c; i++) v[i] = 1;
        k_total += k;
    }
    if (k_total == 0 && frac > 0 && n_chunks >= 2) {
        v[n_chunks - 1] = 1;
        k_total = 1;
    }
    *n_val = k_total;
out:
    *is_val = v;
    return st;
}

static st_status write_index(h5_file *f, const char *path, const uint8_t *is_val, uint64_t n,
                             uint8_t want, uint64_t count)
{
    st_status st = ST_OK;
    int64_t *idx = malloc((count ? count : 1) * sizeof *idx);
    CHECK_ALLOC(idx);
    uint64_t k = 0;
    for (uint64_t i = 0; i < n; i++)
        if (is_val[i] == want) idx[k++] = (int64_t)i;
    size_t dims[1] = {(size_t)count};
    CHECK(h5_write(f, path, H5_DT_I64, 1, dims, idx));
out:
    free(idx);
    return st;
}

/* Bytes the dataset file will take: a little more than it will, not a lot
 * more (a generous guess refused small datasets on nearly full disks).
 * Every chunked dataset (h5.c's storage rule: chunks of at most
 * H5_CHUNK_BYTES, whole rows, Fletcher32) allocates whole chunks, so the
 * last chunk of a dataset counts in full (up to 1 MiB of padding for a
 * large chunks/tokens) plus its 4-byte checksum.  Metadata, measured with
 * h5stat on HDF5 1.10: each chunked dataset's v1 B-tree chunk index is
 * 2.1-2.8 KB per node of up to 64 chunks (filled to ~90% when appending,
 * so counted per 48) plus ~0.5 KB of object header; superblock, the
 * five groups, their attributes and the global heap of the string
 * attributes ~12 KB.  The terms below round each of these up, which keeps
 * the estimate 1.0-1.35x of the written file from 60 KB to 17 MB
 * (tests/text/prepare-space.sh checks 1.0-1.5x). */
static uint64_t estimate_size(const corpus_stats *s, int ctx, const tokenizer *t, size_t text_bytes)
{
    uint64_t V = (uint64_t)tok_vocab_size(t);
    uint64_t tok_text = t->text_off[V] - V; /* the pool minus its NULs */
    const struct { uint64_t n, row; } ds[] = {
        {s->n_chunks, ((uint64_t)ctx + 1) * 2}, /* chunks/tokens, uint16 rows */
        {s->n_chunks, 4},                       /* chunks/chars */
        {s->n_chunks, 1},                       /* split/is_val */
        {s->n_train, 8},                        /* split/train_index */
        {s->n_val, 8},                          /* split/val_index */
        {V, 1}, {V, 8}, {V + 1, 8}, {tok_text, 1}, /* tokenizer kind, count, text_offsets, text */
    };
    uint64_t est = 16384 + text_bytes; /* fixed metadata; config and corpus/files (contiguous) */
    for (size_t i = 0; i < sizeof ds / sizeof ds[0]; i++) {
        uint64_t per = H5_CHUNK_BYTES / ds[i].row; /* rows per chunk */
        if (per < 1) per = 1;
        if (per > ds[i].n) per = ds[i].n;
        uint64_t nch = per ? (ds[i].n + per - 1) / per : 0;
        est += nch * (per * ds[i].row + 4) + (nch + 47) / 48 * 3072 + 1024;
    }
    est += est / 256; /* slack for what this does not model (free-space fragments) */
    log_debug("prepare: estimated dataset file size %llu bytes", (unsigned long long)est);
    return est;
}

/* Rank 0, before HDF5 touches the file: make sure the disk (and the file
 * size limit) has room for it.  HDF5 does not recover from a write that
 * fails inside the library, so a full disk must be found here. */
static st_status preflight_space(const char *tmp, const char *output, uint64_t need)
{
    st_status st = ST_OK;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) FAIL(ST_EIO, "writing '%s' failed: cannot create '%s': %s", output, tmp, strerror(errno));
    int rc = posix_fallocate(fd, 0, (off_t)need);
    if (rc != 0) {
        close(fd);
        fd = -1;
        FAIL(ST_EIO, "writing '%s' failed: no room for about %llu bytes (disk full or file size limit): %s",
             output, (unsigned long long)need, strerror(rc));
    }
    if (ftruncate(fd, 0) != 0) FAIL(ST_EIO, "writing '%s' failed: %s", output, strerror(errno));
out:
    if (fd >= 0) close(fd);
    return st;
}

typedef struct write_job {
    const corpus_options *o;
    const flist *files;
    const tokenizer *tok;
    const corpus_stats *stats;
    uint64_t n_chunks, c0, c1, tokens_total;
    const uint16_t *rows;      /* [(c1-c0) x (ctx+1)] */
    const uint32_t *chunk_chars; /* [n_chunks] */
    const uint8_t *is_val;     /* [n_chunks] */
    uint64_t n_docs;           /* documents (input files) in the stream */
} write_job;

static st_status write_dataset(h5_file *f, const write_job *w, MPI_Comm comm)
{
    st_status st = ST_OK;
    char *list = NULL;
    const corpus_options *o = w->o;
    const corpus_stats *s = w->stats;
    AGREE(h5_attr_set_i64(f, "/", "dataset_version", CORPUS_FORMAT_VERSION));
    if (o->config_text) AGREE(h5_write_string(f, "config", o->config_text));
    AGREE(tok_save(f, "tokenizer", w->tok));

    AGREE(h5_write_rows(f, "chunks/tokens", H5_DT_U16, w->n_chunks, (size_t)o->ctx + 1, w->c0,
                        w->c1 - w->c0, w->rows));
    size_t dims[1] = {(size_t)w->n_chunks};
    AGREE(h5_write(f, "chunks/chars", H5_DT_U32, 1, dims, w->chunk_chars));
    AGREE(h5_attr_set_i64(f, "chunks", "ctx", o->ctx));
    AGREE(h5_attr_set_i64(f, "chunks", "chunk_len", o->ctx + 1));
    AGREE(h5_attr_set_i64(f, "chunks", "stride", o->ctx));
    AGREE(h5_attr_set_i64(f, "chunks", "n_chunks", (int64_t)w->n_chunks));
    AGREE(h5_attr_set_i64(f, "chunks", "stream_tokens", (int64_t)w->tokens_total));
    AGREE(h5_attr_set_i64(f, "chunks", "dropped_tokens",
                          (int64_t)(w->tokens_total - (w->n_chunks * (uint64_t)o->ctx + 1))));
    AGREE(h5_attr_set_str(f, "chunks", "rule",
                          "chunk c = stream tokens [c*ctx, c*ctx+ctx]; consecutive chunks share one "
                          "token; chars = characters of tokens 1..ctx"));

    AGREE(h5_write(f, "split/is_val", H5_DT_U8, 1, dims, w->is_val));
    AGREE(write_index(f, "split/train_index", w->is_val, w->n_chunks, 0, s->n_train));
    AGREE(write_index(f, "split/val_index", w->is_val, w->n_chunks, 1, s->n_val));
    AGREE(h5_attr_set_str(f, "split", "rule", o->split_tail ? "tail" : "random"));
    AGREE(h5_attr_set_i64(f, "split", "documents", (int64_t)w->n_docs));
    AGREE(h5_attr_set_i64(f, "split", "seed", (int64_t)o->split_seed));
    AGREE(h5_attr_set_f64(f, "split", "val_fraction", o->val_fraction));
    AGREE(h5_attr_set_i64(f, "split", "n_train", (int64_t)s->n_train));
    AGREE(h5_attr_set_i64(f, "split", "n_val", (int64_t)s->n_val));

    size_t len = 1;
    for (size_t i = 0; i < w->files->n; i++) len += strlen(cfile_name(&w->files->f[i])) + 24;
    list = malloc(len);
    AGREE(list ? ST_OK : ST_ERROR(ST_ENOMEM, "out of memory (file list)"));
    size_t p = 0;
    list[0] = '\0';
    for (size_t i = 0; i < w->files->n; i++)
        p += (size_t)snprintf(list + p, len - p, "%llu\t%s\n",
                              (unsigned long long)w->files->f[i].size, cfile_name(&w->files->f[i]));
    AGREE(h5_write_string(f, "corpus/files", list));
    const struct { const char *name; uint64_t v; } counts[] = {
        {"files", s->files},          {"files_binary_skipped", s->files_binary},
        {"jsonl_documents", s->jsonl_docs}, {"jsonl_invalid_lines", s->jsonl_invalid},
        {"bytes", s->bytes},          {"chars", s->chars},
        {"invalid_sequences", s->invalid}, {"tokens", s->tokens},
        {"text_tokens", s->text_tokens}, {"byte_tokens", s->byte_tokens},
    };
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++)
        AGREE(h5_attr_set_i64(f, "corpus", counts[i].name, (int64_t)counts[i].v));
    AGREE(h5_attr_set_f64(f, "corpus", "chars_per_token", s->chars_per_token));
    AGREE(h5_attr_set_f64(f, "corpus", "byte_fallback_rate", s->byte_fallback_rate));
    AGREE(h5_attr_set_str(f, "corpus", "tokenizer_source",
                          o->tokenizer_path && o->tokenizer_path[0] ? o->tokenizer_path : "learned"));
out:
    free(list);
    return st;
}

/* The input of one command: the file list (on every rank) and this rank's
 * byte range of the concatenation, read into memory as one segment per
 * file part. */
typedef struct input {
    flist files;
    uint8_t *text;
    segment *segs;
    size_t nseg;
} input;

static void input_free(input *in)
{
    flist_free(&in->files);
    free(in->text);
    free(in->segs);
    memset(in, 0, sizeof *in);
}

/* Rank 0: keep only the first sample_bytes of each file, cut at the first
 * safe break at or after that (so counting the part is counting text). */
static st_status sample_files(flist *l, uint64_t sample_bytes)
{
    st_status st = ST_OK;
    uint64_t total = 0;
    for (size_t i = 0; i < l->n; i++) {
        cfile *f = &l->f[i];
        if (f->size > sample_bytes) {
            uint64_t brk = 0;
            CHECK(find_break(l, f->start + sample_bytes, &brk));
            if (brk > f->start + f->size) brk = f->start + f->size;
            f->size = brk - f->start;
        }
    }
    for (size_t i = 0; i < l->n; i++) {
        l->f[i].start = total;
        total += l->f[i].size;
    }
    l->total = total;
out:
    return st;
}

/* Collective: phases 1 and 2 (file list, output checks when output is not
 * NULL, one byte range per rank read into memory). */
static st_status input_read(const char *const *paths, int npaths, const char *output, bool force,
                            uint64_t sample_bytes, const corpus_ingest *ing, MPI_Comm comm, input *in)
{
    st_status st = ST_OK;
    int rank = 0, size = 1;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    uint64_t *starts = NULL;
    char *spool_dir = NULL;
    memset(in, 0, sizeof *in);
    flist *files = &in->files;
    if (ing) files->ing = *ing;
    /* decoded inputs are spooled next to the output (a shared file system
     * under MPI); without an output, in $TMPDIR */
    if (output) {
        spool_dir = strdup(output);
        AGREE(spool_dir ? ST_OK : ST_ERROR(ST_ENOMEM, "out of memory"));
        char *slash = strrchr(spool_dir, '/');
        if (!slash) strcpy(spool_dir, ".");
        else if (slash == spool_dir) spool_dir[1] = '\0';
        else *slash = '\0';
        files->spool_dir = spool_dir;
    }

    /* 1. files and output */
    if (rank == 0) {
        if (npaths <= 0)
            st = ST_ERROR(ST_EUSAGE, "no input: give text files or directories, or set data.corpus");
        if (st == ST_OK && output) st = check_output(output, force);
        for (int i = 0; st == ST_OK && i < npaths; i++) st = add_path(files, paths[i], 0);
        if (st == ST_OK) st = spool_finish(files);
        if (st == ST_OK && sample_bytes > 0) st = sample_files(files, sample_bytes);
        if (st == ST_OK && files->jsonl_invalid > 0)
            log_warn("%llu invalid JSON Lines line(s) skipped in all (%llu documents read)",
                     (unsigned long long)files->jsonl_invalid, (unsigned long long)files->jsonl_docs);
    }
    AGREE(st);
    AGREE(share_list(files, rank, comm));
    if (files->total == 0)
        AGREE(ST_ERROR(ST_EDATA, "empty corpus: %s%s hold%s no text (%llu file(s), %llu skipped as binary, "
                       "%llu invalid JSON Lines line(s))",
                       npaths > 0 ? paths[0] : "", npaths > 1 ? " ..." : "", npaths > 1 ? "" : "s",
                       (unsigned long long)files->found, (unsigned long long)files->binary,
                       (unsigned long long)files->jsonl_invalid));

    /* 2. one byte range per rank, cut at safe breaks */
    starts = calloc((size_t)size + 1, sizeof *starts);
    AGREE(starts ? ST_OK : ST_ERROR(ST_ENOMEM, "out of memory"));
    uint64_t q = files->total / (uint64_t)size * (uint64_t)rank +
                 files->total % (uint64_t)size * (uint64_t)rank / (uint64_t)size;
    uint64_t my_start = 0;
    AGREE(rank == 0 ? ST_OK : find_break(files, q, &my_start));
    CHECK_MPI(MPI_Allgather(&my_start, 1, MPI_UINT64_T, starts, 1, MPI_UINT64_T, comm));
    starts[size] = files->total;
    for (int r = 1; r <= size; r++)
        if (starts[r] < starts[r - 1]) starts[r] = starts[r - 1];
    uint64_t a = starts[rank], b = starts[rank + 1];
    in->text = malloc(b - a + 1);
    in->segs = calloc(files->n + 1, sizeof *in->segs);
    st = in->text && in->segs ? ST_OK : ST_ERROR(ST_ENOMEM, "out of memory reading %llu bytes",
                                                  (unsigned long long)(b - a));
    if (st == ST_OK && b > a) {
        for (size_t i = file_of(files, a); i < files->n && files->f[i].start < b; i++) {
            const cfile *cf = &files->f[i];
            uint64_t lo = a > cf->start ? a : cf->start;
            uint64_t hi = b < cf->start + cf->size ? b : cf->start + cf->size;
            if (hi <= lo) continue;
            segment *sg = &in->segs[in->nseg];
            *sg = (segment){.off = (size_t)(lo - a), .len = (size_t)(hi - lo),
                            .ends_file = hi == cf->start + cf->size};
            st = read_at(cf, lo - cf->start, in->text + sg->off, sg->len);
            if (st != ST_OK) break;
            in->nseg++;
        }
    }
    AGREE(st);
    /* every rank holds its range: the spool has served */
    spool_remove(files);
out:
    free(starts);
    free(spool_dir);
    files->spool_dir = NULL;
    if (st != ST_OK) input_free(in);
    return st;
}

/* Collective: phase 3, count the rank's text and learn the tokenizer. */
static st_status input_learn(const input *in, const tok_options *o, MPI_Comm comm, tokenizer **tok)
{
    st_status st = ST_OK;
    tok_counts *counts = NULL;
    AGREE(tok_counts_init(&counts, o->ngram_max));
    for (size_t i = 0; st == ST_OK && i < in->nseg; i++)
        st = tok_counts_add(counts, in->text + in->segs[i].off, in->segs[i].len);
    AGREE(st);
    AGREE(tok_learn(counts, o, comm, tok));
out:
    tok_counts_free(counts);
    return st;
}

st_status corpus_learn_tokenizer(const char *const *paths, int npaths, uint64_t sample_bytes,
                                 const tok_options *o, const corpus_ingest *ing, MPI_Comm comm,
                                 tokenizer **out, char **sources)
{
    st_status st = ST_OK;
    input in;
    memset(&in, 0, sizeof in);
    *out = NULL;
    if (sources) *sources = NULL;
    CHECK(input_read(paths, npaths, NULL, false, sample_bytes, ing, comm, &in));
    CHECK(input_learn(&in, o, comm, out));
    if (sources) {
        size_t len = 1;
        for (size_t i = 0; i < in.files.n; i++) len += strlen(cfile_name(&in.files.f[i])) + 24;
        char *list = malloc(len);
        AGREE(list ? ST_OK : ST_ERROR(ST_ENOMEM, "out of memory (file list)"));
        size_t p = 0;
        list[0] = '\0';
        for (size_t i = 0; i < in.files.n; i++)
            p += (size_t)snprintf(list + p, len - p, "%llu\t%s\n", (unsigned long long)in.files.f[i].size,
                                  cfile_name(&in.files.f[i]));
        *sources = list;
    }
    log_info("learned a %s tokenizer of %d ids (%d characters, %d n-grams) from %llu bytes of %zu file(s)",
             tok_mode_of(*out) == TOK_MODE_BMP ? "bmp" : "compact", tok_vocab_size(*out), tok_n_chars(*out),
             tok_n_ngrams(*out), (unsigned long long)in.files.total, in.files.n);
out:
    if (st != ST_OK) {
        tok_free(*out);
        *out = NULL;
    }
    input_free(&in);
    return st;
}

st_status corpus_prepare(const char *const *paths, int npaths, const char *output,
                         const corpus_options *o, MPI_Comm comm, corpus_stats *stats_out)
{
    st_status st = ST_OK;
    int rank = 0, size = 1;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    input in;
    memset(&in, 0, sizeof in);
    flist *fl = &in.files;
    uint64_t *tok_off = NULL;
    uint8_t *is_val = NULL;
    uint64_t *doc_end = NULL, *doc_all = NULL, n_docs = 0;
    int *ecnt = NULL, *edisp = NULL;
    tokenizer *tok = NULL;
    tok_buf mine, need;
    uint16_t *rows = NULL;
    uint32_t *cc_mine = NULL, *cc_all = NULL;
    int *cnt = NULL, *disp = NULL;
    publish_file pub = {NULL, NULL};
    h5_file f;
    h5_file_zero(&f);
    tok_buf_init(&mine);
    tok_buf_init(&need);
    corpus_stats s = {0};
    bool created = false;
    bool given = o->tokenizer_path && o->tokenizer_path[0];

    /* A given tokenizer (every corpus encoded with it shares its ids, so
     * models built on one can read the others) is loaded first: a bad file
     * fails before the corpus is read. */
    if (given) AGREE(tok_load_file(o->tokenizer_path, comm, &tok));

    /* 1-2. files, output, this rank's text */
    CHECK(input_read(paths, npaths, output, o->force, 0, &o->ingest, comm, &in));
    s.files = fl->found;
    s.files_binary = fl->binary;
    s.jsonl_docs = fl->jsonl_docs;
    s.jsonl_invalid = fl->jsonl_invalid;

    /* 3. the tokenizer, unless given: learned from this corpus */
    if (!given) CHECK(input_learn(&in, &o->tok, comm, &tok));
    if (tok_vocab_size(tok) > 65536)
        AGREE(ST_ERROR(ST_EUSAGE, "vocabulary of %d ids does not fit the uint16 chunks", tok_vocab_size(tok)));

    /* 4. encode; every document ends with <|eos|> */
    tok_stats ts = {0};
    int eos = tok_special_id(tok, TOK_EOS);
    /* Where each document (file) ends in this rank's tokens: the tail split. */
    doc_end = malloc((in.nseg ? in.nseg : 1) * sizeof *doc_end);
    AGREE(doc_end ? ST_OK : ST_ERROR(ST_ENOMEM, "out of memory"));
    int n_end = 0;
    for (size_t i = 0; st == ST_OK && i < in.nseg; i++) {
        st = tok_encode(tok, in.text + in.segs[i].off, in.segs[i].len, &mine, &ts);
        if (st == ST_OK && in.segs[i].ends_file) st = tok_buf_push(&mine, eos, 0);
        if (st == ST_OK && in.segs[i].ends_file) doc_end[n_end++] = mine.n;
    }
    AGREE(st);
    free(in.text);
    in.text = NULL;
    uint64_t local[6] = {ts.bytes, ts.chars, ts.invalid, mine.n, ts.tokens, ts.byte_tokens}, sum[6];
    CHECK_MPI(MPI_Allreduce(local, sum, 6, MPI_UINT64_T, MPI_SUM, comm));
    s.bytes = sum[0];
    s.chars = sum[1];
    s.invalid = sum[2];
    s.tokens = sum[3];
    s.text_tokens = sum[4];
    s.byte_tokens = sum[5];
    s.chars_per_token = s.text_tokens ? (double)s.chars / (double)s.text_tokens : 0.0;
    s.byte_fallback_rate = s.text_tokens ? (double)s.byte_tokens / (double)s.text_tokens : 0.0;

    tok_off = calloc((size_t)size + 1, sizeof *tok_off);
    AGREE(tok_off ? ST_OK : ST_ERROR(ST_ENOMEM, "out of memory"));
    uint64_t my_n = mine.n;
    CHECK_MPI(MPI_Allgather(&my_n, 1, MPI_UINT64_T, tok_off + 1, 1, MPI_UINT64_T, comm));
    for (int r = 0; r < size; r++) tok_off[r + 1] += tok_off[r];
    uint64_t T = tok_off[size];
    /* Every rank learns every document end, as a global stream position. */
    for (int i = 0; i < n_end; i++) doc_end[i] += tok_off[rank];
    ecnt = calloc((size_t)size, sizeof *ecnt);
    edisp = calloc((size_t)size, sizeof *edisp);
    AGREE(ecnt && edisp ? ST_OK : ST_ERROR(ST_ENOMEM, "out of memory"));
    CHECK_MPI(MPI_Allgather(&n_end, 1, MPI_INT, ecnt, 1, MPI_INT, comm));
    for (int r = 0; r < size; r++) {
        edisp[r] = r ? edisp[r - 1] + ecnt[r - 1] : 0;
        n_docs += (uint64_t)ecnt[r];
    }
    doc_all = malloc((n_docs ? n_docs : 1) * sizeof *doc_all);
    AGREE(doc_all ? ST_OK : ST_ERROR(ST_ENOMEM, "out of memory"));
    CHECK_MPI(MPI_Allgatherv(doc_end, n_end, MPI_UINT64_T, doc_all, ecnt, edisp, MPI_UINT64_T, comm));
    s.n_chunks = T > (uint64_t)o->ctx ? (T - 1) / (uint64_t)o->ctx : 0;
    if (s.n_chunks == 0)
        AGREE(ST_ERROR(ST_EDATA, "corpus too small: %s%s give%s %llu tokens, one chunk needs data.ctx+1 = %d",
                       paths[0], npaths > 1 ? " ..." : "", npaths > 1 ? "" : "s",
                       (unsigned long long)T, o->ctx + 1));

    /* chunks: tokens to their writers, rows and character counts */
    AGREE(redistribute(&mine, tok_off, s.n_chunks, o->ctx, rank, size, comm, &need));
    tok_buf_free(&mine);
    uint64_t c0, c1;
    chunk_share(s.n_chunks, rank, size, &c0, &c1);
    size_t L = (size_t)o->ctx + 1, nrows = (size_t)(c1 - c0);
    rows = malloc((nrows ? nrows : 1) * L * sizeof *rows);
    cc_mine = malloc((nrows ? nrows : 1) * sizeof *cc_mine);
    cc_all = malloc((size_t)s.n_chunks * sizeof *cc_all);
    cnt = calloc((size_t)size, sizeof *cnt);
    disp = calloc((size_t)size, sizeof *disp);
    AGREE(rows && cc_mine && cc_all && cnt && disp ? ST_OK : ST_ERROR(ST_ENOMEM, "out of memory"));
    for (size_t r = 0; r < nrows; r++) {
        uint32_t ch = 0;
        for (size_t j = 0; j < L; j++) {
            size_t k = r * (size_t)o->ctx + j;
            rows[r * L + j] = (uint16_t)need.ids[k];
            if (j > 0) ch += need.chars[k];
        }
        cc_mine[r] = ch;
    }
    tok_buf_free(&need);
    for (int r = 0; r < size; r++) {
        uint64_t d0, d1;
        chunk_share(s.n_chunks, r, size, &d0, &d1);
        cnt[r] = (int)(d1 - d0);
        disp[r] = (int)d0;
    }
    if (s.n_chunks > INT_MAX) AGREE(ST_ERROR(ST_ERR, "more than %d chunks", INT_MAX));
    CHECK_MPI(MPI_Allgatherv(cc_mine, (int)nrows, MPI_UINT32_T, cc_all, cnt, disp, MPI_UINT32_T, comm));
    if (o->split_tail)
        AGREE(corpus_split_tail(s.n_chunks, o->ctx, doc_all, (size_t)n_docs, o->val_fraction, &is_val, &s.n_val));
    else
        AGREE(make_split(s.n_chunks, o->val_fraction, o->split_seed, &is_val, &s.n_val));
    s.n_train = s.n_chunks - s.n_val;

    /* 5. write under a temporary name, then publish */
    CHECK(publish_begin(&pub, output, comm));
    created = true; /* from here on, failures remove the temporary file */
    if (rank == 0) {
        size_t text_bytes = (o->config_text ? strlen(o->config_text) : 0) + 32 * fl->n;
        for (size_t i = 0; i < fl->n; i++) text_bytes += strlen(cfile_name(&fl->f[i]));
        st = preflight_space(pub.tmp, output, estimate_size(&s, o->ctx, tok, text_bytes));
    }
    AGREE(st);
    AGREE(h5_create(&f, pub.tmp, comm, H5_KIND_DATASET));
    write_job w = {.o = o, .files = fl, .tok = tok, .stats = &s, .n_chunks = s.n_chunks,
                   .c0 = c0, .c1 = c1, .tokens_total = T, .rows = rows, .chunk_chars = cc_all,
                   .is_val = is_val, .n_docs = n_docs};
    CHECK(write_dataset(&f, &w, comm));
    AGREE(h5_close(&f));
    CHECK(publish_commit(&pub, comm));
    created = false;
    if (stats_out) *stats_out = s;
    log_info("prepared %s: %llu files (%llu binary skipped), %llu bytes, %llu characters, "
             "%llu invalid, %llu tokens (%.3f chars/token), %llu chunks of %d (%llu train, %llu val)",
             output, (unsigned long long)s.files, (unsigned long long)s.files_binary,
             (unsigned long long)s.bytes, (unsigned long long)s.chars, (unsigned long long)s.invalid,
             (unsigned long long)s.tokens, s.chars_per_token, (unsigned long long)s.n_chunks,
             o->ctx + 1, (unsigned long long)s.n_train, (unsigned long long)s.n_val);
    /* How well the tokenizer fits this corpus: a borrowed tokenizer that
     * never saw its characters spells them out byte by byte. */
    log_info("byte fallback: %.2f%% of the %llu text tokens are byte tokens (tokenizer %s)",
             100.0 * s.byte_fallback_rate, (unsigned long long)s.text_tokens,
             given ? o->tokenizer_path : "learned from this corpus");
out:
    if (created) {
        /* no half-written output: close what is open, remove the temporary file */
        char *keep = strdup(st_last_error());
        h5_close(&f);
        publish_abort(&pub, comm);
        if (keep) st_fail(st, __FILE__, __LINE__, "writing '%s' failed: %s", output, keep);
        free(keep);
    }
    input_free(&in);
    free(tok_off);
    free(is_val);
    free(doc_end);
    free(doc_all);
    free(ecnt);
    free(edisp);
    tok_free(tok);
    tok_buf_free(&mine);
    tok_buf_free(&need);
    free(rows);
    free(cc_mine);
    free(cc_all);
    free(cnt);
    free(disp);
    return st;
}
