#!/bin/sh
# ingest.sh -- `strata prepare` on JSON Lines, gzip and stdin: a JSONL file
# gives the same token array bit for bit as a directory holding its
# documents one per file; invalid lines are reported with their line numbers,
# counted in /corpus and never trained on; .gz and stdin give the plain file's
# dataset; the decompression-bomb limit and damaged gzip are exit 3.
. "$top_srcdir/tests/lib.sh"

MPIRUN=${MPIRUN:-mpirun}
H5DUMP=${H5DUMP:-h5dump}
M=$top_srcdir/tests/data/moby-60k.txt
cat >"$T/p.ini" <<EOF
[data]
ctx = 16
val_fraction = 0.1
[tokenizer]
mode = compact
vocab_size = 400
ngrams = 40
EOF
prep() { out=$1; shift; run 1 -- prepare --config "$T/p.ini" --output "$out" "$@"; }
# tokens FILE: the chunk tokens and character counts as text
tokens() { "$H5DUMP" -d /chunks/tokens -d /chunks/chars "$1" 2>/dev/null | sed 1d; }
same() { # same A B DESCRIPTION: identical token arrays
    if [ -s "$1" ] && [ -s "$2" ] && [ "$(tokens "$1" | cksum)" = "$(tokens "$2" | cksum)" ] && [ -n "$(tokens "$1")" ]; then
        ok "$3"
    else not_ok "$3"; fi
}
attr() { "$H5DUMP" -a "/corpus/$2" "$1" 2>/dev/null | sed -n 's/^ *(0): *//p'; }

# 20 documents of 10 lines each: as files docs/NN.txt and as JSON Lines
mkdir "$T/docs"
head -200 "$M" | awk -v dir="$T/docs" -v jl="$T/good.jsonl" '
    { d = int((NR - 1) / 10); f = sprintf("%s/%02d.txt", dir, d); printf "%s\n", $0 >f
      s = $0; gsub(/\\/, "\\\\", s); gsub(/"/, "\\\"", s); gsub(/\t/, "\\t", s); gsub(/\r/, "\\r", s)
      doc[d] = doc[d] s "\\n" }
    END { for (i = 0; i < 20; i++) printf "{\"id\": %d, \"text\": \"%s\"}\n", i, doc[i] >jl }'
[ "$(wc -l <"$T/good.jsonl")" -eq 20 ] && ok "20 JSONL documents made" || not_ok "JSONL fixture"
expect_exit 0 "prepare the documents as files" -- prep "$T/files.h5" "$T/docs"
expect_exit 0 "prepare them as JSON Lines" -- prep "$T/good.h5" "$T/good.jsonl"
same "$T/files.h5" "$T/good.h5" "JSONL = one file per document, token for token"
[ "$(attr "$T/good.h5" jsonl_documents)" = 20 ] && ok "/corpus jsonl_documents = 20" || not_ok "jsonl_documents $(attr "$T/good.h5" jsonl_documents)"

# bad lines among the good ones: line numbers reported, lines not trained on
awk 'NR == 3 { print "{\"text\": \"unterminated" } NR == 7 { print "{\"body\": \"no text field\"}" }
     NR == 9 { print "{\"text\": 42}" } NR == 12 { print "" } NR == 14 { printf "{\"text\": \"bad \377 byte\"}\n" }
     NR == 16 { print "[\"text\", \"an array\"]" } { print }' "$T/good.jsonl" >"$T/bad.jsonl"
expect_exit 0 "prepare JSONL with invalid lines (skipped, not fatal)" -- prep "$T/bad.h5" "$T/bad.jsonl"
for n in 3 8 11 18 21; do expect_grep "bad.jsonl:$n: skipping an invalid line" "$T/err" "line $n is reported by number"; done
expect_grep "no field \"text\"" "$T/err" "the reason: the field is missing"
expect_grep "not a string" "$T/err" "the reason: the field is not a string"
expect_grep "skipped 5 invalid line" "$T/err" "the count is reported"
[ "$(attr "$T/bad.h5" jsonl_invalid_lines)" = 5 ] && ok "/corpus jsonl_invalid_lines = 5" || not_ok "jsonl_invalid_lines $(attr "$T/bad.h5" jsonl_invalid_lines)"
same "$T/good.h5" "$T/bad.h5" "invalid lines are never trained on: the same tokens as without them"
"$H5DUMP" -d /corpus/files "$T/bad.h5" | grep -q "bad.jsonl:1" && ok "/corpus/files names documents by file:line" || not_ok "/corpus/files"

