#!/usr/bin/env bash
# Creates .venv-test with the peer tools the tests compare against (tifffile, h5py, pycytominer).
# Reinstalls only when scripts/test-requirements.txt changes.
set -euo pipefail
cd "$(dirname "$0")/.."
req=scripts/test-requirements.txt
stamp=.venv-test/.requirements
if [[ -x .venv-test/bin/python ]] && cmp -s "$req" "$stamp"; then exit 0; fi
echo "test-venv: installing $(tr '\n' ' ' < "$req")" >&2
rm -rf .venv-test
python3 -m venv .venv-test
.venv-test/bin/pip install -q --disable-pip-version-check -r "$req"
cp "$req" "$stamp"
