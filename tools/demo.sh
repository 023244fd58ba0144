#!/usr/bin/env bash
# demo.sh -- the README's demo: grow 4 blocks on Moby-Dick on 2 ranks.
# Needs `strata grow`, which is not built yet in this version.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "demo: 'strata grow' is not built yet in this version; the demo arrives with it." >&2
exit 2
