#!/bin/sh
# eval.sh -- `strata eval`, `strata generate` and `strata merge` on a tiny
# grown model: eval reproduces grow's /metrics/depth, the logit lens at every
# depth, rank-count independence, seeded generation, ensembles (one member
# equals its checkpoint), and bad input with its exit codes.
. "$top_srcdir/tests/lib.sh"

MPIRUN=${MPIRUN:-mpirun}
tiny_config "$T/tiny.ini"
cfg="--config $T/tiny.ini"
ck=$T/ck/a/stage-003.h5
# csv_col FILE ROW COLUMN: one value of a CSV with a header line
csv_col() { awk -F, -v r="$2" -v want="$3" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == want) c = i; next } NR == r + 1 { print $c }' "$1"; }
# ens_rows FILE WHO: the rows of member WHO (1, 2, ... or ensemble) of an
# ensemble's CSV, as a checkpoint's CSV (header included, member column cut)
# (the standard columns only: the probe and task columns are the ensemble's)
ens_rows() { echo "depth,val_loss,val_bits_per_char,val_top1,val_tokens"; grep "^$2," "$1" | cut -d, -f2-6; }
# same_std FILE: stdin equals the standard columns of FILE
same_std() { cut -d, -f1-5 "$1" >"$T/std.csv"; cmp -s - "$T/std.csv"; }
# rel_close A B TOL: |A - B| <= TOL |B|
rel_close() { awk -v a="$1" -v b="$2" -v t="$3" 'BEGIN { d = a - b; if (d < 0) d = -d; m = b < 0 ? -b : b; exit !(a != "" && d <= t * m) }'; }

expect_exit 0 "grow a 3-block model on 2 ranks" -- run 2 -- grow $cfg --set run.name=a
"$STRATA" metrics "$ck" >"$T/depth.csv"

# 1. eval at the final depth on the run's validation split, with as many
#    chunks as grow evaluates (eval.batches x train.batch = 12), reproduces
#    /metrics/depth val_loss and val_bits_per_char of stage 3.
for np in 1 2 3; do
    expect_exit 0 "eval on $np rank(s)" -- run $np -- eval "$ck" --max-chunks 12 --output "$T/e$np.csv"
done
want=$(csv_col "$T/depth.csv" 3 val_loss)
got=$(csv_col "$T/e2.csv" 3 val_loss)
echo "# grow val_loss $want, eval loss $got"
rel_close "$got" "$want" 1e-6 && ok "eval reproduces grow's depth-3 val_loss (1e-6 relative)" || not_ok "eval loss $got != grow $want"
rel_close "$(csv_col "$T/e2.csv" 3 val_bits_per_char)" "$(csv_col "$T/depth.csv" 3 val_bits_per_char)" 1e-6 &&
    ok "eval reproduces grow's depth-3 bits per char" || not_ok "bits per char differ"
