#!/usr/bin/env bash
# Runs every check and test of Firebreak, in order, and ends with one line `N passed, N failed`
# counting tests (Rust and Vitest) plus failed checks. Exits non-zero when anything failed.
#
# Rust tests run inside a private D-Bus session with an unlocked gnome-keyring, so the keychain
# tests talk to a real Secret Service; the end-to-end tests start their own Xvfb displays.
set -uo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
[ -x "$HOME/.cargo/bin/cargo" ] && export PATH="$HOME/.cargo/bin:$PATH"

logs="$root/target/test-logs"
mkdir -p "$logs"
passed=0
failed=0
failed_steps=()

step() { printf '\n==> %s\n' "$1"; }
fail_step() { failed=$((failed + 1)); failed_steps+=("$1"); }

count_cargo() {
  # Sum the "test result:" lines cargo prints per test binary.
  local counts
  counts=$(awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($i ~ /^passed;?$/) p += $(i-1); if ($i ~ /^failed;?$/) f += $(i-1) } }
                END { print p + 0, f + 0 }' "$1")
  passed=$((passed + ${counts% *}))
  failed=$((failed + ${counts#* }))
}

step "cargo fmt --all --check"
cargo fmt --all --check || fail_step "cargo fmt (run: cargo fmt --all)"

step "cargo clippy --workspace --all-targets -- -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings || fail_step "cargo clippy"

step "UI type check (svelte-check)"
(cd ui && npm run --silent check) || fail_step "svelte-check"

step "Vitest"
(cd ui && npx vitest run --reporter=default 2>&1) | tee "$logs/vitest.log"
vitest_status=${PIPESTATUS[0]}
v_passed=$(sed -E 's/\x1b\[[0-9;]*m//g' "$logs/vitest.log" | grep -E '^ +Tests ' | grep -oE '[0-9]+ passed' | grep -oE '[0-9]+' || true)
v_failed=$(sed -E 's/\x1b\[[0-9;]*m//g' "$logs/vitest.log" | grep -E '^ +Tests ' | grep -oE '[0-9]+ failed' | grep -oE '[0-9]+' || true)
passed=$((passed + ${v_passed:-0}))
failed=$((failed + ${v_failed:-0}))
if [ "$vitest_status" -ne 0 ] && [ "${v_failed:-0}" -eq 0 ]; then fail_step "vitest (did not run)"; fi

step "Rust tests (unit, integration, keychain, end to end)"
# The keyring lives in a throwaway folder: a fresh one, unlocked with a known password, every run,
# so tests never touch (or depend on) the keyring of the person running them.
keyring_home=$(mktemp -d)
FIREBREAK_REQUIRE_KEYCHAIN=1 XDG_DATA_HOME="$keyring_home" dbus-run-session -- sh -c '
  printf "firebreak-test" | gnome-keyring-daemon --unlock --components=secrets >/dev/null 2>&1
  cargo test --workspace --locked --no-fail-fast 2>&1
' | tee "$logs/cargo-test.log"
# Read the pipeline's status before any other command replaces PIPESTATUS.
cargo_status=${PIPESTATUS[0]}
rm -rf "$keyring_home"
count_cargo "$logs/cargo-test.log"
if [ "$cargo_status" -ne 0 ] && ! grep -qE '^test result: FAILED' "$logs/cargo-test.log"; then
  fail_step "cargo test (build failed or a test binary crashed)"
fi

printf '\n'
if [ ${#failed_steps[@]} -gt 0 ]; then
  printf 'Failed checks: %s\n' "${failed_steps[*]}"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
