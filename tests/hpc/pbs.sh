#!/bin/sh
# pbs.sh -- jobs/pbs/grow.pbs outside PBS, with the environment PBS gives a
# job (PBS_JOBID, PBS_O_WORKDIR, a PBS_NODEFILE of 2 slots) and stand-ins
# for qstat and qsub on PATH: the walltime timer fires mid-stage, the ranks
# checkpoint, the script exits 75 and resubmits itself with the same
# variables; run again (as the resubmitted job would) it resumes and
# finishes.  A real PBS server is not needed for this logic.
. "$top_srcdir/tests/lib.sh"

cd "$T" || exit 1
mkdir bin
run=$T/checkpoints/smoke
# qstat -f JOB: the first call (the first job) waits until the ranks wait
# after step $mid2 in stage 2 (STRATA_TEST_WAIT_STOP_AT_STEP, hpc-lib.sh)
# and reports 3 s of walltime left; with STRATA_GRACE=2 the timer fires 1 s
# later and the forwarded SIGUSR1 stops the ranks after step $mid2, however
# fast or loaded the machine is.  Later calls report nothing.
. "$top_srcdir/tests/hpc/hpc-lib.sh"
cat >bin/qstat <<EOF
#!/bin/sh
[ -f "$T/qstat.used" ] && exit 0
touch "$T/qstat.used"
. "$top_srcdir/tests/hpc/hpc-lib.sh"
waiting_at $mid2 "$T/err" || echo "qstat stand-in: the ranks never reached step $mid2" >&2
echo "Job Id: \$2"
echo "    Resource_List.walltime = 01:00:03"
echo "    resources_used.walltime = 01:00:00"
EOF
cat >bin/qsub <<EOF
#!/bin/sh
printf '%s\n' "\$@" >"$T/qsub.args"
echo 2.fake
EOF
chmod +x bin/qstat bin/qsub
printf 'localhost\nlocalhost\n' >nodes

pbs() { # pbs: run grow.pbs as PBS would start it
    PATH=$T/bin:$PATH PBS_JOBID=1.fake PBS_O_WORKDIR=$T PBS_NODEFILE=$T/nodes \
        STRATA_CONFIG=$top_srcdir/jobs/configs/smoke.ini \
        STRATA_ARGS="--set data.corpus=$top_srcdir/tests/data/moby-60k.txt --set run.dir=$T/checkpoints" \
        STRATA_GRACE=2 STRATA_TEST_WAIT_STOP_AT_STEP=$mid2 timeout 120 bash "$top_srcdir/jobs/pbs/grow.pbs"
}

expect_exit 75 "grow.pbs stops at walltime - STRATA_GRACE with exit 75" -- pbs
cp "$T/err" "$T/first.err"
expect_grep "asking for a checkpoint in 1 s" "$T/first.err" "the timer is armed from qstat's walltime"
expect_grep "got SIGALRM" "$T/first.err" "the timer fires and is forwarded to the ranks"
expect_grep "continues as job 2.fake" "$T/first.err" "the job resubmits itself"
grep -qx "STRATA_CONFIG=$top_srcdir/jobs/configs/smoke.ini,STRATA_ARGS=--set data.corpus=$top_srcdir/tests/data/moby-60k.txt --set run.dir=$T/checkpoints,STRATA=$STRATA" "$T/qsub.args" &&
    ok "qsub gets the same variables" || { not_ok "qsub gets the same variables"; sed 's/^/# /' "$T/qsub.args"; }
grep -qx "$T/jobs/pbs/grow.pbs" "$T/qsub.args" && ok "qsub gets the script under PBS_O_WORKDIR" ||
    not_ok "qsub gets the script under PBS_O_WORKDIR"
latest=$(cat "$run/LATEST" 2>/dev/null)
[ "$latest" = "$(step_file $mid2)" ] && ok "stopped mid-stage with a clean checkpoint ($latest)" ||
    not_ok "stopped mid-stage with a clean checkpoint (LATEST is '$latest', wanted $(step_file $mid2))"

rm -f "$T/qsub.args"
expect_exit 0 "the resubmitted job resumes and finishes" -- pbs
expect_grep "resuming" "$T/err" "it resumed from the checkpoint"
expect_grep "run complete" "$T/err" "it reports the run complete"
[ -f "$run/stage-003.h5" ] && ok "all 3 stages done" || not_ok "all 3 stages done"
[ ! -f "$T/qsub.args" ] && ok "a finished run does not resubmit" || not_ok "a finished run does not resubmit"

# Bad input: no STRATA_CONFIG.
PBS_JOBID=1.fake bash "$top_srcdir/jobs/pbs/grow.pbs" >"$T/out" 2>"$T/err"
[ $? -ne 0 ] && ok "grow.pbs without STRATA_CONFIG fails" || not_ok "grow.pbs without STRATA_CONFIG fails"
expect_grep "STRATA_CONFIG" "$T/err" "and says what to set"
finish
