#!/usr/bin/env bash
# Times the garagectl binary end to end: init of the example config into a
# fresh scratch root, and an apply that finds nothing to change. Run as root
# (files are handed to the mosq group inside the root). Usage: bench/init.sh [RUNS]
set -euo pipefail
runs=${1:-10}
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

go build -o "$work/garagectl" ./cmd/garagectl
"$work/garagectl" config example >"$work/garage.yaml"
"$work/garagectl" config example --secrets >"$work/secrets.yaml"
chmod 600 "$work/secrets.yaml"
printf 'correct horse battery staple\n' >"$work/pass"

# ms prints the wall time of one run of "$@" in milliseconds.
ms() {
	local start end
	start=$(date +%s%N)
	"$@" >/dev/null 2>&1
	end=$(date +%s%N)
	echo $(((end - start) / 1000000))
}

summarize() {
	sort -n | awk -v name="$1" '{ v[NR] = $1; s += $1 }
		END { printf "%-16s runs %d  min %d ms  median %d ms  max %d ms  mean %.1f ms\n",
			name, NR, v[1], v[int((NR + 1) / 2)], v[NR], s / NR }'
}

for i in $(seq "$runs"); do
	ms "$work/garagectl" init --quiet --config "$work/garage.yaml" --root "$work/root$i" \
		--ca-passphrase-file "$work/pass"
done | summarize "init"

for i in $(seq "$runs"); do
	ms "$work/garagectl" apply --quiet --config "$work/garage.yaml" --root "$work/root1"
done | summarize "apply unchanged"
