# Firebreak's build entry point. The two commands a newcomer needs:
#   make run    builds and opens the application (training tenant when no tenant is configured)
#   make test   runs every check and test
# Both install what is missing first and are safe to run again.

SHELL := /bin/bash
export PATH := $(HOME)/.cargo/bin:$(PATH)

APP := target/debug/firebreak

.PHONY: run test deps test-deps ui app bindings check-bindings e2e clean help

help:
	@echo "make run    build and open Firebreak"
	@echo "make test   run every check and test (ends with 'N passed, N failed')"
	@echo "make bindings  regenerate ui/src/lib/bindings.ts from the Rust commands"

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

e2e: app
	cargo test -p firebreak-e2e --locked

clean:
	cargo clean
	rm -rf ui/dist ui/node_modules
