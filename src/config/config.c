/* config.c -- parse, validate and dump settings (see strata/config.h). */
#define _POSIX_C_SOURCE 200809L
#include "strata/config.h"

#include <errno.h>
#include <ini.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CFG_ENTRY_(sec, key, type, def, lo, hi, choices, mut, help) \
    {#sec, #key, CFG_##type, def, lo, hi, choices, mut, help, offsetof(st_config, sec.key)},
#define CFG_SECTION_ENTRIES_(sec, KEYS) KEYS(CFG_ENTRY_)

const cfg_key cfg_keys[] = {CFG_SECTIONS(CFG_SECTION_ENTRIES_)};
const size_t cfg_nkeys = sizeof cfg_keys / sizeof cfg_keys[0];

static const char *type_name(cfg_type t)
{
    switch (t) {
    case CFG_INT: return "integer";
    case CFG_FLOAT: return "number";
    case CFG_BOOL: return "boolean";
    case CFG_STRING: return "string";
    case CFG_CHOICE: return "choice";
    }
    return "?";
}

const cfg_key *cfg_find(const char *section, const char *name)
{
    for (size_t i = 0; i < cfg_nkeys; i++)
        if (strcmp(cfg_keys[i].section, section) == 0 && strcmp(cfg_keys[i].name, name) == 0)
            return &cfg_keys[i];
    return NULL;
}

static bool choice_ok(const char *choices, const char *v)
{
    size_t n = strlen(v);
    for (const char *p = choices; *p;) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == n && strncmp(p, v, n) == 0) return true;
        if (!bar) break;
        p = bar + 1;
    }
    return false;
}

static bool section_known(const char *section)
{
    for (size_t i = 0; i < cfg_nkeys; i++)
        if (strcmp(cfg_keys[i].section, section) == 0) return true;
    return false;
}

/* List the keys of a section (or the sections) for "what is allowed". */
static void known_keys(const char *section, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    const char *last = NULL;
    for (size_t i = 0; i < cfg_nkeys && used + 1 < len; i++) {
        const cfg_key *k = &cfg_keys[i];
        const char *item;
        if (section_known(section)) {
            if (strcmp(k->section, section) != 0) continue;
            item = k->name;
        } else {
            if (last && strcmp(last, k->section) == 0) continue;
            item = last = k->section;
        }
        int n = snprintf(buf + used, len - used, "%s%s", used ? ", " : "", item);
        if (n < 0) break;
        used += (size_t)n;
    }
}

st_status cfg_set_value(st_config *c, const char *section, const char *name, const char *value,
                        const char *origin)
{
    st_status st = ST_OK;
    const cfg_key *k = cfg_find(section, name);
    char allowed[1024];
    if (!k) {
        known_keys(section, allowed, sizeof allowed);
        if (section_known(section))
            FAIL(ST_EUSAGE, "%s: unknown key '%s' in section [%s] (known keys: %s)", origin, name,
                 section, allowed);
        FAIL(ST_EUSAGE, "%s: unknown section [%s] (key '%s'; known sections: %s)", origin, section,
             name, allowed);
    }
    char *field = (char *)c + k->offset;
    switch (k->type) {
    case CFG_INT: {
        char *end;
        errno = 0;
        long long v = strtoll(value, &end, 0);
        if (errno || end == value || *end != '\0')
            FAIL(ST_EUSAGE, "%s: %s.%s = '%s' is not an integer (allowed: integer in [%.0f, %.0f])",
                 origin, section, name, value, k->min, k->max);
        if ((double)v < k->min || (double)v > k->max)
            FAIL(ST_EUSAGE, "%s: %s.%s = %s is out of range (allowed: integer in [%.0f, %.0f])",
                 origin, section, name, value, k->min, k->max);
        *(long *)field = (long)v;
        break;
    }
    case CFG_FLOAT: {
        char *end;
        errno = 0;
        double v = strtod(value, &end);
        if (errno || end == value || *end != '\0' || !isfinite(v))
            FAIL(ST_EUSAGE, "%s: %s.%s = '%s' is not a number (allowed: number in [%g, %g])", origin,
                 section, name, value, k->min, k->max);
        if (v < k->min || v > k->max)
            FAIL(ST_EUSAGE, "%s: %s.%s = %s is out of range (allowed: number in [%g, %g])", origin,
                 section, name, value, k->min, k->max);
        *(double *)field = v;
        break;
    }
    case CFG_BOOL:
        if (!strcasecmp(value, "true") || !strcasecmp(value, "yes") || !strcasecmp(value, "on") ||
            !strcmp(value, "1"))
            *(bool *)field = true;
        else if (!strcasecmp(value, "false") || !strcasecmp(value, "no") ||
                 !strcasecmp(value, "off") || !strcmp(value, "0"))
            *(bool *)field = false;
        else
            FAIL(ST_EUSAGE, "%s: %s.%s = '%s' is not a boolean (allowed: true/false, yes/no, on/off, 1/0)",
                 origin, section, name, value);
        break;
    case CFG_STRING:
        if (strlen(value) >= CFG_STR_MAX)
            FAIL(ST_EUSAGE, "%s: %s.%s is %zu characters long (allowed: at most %d)", origin,
                 section, name, strlen(value), CFG_STR_MAX - 1);
        strcpy(field, value);
        break;
    case CFG_CHOICE:
        if (!choice_ok(k->choices, value) || strlen(value) >= CFG_CHOICE_MAX)
            FAIL(ST_EUSAGE, "%s: %s.%s = '%s' is not allowed (allowed: %s)", origin, section, name,
                 value, k->choices);
        strcpy(field, value);
        break;
    }
out:
    return st;
}

