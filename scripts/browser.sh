#!/usr/bin/env bash
# browser.sh — make a headless Chromium available for the console's browser test
# (internal/console, TestConsoleInBrowser).
#
# Idempotent: when /usr/bin/chromium (or $CHROMIUM) is present it only says so. Otherwise it installs
# Debian's chromium package with apt-get, which needs root. Called by `make services` (and so by
# `make test`).
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive

say() { printf '%s\n' "$*"; }
die() {
	printf 'browser: error: %s\n' "$*" >&2
	exit 1
}

chromium=${CHROMIUM:-/usr/bin/chromium}
if [[ -x "$chromium" ]]; then
	say "chromium: present ($("$chromium" --version 2>/dev/null || echo "$chromium"))"
	exit 0
fi
[[ "$(id -u)" -eq 0 ]] || die "installing chromium needs root: run 'sudo make services' (or as root)"
say "chromium: installing (apt-get)"
apt-get update -qq
apt-get install -y -qq chromium >/dev/null
[[ -x /usr/bin/chromium ]] || die "apt-get installed chromium but /usr/bin/chromium is missing"
say "chromium: installed ($(/usr/bin/chromium --version 2>/dev/null || echo /usr/bin/chromium))"
