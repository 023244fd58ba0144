#!/bin/sh
# tasks.sh -- `strata tasks cloze`, the probes and the multiple-choice tasks
# at every depth: the cloze file is deterministic from its seed and its
# items come from the corpus; a growth run with eval.tasks has the induction
# and task columns in /metrics/depth at every stage; `strata eval --task
# --per-position` reproduces them and writes the curve, the same on 1 and 2
# ranks; a bad task line is exit 3 naming the file and the line.
. "$top_srcdir/tests/lib.sh"

PY=/usr/bin/python3
tiny_config "$T/tiny.ini"
cfg="--config $T/tiny.ini"
ck=$T/ck/a/stage-003.h5
csv_col() { awk -F, -v r="$2" -v want="$3" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == want) c = i; next } NR == r + 1 { print $c }' "$1"; }
rel_close() { awk -v a="$1" -v b="$2" -v t="$3" 'BEGIN { d = a - b; if (d < 0) d = -d; m = b < 0 ? -b : b; exit !(a != "" && d <= t * m) }'; }

# 1. the cloze builder, from the same corpus prepared with longer chunks and
#    a larger validation split (the same tokenizer), so whole sentences fit
expect_exit 0 "prepare the corpus with ctx 128" -- run 1 -- prepare $cfg --set data.ctx=128 --set data.val_fraction=0.3 --set data.dataset="$T/c128.h5"
expect_exit 0 "tasks cloze, seed 1" -- run 1 -- tasks cloze --dataset "$T/c128.h5" --output "$T/cloze.jsonl" --n 40 --seed 1
expect_grep "cloze items" "$T/out" "cloze reports what it wrote"
expect_exit 0 "the same on 2 ranks" -- run 2 -- tasks cloze --dataset "$T/c128.h5" --output "$T/again.jsonl" --n 40 --seed 1
cmp -s "$T/cloze.jsonl" "$T/again.jsonl" && ok "same seed, same file" || not_ok "same seed gave another file"
expect_exit 0 "tasks cloze, seed 2" -- run 1 -- tasks cloze --dataset "$T/c128.h5" --output "$T/other.jsonl" --n 40 --seed 2
cmp -s "$T/cloze.jsonl" "$T/other.jsonl" && not_ok "another seed gave the same file" || ok "another seed, another file"
expect_exit 2 "an existing output without --force" -- run 1 -- tasks cloze --dataset "$T/c128.h5" --output "$T/other.jsonl"
expect_exit 0 "with --force" -- run 1 -- tasks cloze --dataset "$T/c128.h5" --output "$T/other.jsonl" --n 40 --seed 2 --force
expect_exit 2 "the dataset as output" -- run 1 -- tasks cloze --dataset "$T/c128.h5" --output "$T/c128.h5" --force
expect_exit 3 "a missing dataset" -- run 1 -- tasks cloze --dataset "$T/none.h5" --output "$T/x.jsonl"
# every item: 4 distinct choices, an answer in range, and context + answer is
# text of the corpus (the validation split decodes to it)
if $PY - "$T/cloze.jsonl" "$top_srcdir/tests/data/moby-60k.txt" >"$T/py" 2>&1 <<'PYEOF'
import json, sys
src = open(sys.argv[2], encoding="utf-8").read()
items = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
assert 20 <= len(items) <= 40, len(items)
for it in items:
    ch, a = it["choices"], it["answer"]
    assert len(ch) == 4 and len(set(c.lower() for c in ch)) == 4 and 0 <= a < 4, it
    assert all(c.startswith(" ") and len(c) > 1 for c in ch), it
    assert (it["context"] + ch[a]) in src, it
print(len(items), "items checked")
PYEOF
then ok "cloze items: 4 choices, the answer completes a sentence of the corpus ($(cat "$T/py"))"; else
    not_ok "cloze items"; sed 's/^/# /' "$T/py" | tail -5
fi

# 2. grow with eval.tasks: probe and task columns at every stage
expect_exit 0 "grow 3 blocks on 2 ranks with eval.tasks" -- run 2 -- grow $cfg --set run.name=a --set eval.tasks="$T/cloze.jsonl"
"$STRATA" metrics "$ck" >"$T/depth.csv"
for c in induction_gain induction_loss_first induction_loss_second task_cloze_acc task_cloze_acc_se task_cloze_acc_char task_cloze_acc_char_se; do
    n=0
    for r in 1 2 3; do [ -n "$(csv_col "$T/depth.csv" $r $c)" ] && n=$((n + 1)); done
    [ $n -eq 3 ] && ok "/metrics/depth has $c at every stage" || not_ok "$c at $n of 3 stages"
done
acc=$(csv_col "$T/depth.csv" 3 task_cloze_acc)
awk -v a="$acc" 'BEGIN { exit !(a >= 0 && a <= 1) }' && ok "task accuracy $acc in [0, 1]" || not_ok "accuracy $acc"

