#!/usr/bin/env bash
# Install Debian's dataset-fashion-mnist (the four IDX files under /usr/share/datasets/fashion-mnist).
# Called by .ci/run as root; does nothing when the files are already there.
set -euo pipefail
if [ -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive DEBCONF_NOWARNINGS=yes
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
$SUDO apt-get update -qq >/dev/null
$SUDO apt-get install -y -qq --no-install-recommends dataset-fashion-mnist >/dev/null
test -f /usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz
