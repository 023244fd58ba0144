/* signals.c -- async-signal-safe stop flag. */
#define _POSIX_C_SOURCE 200809L
#include "strata/signals.h"

#include <signal.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t stop_signal = 0;
static volatile sig_atomic_t sigint_count = 0;

static void on_signal(int sig)
{
    if (sig == SIGINT && ++sigint_count >= 2) {
        static const char msg[] = "strata: second interrupt, exiting now\n";
        ssize_t w = write(STDERR_FILENO, msg, sizeof msg - 1);
        (void)w;
        _exit(130);
    }
    if (!stop_signal) stop_signal = sig;
}

void sig_install(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGUSR1, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
}

bool sig_stop_requested(void) { return stop_signal != 0; }
int sig_which(void) { return stop_signal; }

void sig_reset(void)
{
    stop_signal = 0;
    sigint_count = 0;
}
