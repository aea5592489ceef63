#!/usr/bin/env bash
# Installs what Morpho needs on Debian 12 (only what is missing): the system libraries it links and
# Python for the test peers. Safe to run again; prints nothing to do when all is there.
set -euo pipefail

packages=(pkg-config zlib1g-dev libssl-dev libzstd-dev libtiff-dev libhdf5-dev libopencv-dev libopenblas-dev liblapacke-dev libtorch-dev)
if [[ "${1:-}" == "--test" ]]; then
    command -v python3 >/dev/null || packages+=(python3)
    python3 -c 'import venv, ensurepip' 2>/dev/null || packages+=(python3-venv)
    packages+=(chromium)   # the report test renders report.html in headless Chromium
fi

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
    echo "setup: installing ${missing[*]}" >&2
    sudo=""
    [[ $(id -u) -ne 0 ]] && sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
