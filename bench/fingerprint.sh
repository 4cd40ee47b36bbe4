#!/usr/bin/env bash
# A behaviour fingerprint of a checkout, to show a refactoring changed nothing: the exit code of a
# seeded run against every built-in mutant and one against the reference, the sha256 of every trace
# those runs wrote, and the replay verdicts of reference-traces/mutants. Two checkouts behave alike
# when their fingerprints are byte-identical (`cmp`).
#   bench/fingerprint.sh CHECKOUT OUTFILE      (about 5 minutes of CPU)
set -u
tree=$1
outfile=$(realpath -m "$2")
cd "$tree" || exit 2
tmp=$(mktemp -d)
cli() { node bin/iommu-conformance.js "$@"; }
for m in $(cli list mutants 2>/dev/null | sed -E "s/:.*//" | grep -E '^[a-z0-9-]+$'); do
  cli run --adapter "mutant:$m" --seed 7 --runs 40 --out "$tmp/$m" >"$tmp/$m.log" 2>&1
  echo "exit $m $?" >>"$tmp/exits"
done
cli run --seed 3 --runs 30 --out "$tmp/ref" >"$tmp/ref.log" 2>&1
echo "exit ref $?" >>"$tmp/exits"
cli replay reference-traces/mutants --adapter reference >"$tmp/replay-ref.log" 2>&1
echo "exit replay-ref $?" >>"$tmp/exits"
{
  cat "$tmp/exits"
  (cd "$tmp" && find . -name '*.json' -path '*traces*' | sort | xargs sha256sum)
  grep -hE 'PASS|FAIL|SKIP|ERROR' "$tmp"/*.log | sed -E 's/[0-9.]+ ?m?s\b//g' | sort
} >"$outfile"
rm -rf "$tmp"
