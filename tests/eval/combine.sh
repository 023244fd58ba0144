#!/bin/sh
# combine.sh -- `strata merge --combine/--prior` and the expert-vs-ensemble
# table of `strata eval`: two members of different depth and width, the mode
# stored in the file and overridden by eval, member rows equal to the members
# evaluated alone, one member = the checkpoint in every mode, and bad modes,
# priors and file attributes with their exit codes.
. "$top_srcdir/tests/lib.sh"

tiny_config "$T/tiny.ini"
cfg="--config $T/tiny.ini"
A=$T/ck/a/stage-003.h5
B=$T/ck/b/stage-002.h5
# ens_rows FILE WHO: rows of member WHO (1, 2, ... or ensemble), member column cut
# (the standard columns only: the probe and task columns are the ensemble's)
ens_rows() { echo "depth,val_loss,val_bits_per_char,val_top1,val_tokens"; grep "^$2," "$1" | cut -d, -f2-6; }
# same_std FILE: stdin equals the standard columns of FILE
same_std() { cut -d, -f1-5 "$1" >"$T/std.csv"; cmp -s - "$T/std.csv"; }

expect_exit 0 "grow member a (3 blocks)" -- run 1 -- grow $cfg --set run.name=a --set grow.steps=6
expect_exit 0 "grow member b (2 blocks, other width and seed)" -- run 1 -- grow $cfg --set run.name=b \
    --set grow.steps=6 --set model.n_layers=2 --set model.n_heads=4 --set model.d_ff=32 --set run.seed=8
ev="--max-chunks 12"
run 1 -- eval "$A" $ev --output "$T/a.csv" >/dev/null 2>&1
run 1 -- eval "$B" $ev --output "$T/b.csv" >/dev/null 2>&1

# 1. a posterior ensemble: the mode is stored, the table shows each member and
#    the ensemble at every depth up to the deepest member's
expect_exit 0 "merge --combine posterior --prior 3,1" -- run 1 -- merge --combine posterior --prior 3,1 \
    --output "$T/post.h5" "$A" "$B"
expect_grep "combine = posterior" "$T/err" "merge says the mode"
expect_exit 0 "eval the ensemble (2 ranks)" -- run 2 -- eval "$T/post.h5" $ev --output "$T/post.csv"
cp "$T/out" "$T/post.out"
expect_grep "combine = posterior" "$T/post.out" "the table names the mode"
expect_grep "member 2: .*stage-002.h5 (2 blocks, prior 1)" "$T/post.out" "the table lists the members with depth and prior"
expect_grep "bits/char vs the best member" "$T/post.out" "the table compares the ensemble with the best member"
[ "$(head -1 "$T/post.csv")" = "member,depth,val_loss,val_bits_per_char,val_top1,val_tokens,induction_gain,induction_loss_first,induction_loss_second" ] && ok "CSV header with member" ||
    not_ok "CSV header: $(head -1 "$T/post.csv")"
[ "$(grep -c '^ensemble,' "$T/post.csv")" -eq 3 ] && [ "$(grep -c '^1,' "$T/post.csv")" -eq 3 ] &&
    [ "$(grep -c '^2,' "$T/post.csv")" -eq 2 ] && ok "ensemble at depths 1..3, member b only at its 2 depths" ||
    not_ok "rows per member: $(cut -d, -f1 "$T/post.csv" | sort | uniq -c | tr '\n' ' ')"
ens_rows "$T/post.csv" 1 | same_std "$T/a.csv" && ok "member 1's rows are member a alone (bitwise)" || not_ok "member 1 differs"
ens_rows "$T/post.csv" 2 | same_std "$T/b.csv" && ok "member 2's rows are member b alone (bitwise)" || not_ok "member 2 differs"

# 2. eval --combine overrides the file; the modes differ
for m in mean-logits mean-probs; do
    expect_exit 0 "eval --combine $m" -- run 1 -- eval "$T/post.h5" $ev --combine $m --output "$T/$m.csv"
    expect_grep "combine = $m" "$T/out" "the table names $m"
