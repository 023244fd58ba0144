#!/bin/sh
# export.sh -- `strata export` / `strata import`: the export directory of a
# tiny grown model reproduces strata's logits in PyTorch (tools/strata_torch.py;
# those checks SKIP without PyTorch), export -> import -> eval gives the same
# numbers bit for bit, the output directory is guarded and published whole,
# ensembles need --member, and damaged exports fail with exit 3 naming the
# file and the tensor or key.
. "$top_srcdir/tests/lib.sh"

MPIRUN=${MPIRUN:-mpirun}
tiny_config "$T/tiny.ini"
cfg="--config $T/tiny.ini"
ck=$T/ck/a/stage-003.h5
LOGITS=$top_builddir/tests/store/st_logits
TOOL=$top_srcdir/tools/strata_torch.py
seq=5,17,42,100,7,9,200,3,260,312,301,11,0,1,2,367
have_torch=no
[ -n "${PYTHON3:-}" ] && "$PYTHON3" -c 'import torch' 2>/dev/null && have_torch=yes

# close_logits A B: max |a - b| <= 1e-4 max |b| over two files of logit rows
close_logits() {
    awk 'NR == FNR { for (i = 1; i <= NF; i++) a[FNR, i] = $i; na = FNR; next }
         { nb = FNR; for (i = 1; i <= NF; i++) { d = a[FNR, i] - $i; if (d < 0) d = -d; if (d > md) md = d
                                                 m = $i < 0 ? -$i : $i; if (m > mb) mb = m; n++ } }
         END { printf "# %d logits, max |diff| %g, max |logit| %g\n", n, md, mb; exit !(n > 0 && na == nb && md <= 1e-4 * mb) }' "$1" "$2"
}

# torch_check DIR MODEL.h5 DEPTH DESCRIPTION
torch_check() {
    if [ "$have_torch" = no ]; then
        ok "$4 # SKIP PyTorch not available (apt-get install python3-torch)"
        return
    fi
    "$LOGITS" "$2" "$3" "$seq" >"$T/c.txt" 2>"$T/err" &&
        "$PYTHON3" "$TOOL" "$1" --tokens "$seq" >"$T/p.txt" 2>>"$T/err" &&
        close_logits "$T/c.txt" "$T/p.txt" && ok "$4" || { not_ok "$4"; sed 's/^/# /' "$T/err" | head; }
}

expect_exit 0 "grow a 3-block model" -- run 1 -- grow $cfg --set run.name=a

# 1. export: three files, nothing left aside
expect_exit 0 "export" -- "$STRATA" export "$ck" --output "$T/exp"
for f in model.safetensors config.json tokenizer.json; do
    [ -s "$T/exp/$f" ] && ok "export wrote $f" || not_ok "no $f"
done
ls -d "$T"/exp.* 2>/dev/null | grep -q . && not_ok "a temp directory was left" || ok "no temp directory left"
expect_grep '"n_layers": 3' "$T/exp/config.json" "config.json: 3 layers"
expect_grep '"layout": "interleaved"' "$T/exp/config.json" "config.json: RoPE layout"
expect_grep '"activation": "gelu_exact"' "$T/exp/config.json" "config.json: activation"
expect_grep "$("$STRATA" tokenizer show "$ck" 2>/dev/null | sed -n 's/.*\([0-9a-f]\{64\}\).*/\1/p' | head -1)" \
    "$T/exp/tokenizer.json" "tokenizer.json carries the checkpoint tokenizer's content hash"
# the header: 8-byte length, then JSON naming the tensors
head -c 200 "$T/exp/model.safetensors" | tail -c +9 | grep -q '"embed.weight"\|"blocks.0.ln1_g"\|"head.out_w"' &&
    ok "safetensors header is JSON with the tensor names" || not_ok "safetensors header"

# 2. PyTorch reproduces strata's logits (depth 3, and an export at depth 2)
torch_check "$T/exp" "$ck" 3 "strata_torch.py reproduces the logits at depth 3 (1e-4 relative)"
# the loader's tokenizer (tokenizer.json) encodes like strata's
txt="Call me Ishmael. Some years ago -- never mind how long precisely -- caf\303\251 \342\202\254 \360\237\220\213 whale"
txt=$(printf "$txt")
if [ "$have_torch" = yes ]; then
    "$LOGITS" "$ck" encode "$txt" >"$T/ids1" && "$PYTHON3" "$TOOL" "$T/exp" --encode "$txt" >"$T/ids2" &&
        [ -s "$T/ids1" ] && cmp -s "$T/ids1" "$T/ids2" && ok "tokenizer.json encodes like strata (n-grams, characters, byte fallback)" ||
        { not_ok "tokenizer.json encodes differently"; cat "$T/ids1" "$T/ids2" | sed 's/^/# /'; }