void cfg_defaults(st_config *c)
{
    memset(c, 0, sizeof *c);
    for (size_t i = 0; i < cfg_nkeys; i++) {
        st_status st = cfg_set_value(c, cfg_keys[i].section, cfg_keys[i].name, cfg_keys[i].def,
                                     "built-in default");
        (void)st; /* the table is checked by the test suite */
    }
}

st_status cfg_set_assignment(st_config *c, const char *assignment)
{
    st_status st = ST_OK;
    char section[128], origin[64];
    const char *dot = strchr(assignment, '.');
    const char *eq = strchr(assignment, '=');
    snprintf(origin, sizeof origin, "--set %.50s", assignment);
    if (!dot || !eq || dot > eq || dot == assignment || eq == dot + 1)
        FAIL(ST_EUSAGE, "--set '%s': expected SECTION.KEY=VALUE, e.g. --set model.n_layers=6",
             assignment);
    size_t slen = (size_t)(dot - assignment);
    if (slen >= sizeof section) FAIL(ST_EUSAGE, "--set '%s': section name too long", assignment);
    memcpy(section, assignment, slen);
    section[slen] = '\0';
    char name[128];
    size_t nlen = (size_t)(eq - dot - 1);
    if (nlen >= sizeof name) FAIL(ST_EUSAGE, "--set '%s': key name too long", assignment);
    memcpy(name, dot + 1, nlen);
    name[nlen] = '\0';
    st = cfg_set_value(c, section, name, eq + 1, "--set");
out:
    return st;
}

/* inih drives parsing; a line-counting reader gives every error its line. */
typedef struct ini_ctx {
    st_config *cfg;
    const char *origin;
    const char *text; /* cursor for string input */
    FILE *file;       /* or file input */
    int line;
    st_status st;
} ini_ctx;

static char *cfg_ini_read(char *str, int num, void *stream)
{
    ini_ctx *x = stream;
    char *r;
    if (x->file) {
        r = fgets(str, num, x->file);
    } else {
        if (!*x->text) return NULL;
        int i = 0;
        while (i < num - 1 && x->text[0]) {
            str[i++] = *x->text;
            if (*x->text++ == '\n') break;
        }
        str[i] = '\0';
        r = str;
    }
    if (r) x->line++;
    return r;
}

static int cfg_ini_entry(void *user, const char *section, const char *name, const char *value)
{
    ini_ctx *x = user;
    if (x->st != ST_OK) return 0;
    char origin[CFG_STR_MAX + 32];
    snprintf(origin, sizeof origin, "%s:%d", x->origin, x->line);
    if (!section[0]) {
        x->st = ST_ERROR(ST_EUSAGE, "%s: key '%s' outside any [section]", origin, name);
        return 0;
    }
    x->st = cfg_set_value(x->cfg, section, name, value, origin);
    return x->st == ST_OK;
}

static st_status parse_ini(ini_ctx *x)
{
    st_status st = ST_OK;
    int rc = ini_parse_stream(cfg_ini_read, x, cfg_ini_entry, x);
    if (x->st != ST_OK) return x->st;
    if (rc > 0) FAIL(ST_EUSAGE, "%s:%d: syntax error (expected [section] or key = value)", x->origin, rc);
    if (rc < 0) FAIL(ST_EUSAGE, "%s: cannot parse (inih error %d)", x->origin, rc);
out:
    return st;
}

st_status cfg_load_file(st_config *c, const char *path)
{
    st_status st = ST_OK;
    ini_ctx x = {.cfg = c, .origin = path};
    x.file = fopen(path, "r");
    if (!x.file) FAIL(ST_EUSAGE, "cannot open config file '%s': %s", path, strerror(errno));
    st = parse_ini(&x);
out:
    if (x.file) fclose(x.file);
    return st;
}

st_status cfg_load_string(st_config *c, const char *text, const char *origin)
{
    ini_ctx x = {.cfg = c, .origin = origin, .text = text};
    return parse_ini(&x);
}

