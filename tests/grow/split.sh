#!/bin/sh
# split.sh -- data.split = tail and data.test in a growth run: the dataset
# records its split rule and a later start cannot change it silently; a test
# set (text, or a dataset with the run's tokenizer) fills test_loss,
# test_bits_per_char, test_top1 of /metrics/depth; another tokenizer is
# refused with exit 3.
. "$top_srcdir/tests/lib.sh"

H5DUMP=${H5DUMP:-h5dump}
tiny_config "$T/tiny.ini"
cfg="--config $T/tiny.ini --set data.dataset=$T/tail.h5 --set model.n_layers=1 --set grow.steps=3"
tail -c 6000 "$top_srcdir/tests/data/moby-60k.txt" >"$T/test.txt"

# 1. A run on a tail split with a text test set.
expect_exit 0 "grow with data.split = tail and a text data.test" -- \
    run 2 -- grow $cfg --set run.name=t --set data.split=tail --set data.test="$T/test.txt"
expect_exit 0 "inspect the dataset" -- "$STRATA" inspect "$T/tail.h5"
expect_grep "rule tail" "$T/out" "the dataset records the tail rule"
"$STRATA" metrics "$T/ck/t/stage-001.h5" >"$T/depth.csv"
expect_grep "test_loss,test_bits_per_char,test_top1" "$T/depth.csv" "/metrics/depth has the test columns"
tl=$(dcol "$T/ck/t/stage-001.h5" test_loss)
tb=$(dcol "$T/ck/t/stage-001.h5" test_bits_per_char)
awk -v l="$tl" -v b="$tb" 'BEGIN { exit !(l > 0 && l < 10 && b > 0 && b < 12) }' &&
    ok "test_loss $tl nats/token, test_bits_per_char $tb" || not_ok "test values '$tl' '$tb'"
"$H5DUMP" -a /metrics/depth/test_bits_per_char/units "$T/ck/t/stage-001.h5" 2>/dev/null | grep -q "bits/char" &&
    ok "test_bits_per_char has units" || not_ok "no units on test_bits_per_char"
grep '"type": "stage"' "$T/ck/t/metrics.jsonl" | grep -q '"test_loss"' && ok "metrics.jsonl's stage record has test_loss" ||
    not_ok "no test_loss in metrics.jsonl"

# 2. The same test set as a prepared dataset with the run's tokenizer: the
#    same numbers, bit for bit.
expect_exit 0 "prepare the test set with the run's tokenizer" -- \
    run 1 -- prepare $cfg --tokenizer "$T/tail.h5" --set data.val_fraction=0 --output "$T/test.h5" "$T/test.txt"
expect_exit 0 "grow with a dataset as data.test" -- \
    run 2 -- grow $cfg --set run.name=u --set data.split=tail --set data.test="$T/test.h5"
[ "$(dcol "$T/ck/u/stage-001.h5" test_loss)" = "$tl" ] && ok "text and dataset test sets give the same test_loss" ||
    not_ok "test_loss $(dcol "$T/ck/u/stage-001.h5" test_loss) vs $tl"

# 3. The split rule cannot change under a run: the dataset's wins, loudly,
#    and /config records it.
expect_exit 0 "grow deeper asking for a random split" -- \
    run 1 -- grow $cfg --set run.name=t --set data.split=random --set model.n_layers=2 --set data.test="$T/test.txt"
expect_grep "exists with a tail split, so data.split = random cannot apply" "$T/err" "the run says the dataset's rule wins"
"$H5DUMP" -d /config "$T/ck/t/stage-002.h5" 2>/dev/null | grep -q "split = tail" && ok "/config records split = tail" ||
    not_ok "/config does not say split = tail"

# 4. A test set with another tokenizer is refused, naming both files.
expect_exit 0 "a dataset with its own tokenizer" -- \
    run 1 -- prepare $cfg --set tokenizer.vocab_size=300 --output "$T/other.h5" "$T/test.txt"
expect_exit 3 "data.test with another tokenizer is refused" -- \
    run 1 -- grow $cfg --set run.name=v --set data.test="$T/other.h5"
expect_grep "other.h5' (data.test) has another tokenizer than dataset '$T/tail.h5'" "$T/err" "naming both files"
finish
