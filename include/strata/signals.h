/* signals.h -- preemption requests from the batch system.
 *
 * SIGUSR1 and SIGTERM ask for a clean stop: finish the step, checkpoint,
 * exit 75 (the job script requeues).  The first SIGINT does the same; a
 * second SIGINT exits at once (exit code 130).  Handlers only set a flag;
 * the growth loop polls it and the ranks agree on it with an all-reduce,
 * because a signal may reach only some ranks. */
#ifndef STRATA_SIGNALS_H
#define STRATA_SIGNALS_H

#include <stdbool.h>

void sig_install(void);
bool sig_stop_requested(void);
/* The signal that asked to stop (0 if none). */
int sig_which(void);
/* Forget a request (tests). */
void sig_reset(void);

#endif