[ "$(csv_col "$T/e2.csv" 3 val_top1)" = "$(csv_col "$T/depth.csv" 3 val_top1)" ] && ok "eval reproduces grow's top-1" || not_ok "top-1 differs"
rel_close "$(csv_col "$T/e1.csv" 3 val_loss)" "$(csv_col "$T/e3.csv" 3 val_loss)" 1e-6 && ok "1 and 3 ranks agree" || not_ok "1 and 3 ranks differ"
[ "$(sed 1d "$T/e1.csv" | cut -d, -f1 | tr '\n' ' ')" = "1 2 3 " ] && ok "CSV has one row per depth 1..3" || not_ok "CSV depths"
[ "$(head -1 "$T/e1.csv")" = "depth,val_loss,val_bits_per_char,val_top1,val_tokens,induction_gain,induction_loss_first,induction_loss_second" ] && ok "CSV header" || not_ok "CSV header"
[ "$(csv_col "$T/e1.csv" 1 val_tokens)" = "192" ] && ok "12 chunks x 16 positions evaluated" || not_ok "token count $(csv_col "$T/e1.csv" 1 val_tokens)"
# logit lens: the lower depths use the final head on earlier blocks, so they
# differ from the stage rows, and are worse than the full model here
l1=$(csv_col "$T/e1.csv" 1 val_loss)
l3=$(csv_col "$T/e1.csv" 3 val_loss)
awk -v a="$l1" -v b="$l3" 'BEGIN { exit !(a > b) }' && ok "logit lens: depth 1 ($l1) worse than depth 3 ($l3)" || not_ok "depth 1 $l1 not worse than depth 3 $l3"
expect_exit 0 "eval --depth 2" -- run 1 -- eval "$ck" --max-chunks 12 --depth 2 --output "$T/d2.csv"
head -3 "$T/e1.csv" | cmp -s - "$T/d2.csv" && ok "--depth 2 gives the first two rows" || not_ok "--depth 2 rows differ"
expect_grep "bits/char" "$T/out" "eval prints a table"
expect_exit 0 "eval the training split" -- run 2 -- eval "$ck" --split train --max-chunks 30
expect_exit 0 "eval all chunks, batch 7" -- run 1 -- eval "$ck" --split all --max-chunks 20 --batch 7 --output "$T/all.csv"
[ "$(csv_col "$T/all.csv" 3 all_tokens)" = "320" ] && ok "--split all --max-chunks 20: 320 positions" || not_ok "all split tokens"
[ "$(head -1 "$T/all.csv")" = "depth,all_loss,all_bits_per_char,all_top1,all_tokens,induction_gain,induction_loss_first,induction_loss_second" ] && ok "CSV header of --split all" || not_ok "CSV header of --split all"

# Another context length (the same corpus and tokenizer settings give the
# same tokenizer): rotary positions extend to 32 tokens.
expect_exit 0 "prepare the corpus again with ctx 32" -- run 1 -- prepare $cfg --set data.ctx=32 --set data.dataset="$T/ctx32.h5"
expect_exit 0 "eval on chunks of 32 tokens" -- run 2 -- eval "$ck" --dataset "$T/ctx32.h5" --max-chunks 6 --output "$T/c32.csv"
[ "$(csv_col "$T/c32.csv" 3 val_tokens)" = "192" ] && ok "6 chunks x 32 positions evaluated" || not_ok "ctx 32 token count"

# 2. A mid-stage checkpoint holding LoRA adapters loads (adapters merged).
STRATA_TEST_STOP_AT_STEP=17 run 1 -- grow $cfg --set run.name=lora --set grow.lora_from_depth=2 --set grow.lora_rank=2 >/dev/null 2>&1
expect_exit 0 "eval a mid-stage checkpoint with LoRA adapters" -- run 1 -- eval "$T/ck/lora/step-00000017.h5" --max-chunks 6

