#!/usr/bin/env bash
# Fuzzes the readers that take bytes from outside (TIFF, CSV, ZIP, YAML pipeline files) with libFuzzer
# and AddressSanitizer, SECONDS each (default 60). Seeds: the TIFF fixtures, the shipped pipelines, a few
# tables and a small ZIP; new inputs go to a scratch corpus, not into the repository. A crash, trap,
# leak, hang (-timeout) or memory blow-up (-rss_limit_mb) fails the script and leaves the input in
# .build-fuzz/findings/ (replay: MORPHO_FUZZ_TARGET=T .build-fuzz/debug/MorphoFuzz FILE).
#   scripts/fuzz.sh [SECONDS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/.."
SWIFT=${SWIFT:-swift}
seconds=${1:-60}
shift || true
targets=("${@:-tiff csv zip yaml}")
read -r -a targets <<<"${targets[*]}"

flags=(--scratch-path .build-fuzz --product MorphoFuzz -Xswiftc -sanitize=fuzzer,address -Xswiftc -DFUZZING -Xswiftc -use-ld=lld)
$SWIFT build "${flags[@]}" 2>&1 | grep -E "error|warning: unre|Compiling MorphoFuzz|Build complete" || true
bin="$($SWIFT build "${flags[@]}" --show-bin-path)/MorphoFuzz"
[[ -x "$bin" ]] || { echo "fuzz: build failed" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p .build-fuzz/findings "$work"/{tiff,csv,zip,yaml}
cp Tests/MorphoIOTests/Fixtures/tiff/*.tif "$work/tiff/"
cp Pipelines/*.yaml "$work/yaml/"
printf 'Metadata_Plate,Metadata_Well,f1,f2\nP1,A01,1.5,NaN\nP1,"B,02",-2e3,\n' >"$work/csv/features.csv"
printf 'a,"b\n""c""",c\r\n1,2,3\r\n' >"$work/csv/quoted.csv"
python3 - "$work/zip/seed.zip" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_DEFLATED) as z:
    z.writestr("plate/a.tif", b"II*\0" + bytes(200))
    z.writestr("plate/b.txt", b"hello " * 50)
    z.writestr(zipfile.ZipInfo("plate/"), b"")
PY

status=0
for target in "${targets[@]}"; do
    echo "fuzz: $target for ${seconds} s"
    if ! MORPHO_FUZZ_TARGET=$target ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 "$bin" \
        -max_total_time="$seconds" -timeout=20 -rss_limit_mb=3072 -max_len=65536 -print_final_stats=1 \
        -artifact_prefix=".build-fuzz/findings/$target-" "$work/$target" 2>"$work/$target.log"; then
        status=1
        echo "fuzz: $target FOUND A FAILURE:" >&2
        grep -E "ERROR|Fatal|panic|SUMMARY|Test unit written|==[0-9]+==" "$work/$target.log" | head -20 >&2
    fi
    grep -E "stat::number_of_executed_units|stat::peak_rss_mb" "$work/$target.log" | sed "s/^/fuzz: $target /"
done
exit $status
