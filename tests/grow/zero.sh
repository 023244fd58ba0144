#!/bin/sh
# zero.sh -- train.zero (ZeRO-1: AdamW moments sharded over the ranks,
# gradients reduce-scattered, weights all-gathered) trains bitwise the same
# as the unsharded optimizer, and its checkpoints are the same files.  On 1,
# 2 and 3 ranks, a progressive run with LoRA adapters on the frozen blocks
# of stage 3:
#   - zero on and off give the same per-tensor SHA-256 of the last stage
#     checkpoint and the same /metrics/steps losses and gradient norms;
#   - a mid-stage checkpoint (step 17, stage 2) holds the same /model and
#     /optim (h5diff, exact) with zero on and off, so /optim is whole;
#   - a zero-on checkpoint resumed with zero off, and a zero-off one resumed
#     with zero on, end bitwise equal to the uninterrupted run.
# Then: a trainable substrate table (an embedding arena) on 3 ranks, a
# rollback of the divergence guard (the snapshot holds the shard) on 2
# ranks, a failed /optim write, and a zero-on checkpoint of 2 ranks resumed
# on 3 (the loss curve within 1e-4 of the 2-rank run, as for the unsharded
# optimizer).
. "$top_srcdir/tests/lib.sh"

tiny_config "$T/tiny.ini"
cfg="--config $T/tiny.ini --set grow.lora_from_depth=3 --set grow.lora_rank=2"
cols() { # cols FILE: the train_loss and grad_norm columns of /metrics/steps
    "$STRATA" metrics --table steps "$1" | awk -F, '
        NR == 1 { for (i = 1; i <= NF; i++) { if ($i == "train_loss") a = i; if ($i == "grad_norm") b = i } next }
        { print $a, $b }'
}
# same WHAT A B: the last stage checkpoints of runs A and B, tensors and logged losses
same() {
    sha "$T/ck/$2/stage-003.h5" >"$T/a.sha"
    sha "$T/ck/$3/stage-003.h5" >"$T/b.sha"
    cols "$T/ck/$2/stage-003.h5" >"$T/a.loss"
    cols "$T/ck/$3/stage-003.h5" >"$T/b.loss"
    if [ -s "$T/a.sha" ] && cmp -s "$T/a.sha" "$T/b.sha" && [ -s "$T/a.loss" ] && cmp -s "$T/a.loss" "$T/b.loss"; then
        ok "$1: stage-003.h5 tensors and $(wc -l <"$T/a.loss") losses and gradient norms bitwise equal"
    else
        not_ok "$1: $2 and $3 differ"
        diff "$T/a.sha" "$T/b.sha" | head -4 | sed 's/^/# /'
        diff "$T/a.loss" "$T/b.loss" | head -4 | sed 's/^/# /'
    fi
}

for np in 1 2 3; do
    expect_exit 0 "$np ranks, train.zero = false" -- run $np -- grow $cfg --set run.name="off$np" --set train.zero=false
    expect_exit 0 "$np ranks, train.zero = true" -- run $np -- grow $cfg --set run.name="on$np" --set train.zero=true
    expect_grep "sharded over the ranks by train.zero" "$T/err" "the sharded optimizer says so"
    same "$np ranks, zero on vs off" "off$np" "on$np"
    # Stop mid-stage 2 on each setting, resume on the other one.
    STRATA_TEST_STOP_AT_STEP=17 run $np -- grow $cfg --set run.name="on2off$np" --set train.zero=true >/dev/null 2>&1
    STRATA_TEST_STOP_AT_STEP=17 run $np -- grow $cfg --set run.name="off2on$np" --set train.zero=false >/dev/null 2>&1
    a="$T/ck/on2off$np/step-00000017.h5" b="$T/ck/off2on$np/step-00000017.h5"
    if [ -f "$a" ] && [ -f "$b" ] && h5diff "$a" "$b" /model /model >"$T/d" 2>&1 && h5diff "$a" "$b" /optim /optim >>"$T/d" 2>&1 &&
        h5dump -n "$a" | grep -q 'optim/v/model/block_002/attn_qkv_w'; then
        ok "$np ranks: the step-17 checkpoints hold the same /model and whole /optim with zero on and off"
    else
        not_ok "$np ranks: the step-17 checkpoints differ (or are missing)"
        head -6 "$T/d" | sed 's/^/# /'
    fi
    expect_exit 0 "$np ranks: a zero-on checkpoint resumes with zero off" -- \
        run $np -- grow $cfg --set run.name="on2off$np" --set train.zero=false
    expect_exit 0 "$np ranks: a zero-off checkpoint resumes with zero on" -- \
        run $np -- grow $cfg --set run.name="off2on$np" --set train.zero=true
    same "$np ranks, zero on, resumed off" "off$np" "on2off$np"
    same "$np ranks, zero off, resumed on" "off$np" "off2on$np"
