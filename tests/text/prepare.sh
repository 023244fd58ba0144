#!/bin/sh
# prepare.sh -- `strata prepare` on 1 and 3 ranks: identical datasets, binary
# files skipped with a warning, existing outputs refused unless --force.
. "$top_srcdir/tests/lib.sh"

mkdir -p "$T/in/sub"
awk 'BEGIN { for (i = 0; i < 1500; i++) printf "line %d: the theory of there and then, Ωmega 日本語のテキスト x%d\n", i, i % 37 }' >"$T/in/a.txt"
awk 'BEGIN { for (i = 0; i < 700; i++) printf "Съешь же ещё этих мягких булок %d\r\n", i }' >"$T/in/sub/b.txt"
printf 'bad bytes \377\376 and a NUL \000 here\n' >"$T/in/sub/c.txt"
head -c 8192 /dev/zero >"$T/in/zeros.bin"
SET="--set data.ctx=32 --set tokenizer.vocab_size=600 --set tokenizer.ngrams=200"

expect_exit 0 "prepare on 1 rank" -- $MPIRUN -np 1 "$STRATA" prepare $SET --output "$T/one.h5" "$T/in"
expect_grep "zeros.bin" "$T/err" "the binary file is named in a warning"
expect_grep "1 binary skipped" "$T/err" "the summary counts the skipped binary file"
expect_exit 0 "prepare on 3 ranks" -- $MPIRUN -np 3 "$STRATA" prepare $SET --output "$T/three.h5" "$T/in"
[ -f "$T/one.h5" ] && [ -f "$T/three.h5" ] && ok "both outputs exist" || not_ok "both outputs exist"

if [ -n "${H5DUMP:-}" ]; then
    # everything but the root attributes (created_utc differs) and the file name line
    dump() { "$H5DUMP" -g /chunks -g /split -g /tokenizer -g /corpus "$1" | tail -n +2; }
    dump "$T/one.h5" >"$T/one.dump" && dump "$T/three.h5" >"$T/three.dump"
    if cmp -s "$T/one.dump" "$T/three.dump" && [ -s "$T/one.dump" ]; then
        ok "1-rank and 3-rank datasets are identical"
    else
        not_ok "1-rank and 3-rank datasets are identical"
        diff "$T/one.dump" "$T/three.dump" | head -20 | sed 's/^/# /'
    fi
    "$H5DUMP" -a /corpus/files_binary_skipped "$T/three.h5" >"$T/attr"
    expect_grep "(0): 1" "$T/attr" "files_binary_skipped = 1 is stored"
    "$H5DUMP" -a /corpus/invalid_sequences "$T/three.h5" >"$T/attr"
    expect_grep "(0): 2$" "$T/attr" "the two invalid bytes are counted"
else
    ok "1-rank and 3-rank datasets are identical # SKIP h5dump not found"
    ok "files_binary_skipped = 1 is stored # SKIP h5dump not found"
    ok "the two invalid bytes are counted # SKIP h5dump not found"
fi

cp "$T/three.h5" "$T/keep.h5"
expect_exit 2 "an existing output is refused (3 ranks)" -- $MPIRUN -np 3 "$STRATA" prepare $SET --output "$T/three.h5" "$T/in"
expect_grep "three.h5' exists; pass --force" "$T/err" "the refusal names the file and --force"
cmp -s "$T/three.h5" "$T/keep.h5" && ok "the existing output is untouched" || not_ok "the existing output is untouched"
expect_exit 0 "--force replaces it" -- "$STRATA" prepare $SET --force --output "$T/three.h5" "$T/in"

finish
