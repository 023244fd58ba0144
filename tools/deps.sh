#!/usr/bin/env bash
# deps.sh -- install the Debian packages strata needs, if any are missing.
# Runs `apt-get update` at most once, and only when something must be installed.
# Usage: tools/deps.sh [extra-package...]
# (tools/check.sh adds what only the tests need: shellcheck and Slurm.)
set -euo pipefail

pkgs=(
  build-essential autoconf automake pkg-config
  libopenmpi-dev openmpi-bin
  libopenblas-dev
  libscalapack-openmpi-dev
  libhdf5-openmpi-dev hdf5-tools
  libfreetype-dev fonts-unifont
  libinih-dev
  libjansson-dev zlib1g-dev
  libcmocka-dev
  wamerican
  python3-h5py
  "$@"
)

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "deps: all ${#pkgs[@]} packages present"
  exit 0
fi
echo "deps: installing ${missing[*]}"
sudo=
[ "$(id -u)" -eq 0 ] || sudo=sudo
$sudo apt-get update -q
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
