/* blas_core.c -- strata-blas-core: which OPENBLAS_CORETYPE is fastest on
 * this CPU, by measurement (blas_check.h "choosing OPENBLAS_CORETYPE").
 *
 *   strata-blas-core [--pick] [--rounds R] [--reps N]
 *
 * Runs itself once per candidate core and round with OPENBLAS_CORETYPE set
 * (the core is fixed when libopenblas loads), alternating the candidates so
 * a burst of load from other jobs does not favour one, and keeps each
 * candidate's best round.  Prints a table and the recommendation; --pick
 * prints only the name of the fastest core (for `export
 * OPENBLAS_CORETYPE=$(strata-blas-core --pick)` in job scripts).  A user's
 * OPENBLAS_CORETYPE is never overridden: with --pick it is printed back
 * unmeasured, and without it the table says the user's choice stands.
 * Exit 0, 2 on bad usage, 1 when no candidate could be measured.
 */
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <unistd.h>

#include "strata/blas_check.h"

extern char **environ;

#define CHILD_ENV "STRATA_BLAS_CORE_CHILD"

/* One measurement of `core` in a child: its rate, or -1 when it failed or
 * OpenBLAS loaded another core than asked (name in loaded). */
static double measure(const char *core, int reps, char *loaded, size_t len)
{
    int nenv = 0;
    while (environ[nenv]) nenv++;
    char **env = calloc((size_t)nenv + 3, sizeof *env);
    char ct[96], reps_s[32];
    int fd[2] = {-1, -1};
    double rate = -1.0;
    pid_t pid = -1;
    posix_spawn_file_actions_t fa;
    snprintf(loaded, len, "?");
    if (!env || pipe(fd) != 0) goto out;
    int k = 0;
    for (int i = 0; i < nenv; i++)
        if (strncmp(environ[i], "OPENBLAS_CORETYPE=", 18) != 0 && strncmp(environ[i], CHILD_ENV "=", sizeof CHILD_ENV) != 0)
            env[k++] = environ[i];
    snprintf(ct, sizeof ct, "OPENBLAS_CORETYPE=%s", core);
    snprintf(reps_s, sizeof reps_s, CHILD_ENV "=%d", reps);
    env[k++] = ct;
    env[k++] = reps_s;
    char *argv[] = {"strata-blas-core", NULL};
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fd[1], 1);
    posix_spawn_file_actions_addclose(&fa, fd[0]);
    int rc = posix_spawn(&pid, "/proc/self/exe", &fa, NULL, argv, env);
    posix_spawn_file_actions_destroy(&fa);
    close(fd[1]);
    fd[1] = -1;
    if (rc != 0) goto out;
    char buf[256] = {0};
    size_t got = 0;
    ssize_t r;
    while (got < sizeof buf - 1 && (r = read(fd[0], buf + got, sizeof buf - 1 - got)) > 0) got += (size_t)r;
    int status = 0;
    waitpid(pid, &status, 0);
    char name[64];
    double v;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0 && sscanf(buf, "%63s %lf", name, &v) == 2) {
        snprintf(loaded, len, "%s", name);
        if (strcasecmp(name, core) == 0) rate = v;
    }
out:
    if (fd[0] >= 0) close(fd[0]);
    if (fd[1] >= 0) close(fd[1]);
    free(env);
    return rate;
}

int main(int argc, char **argv)
{
    const char *child = getenv(CHILD_ENV);
    if (child) { /* a measurement: the core this process loaded, and its rate */
        blas_default_threads();
        blas_info info;
        if (blas_probe(&info) != ST_OK) return 1;
        double rate = blas_sgemm_rate(atoi(child) > 0 ? atoi(child) : 3);
        printf("%s %.3f\n", info.core, rate);
        return rate > 0 ? 0 : 1;
    }
    int pick = 0, rounds = 3, reps = 3;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--pick") == 0)
            pick = 1;
        else if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc && atoi(argv[i + 1]) > 0)
            rounds = atoi(argv[++i]);
        else if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc && atoi(argv[i + 1]) > 0)
            reps = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: strata-blas-core [--pick] [--rounds R] [--reps N]\n"
                            "Measures sgemm with each OPENBLAS_CORETYPE this CPU can run and names the fastest.\n");
            return strcmp(argv[i], "--help") == 0 ? 0 : 2;
        }
    }
    const char *user = getenv("OPENBLAS_CORETYPE");
    if (pick && user && *user) {
        fprintf(stderr, "strata-blas-core: OPENBLAS_CORETYPE=%s was set by the user; kept, not measured\n", user);
        printf("%s\n", user);
        return 0;
    }
    const char *cand[BLAS_MAX_CANDIDATES];
    double best[BLAS_MAX_CANDIDATES];
    char loaded[BLAS_MAX_CANDIDATES][64];
    int n = blas_core_candidates(cand, BLAS_MAX_CANDIDATES);
    for (int i = 0; i < n; i++) best[i] = -1.0;
    for (int r = 0; r < rounds; r++)
        for (int i = 0; i < n; i++) {
            double v = measure(cand[i], reps, loaded[i], sizeof loaded[i]);
            if (v > best[i]) best[i] = v;
        }
    int w = blas_pick_fastest(best, n);
    FILE *f = pick ? stderr : stdout;
    for (int i = 0; i < n; i++) {
        if (best[i] > 0)
            fprintf(f, "# OPENBLAS_CORETYPE=%-12s %7.1f GFLOP/s (sgemm, 1 thread, best of %d rounds)%s\n",
                    cand[i], best[i], rounds, i == w ? "  <- fastest" : "");
        else
            fprintf(f, "# OPENBLAS_CORETYPE=%-12s not available (OpenBLAS loaded %s)\n", cand[i], loaded[i]);
    }
    if (w < 0) {
        fprintf(stderr, "strata-blas-core: no candidate core could be measured\n");
        return 1;
    }
    if (pick)
        printf("%s\n", cand[w]);
    else if (user && *user)
        printf("fastest: %s; OPENBLAS_CORETYPE=%s set by the user stands\n", cand[w], user);
    else
        printf("fastest: %s (export OPENBLAS_CORETYPE=%s)\n", cand[w], cand[w]);
    return 0;
}