done

# An embedding arena (trainable substrate table) on 3 ranks.
tab="--config $T/tiny.ini --set substrate.kind=trainable --set substrate.file=$T/sub-trainable.h5 --set grow.steps=6"
for z in true false; do
    expect_exit 0 "trainable table on 3 ranks, train.zero = $z" -- run 3 -- grow $tab --set run.name="tab$z" --set train.zero=$z
done
same "trainable table, 3 ranks, zero on vs off" tabfalse tabtrue

# A rollback returns to the sharded snapshot exactly as to the whole one.
for z in true false; do
    STRATA_TEST_DIVERGE_AT_STEP=7 expect_exit 0 "a rollback on 2 ranks, train.zero = $z" -- \
        run 2 -- grow $cfg --set run.name="div$z" --set train.zero=$z
done
expect_grep "step 7 diverged" "$T/err" "the step diverged and was rolled back"
same "a rollback, 2 ranks, zero on vs off" divfalse divtrue

# Rank 0 fails while writing /optim (its third moment; the other ranks are
# still gathering): every rank stops cleanly with exit 4, no temp file stays,
# and the run resumes from the previous checkpoint to the same end.
STRATA_FAULT=ckpt_optim@3 expect_exit 4 "a failed /optim write on rank 0 stops every rank (exit 4)" -- \
    run 2 -- grow $cfg --set run.name=optimfail --set train.zero=true
expect_grep "injected fault ckpt_optim" "$T/err" "the message says what failed"
ls "$T/ck/optimfail" | grep -q '\.tmp' && not_ok "a temp file was left behind" || ok "no temp file left behind"
expect_exit 0 "the run resumes after the failed checkpoint" -- run 2 -- grow $cfg --set run.name=optimfail --set train.zero=true
same "resumed after a failed /optim write" off2 optimfail

# A zero-on checkpoint of 2 ranks resumes on 3 (each rank takes its slice of /optim).
STRATA_TEST_STOP_AT_STEP=17 run 2 -- grow $cfg --set run.name=two2three --set train.zero=true >/dev/null 2>&1
expect_exit 0 "a 2-rank zero-on checkpoint resumes on 3 ranks" -- run 3 -- grow $cfg --set run.name=two2three --set train.zero=true
cols "$T/ck/off2/stage-003.h5" >"$T/two.loss"
cols "$T/ck/two2three/stage-003.h5" | paste -d' ' - "$T/two.loss" | awk '
    function rel(a, b) { d = a - b; if (d < 0) d = -d; return d / (b < 0 ? -b : b) }
    { if (rel($1, $3) > m) m = rel($1, $3); n++ }
    END { printf "# max relative loss difference %.3g over %d steps\n", m, n; exit !(n == 36 && m < 1e-4) }' &&
    ok "loss curve within 1e-4 relative after 2 -> 3 ranks with zero on" || not_ok "loss curve differs after 2 -> 3 ranks"
finish
