#!/bin/sh
# The Debian package as a new user meets it (issue 18): build it with
# dpkg-buildpackage from a copy of the tree, lintian, install it with apt,
# check what it installed, purge it and check that nothing it made is
# left. Runs as root on the machine itself (not in a namespace): it
# refuses to start where an lbd package is installed already, and it
# purges on every exit path, and removes the user lbd if it made it.
#
#   test_package.sh SOURCE_DIR VERSION [BUILD_DIR]
#
# BUILD_DIR (build/) gives test_units.py its lab; without it the units'
# capability test is skipped. LAB_PREFIX_BASE names the lab's namespaces.
set -eu
src=$1
version=$2
build=${3:-}
t0=$(date +%s)
tmp=$(mktemp -d /tmp/lbd-package.XXXXXX)
installed=0
user_before=0
getent passwd lbd >/dev/null && user_before=1
apt_opts="-y -q -o DPkg::Lock::Timeout=120 --no-install-recommends"
export DEBIAN_FRONTEND=noninteractive

say() {
	echo "[$(($(date +%s) - t0))s] $*"
}
fail() {
	echo "FAIL: $*" >&2
	exit 1
}
cleanup() {
	rc=$?
	# in any state dpkg knows (installed, half-installed, config-files)
	if [ $installed = 1 ] && dpkg-query -W -f '${Status}' lbd 2>/dev/null |
		grep -qv 'not-installed'; then
		# shellcheck disable=SC2086
		apt-get purge $apt_opts lbd >/dev/null 2>&1 ||
			echo "cleanup: purge failed" >&2
	fi
	if [ $user_before = 0 ] && getent passwd lbd >/dev/null; then
		userdel lbd 2>/dev/null || true
		getent group lbd >/dev/null && groupdel lbd 2>/dev/null || true
	fi
	rm -rf "$tmp"
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

[ "$(id -u)" = 0 ] || fail "run as root"
if dpkg-query -W -f '${Status}' lbd 2>/dev/null | grep -q 'ok installed'; then
	fail "an lbd package is installed here already: not touching it"
fi

# a copy of the tree as it is (tracked and new files), without builds:
# dpkg-buildpackage writes into the parent directory and obj-*/ into it
say "copying the tree"
mkdir "$tmp/lbd"
(cd "$src" && git ls-files -co --exclude-standard |
	grep -vE '^(build|obj-)' | tar -cf - -T -) | tar -xf - -C "$tmp/lbd"
[ "$(dpkg-parsechangelog -l "$tmp/lbd/debian/changelog" -S Version)" = \
	"$version" ] || fail "debian/changelog is not at the project's $version"

say "dpkg-buildpackage -us -uc -b"
(cd "$tmp/lbd" && DEB_BUILD_OPTIONS="nocheck parallel=$(nproc)" \
	dpkg-buildpackage -us -uc -b >"$tmp/build.log" 2>&1) ||
	{ tail -40 "$tmp/build.log"; fail "dpkg-buildpackage"; }
deb=$(ls "$tmp"/lbd_"$version"_*.deb) || fail "no lbd_${version}_*.deb"
# warning-free with dpkg-buildflags' flags (the build has -Werror; this
# catches CMake's and debhelper's warnings too)
if grep -iE '(^|[^-])warning' "$tmp/build.log"; then
	fail "warnings in the package build"
fi

say "lintian"
lintian --fail-on error,warning --pedantic -I "$tmp"/lbd_*.changes ||
	fail "lintian"

say "apt-get install $(basename "$deb")"
dpkg -c "$deb" | awk '{print $6}' | sed 's#^\./#/#; s#/$##' |
	grep -v '^$' >"$tmp/files"
# what existed before (/etc, /usr/share/man/man8, ...) may stay after
while read -r f; do
	[ -e "$f" ] || [ -L "$f" ] || echo "$f"
done <"$tmp/files" >"$tmp/new"
installed=1
# shellcheck disable=SC2086
apt-get install $apt_opts "$deb" >"$tmp/install.log" 2>&1 ||
	{ cat "$tmp/install.log"; fail "apt-get install"; }

while read -r f; do
	[ -e "$f" ] || fail "$f not installed"
done <"$tmp/files"
out=$(lbd --version) && [ "$out" = "lbd $version" ] ||
	fail "lbd --version: $out"
out=$(lbctl --version) && [ "$out" = "lbctl $version" ] ||
	fail "lbctl --version: $out"
for p in lbd.conf.5 lbd.8 lbctl.8; do
	m=$(man -w "${p##*.}" "${p%.*}" 2>&1) &&
		[ "$m" = "/usr/share/man/man${p##*.}/$p.gz" ] ||
		fail "man -w ${p%.*}: $m"
done
m=$(man -w lbd.conf 2>&1) && [ "$m" = /usr/share/man/man5/lbd.conf.5.gz ] ||
	fail "man -w lbd.conf: $m"
dpkg-query -W -f '${Conffiles}\n' lbd | grep -q '^ /etc/lbd/lbd.conf ' ||
	fail "/etc/lbd/lbd.conf is no conffile"
lbd --check -c /etc/lbd/lbd.conf >"$tmp/check.log" 2>&1 ||
	{ cat "$tmp/check.log"; fail "lbd --check rejects the shipped config"; }
grep -q 'services +0 -0 ~0, backends +0 -0 ~0' "$tmp/check.log" ||
	fail "the shipped config serves something: $(cat "$tmp/check.log")"
pw=$(getent passwd lbd) || fail "no user lbd"
uid=$(echo "$pw" | cut -d: -f3)
[ "$uid" -lt 1000 ] && [ "$(id -gn lbd)" = lbd ] &&
	echo "$pw" | grep -q ':/usr/sbin/nologin$' ||
	fail "user lbd is not a system user with group lbd: $pw"
# installed, not enabled (docs/install.md)
for u in lbd lbd-backend; do
	[ ! -e "/etc/systemd/system/multi-user.target.wants/$u.service" ] ||
		fail "$u.service was enabled"
done
systemd-analyze verify /lib/systemd/system/lbd.service \
	/lib/systemd/system/lbd-backend.service >"$tmp/verify.log" 2>&1 &&
	[ ! -s "$tmp/verify.log" ] ||
	{ cat "$tmp/verify.log"; fail "systemd-analyze verify"; }
say "installed: versions, man pages, conffile, lbd --check, user lbd," \
	"systemd-analyze verify: fine"

if [ -n "$build" ]; then
	say "the installed units' capabilities (test_units.py)"
	LBD_BUILD=$build LBD_SOURCE=$src LBD_UNIT_DIR=/lib/systemd/system \
		PYTHONPATH="$src/tests/integration" \
		python3 "$src/tests/integration/test_units.py" ||
		fail "test_units.py on the installed units"
fi

say "apt-get purge lbd"
# shellcheck disable=SC2086
apt-get purge $apt_opts lbd >"$tmp/purge.log" 2>&1 ||
	{ cat "$tmp/purge.log"; fail "apt-get purge"; }
left=$(while read -r f; do
	[ ! -e "$f" ] && [ ! -L "$f" ] || echo "$f"
done <"$tmp/new")
[ -z "$left" ] || fail "left after the purge: $left"
[ ! -e /etc/lbd ] || fail "/etc/lbd left after the purge"
# Debian keeps system users on purge (docs/install.md)
getent passwd lbd >/dev/null || fail "the purge removed the user lbd"
say "purged: nothing it installed is left; the user lbd stays"
say "package test: fine ($(($(date +%s) - t0))s)"
