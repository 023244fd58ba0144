/* layout.c -- the tensor layout of model files (see layout.h). */
#include "strata/layout.h"

#include <stdio.h>

#include "strata/comm.h"

int layout_arenas(model *m, param_arena **out, int cap)
{
    int n = 0;
    if (!m->substrate && n < cap) out[n++] = &m->embed;
    for (int l = 0; l < m->n_blocks && n < cap; l++) out[n++] = &m->blocks[l];
    for (int l = 0; l < m->n_blocks && n < cap; l++)
        if (m->lora[l].r > 0) out[n++] = &m->lora[l].p;
    if (n < cap) out[n++] = &m->head;
    return n;
}

void layout_arena_path(const model *m, const param_arena *a, const char *root, char *buf, size_t len)
{
    if (a == &m->head) {
        snprintf(buf, len, "%s/head", root);
        return;
    }
    if (a == &m->embed) {
        snprintf(buf, len, "%s/embed", root);
        return;
    }
    for (int l = 0; l < m->n_blocks; l++) {
        if (a == &m->blocks[l]) {
            snprintf(buf, len, "%s/block_%03d", root, l + 1);
            return;
        }
        if (a == &m->lora[l].p) {
            snprintf(buf, len, "%s/block_%03d/lora", root, l + 1);
            return;
        }
    }
    snprintf(buf, len, "%s/unknown", root);
}

st_status layout_arena_io(h5_file *f, const param_arena *a, const char *prefix, float *base, bool write)
{
    st_status st = ST_OK;
    for (int i = 0; i < a->n; i++) {
        const param_desc *d = &a->desc[i];
        char path[512];
        snprintf(path, sizeof path, "%s/%s", prefix, d->name);
        size_t dims[2] = {(size_t)d->shape[0], (size_t)d->shape[1]};
        if (write)
            CHECK(h5_write(f, path, H5_DT_F32, d->ndim, dims, base + d->offset));
        else
            CHECK(h5_read_into(f, path, H5_DT_F32, d->ndim, dims, base + d->offset));
    }
out:
    return st;
}

st_status layout_dims(const st_config *c, int D, int V, int L, model_dims *d)
{
    model_dims_default(d, D, (int)c->model.n_heads, (int)c->model.d_ff, V, L);
    d->eps = (float)c->model.norm_eps;
    d->theta = c->model.rope_theta;
    d->init_std = c->model.init_std;
    return model_dims_check(d);
}

int64_t layout_substrate_checksum(const float *table, int V, int D)
{
    if (!table) return 0;
    /* >> 1: stored as a non-negative int64 */
    return (int64_t)(comm_checksum(table, sizeof(float) * (size_t)V * (size_t)D) >> 1);
}