# 3. generate: seeded, deterministic, rank-independent; greedy at T = 0.
gen() { run "$@" 2>/dev/null; }
gen 1 -- generate "$ck" --prompt "Call me" --tokens 40 --seed 5 >"$T/g1"
gen 1 -- generate "$ck" --prompt "Call me" --tokens 40 --seed 5 >"$T/g2"
gen 2 -- generate "$ck" --prompt "Call me" --tokens 40 --seed 5 >"$T/g3"
gen 1 -- generate "$ck" --prompt "Call me" --tokens 40 --seed 6 >"$T/g4"
[ -s "$T/g1" ] && cmp -s "$T/g1" "$T/g2" && ok "same seed, same text" || not_ok "same seed gave different text"
cmp -s "$T/g1" "$T/g3" && ok "2 ranks print the same text once" || not_ok "2 ranks differ"
cmp -s "$T/g1" "$T/g4" && not_ok "another seed gave the same text" || ok "another seed, another text"
case "$(head -c 7 "$T/g1")" in "Call me") ok "output starts with the prompt" ;; *) not_ok "prompt missing" ;; esac
[ "$(wc -c <"$T/g1")" -gt 30 ] && ok "a continuation was generated" || not_ok "short output"
gen 1 -- generate "$ck" --prompt "The whale" --tokens 20 --temperature 0 --seed 1 >"$T/gr1"
gen 1 -- generate "$ck" --prompt "The whale" --tokens 20 --temperature 0 --seed 2 >"$T/gr2"
[ -s "$T/gr1" ] && cmp -s "$T/gr1" "$T/gr2" && ok "greedy ignores the seed" || not_ok "greedy depends on the seed"
expect_exit 0 "generate at depth 1 from an empty prompt" -- run 1 -- generate "$ck" --depth 1 --tokens 10 --top-k 5
# A prompt far longer than the context (100k characters, ctx 16): a sliding
# window over its last data.ctx tokens, so it finishes at once.
head -c 100000 "$top_srcdir/tests/data/moby-60k.txt" >"$T/long"
head -c 40000 "$top_srcdir/tests/data/moby-60k.txt" >>"$T/long"
expect_exit 0 "generate from a 100k-character prompt" -- timeout 60 "$STRATA" generate "$ck" --prompt "$(cat "$T/long")" --tokens 5 --seed 3
expect_grep "using its last 16" "$T/err" "the prompt is cut to the context, with a warning"
head -c "$(wc -c <"$T/long")" "$T/out" | cmp -s - "$T/long" &&
    ok "the output still starts with the whole prompt" || not_ok "the prompt is not echoed whole"

# 4. merge: one member equals its checkpoint; the same member twice too
#    (mean of equal logits); two different members form a new model.
expect_exit 0 "merge one checkpoint" -- run 2 -- merge --output "$T/ens1.h5" "$ck"
expect_exit 0 "inspect sees an ensemble" -- "$STRATA" inspect "$T/ens1.h5"
expect_grep "ensemble" "$T/out" "the file's kind is ensemble"
expect_exit 0 "eval the one-member ensemble" -- run 1 -- eval "$T/ens1.h5" --max-chunks 12 --output "$T/ens1.csv"
ens_rows "$T/ens1.csv" ensemble | same_std "$T/e1.csv" && ok "one-member ensemble evaluates bitwise like its checkpoint" || not_ok "ensemble of one differs"
ens_rows "$T/ens1.csv" 1 | same_std "$T/e1.csv" && ok "its member row is the checkpoint too" || not_ok "member row of one differs"
gen 1 -- generate "$T/ens1.h5" --prompt "Call me" --tokens 40 --seed 5 >"$T/ge1"
cmp -s "$T/ge1" "$T/g1" && ok "one-member ensemble generates the same text" || not_ok "ensemble generation differs"
expect_exit 0 "merge a checkpoint with itself" -- run 1 -- merge --output "$T/ensAA.h5" "$ck" "$ck"
run 1 -- eval "$T/ensAA.h5" --max-chunks 12 --output "$T/ensAA.csv" >/dev/null 2>&1
ens_rows "$T/ensAA.csv" ensemble | same_std "$T/e1.csv" && ok "mean of two equal members' logits equals the member" || not_ok "A+A ensemble differs"
expect_exit 0 "merge stage 3 and stage 2 (and an ensemble, flattened)" -- run 1 -- merge --output "$T/ens2.h5" "$ck" "$T/ck/a/stage-002.h5" "$T/ens1.h5"
expect_exit 0 "eval the 3-member ensemble" -- run 2 -- eval "$T/ens2.h5" --max-chunks 12 --output "$T/ens2.csv"
[ "$(grep -c '^ensemble,' "$T/ens2.csv")" -eq 3 ] && ok "the ensemble's depth is its deepest member's (3)" || not_ok "ensemble depth"
ens_rows "$T/ens2.csv" ensemble | same_std "$T/d2.csv" && not_ok "ensemble equals a member" || ok "the ensemble is a different model"
expect_exit 2 "eval an ensemble beyond its depth" -- run 1 -- eval "$T/ens2.h5" --depth 4
expect_grep "largest depth is 3" "$T/err" "the message names the limit"
expect_exit 0 "generate from an ensemble" -- run 1 -- generate "$T/ens2.h5" --prompt "Call" --tokens 10

