#!/bin/sh
# prepare-errors.sh -- `strata prepare` refuses bad input with a message that
# names the path and the documented exit code (2 usage, 3 data), and never
# leaves an output behind.
. "$top_srcdir/tests/lib.sh"

awk 'BEGIN { for (i = 0; i < 400; i++) printf "some text number %d with words\n", i }' >"$T/ok.txt"
SET="--set data.ctx=16"
no_output() { [ ! -e "$T/out.h5" ] && [ -z "$(ls "$T" | grep 'out\.h5\.tmp')" ] && ok "$1: no output left" || not_ok "$1: no output left"; }

expect_exit 3 "missing path exits 3 (3 ranks)" -- $MPIRUN -np 3 "$STRATA" prepare $SET --output "$T/out.h5" "$T/ok.txt" "$T/nope.txt"
expect_grep "cannot read '$T/nope.txt': No such file" "$T/err" "missing path is named"
no_output "missing path"

ln -s loop "$T/loop"
expect_exit 3 "unreadable path (symlink loop) exits 3" -- "$STRATA" prepare $SET --output "$T/out.h5" "$T/loop"
expect_grep "cannot read '$T/loop'" "$T/err" "unreadable path is named"
if [ "$(id -u)" -ne 0 ]; then
    cp "$T/ok.txt" "$T/secret.txt" && chmod 000 "$T/secret.txt"
    expect_exit 3 "unreadable file exits 3" -- "$STRATA" prepare $SET --output "$T/out.h5" "$T/secret.txt"
    expect_grep "cannot read '$T/secret.txt': Permission denied" "$T/err" "unreadable file is named"
else
    ok "unreadable file exits 3 # SKIP root reads every file"
    ok "unreadable file is named # SKIP root reads every file"
fi

mkdir "$T/emptydir" && : >"$T/empty.txt"
expect_exit 3 "empty corpus exits 3" -- "$STRATA" prepare $SET --output "$T/out.h5" "$T/empty.txt" "$T/emptydir"
expect_grep "empty corpus: $T/empty.txt" "$T/err" "empty corpus names the input"
no_output "empty corpus"

head -c 5000 /dev/urandom | tr -d '\n\t\r' >"$T/noise.bin"
expect_exit 3 "only binary files exit 3 (3 ranks)" -- $MPIRUN -np 3 "$STRATA" prepare $SET --output "$T/out.h5" "$T/noise.bin"
expect_grep "skipping '$T/noise.bin'" "$T/err" "the binary file is named"
expect_grep "empty corpus" "$T/err" "nothing left is an empty corpus"

printf 'hi\n' >"$T/tiny.txt"
expect_exit 3 "corpus smaller than one chunk exits 3" -- "$STRATA" prepare $SET --output "$T/out.h5" "$T/tiny.txt"
expect_grep "corpus too small: $T/tiny.txt" "$T/err" "too small names the input and"
expect_grep "data.ctx+1 = 17" "$T/err" "too small names the chunk length"
no_output "too small"

expect_exit 2 "no input at all exits 2" -- "$STRATA" prepare --output "$T/out.h5"
expect_grep "data.corpus" "$T/err" "no input mentions data.corpus"
expect_exit 2 "no output exits 2" -- "$STRATA" prepare "$T/ok.txt"
expect_grep "data.dataset" "$T/err" "no output mentions data.dataset"
expect_exit 2 "missing output directory exits 2" -- "$STRATA" prepare $SET --output "$T/no/such/out.h5" "$T/ok.txt"
expect_grep "output directory '$T/no/such'" "$T/err" "the output directory is named"

cp "$T/ok.txt" "$T/ok2.txt"
expect_exit 0 "data.corpus and data.dataset settings (comma-separated list)" -- "$STRATA" prepare $SET \
    --set "data.corpus=$T/ok.txt, $T/ok2.txt" --set "data.dataset=$T/set.h5"
expect_grep "2 files" "$T/err" "both files of data.corpus are prepared"
finish
