/* test_finalize.c -- st_mpi_at_finalize: hooks run inside st_mpi_finalize,
 * last registered first, once each, while MPI still works.  Its own main()
 * (the cmocka harness finalises MPI itself); prints TAP. */
#include <mpi.h>
#include <stdio.h>

#include "strata/mpilife.h"

static char order[8];
static int n_order;
static int mpi_alive = 1;

static void note(char c)
{
    int fin = 1;
    MPI_Finalized(&fin);
    if (fin) mpi_alive = 0;
    if (n_order < (int)sizeof order - 1) order[n_order++] = c;
}

static void hook_a(void) { note('a'); }
static void hook_b(void) { note('b'); }
static void hook_c(void) { note('c'); }

int main(int argc, char **argv)
{
    int bad = 0, n = 0;
    st_mpi_init(&argc, &argv);
#define TAP(cond, what) printf("%s %d - %s\n", (cond) ? "ok" : (bad++, "not ok"), ++n, what)
    TAP(st_mpi_at_finalize(hook_a) == ST_OK, "register a");
    TAP(st_mpi_at_finalize(hook_b) == ST_OK, "register b");
    TAP(st_mpi_at_finalize(hook_a) == ST_OK, "registering a again is a no-op");
    TAP(st_mpi_at_finalize(hook_c) == ST_OK, "register c");
    TAP(n_order == 0, "nothing runs before st_mpi_finalize");
    st_mpi_finalize();
    order[n_order] = '\0';
    TAP(n_order == 3 && order[0] == 'c' && order[1] == 'b' && order[2] == 'a',
        "hooks run once each, last registered first");
    TAP(mpi_alive, "hooks run before MPI_Finalize");
    printf("1..%d\n", n);
    return bad ? 1 : 0;
}
