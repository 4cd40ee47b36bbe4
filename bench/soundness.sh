#!/bin/bash
# Soundness sweep (issue 11): every property against the reference, its seeded random eviction and
# the two extreme cache configurations, on seeds FIRST..LAST, RUNS cases each. The reference is
# correct by construction, so anything but "18 passed" is an oracle or generator bug.
#   bash bench/soundness.sh [FIRST LAST RUNS JOBS]   (default 1 10 100 2; needs `npm run build`)
cd "$(dirname "$0")/.." || exit 2
first=${1:-1}; last=${2:-10}; runs=${3:-100}; jobs=${4:-2}
out=$(mktemp -d)
adapters=(reference reference:evict=random "reference:iotlb=0,context=0,pasid=0,psc=0" "reference:iotlb=1,context=1,pasid=1,psc=1")
for a in "${adapters[@]}"; do
  for s in $(seq "$first" "$last"); do echo "$a $s"; done
done | xargs -P "$jobs" -L 1 bash -c '
  d='"$out"'/$(echo "$0-$1" | tr ":,=" "___")
  node bin/iommu-conformance.js run --adapter "$0" --seed "$1" --runs '"$runs"' --out "$d" > "$d.txt" 2>&1
  echo "$? $0 seed $1: $(tail -n 1 "$d.txt")"' | sort -k2,2 -k4,4n | tee "$out/summary"
bad=$(grep -vc "^0 " "$out/summary")
echo "soundness: $(grep -c . "$out/summary") runs, $bad not passing (outputs in $out)"
[ "$bad" = 0 ]
