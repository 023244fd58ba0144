/* st_logits.c -- print strata's logits for a token sequence, for
 * tests/store/export.sh to compare with tools/strata_torch.py:
 *     st_logits MODEL.h5 DEPTH ID,ID,...
 * prints T lines of V logits (%.9g), one line per position;
 *     st_logits MODEL.h5 encode TEXT
 * prints the ids strata's tokenizer gives TEXT, comma-separated. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strata/ckpt_model.h"
#include "strata/model.h"
#include "strata/mpilife.h"
#include "strata/tokenizer.h"

int main(int argc, char **argv)
{
    st_mpi_init(&argc, &argv);
    int rc = 1;
    ckpt_model cm = {0};
    model_ws ws = {0};
    int32_t tok[4096];
    int T = 0;
    if (argc != 4) {
        fprintf(stderr, "usage: st_logits MODEL.h5 DEPTH ID,ID,...\n");
        goto out;
    }
    if (ckpt_model_load(&cm, argv[1], MPI_COMM_WORLD) != ST_OK) {
        fprintf(stderr, "st_logits: %s\n", st_last_error());
        goto out;
    }
    if (strcmp(argv[2], "encode") == 0) {
        tok_buf b;
        tok_buf_init(&b);
        if (tok_encode(cm.tok, (const uint8_t *)argv[3], strlen(argv[3]), &b, NULL) == ST_OK) {
            for (size_t i = 0; i < b.n; i++) printf("%s%d", i ? "," : "", (int)b.ids[i]);
            printf("\n");
            rc = 0;
        }
        tok_buf_free(&b);
        goto out;
    }
    model *m = &cm.mem[0].m;
    for (char *s = strtok(argv[3], ","); s && T < 4096; s = strtok(NULL, ",")) tok[T++] = (int32_t)atoi(s);
    int depth = atoi(argv[2]);
    if (depth < 1 || depth > m->n_blocks || T < 1) goto out;
    model_batch b = {.tokens = tok, .targets = NULL, .ld = T};
    if (model_ws_init(&ws, &m->dims, 1, T, 1, 0) != ST_OK ||
        model_forward_blocks(m, &ws, &b, NULL, 0, depth, 1, T, false) != ST_OK ||
        model_forward_head(m, &ws, model_ws_output(&ws), &b, NULL, NULL) != ST_OK) {
        fprintf(stderr, "st_logits: %s\n", st_last_error());
        goto out;
    }
    for (int t = 0; t < T; t++)
        for (int v = 0; v < m->dims.V; v++) printf("%.9g%c", ws.head.logits[(size_t)t * m->dims.V + v], v + 1 < m->dims.V ? ' ' : '\n');
    rc = 0;
out:
    model_ws_free(&ws);
    ckpt_model_free(&cm);
    st_mpi_finalize();
    return rc;
}
