#!/usr/bin/env bash
# Checks that the project's design references resolve:
#  - every "decision N" / "decisions N, M and K" cited in code, docs, case descriptions
#    and scripts has an entry "### N." in docs/DESIGN.md;
#  - every repository path that ARCHITECTURE.md names in backquotes exists.
#
#   bash scripts/check-docs.sh          # the repository this script is in
#   bash scripts/check-docs.sh DIR      # another tree (scripts/test.sh uses it on a
#                                       # planted dangling reference to prove it fails)
# Exit 0 when everything resolves, 1 with one line per problem otherwise.
set -euo pipefail
root=${1:-"$(dirname "$0")/.."}
cd "$root"
problems=0
say() { echo "check-docs: $*" >&2; problems=$((problems + 1)); }

[ -f docs/DESIGN.md ] || { say "docs/DESIGN.md is missing"; exit 1; }
[ -f ARCHITECTURE.md ] || say "ARCHITECTURE.md is missing"

# The files that may cite decisions: what git tracks (or, outside a checkout, every file),
# source, docs, build and script files.
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  files=$(git ls-files --cached --others --exclude-standard)
else
  files=$(find . -type f -not -path './target/*' -not -path './.git/*' | sed 's#^\./##')
fi
files=$(grep -E '\.(rs|md|toml|sh|py|wat)$' <<<"$files" || true)

cited=$(cd . && xargs -r grep -HnoiE 'decisions? [0-9]+(( *,| *and| *,? *and) *[0-9]+)*' <<<"$files" || true)
while IFS= read -r hit; do
  [ -n "$hit" ] || continue
  where=${hit%%:decision*}; where=${where%%:Decision*}
  for n in $(grep -oE '[0-9]+' <<<"${hit##*:}"); do
    grep -qE "^### $n\. " docs/DESIGN.md || say "$where cites decision $n, which docs/DESIGN.md does not have"
  done
done <<<"$cited"

# Numbers are unique and in order.
nums=$(grep -oE '^### [0-9]+\.' docs/DESIGN.md | grep -oE '[0-9]+' || true)
[ "$nums" = "$(sort -n <<<"$nums")" ] || say "docs/DESIGN.md: decisions are not in numeric order"
[ -z "$(uniq -d <<<"$nums")" ] || say "docs/DESIGN.md: decision numbers repeat: $(uniq -d <<<"$nums" | tr '\n' ' ')"

# ARCHITECTURE.md's map must name real places.
if [ -f ARCHITECTURE.md ]; then
  for p in $(grep -oE '`[A-Za-z0-9_./-]+/[A-Za-z0-9_./-]*`' ARCHITECTURE.md | tr -d '`' | sort -u); do
    case "$p" in */*) ;; *) continue ;; esac
    [ -e "$p" ] || say "ARCHITECTURE.md names $p, which does not exist"
  done
fi

if [ "$problems" -gt 0 ]; then
  echo "check-docs: $problems problem(s)" >&2
  exit 1
fi
echo "check-docs: every decision reference resolves; ARCHITECTURE.md's paths exist"
