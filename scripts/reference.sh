#!/usr/bin/env bash
# reference.sh DIR — check the SEV OVV 1207 v1.5 adapter (adapters/sev1207) against the published
# reference material in DIR: DIR/Header.xsd (the format's XML schema) and DIR/samples/ (real messages).
#
# Every message the adapter writes for the project's fixture submissions must validate against
# DIR/Header.xsd (xmllint), every sample must validate against the project's own schemas/sev1207.xsd,
# and every sample must decode as expected (notices 1 to 4 to their types, with the registration
# number and date or the refusal reason; answers to the document they refer to). The material is
# read where it lies and never copied into the project; `make test` does not need it.
#
# Called by `make test-reference REF=DIR`; CI runs it with REF=../shared/sev1207 after `make test`.
set -euo pipefail

die() {
	printf 'reference: error: %s\n' "$*" >&2
	exit 1
}

dir=${1:-}
[[ -n "$dir" ]] || die "usage: scripts/reference.sh DIR (a directory holding Header.xsd and samples/)"
[[ -f "$dir/Header.xsd" ]] || die "$dir/Header.xsd not found"
[[ -d "$dir/samples" ]] || die "$dir/samples/ not found"
command -v xmllint >/dev/null || die "xmllint not found: run 'make services' (it installs libxml2-utils)"
dir=$(cd "$dir" && pwd)

GO=${GO:-go}
cd "$(dirname "$0")/.."
printf 'reference: checking adapters/sev1207 against %s\n' "$dir"
SEV1207_REF="$dir" CI=true "$GO" test -count=1 -run '^TestReference$' -v ./adapters/sev1207/
