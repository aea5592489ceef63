#!/usr/bin/env bash
# Runs the engine's numeric tests again with the CPU kernels of other machines of this kind: oneDNN and
# ATen capped to AVX2 (an AMD EPYC or an older Xeon without AVX-512) and to SSE4.1. On a machine that has
# less than the cap, the cap changes nothing. Tolerances follow from the arithmetic (see
# Tests/NeuralNetworkTests/TorchReferenceTests.swift), so every cap must pass. Needs a built test bundle.
set -euo pipefail
cd "$(dirname "$0")/.."
grep -o -w -E 'avx512f|avx2|sse4_1' /proc/cpuinfo | sort -u | tr '\n' ' ' | sed 's/^/test-other-cpus: this CPU has /; s/$/\n/' >&2
for caps in "ONEDNN_MAX_CPU_ISA=AVX2 ATEN_CPU_CAPABILITY=avx2" "ONEDNN_MAX_CPU_ISA=SSE41 ATEN_CPU_CAPABILITY=default"; do
    echo "test-other-cpus: $caps" >&2
    env $caps ${SWIFT:-swift} test --skip-build --filter 'ResNetReferenceTests|TensorTests|LossGradientTests'
done