# 5. Models that do not belong together.
#    A trainable table (the model's own embedding) evaluates like grow too.
expect_exit 0 "grow a model with a trainable table" -- run 1 -- grow $cfg --set run.name=tr --set model.n_layers=1 --set substrate.kind=trainable --set substrate.file="$T/sub-tr.h5"
"$STRATA" metrics "$T/ck/tr/stage-001.h5" >"$T/tr-depth.csv"
run 2 -- eval "$T/ck/tr/stage-001.h5" --max-chunks 12 --output "$T/tr.csv" >/dev/null 2>&1
rel_close "$(csv_col "$T/tr.csv" 1 val_loss)" "$(csv_col "$T/tr-depth.csv" 1 val_loss)" 1e-6 &&
    ok "trainable table: eval reproduces grow's val_loss" || not_ok "trainable table: eval differs from grow"
expect_exit 3 "merge refuses different substrates" -- run 1 -- merge --output "$T/bad.h5" "$ck" "$T/ck/tr/stage-001.h5"
expect_grep "do not share the substrate" "$T/err" "the refusal says what differs"
expect_grep "tr/stage-001.h5" "$T/err" "the refusal names the file"
[ ! -e "$T/bad.h5" ] && ! ls "$T" | grep -q 'bad.h5.tmp' && ok "no ensemble file written on refusal" || not_ok "refused merge left a file"
expect_exit 0 "grow a model with another tokenizer" -- run 1 -- grow $cfg --set run.name=tok --set model.n_layers=1 --set tokenizer.vocab_size=300 --set data.dataset="$T/data300.h5" --set substrate.file="$T/sub300.h5"
expect_exit 3 "merge refuses different tokenizers" -- run 1 -- merge --output "$T/bad.h5" "$ck" "$T/ck/tok/stage-001.h5"
expect_grep "do not share the tokenizer" "$T/err" "the refusal names the tokenizer"
expect_exit 3 "eval on a dataset with another tokenizer" -- run 2 -- eval "$ck" --dataset "$T/data300.h5"
expect_grep "do not share the tokenizer" "$T/err" "the refusal explains the dataset mismatch"
expect_grep "data300.h5' (tokenizer [0-9a-f]\{16\}" "$T/err" "the refusal names the dataset and its tokenizer hash"

# 6. Bad input.
expect_exit 3 "missing checkpoint" -- run 1 -- eval "$T/nothere.h5"
expect_grep "nothere.h5" "$T/err" "the message names the missing file"
expect_exit 3 "a dataset is not a checkpoint" -- run 1 -- eval "$T/data.h5"
expect_grep "not a checkpoint" "$T/err" "the message says what the file is"
head -c 5000 "$ck" >"$T/trunc.h5"
expect_exit 3 "truncated checkpoint" -- run 1 -- generate "$T/trunc.h5"
echo "not hdf5" >"$T/text.h5"
expect_exit 3 "a text file is not a checkpoint" -- run 2 -- merge --output "$T/bad.h5" "$T/text.h5"
expect_exit 2 "eval --depth beyond the model" -- run 2 -- eval "$ck" --depth 4
expect_grep "has 3 blocks" "$T/err" "the message names the limit"
expect_exit 2 "generate --depth beyond the model" -- run 1 -- generate "$ck" --depth 7
expect_exit 2 "bad --split" -- run 1 -- eval "$ck" --split test
expect_exit 2 "non-numeric --tokens" -- run 1 -- generate "$ck" --tokens many
expect_exit 2 "negative --temperature" -- run 1 -- generate "$ck" --temperature -1
expect_exit 2 "merge without --output" -- "$STRATA" merge "$ck"
expect_exit 2 "eval without a checkpoint" -- "$STRATA" eval
finish
