/* timer.c -- monotonic wall-clock timers. */
#define _POSIX_C_SOURCE 200809L
#include "strata/timer.h"

#include <time.h>

double timer_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void timer_reset(st_timer *t)
{
    t->total = 0.0;
    t->t0 = -1.0;
    t->count = 0;
}

void timer_start(st_timer *t) { t->t0 = timer_now(); }

void timer_stop(st_timer *t)
{
    if (t->t0 < 0) return;
    t->total += timer_now() - t->t0;
    t->t0 = -1.0;
    t->count++;
}
