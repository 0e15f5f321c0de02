#!/bin/sh
# The man pages render without a warning (mandoc -T lint down to style
# messages, man --warnings), their .TH carries "lbd VERSION" of the
# project and a real date, and they cite no source-tree path (the
# package installs what they name under /usr/share).
#
#   check_man.sh VERSION PAGE...
set -u
version=$1
shift
rc=0
fail() {
	echo "$page: $*" >&2
	rc=1
}
for page; do
	out=$(mandoc -T lint -W style "$page" 2>&1) || fail "mandoc failed"
	[ -z "$out" ] || fail "mandoc -T lint:
$out"
	out=$(MANWIDTH=80 man --warnings -l "$page" 2>&1 >/dev/null) ||
		fail "man failed"
	[ -z "$out" ] || fail "man --warnings:
$out"
	th=$(sed -n '/^\.TH /{p;q}' "$page")
	date=$(echo "$th" | sed -n 's/^\.TH [^ ]* [0-9] "\([^"]*\)" .*/\1/p')
	[ "$(date -d "$date" +%F 2>/dev/null)" = "$date" ] ||
		fail ".TH date is not YYYY-MM-DD: $th"
	echo "$th" | grep -q "\"$date\" \"lbd $version\" " ||
		fail ".TH does not carry \"lbd $version\": $th"
	out=$(grep -nE '(bgp/templates|packaging/|config/examples)' "$page") &&
		fail "source-tree paths:
$out"
done
[ $rc = 0 ] && echo "man pages: clean, .TH lbd $version: $*"
exit $rc
