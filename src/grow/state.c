/* state.c -- the run state of a checkpoint as one table (name, type,
 * offset), read and written by the same loop.  Attribute names and types are
 * the file format (docs/FORMAT.md "/state"): every field is stored as an
 * int64 or a float64 attribute of /state. */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "run.h"

typedef enum field_type { F_LONG, F_INT, F_BOOL, F_U64, F_U32, F_DOUBLE } field_type;

typedef struct state_field {
    const char *name;
    field_type type;
    size_t offset;   /* in grow_state */
    bool optional;   /* added later: older files lack it */
    double def;      /* its value then */
} state_field;

#define FIELD(name, type, member) {name, type, offsetof(grow_state, member), false, 0}
#define LATER(name, type, member, def) {name, type, offsetof(grow_state, member), true, def}
static const state_field fields[] = {
    FIELD("step", F_LONG, step),
    FIELD("stage", F_INT, stage),
    FIELD("stage_done", F_BOOL, stage_done),
    FIELD("adam_t", F_LONG, adam_t),
    FIELD("cursor", F_LONG, cursor),
    FIELD("tokens", F_LONG, tokens),
    FIELD("sched_steps", F_LONG, sched.steps),
    FIELD("sched_tokens", F_LONG, sched.tokens),
    FIELD("sched_stale", F_LONG, sched.stale_evals),
    FIELD("rng_seed", F_U64, rng.seed),
    FIELD("rng_rank", F_U32, rng.rank),
    FIELD("rng_purpose", F_U32, rng.purpose),
    FIELD("rng_counter", F_U64, rng.counter),
    FIELD("lora_active", F_BOOL, lora_active),
    FIELD("n_blocks", F_INT, n_blocks),
    FIELD("nranks", F_INT, nranks),
    FIELD("wall_s", F_DOUBLE, wall_s),
    FIELD("sched_best_val", F_DOUBLE, sched.best_val),
    LATER("lr_scale", F_DOUBLE, lr_scale, 1.0),
    LATER("rollbacks", F_LONG, rollbacks, 0),
    LATER("stage_rollbacks", F_LONG, stage_rollbacks, 0),
    LATER("skip_cursor", F_LONG, skip_cursor, -1),
    LATER("loss_mean", F_DOUBLE, loss_mean, 0),
    LATER("loss_n", F_LONG, loss_n, 0),
    LATER("stage_wall_s", F_DOUBLE, stage_wall_s, 0),
    LATER("stage_loss_sum", F_DOUBLE, stage_loss_sum, 0),
    LATER("stage_flops", F_DOUBLE, stage_flops, NAN),
    LATER("order_slots", F_LONG, order_slots, 1),
};
#undef FIELD
#undef LATER
enum { N_FIELDS = sizeof fields / sizeof fields[0] };

/* Integer fields travel as int64 (unsigned ones bit for bit). */
static int64_t get_int(const grow_state *s, const state_field *f)
{
    const char *p = (const char *)s + f->offset;
    switch (f->type) {
    case F_LONG: return *(const long *)p;
    case F_INT: return *(const int *)p;
    case F_BOOL: return *(const bool *)p;
    case F_U64: return (int64_t) * (const uint64_t *)p;
    case F_U32: return *(const uint32_t *)p;
    case F_DOUBLE: break;
    }
    return 0;
}

/* false: v does not fit the field. */
static bool set_int(grow_state *s, const state_field *f, int64_t v)
{
    char *p = (char *)s + f->offset;
    switch (f->type) {
    case F_LONG: *(long *)p = (long)v; return true;
    case F_INT:
        if (v < -2147483647 - 1 || v > 2147483647) return false;
        *(int *)p = (int)v;
        return true;
    case F_BOOL:
        if (v != 0 && v != 1) return false;
        *(bool *)p = v != 0;
        return true;
    case F_U64: *(uint64_t *)p = (uint64_t)v; return true;
    case F_U32:
        if (v < 0 || v > 4294967295LL) return false;
        *(uint32_t *)p = (uint32_t)v;
        return true;
    case F_DOUBLE: break;
    }
    return false;
}

st_status grow_state_write(h5_file *f, const char *obj, const grow_state *s)
{
    st_status st = ST_OK;
    for (int i = 0; i < N_FIELDS; i++) {
        const state_field *q = &fields[i];
        if (q->type == F_DOUBLE)
            CHECK(h5_attr_set_f64(f, obj, q->name, *(const double *)((const char *)s + q->offset)));
        else
            CHECK(h5_attr_set_i64(f, obj, q->name, get_int(s, q)));
    }
out:
    return st;
}

st_status grow_state_read(h5_file *f, const char *obj, grow_state *s)
{
    st_status st = ST_OK;
    memset(s, 0, sizeof *s);
    for (int i = 0; i < N_FIELDS; i++) {
        const state_field *q = &fields[i];
        st_status r;
        bool present = true;
        if (q->optional) CHECK(h5_attr_exists(f, obj, q->name, &present));
        if (!present) {
            if (q->type == F_DOUBLE)
                *(double *)((char *)s + q->offset) = q->def;
            else
                set_int(s, q, (int64_t)q->def);
            continue;
        }
        if (q->type == F_DOUBLE) {
            r = h5_attr_get_f64(f, obj, q->name, (double *)((char *)s + q->offset));
        } else {
            int64_t v = 0;
            r = h5_attr_get_i64(f, obj, q->name, &v);
            if (r == ST_OK && !set_int(s, q, v))
                FAIL(ST_ECKPT, "'%s': %s/%s = %lld is out of range", f->path, obj, q->name, (long long)v);
        }
        if (r != ST_OK) {
            st_add_context("reading the run state of '%s'", f->path);
            st = ST_ECKPT;
            goto out;
        }
    }
    if (s->stage < 1 || s->n_blocks < 0 || s->n_blocks > MODEL_MAX_LAYERS || s->step < 0 || s->cursor < 0 ||
        s->adam_t < 0 || s->tokens < 0 || !(s->lr_scale > 0 && s->lr_scale <= 1) || s->rollbacks < 0 ||
        s->stage_rollbacks < 0 || s->skip_cursor < -1 || s->loss_n < 0 || s->nranks < 1 || s->sched.steps < 0 ||
        s->sched.tokens < 0 || s->sched.stale_evals < 0 || !(s->wall_s >= 0) || isnan(s->sched.best_val) ||
        !isfinite(s->loss_mean) || s->rng.purpose != RNG_INIT || !(s->stage_wall_s >= 0) ||
        !isfinite(s->stage_loss_sum))
        FAIL(ST_ECKPT,
             "'%s': the run state is inconsistent (stage %d, %d blocks, step %ld, adam_t %ld, cursor %ld, tokens "
             "%ld, nranks %d, wall_s %g, lr_scale %g, skip_cursor %ld, rng_purpose %u)",
             f->path, s->stage, s->n_blocks, s->step, s->adam_t, s->cursor, s->tokens, s->nranks, s->wall_s,
             s->lr_scale, s->skip_cursor, (unsigned)s->rng.purpose);
out:
    return st;
}
