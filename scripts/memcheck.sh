#!/usr/bin/env bash
# Training steps at 1 engine thread and inference at 2 under valgrind memcheck: any invalid read or
# write (in Morpho, the bridge, LibTorch or oneDNN) fails the run. Valgrind emulates no AVX-512, so
# oneDNN runs its AVX2 kernels: those of a machine without AVX-512, where 1 thread once crashed.
# Width 4 puts fewer than 8 channels into 1x1 strided convolutions, the case that corrupted the heap.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind >/dev/null; }
${SWIFT:-swift} build --product morpho
# Valgrind 3.19 cannot read the DWARF 5 of Swift's debug build: check a copy without it.
bin=$(mktemp -d)/morpho
cp .build/debug/morpho "$bin" && strip -g "$bin"
for run in "train 1" "embed 2"; do
    read -r mode threads <<< "$run"
    echo "memcheck: bench $mode, width 4, $threads thread(s)" >&2
    valgrind -q --error-exitcode=9 --smc-check=all-non-file --leak-check=no --suppressions=scripts/valgrind.supp \
        "$bin" bench "$mode" --no-peer --threads "$threads" --width 4 --size 48 --batch-size 16 --batches 1 --repeats 1
done
echo "memcheck: no memory errors" >&2
