#!/usr/bin/env bash
# mkbase.sh CACHE_DIR ARCH [PACKAGE,PACKAGE...]
# Prints the path of a tarball of a Debian minbase tree (debootstrap) for ARCH
# with the extra packages, building it on the first call and reusing it after:
# debootstrap costs ~45 s and downloads ~100 MB, unpacking the tarball ~3 s.
# Downloaded .debs stay in CACHE_DIR/debs, so a tree with other packages (the
# test chroot vs the image) only downloads what is new.
# SB_SUITE (default bookworm) and SB_MIRROR (default: the Debian mirror that apt
# already uses, from /etc/apt/sources.list*) choose what to bootstrap.
set -euo pipefail

cache=${1:?usage: mkbase.sh CACHE_DIR ARCH [PACKAGES]}
arch=${2:?usage: mkbase.sh CACHE_DIR ARCH [PACKAGES]}
include=${3:-}
suite=${SB_SUITE:-bookworm}

apt_mirror() {
	# The first archive URI (not the security one) in apt's own sources.
	local f
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
		[ -r "$f" ] || continue
		awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^https?:\/\/.*\/debian\/?$/) { sub(/\/$/, "", $i); print $i; exit } }' "$f"
	done | sed -n 1p
}
mirror=${SB_MIRROR:-$(apt_mirror)}
if [ -z "$mirror" ]; then
	echo "mkbase: no Debian mirror in /etc/apt/sources.list*; set SB_MIRROR" >&2
	exit 1
fi

mkdir -p "$cache/debs"
key=$(printf '%s\n' "$suite" "$arch" "$include" "$mirror" | sha256sum | cut -c1-12)
tarball="$cache/base-$suite-$arch-$key.tar"

# One builder per tree at a time: parallel tests wait for and share the result.
exec 9>"$tarball.lock"
flock 9
if [ -s "$tarball" ]; then
	echo "$tarball"
	exit 0
fi

work=$(mktemp -d "$cache/mkbase.XXXXXX")
cleanup() {
	# debootstrap mounts proc and sys inside the tree; never leave them behind.
	local m
	for m in "$work/root/proc" "$work/root/sys" "$work/root/dev/pts"; do
		if mountpoint -q "$m" 2>/dev/null; then umount -l "$m" || true; fi
	done
	rm -rf "$work"
}
trap cleanup EXIT

echo "mkbase: debootstrap $suite/$arch from $mirror${include:+ with $include} (cached in $tarball)" >&2
args=(--variant=minbase --arch="$arch" --cache-dir="$(realpath "$cache/debs")")
[ -n "$include" ] && args+=(--include="$include")
if ! debootstrap "${args[@]}" "$suite" "$work/root" "$mirror" >"$work/log" 2>&1; then
	tail -n 30 "$work/log" >&2
	[ -f "$work/root/debootstrap/debootstrap.log" ] && tail -n 30 "$work/root/debootstrap/debootstrap.log" >&2
	echo "mkbase: debootstrap failed" >&2
	exit 1
fi
# apt's lists are stale by the time the tree is used; the .debs live in the cache.
rm -rf "$work/root/var/lib/apt/lists/"* "$work/root/var/cache/apt/archives/"*.deb
tar -C "$work/root" --numeric-owner -cf "$tarball.partial" .
mv "$tarball.partial" "$tarball"
echo "$tarball"
