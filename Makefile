# Morpho: the two commands of the README.
#   make demo  installs what is missing, builds in release mode and runs the built-in example
#   make test  installs what is missing (and the Python test peers), builds and runs every test
SHELL := /bin/bash
SWIFT ?= swift

.PHONY: demo test setup build release test-venv memcheck fuzz clean

setup:
	@scripts/setup.sh

release: setup
	$(SWIFT) build -c release --product morpho

demo: release
	.build/release/morpho demo

test-venv:
	@scripts/setup.sh --test
	@scripts/test-venv.sh

test: test-venv
	MORPHO_TEST_PYTHON=$(CURDIR)/.venv-test/bin/python MORPHO_REQUIRE_PEERS=1 $(SWIFT) test
	SWIFT=$(SWIFT) scripts/test-other-cpus.sh
	SWIFT=$(SWIFT) scripts/fuzz.sh 60

# libFuzzer + AddressSanitizer on the TIFF, CSV, ZIP and YAML readers, FUZZ_SECONDS each (60 in `make test`).
FUZZ_SECONDS ?= 600
fuzz: setup
	SWIFT=$(SWIFT) scripts/fuzz.sh $(FUZZ_SECONDS)

# Training (1 thread) and embedding (2 threads) under valgrind memcheck, which runs AVX2 code: what a machine
# without AVX-512 runs. Fails on any invalid read or write. About 30 minutes; not part of `make test`.
memcheck: setup
	scripts/memcheck.sh

clean:
	rm -rf .build .build-fuzz .venv-test Data/quickstart
