/* timer.h -- wall-clock timers (monotonic clock). */
#ifndef STRATA_TIMER_H
#define STRATA_TIMER_H

/* Seconds since an arbitrary fixed point; monotonic. */
double timer_now(void);

/* Accumulating stopwatch: start/stop pairs add to total. */
typedef struct st_timer {
    double total; /* seconds accumulated */
    double t0;    /* start of the running interval, or < 0 when stopped */
    long count;   /* completed intervals */
} st_timer;

void timer_reset(st_timer *t);
void timer_start(st_timer *t);
void timer_stop(st_timer *t);

#endif
