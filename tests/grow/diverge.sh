#!/bin/sh
# diverge.sh -- the divergence guard: a non-finite step rolls back to the last
# good state, lowers the learning rate, skips its batch and is counted; a
# stage that keeps diverging stops with exit code 5; no checkpoint is ever
# written from a non-finite model.
. "$top_srcdir/tests/lib.sh"

tiny_config "$T/tiny.ini"
cfg="--config $T/tiny.ini"
depth_col() { # depth_col FILE COLUMN: a /metrics/depth column, one value per line
    "$STRATA" metrics --table depth "$1" | awk -F, -v want="$2" '
        NR == 1 { for (i = 1; i <= NF; i++) if ($i == want) c = i; next }
        { print $c }'
}

# 1. One bad step (step 7, after the periodic checkpoint at step 5).
STRATA_TEST_DIVERGE_AT_STEP=7 expect_exit 0 "a run with one diverged step finishes" -- run 2 -- grow $cfg --set run.name=once
expect_grep "step 7 diverged" "$T/err" "the rollback is reported with its step"
expect_grep "back to step 5 with the learning rate x 0.5" "$T/err" "it returns to the last good state (step 5) at half the rate"
expect_grep "skipped the batch at data position 36" "$T/err" "the batch that diverged is skipped when it comes again"
[ "$(depth_col "$T/ck/once/stage-003.h5" rollbacks | tr '\n' ' ')" = "1 0 0 " ] &&
    ok "/metrics/depth counts the rollback in stage 1 only" ||
    not_ok "rollbacks column: $(depth_col "$T/ck/once/stage-003.h5" rollbacks | tr '\n' ' ')"
[ "$(depth_col "$T/ck/once/stage-003.h5" steps | tr '\n' ' ')" = "12 12 12 " ] &&
    ok "every stage still trains its 12 steps" || not_ok "steps: $(depth_col "$T/ck/once/stage-003.h5" steps | tr '\n' ' ')"
dups=$("$STRATA" metrics --table steps "$T/ck/once/stage-003.h5" | awk -F, 'NR > 1 { print $1 }' | sort | uniq -d | wc -l)
[ "$dups" -eq 0 ] && ok "/metrics/steps has no step twice after the rollback" || not_ok "$dups steps appear twice"
"$H5DUMP" -a /state/rollbacks "$T/ck/once/stage-003.h5" >"$T/h5" 2>&1
expect_grep "(0): 1" "$T/h5" "/state counts the rollback"

# 2. A stage that diverges at every attempt stops with exit code 5 and
#    leaves the last good checkpoint (step 5) as LATEST.
STRATA_TEST_DIVERGE_AT_STEP=8:always expect_exit 5 "a stage that keeps diverging exits 5" -- \
    run 2 -- grow $cfg --set run.name=always --set train.max_rollbacks=2
expect_grep "training diverged at step 8" "$T/err" "the message names the step"
expect_grep "train.max_rollbacks = 2" "$T/err" "and the setting that stopped it"
[ "$(cat "$T/ck/always/LATEST")" = "step-00000005.h5" ] && ok "LATEST is the last good checkpoint" ||
    not_ok "LATEST is '$(cat "$T/ck/always/LATEST" 2>/dev/null)'"
ls "$T/ck/always" | grep -q '\.tmp$' && not_ok "a temp file was left behind" || ok "no temp file left behind"
expect_exit 0 "the stopped run resumes from its last good checkpoint" -- run 2 -- grow $cfg --set run.name=always
[ "$(cat "$T/ck/always/LATEST")" = "stage-003.h5" ] && ok "and finishes" || not_ok "LATEST is '$(cat "$T/ck/always/LATEST")'"

# 3. Without any checkpoint yet, too many rollbacks: exit 5 and nothing published.
STRATA_TEST_DIVERGE_AT_STEP=2:always expect_exit 5 "diverging before the first checkpoint exits 5" -- \
    run 1 -- grow $cfg --set run.name=early --set train.max_rollbacks=0
[ ! -e "$T/ck/early/LATEST" ] && ok "no checkpoint is published" || not_ok "LATEST names '$(cat "$T/ck/early/LATEST")'"

# 4. A real divergence (a learning rate of 10 without clipping) never ends
#    in a non-finite checkpoint: either the guard recovers or the run exits 5.
run 1 -- grow $cfg --set run.name=real --set train.lr=10 --set train.min_lr=10 --set train.grad_clip=0 \
    --set train.max_rollbacks=3 >"$T/out" 2>"$T/err"
rc=$?
if [ "$rc" -eq 0 ] || [ "$rc" -eq 5 ]; then ok "lr = 10 ends with exit $rc (0 or 5)"; else not_ok "lr = 10: exit $rc"; sed 's/^/# /' "$T/err" | head; fi
bad=0
for f in "$T"/ck/real/*.h5; do
    [ -e "$f" ] || continue
    "$H5DUMP" -g /model "$f" 2>/dev/null | grep -qiE '(^|[ ,(])-?(nan|inf)' && bad=1
done
[ "$bad" -eq 0 ] && ok "every checkpoint it wrote holds finite weights" || not_ok "a checkpoint holds NaN/inf"

finish
