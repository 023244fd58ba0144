/* config.c -- parse, validate and dump settings (see strata/config.h). */
#define _POSIX_C_SOURCE 200809L
#include "strata/config.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/* Longest line of an INI text and largest config file.  A dumped config
 * line is at most "key = " + CFG_STR_MAX - 1 characters, well below. */
#define CFG_LINE_MAX 4096
#define CFG_FILE_MAX (16u << 20)

#define CFG_ENTRY_(sec, key, type, def, lo, hi, choices, mut, help) \
    {#sec, #key, CFG_##type, def, lo, hi, choices, mut, help, offsetof(st_config, sec.key)},
#define CFG_SECTION_ENTRIES_(sec, KEYS) KEYS(CFG_ENTRY_)

const cfg_key cfg_keys[] = {CFG_SECTIONS(CFG_SECTION_ENTRIES_)};
const size_t cfg_nkeys = sizeof cfg_keys / sizeof cfg_keys[0];

const char *cfg_type_name(cfg_type t)
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

/* A specific reason why `s` is not a decimal number (hex, inf/nan, spaces,
 * empty), or NULL when none of these applies. */
static const char *number_complaint(const char *s)
{
    const char *p = s + (*s == '+' || *s == '-');
    if (!*s) return "it is empty";
    if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) return "hexadecimal is not accepted";
    if (!strncasecmp(p, "inf", 3) || !strncasecmp(p, "nan", 3))
        return "infinity and NaN are not accepted";
    for (const char *q = s; *q; q++)
        if (*q == ' ' || *q == '\t') return "it contains spaces";
    return NULL;
}

static bool is_digit(char ch) { return ch >= '0' && ch <= '9'; }

/* Why `s` is not a decimal integer [+-]?[0-9]+, or NULL when it is. */
static const char *int_syntax(const char *s)
{
    const char *p = s + (*s == '+' || *s == '-');
    if (!is_digit(*p)) goto bad;
    while (is_digit(*p)) p++;
    if (*p == '\0') return NULL;
bad:;
    const char *why = number_complaint(s);
    return why ? why : "only decimal digits are accepted";
}

/* Why `s` is not a decimal number [+-]?(D+[.D*]|.D+)([eE][+-]?D+)?, or NULL. */
static const char *float_syntax(const char *s)
{
    const char *p = s + (*s == '+' || *s == '-');
    size_t digits = 0;
    while (is_digit(*p)) p++, digits++;
    if (*p == '.') {
        p++;
        while (is_digit(*p)) p++, digits++;
    }
    if (!digits) goto bad;
    if (*p == 'e' || *p == 'E') {
        p++;
        p += (*p == '+' || *p == '-');
        if (!is_digit(*p)) goto bad;
        while (is_digit(*p)) p++;
    }
    if (*p == '\0') return NULL;
bad:;
    const char *why = number_complaint(s);
    return why ? why : "only decimal notation is accepted";
}

/* Why an INI line could not hold string `s` as a value, or NULL.  The dump
 * of a config must read back as the same config (checkpoints store it and
 * resume compares it), and the parser strips surrounding blanks and cuts
 * inline comments. */
