#!/usr/bin/env bash
# Puts the summary line `make soak` wrote (first argument) into BENCHMARKS.md (second argument),
# under its own heading, replacing the previous one; says so when the soak wrote no summary.
set -euo pipefail
summary="$1"
out="$2"
if [[ ! -s "$summary" ]]; then
  echo "make soak: no summary was written ($summary); BENCHMARKS.md is unchanged" >&2
  exit 0
fi
line="$(head -n 1 "$summary")"
heading="## Generated incidents (make soak)"
stamp="$(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)"
tmp="$(mktemp)"
# Drop the old section (from its heading to the next heading or the end), then append the new one.
awk -v h="$heading" '
  $0 == h { skip = 1; next }
  skip && /^## / { skip = 0 }
  !skip { print }
' "$out" > "$tmp"
{
  cat "$tmp"
  printf '\n%s\n\n' "$heading"
  printf 'Run %s by `make soak` (the headless practice run on every generated incident, release build).\n\n' "$stamp"
  printf '```text\n%s\n```\n' "$line"
} > "$out"
rm -f "$tmp"
echo "make soak: $line"
