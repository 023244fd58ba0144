#!/bin/sh
# tokenizer.sh -- tokenizers as reusable artefacts: `strata tokenizer learn`
# from English + Russian, `tokenizer show`, `prepare --tokenizer` on several
# corpora (same content hash, byte-fallback rate stored and higher for text
# the tokenizer never saw), a growth run on the second corpus with
# data.tokenizer whose checkpoint evaluates on the first dataset, and the
# refusals (existing output, output = input, a file without a tokenizer).
. "$top_srcdir/tests/lib.sh"

MPIRUN=${MPIRUN:-mpirun}
H5DUMP=${H5DUMP:-h5dump}
moby=$top_srcdir/tests/data/moby-60k.txt
# attr FILE PATH: the value of one attribute, as h5dump prints it
attr() { "$H5DUMP" -a "$2" "$1" 2>/dev/null | sed -n 's/^ *(0): *//p' | tr -d '"'; }
sum() { sha256sum "$1" | cut -d' ' -f1; }

# Corpora written here: Russian (a pangram, ~8 kB) and Chinese (~6 kB), which
# the tokenizer below never sees.
awk 'BEGIN { for (i = 0; i < 80; i++) printf "Съешь же ещё этих мягких французских булок, да выпей чаю. Строка %d.\n", i }' >"$T/ru.txt"
awk 'BEGIN { for (i = 0; i < 150; i++) printf "我能吞下玻璃而不伤身体。天地玄黄，宇宙洪荒。\n" }' >"$T/zh.txt"
SET="--set tokenizer.vocab_size=600 --set tokenizer.ngrams=120"

# 1. learn from two corpora, a sample of each
expect_exit 0 "tokenizer learn from English + Russian" -- run 1 -- tokenizer learn --output "$T/tok.h5" $SET --sample-bytes 30000 "$moby" "$T/ru.txt"
[ "$(attr "$T/tok.h5" /kind)" = tokenizer ] && ok "the file's root kind is tokenizer" || not_ok "root kind is '$(attr "$T/tok.h5" /kind)'"
hash=$(attr "$T/tok.h5" /tokenizer/sha256)
echo "$hash" | grep -q '^[0-9a-f]\{64\}$' && ok "/tokenizer has a sha256 attribute" || not_ok "sha256 attribute '$hash'"
"$H5DUMP" -d /sources "$T/tok.h5" >"$T/sources" 2>&1
expect_grep "30[0-9][0-9][0-9].*moby-60k.txt" "$T/sources" "/sources records the sample of each file"
expect_grep "ru.txt" "$T/sources" "/sources names the Russian corpus"
expect_exit 0 "tokenizer learn on 3 ranks" -- run 3 -- tokenizer learn --output "$T/tok3.h5" $SET --sample-bytes 30000 "$moby" "$T/ru.txt"
[ "$(attr "$T/tok3.h5" /tokenizer/sha256)" = "$hash" ] && ok "the tokenizer does not depend on the rank count" || not_ok "3 ranks learned $(attr "$T/tok3.h5" /tokenizer/sha256)"

# 2. show
expect_exit 0 "tokenizer show" -- run 1 -- tokenizer show --ngrams 5 "$T/tok.h5"
cp "$T/out" "$T/show"
expect_grep "mode compact, vocabulary [0-9]* ids" "$T/show" "show prints mode and vocabulary size"
expect_grep "sha256 $hash" "$T/show" "show prints the stored hash"
expect_grep "ids: 3 special, 256 byte, [0-9]* char, 120 n-gram, 0 unused" "$T/show" "show counts each kind of id"
awk '/vocabulary/ { v = $4 } /ids:/ { s = $2 + $4 + $6 + $8 + $10 } END { exit !(v > 379 && v == s) }' "$T/show" &&
    ok "the kinds add up to the vocabulary size" || not_ok "kinds do not add up"
[ "$(grep -c "count [0-9]" "$T/show")" -eq 5 ] && ok "show lists the first 5 n-grams" || not_ok "show lists $(grep -c "count [0-9]" "$T/show") n-grams"
run 1 -- tokenizer show --ngrams 120 "$T/tok.h5" >"$T/all" 2>&1
expect_grep "'[^']*\(ешь\|ких\|булок\|ранц\)[^']*'  count" "$T/all" "Russian n-grams were learned beside English ones"
expect_exit 0 "inspect a tokenizer file" -- run 1 -- inspect "$T/tok.h5"
expect_grep "sha256 $hash" "$T/out" "inspect prints the tokenizer's hash"
expect_exit 2 "tokenizer without learn/show is bad usage" -- run 1 -- tokenizer
expect_exit 3 "show of a file without a tokenizer" -- run 1 -- tokenizer show "$T/ru.txt"

# 3. the output guard
before=$(sum "$T/tok.h5")
expect_exit 2 "learn refuses to overwrite without --force" -- run 1 -- tokenizer learn --output "$T/tok.h5" $SET "$T/ru.txt"
expect_grep "force" "$T/err" "the refusal names --force"
[ "$(sum "$T/tok.h5")" = "$before" ] && ok "the existing tokenizer file is untouched" || not_ok "the refused learn changed the file"
expect_exit 2 "learn refuses output = input, even with --force" -- run 1 -- tokenizer learn --force --output "$T/ru.txt" $SET "$T/ru.txt"
expect_exit 0 "learn --force replaces the file" -- run 1 -- tokenizer learn --force --output "$T/tok2.h5" $SET "$T/ru.txt"

