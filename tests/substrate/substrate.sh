#!/bin/sh
# substrate.sh -- `strata substrate`: glyph dumps, small builds of every kind,
# and bad input (exit codes, messages, no half-written output).
. "$top_srcdir/tests/lib.sh"

expect_exit 0 "substrate --help" -- "$STRATA" substrate --help
expect_grep "dump-glyph" "$T/out" "--help lists --dump-glyph"

# --dump-glyph writes a binary PGM of the configured cell size.
expect_exit 0 "dump a glyph" -- "$STRATA" substrate --dump-glyph A --dump-output "$T/a.pgm"
head -c 2 "$T/a.pgm" | grep -q P5 && ok "dump is a binary PGM" || not_ok "dump is a binary PGM"
[ "$(wc -c <"$T/a.pgm")" -eq $((13 + 32 * 32)) ] && ok "dump is 32x32" || not_ok "dump is 32x32 ($(wc -c <"$T/a.pgm") bytes)"
expect_exit 2 "a surrogate is not a token" -- "$STRATA" substrate --dump-glyph U+D800 --dump-output "$T/x.pgm"
expect_grep "U+D800" "$T/err" "the bad token is named"

# The vocabulary of a prepared dataset's tokenizer (other kinds: test_substrate).
i=0
while [ $i -lt 40 ]; do
    echo "The quick brown fox jumps over the lazy dog $i times. Ελληνικά και русский текст, 中文 and more."
    i=$((i + 1))
done >"$T/corpus.txt"
expect_exit 0 "prepare a small dataset" -- "$STRATA" prepare --output "$T/ds.h5" --set data.ctx=16 "$T/corpus.txt"
expect_exit 0 "substrate from the dataset's tokenizer" -- "$STRATA" substrate --dataset "$T/ds.h5" --output "$T/tok.h5" --set substrate.cell=16 --set substrate.dim=32
expect_grep "0 duplicate rows" "$T/err" "tokenizer substrate has no duplicate rows"
# Full BMP vocabulary.
expect_exit 0 "--bmp glyph, 16 px cells, D=32" -- "$STRATA" substrate --bmp --output "$T/glyph.h5" --set substrate.cell=16 --set substrate.dim=32 --set substrate.flatten=rowmajor
expect_grep "0 duplicate rows" "$T/err" "glyph BMP substrate has no duplicate rows"
if [ -n "${H5DUMP:-}" ]; then
    "$H5DUMP" -a /substrate/duplicate_rows "$T/glyph.h5" >"$T/dump" 2>&1
    expect_grep "(0): 0" "$T/dump" "duplicate_rows attribute is 0"
    "$H5DUMP" -H "$T/glyph.h5" >"$T/dump" 2>&1
    expect_grep "DATASPACE  SIMPLE { ( 65536, 32 )" "$T/dump" "embeddings are [65536, 32]"
fi
ls "$T"/*.tmp >/dev/null 2>&1 && not_ok "no temp files left" || ok "no temp files left"

# Bad input: exit codes and no output file.
expect_exit 2 "no output file configured" -- "$STRATA" substrate --bmp
expect_grep "substrate.file" "$T/err" "missing output names the key"
expect_exit 2 "output directory missing" -- "$STRATA" substrate --bmp --output "$T/nodir/x.h5"
expect_exit 2 "no vocabulary" -- "$STRATA" substrate --output "$T/v.h5"
expect_grep "data.dataset" "$T/err" "missing vocabulary names the key"
expect_exit 3 "unreadable dataset" -- "$STRATA" substrate --dataset "$T/none.h5" --output "$T/d.h5"
expect_grep "none.h5" "$T/err" "unreadable dataset is named"
echo "not hdf5" >"$T/junk.h5"
expect_exit 3 "dataset that is not HDF5" -- "$STRATA" substrate --dataset "$T/junk.h5" --output "$T/d.h5"
[ -e "$T/d.h5" ] && not_ok "no output after bad dataset" || ok "no output after bad dataset"
expect_exit 2 "missing font" -- "$STRATA" substrate --bmp --output "$T/f.h5" --set substrate.fonts=/nonexistent/font.otf
expect_grep "/nonexistent/font.otf" "$T/err" "missing font is named"
[ -e "$T/f.h5" ] && not_ok "no output after missing font" || ok "no output after missing font"
expect_exit 2 "dim larger than the pixel count" -- "$STRATA" substrate --bmp --output "$T/p.h5" --set substrate.cell=8 --set substrate.dim=96
expect_grep "64 pixels" "$T/err" "dim error names the pixel count"
[ -e "$T/p.h5" ] && not_ok "no output after bad dim" || ok "no output after bad dim"
finish
