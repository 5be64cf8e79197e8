# Firebreak's build entry point. The two commands a newcomer needs:
#   make run    builds and opens the application (training tenant when no tenant is configured)
#   make test   runs every check and test
# Both install what is missing first and are safe to run again.

SHELL := /bin/bash
export PATH := $(HOME)/.cargo/bin:$(PATH)

APP := target/debug/firebreak

.PHONY: run test deps test-deps ui app bindings check-bindings e2e bench soak clean help

help:
	@echo "make run    build and open Firebreak"
	@echo "make test   run every check and test (ends with 'N passed, N failed')"
	@echo "make bindings  regenerate ui/src/lib/bindings.ts from the Rust commands"
	@echo "make bench  measure against the goals of issue #9 and write BENCHMARKS.md"
	@echo "make soak   contain many generated incidents (SEEDS=0..2000 SIZES=small,org,large)"

run: deps app
	$(APP)

test: test-deps app
	scripts/test.sh

deps:
	scripts/ensure-deps.sh build

test-deps:
	scripts/ensure-deps.sh test

# The UI is embedded in the binary, so it is built first.
ui:
	cd ui && npm run --silent build

app: ui
	cargo build -p firebreak --locked

bindings:
	FIREBREAK_WRITE_BINDINGS=1 cargo test -p firebreak --lib committed_bindings

# Benchmarks (issue #9): release builds of the application (UI embedded) and of the benchmark, run
# under Xvfb; prints one table and writes it to BENCHMARKS.md. Not part of `make test`.
BENCH := target/release/firebreak-bench
bench: test-deps ui
	cargo build --release --locked -p firebreak -p firebreak-bench
	xvfb-run -a -s "-screen 0 1280x800x24" $(BENCH) --app target/release/firebreak --out BENCHMARKS.md

# The incident generator's long run (issue 19): every seed of SEEDS at every size of SIZES,
# contained by the headless practice run in a release build. Not part of `make test`.
SEEDS ?= 32..232
SIZES ?= small,org,large
soak: test-deps
	rm -f target/soak-summary.txt
	FIREBREAK_SOAK_SEEDS=$(SEEDS) FIREBREAK_SOAK_SIZES=$(SIZES) cargo test --release --locked -p firebreak-core --test core generated::soak -- --ignored --nocapture; \
	status=$$?; scripts/soak-to-benchmarks.sh target/soak-summary.txt BENCHMARKS.md; exit $$status

e2e: app
	cargo test -p firebreak-e2e --locked

clean:
	cargo clean
	rm -rf ui/dist ui/node_modules