# 4. prepare with the tokenizer: one hash for every corpus
expect_exit 0 "prepare --tokenizer on English" -- run 1 -- prepare --set data.ctx=16 --tokenizer "$T/tok.h5" --output "$T/en.h5" "$moby"
expect_grep "byte fallback: .*% of the .* text tokens are byte tokens" "$T/err" "prepare logs the byte-fallback rate"
expect_exit 0 "prepare --tokenizer on Chinese (2 ranks)" -- run 2 -- prepare --set data.ctx=16 --tokenizer "$T/tok.h5" --output "$T/zh.h5" "$T/zh.txt"
expect_exit 0 "prepare --tokenizer on Chinese (1 rank)" -- run 1 -- prepare --set data.ctx=16 --tokenizer "$T/tok.h5" --output "$T/zh1.h5" "$T/zh.txt"
"$H5DUMP" -g /chunks "$T/zh.h5" | tail -n +2 >"$T/zh.dump"
"$H5DUMP" -g /chunks "$T/zh1.h5" | tail -n +2 >"$T/zh1.dump"
[ -s "$T/zh.dump" ] && cmp -s "$T/zh.dump" "$T/zh1.dump" && ok "the chunks do not depend on the rank count" || not_ok "1- and 2-rank chunks differ"
[ "$(attr "$T/en.h5" /tokenizer/sha256)" = "$hash" ] && [ "$(attr "$T/zh.h5" /tokenizer/sha256)" = "$hash" ] &&
    ok "both datasets carry the tokenizer's hash" || not_ok "dataset hashes differ from $hash"
[ "$(attr "$T/en.h5" /corpus/tokenizer_source)" = "$T/tok.h5" ] && ok "/corpus tokenizer_source names the file" || not_ok "tokenizer_source '$(attr "$T/en.h5" /corpus/tokenizer_source)'"
en_rate=$(attr "$T/en.h5" /corpus/byte_fallback_rate)
zh_rate=$(attr "$T/zh.h5" /corpus/byte_fallback_rate)
echo "# byte_fallback_rate: English $en_rate, Chinese $zh_rate"
[ -n "$en_rate" ] && [ -n "$zh_rate" ] && ok "the byte-fallback rate is stored" || not_ok "no byte_fallback_rate attribute"
awk -v e="$en_rate" -v z="$zh_rate" 'BEGIN { exit !(e != "" && z != "" && e < 0.01 && z > 0.5) }' &&
    ok "unseen Chinese falls back to bytes far more than English" || not_ok "rates English $en_rate, Chinese $zh_rate"
"$H5DUMP" -d /config "$T/en.h5" >"$T/config" 2>&1
expect_grep "tokenizer = $T/tok.h5" "$T/config" "/config records data.tokenizer"
expect_exit 0 "prepare takes the tokenizer of a dataset too" -- run 1 -- prepare --set data.ctx=16 --tokenizer "$T/en.h5" --output "$T/zh2.h5" "$T/zh.txt"
[ "$(attr "$T/zh2.h5" /tokenizer/sha256)" = "$hash" ] && ok "the hash survives a second hand" || not_ok "hash changed through a dataset"
expect_exit 3 "prepare --tokenizer of a file without a tokenizer" -- run 1 -- prepare --set data.ctx=16 --tokenizer "$T/ru.txt" --output "$T/bad.h5" "$moby"
expect_grep "ru.txt" "$T/err" "the refusal names the file"
expect_exit 2 "prepare refuses output = the tokenizer file" -- run 1 -- prepare --force --set data.ctx=16 --tokenizer "$T/tok.h5" --output "$T/tok.h5" "$moby"
[ "$(sum "$T/tok.h5")" = "$before" ] && ok "the tokenizer file is untouched" || not_ok "prepare overwrote the tokenizer file"

# 5. a model grown on the Russian corpus with data.tokenizer evaluates on the
#    English dataset (before tokenizer files this exited 3)
#    on a substrate built from the tokenizer file itself (one for every corpus)
tiny_config "$T/tiny.ini"
cfg="--config $T/tiny.ini $SET --set model.n_layers=1 --set run.name=ru --set data.corpus=$T/ru.txt --set data.dataset=$T/ru.h5 --set substrate.file=$T/sub-tok.h5"
expect_exit 0 "substrate from the tokenizer file" -- run 1 -- substrate $cfg --dataset "$T/tok.h5"
expect_exit 0 "grow on the Russian corpus with data.tokenizer" -- run 1 -- grow $cfg --set data.tokenizer="$T/tok.h5"
[ "$(attr "$T/ru.h5" /tokenizer/sha256)" = "$hash" ] && ok "grow's dataset uses the tokenizer file" || not_ok "grow's dataset has hash $(attr "$T/ru.h5" /tokenizer/sha256)"
expect_exit 0 "eval of the Russian model on the English dataset" -- run 1 -- eval "$T/ck/ru/stage-001.h5" --dataset "$T/en.h5" --max-chunks 12
expect_grep "en.h5" "$T/out" "eval reports the English dataset"
# the same corpus with a tokenizer learned from it alone is refused, naming both
expect_exit 0 "prepare English with its own tokenizer" -- run 1 -- prepare --set data.ctx=16 $SET --output "$T/en-own.h5" "$moby"
expect_exit 3 "eval on a dataset with another tokenizer is refused" -- run 1 -- eval "$T/ck/ru/stage-001.h5" --dataset "$T/en-own.h5" --max-chunks 12
expect_grep "stage-001.h5' (tokenizer $(echo "$hash" | cut -c1-16)...) and '$T/en-own.h5' (tokenizer [0-9a-f]\{16\}...) do not share the tokenizer" "$T/err" "the refusal names both files and both hashes"

finish
