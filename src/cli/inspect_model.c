/* inspect_model.c -- the model part of `strata inspect` (inspect_model.h). */
#include "inspect_model.h"

#include "strata/ckpt_model.h"
#include "strata/model.h"

/* Parameters of an arena: the tensors' elements, without alignment padding. */
static size_t arena_params(const param_arena *a)
{
    size_t n = 0;
    for (int i = 0; i < a->n; i++) n += a->desc[i].numel;
    return n;
}

/* "name [a, b], name [c]" */
static void print_tensors(FILE *out, const param_arena *a)
{
    for (int i = 0; i < a->n; i++) {
        const param_desc *d = &a->desc[i];
        if (d->ndim == 2) fprintf(out, "%s%s [%d, %d]", i ? ", " : "", d->name, d->shape[0], d->shape[1]);
        else fprintf(out, "%s%s [%d]", i ? ", " : "", d->name, d->shape[0]);
    }
}

/* One member: shape, then parameters per block, head and table. */
static size_t print_member(FILE *out, const ckpt_member *mb, const char *indent)
{
    const model *m = &mb->m;
    const model_dims *d = &m->dims;
    fprintf(out, "%swidth %d, %d attention heads of %d, MLP width %d, vocabulary %d, %d block%s built (grows to %d)\n",
            indent, d->D, d->H, d->D / d->H, d->F, d->V, m->n_blocks, m->n_blocks == 1 ? "" : "s", d->L);
    fprintf(out, "%sRMSNorm eps %g, RoPE base %g\n", indent, (double)d->eps, d->theta);
    size_t total = 0;
    for (int l = 0; l < m->n_blocks; l++) {
        size_t n = arena_params(&m->blocks[l]);
        total += n;
        fprintf(out, "%sblock %d: %zu parameters", indent, l + 1, n);
        if (l == 0) {
            fputs(" (", out);
            print_tensors(out, &m->blocks[l]);
            fputc(')', out);
        }
        if (m->lora[l].r) fprintf(out, ", + LoRA rank %d: %zu", m->lora[l].r, arena_params(&m->lora[l].p));
        fputc('\n', out);
    }
    size_t h = arena_params(&m->head);
    total += h;
    fprintf(out, "%shead: %zu parameters (", indent, h);
    print_tensors(out, &m->head);
    fputs(")\n", out);
    if (!m->substrate) {
        size_t e = arena_params(&m->embed);
        total += e;
        fprintf(out, "%sembedding table: %zu parameters, trained (substrate.kind = trainable)\n", indent, e);
    } else {
        fprintf(out, "%sembedding table: the frozen substrate (%d x %d, not trained)\n", indent, d->V, d->D);
    }
    fprintf(out, "%stotal: %zu parameters\n", indent, total);
    return total;
}

st_status inspect_model(const char *path, FILE *out, MPI_Comm comm)
{
    st_status st = ST_OK;
    ckpt_model cm = {0};
    CHECK(ckpt_model_load(&cm, path, comm));
    if (!out) goto out;
    if (!cm.ensemble) { /* (the checkpoint's own description shows its substrate) */
        fputs("\nmodel:\n", out);
        print_member(out, &cm.mem[0], "  ");
        goto out;
    }
    fprintf(out, "\nsubstrate table: %s, %d x %d, from %s", cm.sub_kind, cm.V, cm.D, cm.sub_source);
    if (cm.sub_checksum) fprintf(out, ", checksum %lld", (long long)cm.sub_checksum);
    fputc('\n', out);
    fprintf(out, "\nensemble: %d member%s, prediction = mean of their logits, usable depth 1..%d\n", cm.n,
            cm.n == 1 ? "" : "s", cm.depth);
    size_t all = 0;
    for (int i = 0; i < cm.n; i++) {
        fprintf(out, "  member %d: %s\n", i + 1, cm.mem[i].source);
        all += print_member(out, &cm.mem[i], "    ");
    }
    fprintf(out, "  all members: %zu parameters\n", all);
out:
    ckpt_model_free(&cm);
    return st;
}
