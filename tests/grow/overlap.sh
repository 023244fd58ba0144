#!/bin/sh
# overlap.sh -- train.overlap_reduce: the gradient reduction started arena by
# arena during the backward ends bitwise equal to the same reductions started
# after it.  On 2 and 3 ranks, for a progressive run with LoRA adapters on the
# frozen blocks of stage 3, a monolithic run (every block trains) and a
# trainable substrate table, overlap on and off give the same per-tensor
# SHA-256 of the last stage checkpoint and the same /metrics/steps losses and
# gradient norms.  A reduction missed or done twice would change both.
. "$top_srcdir/tests/lib.sh"

tiny_config "$T/tiny.ini"
cfg="--config $T/tiny.ini"
cols() { # cols FILE: the train_loss and grad_norm columns of /metrics/steps
    "$STRATA" metrics --table steps "$1" | awk -F, '
        NR == 1 { for (i = 1; i <= NF; i++) { if ($i == "train_loss") a = i; if ($i == "grad_norm") b = i } next }
        { print $a, (b ? $b : "") }'
}

for np in 2 3; do
    for kind in lora mono table; do
        case $kind in
        lora) extra="--set grow.lora_from_depth=3 --set grow.lora_rank=2" ;;
        mono) extra="--set grow.schedule=monolithic --set grow.steps=4" ;;
        table) extra="--set substrate.kind=trainable --set substrate.file=$T/sub-trainable.h5 --set grow.steps=6" ;;
        esac
        for ov in true false; do
            # shellcheck disable=SC2086
            expect_exit 0 "$kind on $np ranks, train.overlap_reduce = $ov" -- run $np -- grow $cfg \
                --set run.name="$kind$np$ov" --set train.overlap_reduce=$ov $extra
        done
        last=$(cat "$T/ck/${kind}${np}true/LATEST" 2>/dev/null)
        sha "$T/ck/${kind}${np}true/$last" >"$T/on.sha"
        sha "$T/ck/${kind}${np}false/$last" >"$T/off.sha"
        if [ -s "$T/on.sha" ] && cmp -s "$T/on.sha" "$T/off.sha"; then
            ok "$kind, $np ranks: $last tensors bitwise equal with overlap on and off"
        else
            not_ok "$kind, $np ranks: $last tensors differ with overlap on and off"
            diff "$T/on.sha" "$T/off.sha" | head -6 | sed 's/^/# /'
        fi
        cols "$T/ck/${kind}${np}true/$last" >"$T/on.loss"
        cols "$T/ck/${kind}${np}false/$last" >"$T/off.loss"
        if [ -s "$T/on.loss" ] && cmp -s "$T/on.loss" "$T/off.loss"; then
            ok "$kind, $np ranks: $(wc -l <"$T/on.loss") logged losses and gradient norms identical"
        else
            not_ok "$kind, $np ranks: logged losses differ with overlap on and off"
            diff "$T/on.loss" "$T/off.loss" | head -6 | sed 's/^/# /'
        fi
    done
done
# Both paths share the per-arena plan: an arena reduced twice or not at all
# would show against one rank (no all-reduce to speak of) in the gradient norm.
expect_exit 0 "mono on 1 rank" -- run 1 -- grow $cfg --set run.name=mono1 --set grow.schedule=monolithic --set grow.steps=4
cols "$T/ck/mono1/stage-001.h5" >"$T/one.loss"
cols "$T/ck/mono3true/stage-001.h5" | paste -d' ' - "$T/one.loss" | awk '
    function rel(a, b) { d = a - b; if (d < 0) d = -d; return d / (b < 0 ? -b : b) }
    { if (rel($1, $3) > m) m = rel($1, $3); if (rel($2, $4) > m) m = rel($2, $4); n++ }
    END { printf "# max relative difference 3 ranks (overlap) vs 1 rank: %.2g\n", m; exit !(n == 12 && m < 1e-4) }' &&
    ok "mono on 3 ranks with overlap: losses and gradient norms within 1e-4 of 1 rank" ||
    not_ok "mono on 3 ranks with overlap strays from 1 rank"
sha "$T/ck/lora2true/stage-003.h5" >"$T/l.sha"
sha "$T/ck/table2true/stage-003.h5" >"$T/t.sha"
grep -q block_003 "$T/l.sha" && grep -q /model/embed/tok_emb "$T/t.sha" &&
    ok "the checkpoints hold the blocks and the trained table" ||
    { not_ok "checkpoint tensors missing"; cat "$T/l.sha" "$T/t.sha" | sed 's/^/# /'; }
finish