else
    ok "tokenizer.json encodes like strata # SKIP PyTorch not available"
fi
expect_exit 0 "export --depth 2" -- "$STRATA" export "$ck" --depth 2 --output "$T/exp2"
expect_grep '"n_layers": 2' "$T/exp2/config.json" "config.json of --depth 2 says 2 layers"
torch_check "$T/exp2" "$ck" 2 "strata_torch.py reproduces the logit lens at depth 2"

# 3. round trip: import -> eval gives the same numbers bit for bit
expect_exit 0 "import" -- "$STRATA" import "$T/exp" --output "$T/imp.h5"
expect_exit 0 "eval the checkpoint" -- run 1 -- eval "$ck" --max-chunks 12 --output "$T/e1.csv"
expect_exit 0 "eval the imported model" -- run 1 -- eval "$T/imp.h5" --dataset "$T/data.h5" --max-chunks 12 --output "$T/e2.csv"
# (an imported model is a one-member ensemble: eval's CSV has the member's
# rows and the ensemble's; the ensemble rows are the model's prediction)
ens_rows() { head -1 "$1" | cut -d, -f2-; grep '^ensemble,' "$1" | cut -d, -f2-; }
ens_rows "$T/e2.csv" | cmp -s "$T/e1.csv" - && ok "export -> import -> eval: identical numbers at every depth" ||
    { not_ok "eval differs after the round trip"; ens_rows "$T/e2.csv" | diff "$T/e1.csv" - | sed 's/^/# /'; }
"$LOGITS" "$ck" 3 "$seq" >"$T/l1" && "$LOGITS" "$T/imp.h5" 3 "$seq" >"$T/l2" && cmp -s "$T/l1" "$T/l2" &&
    ok "imported logits are bitwise the checkpoint's" || not_ok "imported logits differ"
run 1 -- generate "$ck" --prompt "Call me" --tokens 30 --seed 4 >"$T/g1" 2>/dev/null
run 1 -- generate "$T/imp.h5" --prompt "Call me" --tokens 30 --seed 4 >"$T/g2" 2>/dev/null
[ -s "$T/g1" ] && cmp -s "$T/g1" "$T/g2" && ok "generate: same text from the imported model" || not_ok "generate differs"
expect_exit 0 "import the depth-2 export" -- "$STRATA" import "$T/exp2" --output "$T/imp2.h5"
expect_exit 0 "eval it" -- run 1 -- eval "$T/imp2.h5" --dataset "$T/data.h5" --max-chunks 12 --output "$T/e3.csv"
head -3 "$T/e1.csv" | cut -d, -f1-5 >"$T/e1-2.csv"
ens_rows "$T/e3.csv" | cut -d, -f1-5 | cmp -s - "$T/e1-2.csv" && ok "depth-2 round trip gives the first two rows" || not_ok "depth-2 rows differ"
expect_exit 0 "export the imported model again" -- "$STRATA" export "$T/imp.h5" --output "$T/exp3"
cmp -s "$T/exp/model.safetensors" "$T/exp3/model.safetensors" && cmp -s "$T/exp/tokenizer.json" "$T/exp3/tokenizer.json" &&
    ok "export -> import -> export: the same tensors and tokenizer" || not_ok "second export differs"

# 4. the output directory
expect_exit 2 "an existing export is not replaced without --force" -- "$STRATA" export "$ck" --output "$T/exp"
expect_grep "pass --force" "$T/err" "the message says --force"
expect_exit 0 "--force replaces an export" -- "$STRATA" export "$ck" --depth 1 --output "$T/exp2" --force
expect_grep '"n_layers": 1' "$T/exp2/config.json" "the replaced export has 1 layer"
mkdir "$T/other" && echo keep >"$T/other/notes.txt"
expect_exit 2 "--force never replaces a directory that is not an export" -- "$STRATA" export "$ck" --output "$T/other" --force
[ -f "$T/other/notes.txt" ] && ok "its contents are untouched" || not_ok "a foreign directory was changed"
expect_exit 2 "output is a file" -- "$STRATA" export "$ck" --output "$T/tiny.ini"
expect_exit 2 "--format onnx is refused" -- "$STRATA" export "$ck" --format onnx --output "$T/x"
expect_exit 2 "--depth beyond the model" -- "$STRATA" export "$ck" --depth 4 --output "$T/x"
expect_exit 3 "a missing checkpoint" -- "$STRATA" export "$T/nope.h5" --output "$T/x"
[ -e "$T/x" ] && not_ok "a failed export left its output" || ok "failed exports leave no output"
expect_exit 2 "import does not overwrite without --force" -- "$STRATA" import "$T/exp" --output "$T/imp.h5"

