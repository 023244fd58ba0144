#!/bin/sh
# outguard.sh -- nothing is overwritten by accident: prepare, substrate,
# merge and eval refuse an existing output without --force, accept it with
# --force, and never write over one of their inputs (same name, another
# path, hard link, symbolic link, a file inside an input directory), not
# even with --force; the input stays bitwise the same.
. "$top_srcdir/tests/lib.sh"

MPIRUN=${MPIRUN:-mpirun}
sum() { sha256sum "$1" | cut -d' ' -f1; }
# unchanged FILE SUM DESCRIPTION
unchanged() { [ "$(sum "$1")" = "$2" ] && ok "$3" || not_ok "$3 (sha256 changed)"; }

moby="$top_srcdir/tests/data/moby-60k.txt"
head -c 30000 "$moby" >"$T/c.txt"
SET="--set data.ctx=16 --set tokenizer.vocab_size=400 --set tokenizer.ngrams=40"
c_sum=$(sum "$T/c.txt")

# ---- prepare ------------------------------------------------------------
expect_exit 0 "prepare writes a new output" -- "$STRATA" prepare $SET --output "$T/d.h5" "$T/c.txt"
d_sum=$(sum "$T/d.h5")
expect_exit 2 "prepare: an existing output is refused without --force" -- "$STRATA" prepare $SET --output "$T/d.h5" "$T/c.txt"
expect_grep "d.h5' exists; pass --force to replace it" "$T/err" "prepare: the refusal names the file and --force"
unchanged "$T/d.h5" "$d_sum" "prepare: the refused output is untouched"
expect_exit 0 "prepare: --force replaces it" -- "$STRATA" prepare $SET --force --output "$T/d.h5" "$T/c.txt"
expect_exit 2 "prepare --force --output F F is refused" -- "$STRATA" prepare $SET --force --output "$T/c.txt" "$T/c.txt"
expect_grep "c.txt' is the input" "$T/err" "prepare: the refusal names the input"
unchanged "$T/c.txt" "$c_sum" "prepare: the input F is unchanged"
ln "$T/c.txt" "$T/hard.txt"
ln -s "$T/c.txt" "$T/sym.txt"
expect_exit 2 "prepare: a hard link to the input is refused with --force" -- "$STRATA" prepare $SET --force --output "$T/hard.txt" "$T/c.txt"
expect_exit 2 "prepare: a symbolic link to the input is refused with --force" -- "$STRATA" prepare $SET --force --output "$T/sym.txt" "$T/c.txt"
expect_exit 2 "prepare: the input through another path is refused" -- "$STRATA" prepare $SET --force --output "$T/./c.txt" "$T/sym.txt"
unchanged "$T/c.txt" "$c_sum" "prepare: the input is unchanged after the link attempts"
expect_exit 2 "prepare: the input named by data.corpus is refused too" -- "$STRATA" prepare $SET --set data.corpus="$T/c.txt" --force --output "$T/c.txt"
unchanged "$T/c.txt" "$c_sum" "prepare: the data.corpus input is unchanged"
mkdir -p "$T/corpus" "$T/adir"
cp "$T/c.txt" "$T/corpus/"
expect_exit 0 "prepare: a new output inside the corpus directory" -- "$STRATA" prepare $SET --output "$T/corpus/d.h5" "$T/corpus"
in_sum=$(sum "$T/corpus/d.h5")
expect_exit 2 "prepare: ... is refused once it exists (it would be read as input)" -- "$STRATA" prepare $SET --force --output "$T/corpus/d.h5" "$T/corpus"
expect_grep "inside the input directory" "$T/err" "prepare: the refusal says why"
unchanged "$T/corpus/d.h5" "$in_sum" "prepare: the output inside the corpus is unchanged"
expect_exit 2 "prepare: a directory as output is refused with --force" -- "$STRATA" prepare $SET --force --output "$T/adir" "$T/c.txt"
expect_grep "is a directory" "$T/err" "prepare: the refusal says it is a directory"
expect_exit 2 "prepare on 2 ranks: --force --output F F is refused" -- $MPIRUN -np 2 "$STRATA" prepare $SET --force --output "$T/c.txt" "$T/c.txt"
[ "$(grep -c "is the input" "$T/err")" -eq 1 ] && ok "prepare on 2 ranks: one message" || not_ok "prepare on 2 ranks: one message"
unchanged "$T/c.txt" "$c_sum" "prepare on 2 ranks: F is unchanged"