static const char *string_syntax(const char *s)
{
    size_t n = strlen(s);
    if (n && (s[0] == ' ' || s[0] == '\t' || s[n - 1] == ' ' || s[n - 1] == '\t'))
        return "it starts or ends with a blank";
    if (s[0] == ';') return "a leading ';' starts a comment"; /* the dump writes "key = value" */
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if ((ch < 0x20 && ch != '\t') || ch == 0x7f) return "it contains a control character";
        if (ch == ';' && i > 0 && (s[i - 1] == ' ' || s[i - 1] == '\t'))
            return "' ;' starts a comment";
    }
    return NULL;
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
        /* Decimal only: strtoll's base detection read "0064" as octal 52 and
         * took "0x40"; a setting must mean what it looks like. */
        const char *why = int_syntax(value);
        if (why)
            FAIL(ST_EUSAGE,
                 "%s: %s.%s = '%s' is not an integer: %s (allowed: decimal integer in [%.0f, %.0f], "
                 "digits with an optional sign, e.g. %s)",
                 origin, section, name, value, why, k->min, k->max, k->def);
        char *end;
        errno = 0;
        long long v = strtoll(value, &end, 10);
        /* compare as integers: 2^53 + 1 as a double would pass a bound of 2^53 */
        if (errno == ERANGE || v < (long long)k->min || v > (long long)k->max)
            FAIL(ST_EUSAGE, "%s: %s.%s = %s is out of range (allowed: integer in [%.0f, %.0f])",
                 origin, section, name, value, k->min, k->max);
        *(long *)field = (long)v;
        break;
    }
    case CFG_FLOAT: {
        const char *why = float_syntax(value);
        if (why)
            FAIL(ST_EUSAGE,
                 "%s: %s.%s = '%s' is not a number: %s (allowed: decimal number in [%g, %g], "
                 "e.g. 0.5, 3e-4, -2.5E+3)",
                 origin, section, name, value, why, k->min, k->max);
        char *end;
        errno = 0;
        double v = strtod(value, &end);
        /* ERANGE: beyond a double, or so small that it rounds to 0 or a denormal. */
        if (errno == ERANGE || !isfinite(v) || v < k->min || v > k->max)
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
    case CFG_STRING: {
        if (strlen(value) >= CFG_STR_MAX)
            FAIL(ST_EUSAGE, "%s: %s.%s is %zu characters long (allowed: at most %d)", origin,
                 section, name, strlen(value), CFG_STR_MAX - 1);
        const char *why = string_syntax(value);
        if (why)
            FAIL(ST_EUSAGE, "%s: %s.%s = '%s' cannot be stored in an INI file: %s", origin, section,
                 name, value, why);
        strcpy(field, value);
        break;
    }
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

/* The INI reader.  It takes libinih's syntax -- [section], key = value or
 * key: value, whole-line comments starting with ; or #, inline comments
 * starting with " ;", surrounding blanks stripped, a UTF-8 BOM skipped --
 * but not libinih itself: Debian builds it with a 200-byte line buffer and
 * reads a longer line as several lines, so the dump of a config with a
 * long data.corpus did not read back, and the tail of a long value was
 * parsed as a line of its own.  Here every line is read whole (up to
 * CFG_LINE_MAX bytes) and an indented line is an ordinary line, not the
 * continuation of the value above. */
static bool is_blank(char ch) { return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\f' || ch == '\v'; }

static char *trim(char *s)
{
    while (is_blank(*s)) s++;
    size_t n = strlen(s);
    while (n && is_blank(s[n - 1])) s[--n] = '\0';
    return s;
}

/* Cut an inline comment: ';' at the start or after a blank. */
static void cut_comment(char *s)
{
    for (char *p = s; *p; p++)
        if (*p == ';' && (p == s || is_blank(p[-1]))) {
            *p = '\0';
            return;
        }
}

/* Parse text[0..n) on top of c; `origin` names it in messages ("run.ini"). */
static st_status parse_ini(st_config *c, const char *text, size_t n, const char *origin)
{
    st_status st = ST_OK;
    char *line = malloc(CFG_LINE_MAX + 1);
    char section[64] = "";
    bool in_section = false;
    size_t pos = 0;
    int lineno = 0;
    CHECK_ALLOC(line);
    if (n >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) pos = 3;
    while (pos < n) {
        lineno++;
        const char *s = text + pos;
        const char *nl = memchr(s, '\n', n - pos);
        size_t len = nl ? (size_t)(nl - s) : n - pos;
        pos += len + (nl != NULL);
        if (memchr(s, '\0', len))
            FAIL(ST_EUSAGE, "%s:%d: NUL byte (a config file is text)", origin, lineno);
        if (len > CFG_LINE_MAX)
            FAIL(ST_EUSAGE, "%s:%d: line is %zu bytes long (allowed: at most %d)", origin, lineno, len,
                 CFG_LINE_MAX);
        memcpy(line, s, len);
        line[len] = '\0';
        char *p = trim(line);
        if (!*p || *p == ';' || *p == '#') continue;
        if (*p == '[') {
            char *close = strchr(p, ']');
            if (!close) FAIL(ST_EUSAGE, "%s:%d: syntax error (expected [section] or key = value)", origin, lineno);
            *close = '\0';
            char *name = trim(p + 1);
            char *rest = close + 1;
            cut_comment(rest);
            if (*trim(rest))
                FAIL(ST_EUSAGE, "%s:%d: syntax error (text after [%s])", origin, lineno, name);
            if (strlen(name) >= sizeof section)
                FAIL(ST_EUSAGE, "%s:%d: unknown section [%.40s...]", origin, lineno, name);
            strcpy(section, name);
            in_section = true;
            continue;
        }
        cut_comment(p);
        char *eq = p + strcspn(p, "=:");
        if (!*eq) FAIL(ST_EUSAGE, "%s:%d: syntax error (expected [section] or key = value)", origin, lineno);
        *eq = '\0';
        char *key = trim(p), *value = trim(eq + 1);
        char where[CFG_STR_MAX + 32];
        snprintf(where, sizeof where, "%s:%d", origin, lineno);
        if (!*key) FAIL(ST_EUSAGE, "%s: syntax error (no key before '=')", where);
        if (!in_section) FAIL(ST_EUSAGE, "%s: key '%s' outside any [section]", where, key);
        CHECK(cfg_set_value(c, section, key, value, where));
    }
out:
    free(line);
    return st;
}

st_status cfg_load_file(st_config *c, const char *path)
{
    st_status st = ST_OK;
    int fd = -1;
    char *text = NULL;
    struct stat sb;
    /* A directory or a FIFO given by mistake must be refused, not read as
     * an empty config (fopen of a directory succeeds) or waited on. */
    if (stat(path, &sb) != 0) FAIL(ST_EUSAGE, "cannot open config file '%s': %s", path, strerror(errno));
    if (S_ISDIR(sb.st_mode))
        FAIL(ST_EUSAGE, "config file '%s' is a directory (allowed: a regular INI file)", path);
    if (!S_ISREG(sb.st_mode))
        FAIL(ST_EUSAGE, "config file '%s' is not a regular file but a %s (allowed: a regular INI file)", path,
             S_ISFIFO(sb.st_mode) ? "FIFO" : S_ISSOCK(sb.st_mode) ? "socket" : "device");
    /* O_NONBLOCK: if the path became a FIFO after stat, open must not wait
     * for a writer; fstat then refuses it. */
    fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) FAIL(ST_EUSAGE, "cannot open config file '%s': %s", path, strerror(errno));
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode))
        FAIL(ST_EUSAGE, "config file '%s' is not a regular file (allowed: a regular INI file)", path);
    if ((uintmax_t)sb.st_size > CFG_FILE_MAX)
        FAIL(ST_EUSAGE, "config file '%s' is %jd bytes (allowed: at most %u)", path, (intmax_t)sb.st_size,
             CFG_FILE_MAX);
    size_t cap = (size_t)sb.st_size + 1, n = 0;
    text = malloc(cap);
    CHECK_ALLOC(text);
    for (;;) { /* up to the size seen by fstat; a file that grows is cut there */
        ssize_t r = read(fd, text + n, cap - 1 - n);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) FAIL(ST_EUSAGE, "cannot read config file '%s': %s", path, strerror(errno));
        if (r == 0 || (n += (size_t)r) == cap - 1) break;
    }
    text[n] = '\0';
    st = parse_ini(c, text, n, path);