# 3. eval --task --per-position, 1 and 2 ranks
for np in 1 2; do
    expect_exit 0 "eval --task --per-position on $np rank(s)" -- run $np -- eval "$ck" --max-chunks 12 --task "$T/cloze.jsonl" --per-position "$T/pp$np.csv" --output "$T/e$np.csv"
done
expect_grep "induction probe" "$T/out" "eval prints the induction probe"
expect_grep "task cloze" "$T/out" "eval prints the task"
[ "$(head -1 "$T/e1.csv")" = "depth,val_loss,val_bits_per_char,val_top1,val_tokens,induction_gain,induction_loss_first,induction_loss_second,task_cloze_acc,task_cloze_acc_se,task_cloze_acc_char,task_cloze_acc_char_se" ] &&
    ok "eval CSV header has the probe and task columns" || not_ok "eval CSV header: $(head -1 "$T/e1.csv")"
for c in task_cloze_acc task_cloze_acc_char; do
    for r in 1 2 3; do
        [ "$(csv_col "$T/e1.csv" $r $c)" = "$(csv_col "$T/e2.csv" $r $c)" ] || not_ok "$c depth $r differs between 1 and 2 ranks"
    done
    [ "$(csv_col "$T/e1.csv" 3 $c)" = "$(csv_col "$T/depth.csv" 3 $c)" ] && ok "eval reproduces grow's depth-3 $c" ||
        not_ok "eval $c $(csv_col "$T/e1.csv" 3 $c) != grow $(csv_col "$T/depth.csv" 3 $c)"
done
# (float32 forward passes of other batch shapes round differently: 1e-6)
for c in induction_loss_first induction_loss_second; do
    rel_close "$(csv_col "$T/e1.csv" 2 $c)" "$(csv_col "$T/e2.csv" 2 $c)" 1e-6 &&
        ok "$c the same on 1 and 2 ranks" || not_ok "$c differs between rank counts"
done
rel_close "$(csv_col "$T/e2.csv" 3 induction_loss_second)" "$(csv_col "$T/depth.csv" 3 induction_loss_second)" 1e-9 &&
    ok "eval reproduces grow's depth-3 induction loss" || not_ok "induction loss differs from grow's"
[ "$(head -1 "$T/pp1.csv")" = "depth,position,loss,tokens" ] && ok "per-position header" || not_ok "per-position header"
[ "$(sed 1d "$T/pp1.csv" | wc -l)" -eq 48 ] && ok "per-position: 3 depths x 16 positions" || not_ok "per-position rows $(wc -l <"$T/pp1.csv")"
[ "$(csv_col "$T/pp1.csv" 20 depth),$(csv_col "$T/pp1.csv" 20 position),$(csv_col "$T/pp1.csv" 20 tokens)" = "2,3,12" ] &&
    ok "per-position row 20 is depth 2, position 3, 12 chunks" || not_ok "per-position row 20: $(sed -n 21p "$T/pp1.csv")"
# the mean over positions is the loss of the depth
m=$(awk -F, 'NR > 1 && $1 == 3 { s += $3; n++ } END { printf "%.12g", s / n }' "$T/pp2.csv")
rel_close "$m" "$(csv_col "$T/e2.csv" 3 val_loss)" 1e-6 && ok "mean of the depth-3 curve is the depth-3 loss" || not_ok "curve mean $m"
rel_close "$(csv_col "$T/pp1.csv" 40 loss)" "$(csv_col "$T/pp2.csv" 40 loss)" 1e-6 && ok "per-position the same on 1 and 2 ranks" || not_ok "per-position differs"
expect_exit 2 "--per-position onto an existing file without --force" -- run 1 -- eval "$ck" --max-chunks 2 --per-position "$T/pp1.csv"
expect_exit 2 "--per-position onto a task file" -- run 1 -- eval "$ck" --max-chunks 2 --task "$T/cloze.jsonl" --per-position "$T/cloze.jsonl" --force

# 4. bad task files: exit 3 naming file and line, nothing written
printf '%s\n' '{"context": "a", "choices": [" b", " c"], "answer": 0}' '{"context": "a", "choices": [" b"], "answer": 0}' >"$T/bad.jsonl"
expect_exit 3 "eval with a bad task line" -- run 2 -- eval "$ck" --max-chunks 2 --task "$T/bad.jsonl" --output "$T/never.csv"
expect_grep "bad.jsonl:2: 1 choices" "$T/err" "the message names the file, the line and the problem"
[ ! -e "$T/never.csv" ] && ok "no output after a bad task" || not_ok "output written after a bad task"
expect_exit 3 "grow with a bad eval.tasks file" -- run 1 -- grow $cfg --set run.name=b --set eval.tasks="$T/bad.jsonl"
expect_grep "bad.jsonl:2:" "$T/err" "grow names the bad line"
finish