# ---- substrate ----------------------------------------------------------
SUB="--set substrate.kind=random --set substrate.dim=16"
expect_exit 0 "substrate writes a new output" -- "$STRATA" substrate $SUB --dataset "$T/d.h5" --output "$T/s.h5"
s_sum=$(sum "$T/s.h5")
expect_exit 2 "substrate: an existing output is refused without --force" -- "$STRATA" substrate $SUB --dataset "$T/d.h5" --output "$T/s.h5"
expect_grep "s.h5' exists; pass --force to replace it" "$T/err" "substrate: the refusal names the file and --force"
unchanged "$T/s.h5" "$s_sum" "substrate: the refused output is untouched"
expect_exit 0 "substrate: --force replaces it" -- "$STRATA" substrate $SUB --force --dataset "$T/d.h5" --output "$T/s.h5"
"$STRATA" substrate --help >"$T/help"
expect_grep "[-][-]force" "$T/help" "substrate --help lists --force"
d_sum=$(sum "$T/d.h5")
expect_exit 2 "substrate: the dataset as output is refused with --force" -- "$STRATA" substrate $SUB --force --dataset "$T/d.h5" --output "$T/d.h5"
expect_grep "d.h5' is the input" "$T/err" "substrate: the refusal names the dataset"
ln "$T/d.h5" "$T/d-hard.h5"
ln -s "$T/d.h5" "$T/d-sym.h5"
expect_exit 2 "substrate: a hard link to the dataset is refused" -- "$STRATA" substrate $SUB --force --dataset "$T/d.h5" --output "$T/d-hard.h5"
expect_exit 2 "substrate: a symbolic link to the dataset is refused" -- "$STRATA" substrate $SUB --force --dataset "$T/d.h5" --output "$T/d-sym.h5"
expect_exit 2 "substrate: data.dataset as output is refused" -- "$STRATA" substrate $SUB --force --set data.dataset="$T/d.h5" --output "$T/d-sym.h5"
unchanged "$T/d.h5" "$d_sum" "substrate: the dataset is unchanged"
expect_exit 0 "substrate --dump-glyph writes an image" -- "$STRATA" substrate --set substrate.cell=16 --dump-glyph A --dump-output "$T/a.pgm"
expect_exit 2 "substrate --dump-glyph: an existing image is refused" -- "$STRATA" substrate --set substrate.cell=16 --dump-glyph B --dump-output "$T/a.pgm"
expect_exit 0 "substrate --dump-glyph --force replaces it" -- "$STRATA" substrate --set substrate.cell=16 --force --dump-glyph B --dump-output "$T/a.pgm"

# ---- merge and eval (a tiny 1-block checkpoint) -------------------------
tiny_config "$T/tiny.ini"
expect_exit 0 "grow a 1-block model" -- run 1 -- grow --config "$T/tiny.ini" --set model.n_layers=1 --set run.name=a
ck=$T/ck/a/stage-001.h5
cp "$ck" "$T/X.h5"
cp "$ck" "$T/Y.h5"
x_sum=$(sum "$T/X.h5")
expect_exit 0 "merge writes a new output" -- run 1 -- merge --output "$T/e.h5" "$T/X.h5"
e_sum=$(sum "$T/e.h5")
expect_exit 2 "merge: an existing output is refused without --force" -- run 1 -- merge --output "$T/e.h5" "$T/X.h5"
expect_grep "e.h5' exists; pass --force to replace it" "$T/err" "merge: the refusal names the file and --force"
unchanged "$T/e.h5" "$e_sum" "merge: the refused output is untouched"
expect_exit 0 "merge: --force replaces it" -- run 1 -- merge --force --output "$T/e.h5" "$T/X.h5"
expect_exit 2 "merge --force --output X X Y is refused" -- run 1 -- merge --force --output "$T/X.h5" "$T/X.h5" "$T/Y.h5"
expect_grep "X.h5' is the input" "$T/err" "merge: the refusal names the member"
unchanged "$T/X.h5" "$x_sum" "merge: X is unchanged"
expect_exit 2 "merge on 2 ranks: --force --output X Y X is refused" -- run 2 -- merge --force --output "$T/X.h5" "$T/Y.h5" "$T/X.h5"
unchanged "$T/X.h5" "$x_sum" "merge on 2 ranks: X is unchanged"
ln "$T/X.h5" "$T/X-hard.h5"
ln -s "$T/X.h5" "$T/X-sym.h5"
expect_exit 2 "merge: a hard link to a member is refused with --force" -- run 1 -- merge --force --output "$T/X-hard.h5" "$T/X.h5" "$T/Y.h5"
expect_exit 2 "merge: a symbolic link to a member is refused with --force" -- run 1 -- merge --force --output "$T/X-sym.h5" "$T/Y.h5" "$T/X.h5"
unchanged "$T/X.h5" "$x_sum" "merge: X is unchanged after the link attempts"
"$STRATA" merge --help >"$T/help"
expect_grep "[-][-]force" "$T/help" "merge --help lists --force"

expect_exit 0 "eval --output writes a new CSV" -- run 1 -- eval "$T/X.h5" --max-chunks 4 --output "$T/e.csv"
csv_sum=$(sum "$T/e.csv")
expect_exit 2 "eval: an existing --output is refused without --force" -- run 1 -- eval "$T/X.h5" --max-chunks 4 --output "$T/e.csv"
expect_grep "e.csv' exists; pass --force to replace it" "$T/err" "eval: the refusal names the file and --force"
unchanged "$T/e.csv" "$csv_sum" "eval: the refused CSV is untouched"
expect_exit 0 "eval: --force replaces it" -- run 1 -- eval "$T/X.h5" --max-chunks 4 --force --output "$T/e.csv"
expect_exit 2 "eval: the checkpoint as --output is refused with --force" -- run 1 -- eval "$T/X.h5" --max-chunks 4 --force --output "$T/X-sym.h5"
unchanged "$T/X.h5" "$x_sum" "eval: the checkpoint is unchanged"
data_sum=$(sum "$T/data.h5")
expect_exit 2 "eval: --dataset as --output is refused with --force" -- run 1 -- eval "$T/X.h5" --dataset "$T/data.h5" --max-chunks 4 --force --output "$T/data.h5"
expect_exit 2 "eval: the checkpoint's own dataset as --output is refused with --force" -- run 2 -- eval "$T/X.h5" --max-chunks 4 --force --output "$T/data.h5"
expect_grep "data.h5' is the input" "$T/err" "eval: the refusal names the dataset"
unchanged "$T/data.h5" "$data_sum" "eval: the dataset is unchanged"
finish
