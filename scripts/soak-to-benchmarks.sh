#!/usr/bin/env bash
# Adds the summary line `make soak` wrote (first argument) to BENCHMARKS.md (second argument), at
# the end of its section "Generated incidents (make soak)" (created when missing), with the date and
# commit. What the section already says (earlier runs, their analysis) is kept. Says so when the
# soak wrote no summary.
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
entry="$(printf 'Run %s by `make soak` (release build):\n\n```text\n%s\n```\n' "$stamp" "$line")"
tmp="$(mktemp)"
awk -v h="$heading" -v entry="$entry" '
  function add() { print ""; print entry; print ""; added = 1 }
  $0 == h { inside = 1; print; next }
  inside && /^## / { add(); inside = 0 }
  { print }
  END {
    if (inside) add()
    else if (!added) { print ""; print h; add() }
  }
' "$out" > "$tmp"
mv "$tmp" "$out"
echo "make soak: $line"