# 5. ensembles: one member at a time
expect_exit 0 "merge an ensemble of two" -- "$STRATA" merge --output "$T/ens.h5" "$ck" "$T/imp2.h5"
expect_exit 2 "export of an ensemble needs --member" -- "$STRATA" export "$T/ens.h5" --output "$T/ex"
expect_grep "member" "$T/err" "the message names --member"
expect_exit 0 "export --member 2" -- "$STRATA" export "$T/ens.h5" --member 2 --output "$T/ex"
expect_grep '"n_layers": 2' "$T/ex/config.json" "member 2 (the depth-2 import) was exported"
expect_exit 2 "--member 3 of 2" -- "$STRATA" export "$T/ens.h5" --member 3 --output "$T/ex3"

# 6. a trainable embedding table (no frozen substrate) exports and returns
expect_exit 0 "grow with substrate.kind=trainable" -- run 1 -- grow $cfg --set run.name=tr --set substrate.kind=trainable \
    --set substrate.file="$T/sub-tr.h5" --set model.n_layers=1
expect_exit 0 "export it" -- "$STRATA" export "$T/ck/tr/stage-001.h5" --output "$T/extr"
expect_grep '"trainable": true' "$T/extr/config.json" "config.json says the table is trained"
torch_check "$T/extr" "$T/ck/tr/stage-001.h5" 1 "strata_torch.py reproduces a trainable-table model"
expect_exit 0 "import it" -- "$STRATA" import "$T/extr" --output "$T/imptr.h5"
"$LOGITS" "$T/ck/tr/stage-001.h5" 1 "$seq" >"$T/l1" && "$LOGITS" "$T/imptr.h5" 1 "$seq" >"$T/l2" && cmp -s "$T/l1" "$T/l2" &&
    ok "trainable table: imported logits bitwise equal" || not_ok "trainable table round trip differs"

# 7. damaged exports: exit 3 naming the file and the tensor or key
bad() { rm -rf "$T/bad"; cp -r "$T/exp" "$T/bad"; }
bad
head -c 1000 "$T/exp/model.safetensors" >"$T/bad/model.safetensors"
expect_exit 3 "a truncated model.safetensors" -- "$STRATA" import "$T/bad" --output "$T/b.h5"
expect_grep "model.safetensors" "$T/err" "the message names the file"
bad
printf '\377\377\377\377\377\377\377\177' | dd of="$T/bad/model.safetensors" conv=notrunc 2>/dev/null
expect_exit 3 "a header length beyond the file" -- "$STRATA" import "$T/bad" --output "$T/b.h5"
expect_grep "header length" "$T/err" "the message says header length"
bad
LC_ALL=C sed 's/"blocks.2.mlp_out_w"/"blocks.2.mlp_out_X"/' "$T/exp/model.safetensors" >"$T/bad/model.safetensors"
expect_exit 3 "a renamed tensor" -- "$STRATA" import "$T/bad" --output "$T/b.h5"
expect_grep "blocks.2.mlp_out_w" "$T/err" "the message names the missing tensor"
bad
LC_ALL=C sed 's/"dtype":"F32"/"dtype":"F16"/' "$T/exp/model.safetensors" >"$T/bad/model.safetensors"
expect_exit 3 "another dtype" -- "$STRATA" import "$T/bad" --output "$T/b.h5"
expect_grep "F16" "$T/err" "the message names the dtype"
bad
LC_ALL=C sed 's/"d_ff": 64/"d_ff": 32/' "$T/exp/config.json" >"$T/bad/config.json"
expect_exit 3 "config.json disagreeing with the tensors" -- "$STRATA" import "$T/bad" --output "$T/b.h5"
bad
LC_ALL=C sed 's/"text": "e"/"text": "E"/' "$T/exp/tokenizer.json" >"$T/bad/tokenizer.json"
cmp -s "$T/exp/tokenizer.json" "$T/bad/tokenizer.json" && not_ok "the tokenizer edit did nothing" || {
    expect_exit 3 "an edited tokenizer.json" -- "$STRATA" import "$T/bad" --output "$T/b.h5"
    expect_grep "tokenizer.json" "$T/err" "the message names tokenizer.json"
}
bad
echo '{"format": "strata-export",' >"$T/bad/config.json"
expect_exit 3 "config.json that is not JSON" -- "$STRATA" import "$T/bad" --output "$T/b.h5"
expect_grep "config.json.*not valid JSON" "$T/err" "the message names the file and says why"
bad
rm "$T/bad/tokenizer.json"
expect_exit 3 "a missing tokenizer.json" -- "$STRATA" import "$T/bad" --output "$T/b.h5"
[ -e "$T/b.h5" ] && not_ok "a failed import left its output" || ok "failed imports leave no output"
finish