# gzip: any name, also JSON Lines
gzip -c "$T/good.jsonl" >"$T/good.jsonl.gz"
expect_exit 0 "prepare .jsonl.gz" -- prep "$T/gz.h5" "$T/good.jsonl.gz"
same "$T/good.h5" "$T/gz.h5" ".jsonl.gz = .jsonl"
gzip -c "$M" >"$T/moby.txt.gz"
expect_exit 0 "prepare the plain text" -- prep "$T/plain.h5" "$M"
expect_exit 0 "prepare its .gz" -- prep "$T/pgz.h5" "$T/moby.txt.gz"
same "$T/plain.h5" "$T/pgz.h5" ".gz = the plain file, bit for bit"
cp "$T/moby.txt.gz" "$T/moby.data"
expect_exit 0 "gzip is recognised by its bytes, not its name" -- prep "$T/pgz2.h5" "$T/moby.data"
same "$T/plain.h5" "$T/pgz2.h5" "gzip without .gz = the plain file"

# stdin
expect_exit 0 "prepare - (stdin)" -- sh -c "timeout 60 \"\$STRATA\" prepare --config \"$T/p.ini\" --output \"$T/stdin.h5\" - <\"$M\""
same "$T/plain.h5" "$T/stdin.h5" "stdin = the file"
expect_exit 0 "stdin JSON Lines with --jsonl-field" -- sh -c "gzip -dc \"$T/good.jsonl.gz\" | timeout 60 \"\$STRATA\" prepare --config \"$T/p.ini\" --jsonl-field text --output \"$T/sj.h5\" -"
same "$T/good.h5" "$T/sj.h5" "stdin JSON Lines = the .jsonl file"
expect_exit 0 "stdin under mpirun with 2 ranks" -- sh -c "timeout 120 \"$MPIRUN\" -np 2 \"\$STRATA\" prepare --config \"$T/p.ini\" --output \"$T/stdin2.h5\" - <\"$M\""
same "$T/plain.h5" "$T/stdin2.h5" "2 ranks reading stdin = the file"
ls -a "$T" | grep -q strata-spool && not_ok "a spool file was left" || ok "no spool file left"

# another field
sed 's/"text"/"body"/' "$T/good.jsonl" >"$T/body.jsonl"
expect_exit 0 "--jsonl-field body" -- prep "$T/body.h5" --jsonl-field body "$T/body.jsonl"
same "$T/good.h5" "$T/body.h5" "the field named by --jsonl-field is read"
expect_exit 3 "no line with the field: empty corpus" -- prep "$T/none.h5" "$T/body.jsonl"
expect_grep "invalid JSON Lines" "$T/err" "the empty-corpus message counts the invalid lines"

# damaged or hostile gzip
head -c 5000 "$T/moby.txt.gz" >"$T/cut.gz"
expect_exit 3 "a truncated .gz" -- prep "$T/cut.h5" "$T/cut.gz"
expect_grep "cut.gz" "$T/err" "the message names the file"
head -c 3000000 /dev/zero | tr '\0' 'a' | gzip -c >"$T/bomb.gz"
expect_exit 3 "decoding beyond data.inflate_limit_mb" -- prep "$T/bomb.h5" --set data.inflate_limit_mb=1 "$T/bomb.gz"
expect_grep "decompression bomb" "$T/err" "the message says why"
[ -e "$T/bomb.h5" ] && not_ok "an output was left" || ok "no output after a refused input"

# tokenizer learn reads the same inputs
expect_exit 0 "tokenizer learn from JSONL" -- run 1 -- tokenizer learn --config "$T/p.ini" --output "$T/tok.h5" "$T/bad.jsonl"
expect_exit 0 "prepare with that tokenizer" -- prep "$T/bt.h5" --tokenizer "$T/tok.h5" "$T/good.jsonl"
same "$T/good.h5" "$T/bt.h5" "a tokenizer learned from JSONL (invalid lines skipped) = the one prepare learns"
finish
