#!/usr/bin/env bash
# fuzz.sh DURATION — run every fuzz target of the module for DURATION each (go test -fuzztime syntax:
# 10s, 2m, 1000x), one after another, stopping at the first failure. A failing input is written by
# go test under the package's testdata/fuzz/<Target>/: commit it as a regression seed.
set -euo pipefail

duration=${1:?usage: scripts/fuzz.sh DURATION (e.g. 10s)}
GO=${GO:-go}
cd "$(dirname "$0")/.."

# Every "func FuzzXxx(" in a _test.go file, as "dir name", skipping what go build ignores (vendor,
# testdata, directories starting with . or _).
mapfile -t targets < <(
	find . \( -name vendor -o -name testdata -o -name '.?*' -o -name '_*' \) -prune -o \
		-type f -name '*_test.go' -print0 |
		xargs -0 -r grep -HoE '^func Fuzz[A-Za-z0-9_]*\(' |
		sed -E 's|^(.*)/[^/]+_test\.go:func (Fuzz[A-Za-z0-9_]*)\($|\1 \2|' |
		sort -u
)

if ((${#targets[@]} == 0)); then
	echo "fuzz: no fuzz targets found"
	exit 0
fi

echo "fuzz: ${#targets[@]} targets, ${duration} each"
for t in "${targets[@]}"; do
	dir=${t% *} name=${t#* }
	start=$SECONDS
	# -fuzzminimizetime bounds the shrinking of each new interesting input: left at its default
	# (60s), a short run spends nearly all its time minimizing the first few inputs.
	corpus="$dir/testdata/fuzz/$name"
	before=$(ls "$corpus" 2>/dev/null | sort || true)
	if ! out=$("$GO" test -run '^$' -fuzz "^${name}\$" -fuzztime "$duration" -fuzzminimizetime 200x "$dir" 2>&1); then
		after=$(ls "$corpus" 2>/dev/null | sort || true)
		# Go 1.26's fuzz coordinator can report its own -fuzztime deadline as a failure
		# ("context deadline exceeded", no failing input written: go.dev/issue/75804, fixed in
		# Go 1.27). Only that exact signature is let through, with a warning.
		if [[ $before == "$after" ]] && grep -q '^    context deadline exceeded$' <<<"$out" &&
			! grep -q 'Failing input written' <<<"$out"; then
			echo "fuzz: ok   ${dir#./} ${name} ($((SECONDS - start))s; the fuzz coordinator reported its own deadline, go.dev/issue/75804)"
			continue
		fi
		printf '%s\n' "$out"
		echo "fuzz: FAIL ${dir#./} ${name}"
		exit 1
	fi
	echo "fuzz: ok   ${dir#./} ${name} ($((SECONDS - start))s)"
done