st_status cfg_validate(const st_config *c)
{
    st_status st = ST_OK;
    if (c->substrate.dim % c->model.n_heads != 0)
        FAIL(ST_EUSAGE, "substrate.dim = %ld is not divisible by model.n_heads = %ld", c->substrate.dim,
             c->model.n_heads);
    if ((c->substrate.dim / c->model.n_heads) % 2 != 0)
        FAIL(ST_EUSAGE, "head size substrate.dim / model.n_heads = %ld must be even (RoPE rotates pairs)",
             c->substrate.dim / c->model.n_heads);
    if (c->train.min_lr > c->train.lr)
        FAIL(ST_EUSAGE, "train.min_lr = %g is larger than train.lr = %g", c->train.min_lr, c->train.lr);
    if (c->grow.min_steps > c->grow.max_steps)
        FAIL(ST_EUSAGE, "grow.min_steps = %ld is larger than grow.max_steps = %ld", c->grow.min_steps,
             c->grow.max_steps);
    if (strcmp(c->grow.stop, "tokens") == 0 && c->grow.tokens <= 0)
        FAIL(ST_EUSAGE, "grow.stop = tokens needs grow.tokens > 0");
    if (strcmp(c->tokenizer.mode, "compact") == 0 && c->tokenizer.vocab_size < 300)
        FAIL(ST_EUSAGE, "tokenizer.vocab_size = %ld is too small for compact mode (at least 300)",
             c->tokenizer.vocab_size);
out:
    return st;
}

void cfg_format_value(const st_config *c, const cfg_key *k, char *buf, size_t len)
{
    const char *field = (const char *)c + k->offset;
    switch (k->type) {
    case CFG_INT: snprintf(buf, len, "%ld", *(const long *)field); break;
    case CFG_FLOAT: snprintf(buf, len, "%.17g", *(const double *)field); break;
    case CFG_BOOL: snprintf(buf, len, "%s", *(const bool *)field ? "true" : "false"); break;
    case CFG_STRING:
    case CFG_CHOICE: snprintf(buf, len, "%s", field); break;
    }
}

char *cfg_dump(const st_config *c)
{
    size_t cap = 16384, used = 0;
    char *out = malloc(cap);
    if (!out) return NULL;
    out[0] = '\0';
    const char *section = NULL;
    for (size_t i = 0; i < cfg_nkeys; i++) {
        const cfg_key *k = &cfg_keys[i];
        char val[CFG_STR_MAX + 64];
        cfg_format_value(c, k, val, sizeof val);
        size_t need = strlen(k->section) + strlen(k->name) + strlen(val) + strlen(k->help) + 64;
        if (used + need >= cap) {
            cap = 2 * cap + need;
            char *grown = realloc(out, cap);
            if (!grown) {
                free(out);
                return NULL;
            }
            out = grown;
        }
        if (!section || strcmp(section, k->section) != 0) {
            used += (size_t)sprintf(out + used, "%s[%s]\n", section ? "\n" : "", k->section);
            section = k->section;
        }
        used += (size_t)sprintf(out + used, "; %s\n%s = %s\n", k->help, k->name, val);
    }
    return out;
}

int cfg_diff(const st_config *a, const st_config *b, bool fixed_only, char *buf, size_t len)
{
    int n = 0;
    size_t used = 0;
    if (len) buf[0] = '\0';
    for (size_t i = 0; i < cfg_nkeys; i++) {
        const cfg_key *k = &cfg_keys[i];
        if (fixed_only && k->resume_may_change) continue;
        char va[CFG_STR_MAX + 64], vb[CFG_STR_MAX + 64];
        cfg_format_value(a, k, va, sizeof va);
        cfg_format_value(b, k, vb, sizeof vb);
        if (strcmp(va, vb) == 0) continue;
        n++;
        if (used < len) {
            int w = snprintf(buf + used, len - used, "%s%s.%s", used ? ", " : "", k->section, k->name);
            if (w > 0) used += (size_t)w;
        }
    }
    return n;
}

void cfg_print_help(FILE *f)
{
    for (size_t i = 0; i < cfg_nkeys; i++) {
        const cfg_key *k = &cfg_keys[i];
        char name[64], range[96] = "";
        snprintf(name, sizeof name, "%s.%s", k->section, k->name);
        if (k->type == CFG_CHOICE)
            snprintf(range, sizeof range, " {%s}", k->choices);
        else if (k->type == CFG_INT)
            snprintf(range, sizeof range, " (%s, %.0f..%.0f)", type_name(k->type), k->min, k->max);
        else if (k->type == CFG_FLOAT)
            snprintf(range, sizeof range, " (%s, %g..%g)", type_name(k->type), k->min, k->max);
        else
            snprintf(range, sizeof range, " (%s)", type_name(k->type));
        fprintf(f, "  %-26s %s%s [default: %s]%s\n", name, k->help, range, k->def[0] ? k->def : "\"\"",
                k->resume_may_change ? " (may change on resume)" : "");
    }
}