out:
    if (fd >= 0) close(fd);
    free(text);
    return st;
}

st_status cfg_load_string(st_config *c, const char *text, const char *origin)
{
    return parse_ini(c, text, strlen(text), origin);
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
    cfg_print_help_sections(f, NULL);
}

/* Is `section` one of the space-separated words of `list`? */
static bool section_listed(const char *list, const char *section)
{
    size_t n = strlen(section);
    for (const char *p = list; (p = strstr(p, section)) != NULL; p += n)
        if ((p == list || p[-1] == ' ') && (p[n] == '\0' || p[n] == ' ')) return true;
    return false;
}

void cfg_print_help_sections(FILE *f, const char *sections)
{
    for (size_t i = 0; i < cfg_nkeys; i++) {
        const cfg_key *k = &cfg_keys[i];
        if (sections && !section_listed(sections, k->section)) continue;
        char name[64], range[96] = "";
        snprintf(name, sizeof name, "%s.%s", k->section, k->name);
        if (k->type == CFG_CHOICE)
            snprintf(range, sizeof range, " {%s}", k->choices);
        else if (k->type == CFG_INT)
            snprintf(range, sizeof range, " (%s, %.0f..%.0f)", cfg_type_name(k->type), k->min, k->max);
        else if (k->type == CFG_FLOAT)
            snprintf(range, sizeof range, " (%s, %g..%g)", cfg_type_name(k->type), k->min, k->max);
        else
            snprintf(range, sizeof range, " (%s)", cfg_type_name(k->type));
        fprintf(f, "  %-26s %s%s [default: %s]%s\n", name, k->help, range, k->def[0] ? k->def : "\"\"",
                k->resume_may_change ? " (may change on resume)" : "");
    }
    fprintf(f, "\n  Values: integers are decimal digits with an optional sign; leading zeros\n"
               "  are read as decimal (0064 = 64); no hexadecimal, octal or exponent.  Numbers\n"
               "  are decimal with an optional exponent (0.5, 3e-4); no hexadecimal, inf or nan.\n"
               "  Booleans: true/false, yes/no, on/off, 1/0.  A value outside its range, or with\n"
               "  anything after it, stops with exit code 2.\n");
}
