#!/bin/sh
# lock.sh -- one grow job per run directory: a second job exits 4 naming
# the holder, the lock goes when the job ends (also on a preemption), and a
# stale lock of a dead process on this host is taken over with a warning.
. "$top_srcdir/tests/lib.sh"

tiny_config "$T/tiny.ini"
cfg="--config $T/tiny.ini"

# 1. A long job holds the run directory; a second one is refused.
"${MPIRUN:-mpirun}" -np 1 "$STRATA" grow $cfg --set run.name=l --set grow.steps=400 >"$T/a.out" 2>"$T/a.err" &
pid=$!
i=0
while [ ! -f "$T/ck/l/LOCK" ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
[ -f "$T/ck/l/LOCK" ] && ok "the running job holds LOCK" || not_ok "no LOCK file"
expect_grep "pid=" "$T/ck/l/LOCK" "LOCK names the holder's pid"
expect_exit 4 "a second job on the same run directory exits 4" -- run 1 -- grow $cfg --set run.name=l --set grow.steps=400
expect_grep "in use by another job" "$T/err" "the refusal says why"
expect_grep "$(hostname)" "$T/err" "and names the holder's host"
kill -USR1 $pid 2>/dev/null
wait $pid
rc=$?
[ $rc -eq 75 ] && ok "the holder stops cleanly (exit 75)" || not_ok "holder exit $rc"
[ ! -e "$T/ck/l/LOCK" ] && ok "LOCK is gone after a preemption" || not_ok "LOCK left behind"

# 2. A stale lock (this host, a process that no longer exists) is taken over.
boot=$(cat /proc/sys/kernel/random/boot_id 2>/dev/null || echo -)
printf 'host=%s\npid=999999\njob=-\nsince=2026-01-01T00:00:00Z\nboot=%s\ntoken=stale\n' "$(hostname)" "$boot" >"$T/ck/l/LOCK"
expect_exit 0 "a stale lock of a dead process is taken over" -- run 1 -- grow $cfg --set run.name=l
expect_grep "999999" "$T/err" "the take-over warning names the dead holder"
[ ! -e "$T/ck/l/LOCK" ] && ok "and the lock is released at the end" || not_ok "LOCK left behind"

# 3. A lock from another host is never taken over.
printf 'host=elsewhere.example\npid=1\njob=77\nsince=2026-01-01T00:00:00Z\nboot=-\ntoken=other\n' >"$T/ck/l/LOCK"
expect_exit 4 "a lock held on another host is refused" -- run 1 -- grow $cfg --set run.name=l
expect_grep "elsewhere.example" "$T/err" "naming that host"
expect_grep "rm " "$T/err" "and saying how to remove it after checking"
expect_grep "token=other" "$T/ck/l/LOCK" "the other host's lock is left as it was"

finish