done
ens_rows "$T/post.csv" ensemble >"$T/post.ens"
for m in mean-logits mean-probs; do
    ens_rows "$T/$m.csv" ensemble | cmp -s - "$T/post.ens" && not_ok "$m equals posterior" ||
        ok "$m and posterior give different numbers"
done
ens_rows "$T/mean-logits.csv" 1 | same_std "$T/a.csv" && ok "member rows do not depend on the mode" || not_ok "member rows changed"

# 3. one member: every mode is the checkpoint bit for bit
expect_exit 0 "merge one member, posterior" -- run 1 -- merge --combine posterior --output "$T/one.h5" "$A"
for m in posterior mean-probs mean-logits; do
    run 1 -- eval "$T/one.h5" $ev --combine $m --output "$T/one-$m.csv" >/dev/null 2>&1
    ens_rows "$T/one-$m.csv" ensemble | same_std "$T/a.csv" && ok "one-member $m = the checkpoint" || not_ok "one-member $m differs"
done

# 4. bad modes and priors: exit 2, nothing written
expect_exit 2 "merge --combine bogus" -- run 1 -- merge --combine geometric --output "$T/x.h5" "$A" "$B"
expect_grep "geometric" "$T/err" "the message names the bad mode"
expect_exit 2 "eval --combine bogus" -- run 1 -- eval "$T/post.h5" --combine max
expect_exit 2 "merge --prior with too few weights" -- run 1 -- merge --prior 1 --output "$T/x.h5" "$A" "$B"
expect_grep "1 weight for 2 members" "$T/err" "the message counts"
expect_exit 2 "merge --prior 0" -- run 1 -- merge --prior 1,0 --output "$T/x.h5" "$A" "$B"
expect_exit 2 "merge --prior nan" -- run 1 -- merge --prior 1,nan --output "$T/x.h5" "$A" "$B"
expect_exit 2 "merge --prior junk" -- run 1 -- merge --prior 1,2x --output "$T/x.h5" "$A" "$B"
[ ! -e "$T/x.h5" ] && ok "no ensemble written on refusal" || not_ok "a refused merge wrote a file"

# 5. a stranger's ensemble: an unknown combine or a bad prior is exit 3
if [ -n "${PYTHON3:-}" ] && "$PYTHON3" -c 'import h5py' 2>/dev/null; then
    cp "$T/post.h5" "$T/bad.h5"
    "$PYTHON3" -c 'import h5py, sys
with h5py.File(sys.argv[1], "r+") as h: h.attrs["combine"] = "geometric"' "$T/bad.h5"
    expect_exit 3 "an ensemble with combine = geometric" -- run 1 -- eval "$T/bad.h5" $ev
    expect_grep "combine = 'geometric'" "$T/err" "the message names the attribute and value"
    expect_grep "bad.h5" "$T/err" "and the file"
    cp "$T/post.h5" "$T/bad.h5"
    "$PYTHON3" -c 'import h5py, sys
with h5py.File(sys.argv[1], "r+") as h: h["member_002"].attrs["prior"] = -1.0' "$T/bad.h5"
    expect_exit 3 "an ensemble with a negative prior" -- run 1 -- eval "$T/bad.h5" $ev
    expect_grep "member_002 attribute prior" "$T/err" "the message names the member"
    cp "$T/post.h5" "$T/old.h5"
    "$PYTHON3" -c 'import h5py, sys
with h5py.File(sys.argv[1], "r+") as h:
    del h.attrs["combine"]
    for g in ("member_001", "member_002"): del h[g].attrs["prior"]' "$T/old.h5"
    expect_exit 0 "an older ensemble without combine and priors" -- run 1 -- eval "$T/old.h5" $ev --output "$T/old.csv"
    expect_grep "combine = mean-logits" "$T/out" "reads as mean-logits"
    run 1 -- merge --output "$T/ml.h5" "$A" "$B" >/dev/null 2>&1
    run 1 -- eval "$T/ml.h5" $ev --output "$T/ml.csv" >/dev/null 2>&1
    cmp -s "$T/old.csv" "$T/ml.csv" && ok "with uniform priors, like a new mean-logits merge" || not_ok "old file reads differently"
else
    ok "# SKIP no h5py"
fi
finish
