#!/usr/bin/env bash
# build-image.sh: the Switchboard appliance image, without Docker or loop mounts.
#   Debian minbase + rootfs/base-packages (+ the kernel) via debootstrap, cached
#   -> our deb installed with dpkg in a chroot -> rootfs/overlay laid on top
#   (first-boot unit, DHCP network) -> identity reset (machine-id, root locked)
#   -> dist/switchboard-VERSION-ARCH.ext4 (mke2fs -d, label sbroot), the same
#   tree as -rootfs.tar.zst, and the kernel and initrd beside them for direct
#   boot (qemu -kernel ... -append root=LABEL=sbroot).
# Environment (optional): ARCH (amd64), VERSION (packaging/version.sh), DEB (the
# deb to install; default: built here with packaging/build.sh, which needs NFPM),
# OUT (dist), SB_CACHE (.cache), SB_KERNEL (yes; "none" leaves the kernel out: a
# tree for tests, not bootable), SB_SQUASHFS (set to 1 to add a .squashfs).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
	echo "build-image: needs root (debootstrap, chroot, file owners in the image)" >&2
	exit 1
fi
ARCH=${ARCH:-amd64}
if [ "$ARCH" != "$(dpkg --print-architecture)" ]; then
	# The chroot steps run the tree's own binaries; a foreign tree would need
	# qemu-user-static and debootstrap --foreign, which this build does not do.
	echo "build-image: ARCH=$ARCH: only the host's architecture ($(dpkg --print-architecture)) is supported" >&2
	exit 1
fi
VERSION=${VERSION:-$(packaging/version.sh)}
OUT=${OUT:-dist}
SB_CACHE=${SB_CACHE:-.cache}
SB_KERNEL=${SB_KERNEL:-yes}
mkdir -p "$OUT" "$SB_CACHE"
OUT=$(realpath "$OUT")
SB_CACHE=$(realpath "$SB_CACHE")

if [ -z "${DEB:-}" ]; then
	ARCHES=$ARCH FORMATS=deb OUT=$OUT VERSION=$VERSION packaging/build.sh >/dev/null
	DEB="$OUT/switchboard_${VERSION}-1_${ARCH}.deb"
fi
[ -f "$DEB" ] || { echo "build-image: no deb at $DEB" >&2; exit 1; }

packages=$(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' rootfs/base-packages | tr -d ' \t' | paste -sd, -)
if [ "$SB_KERNEL" != none ]; then
	packages="$packages,linux-image-$ARCH"
fi
tarball=$(rootfs/mkbase.sh "$SB_CACHE" "$ARCH" "$packages")

work=$(mktemp -d "$SB_CACHE/image.XXXXXX")
root="$work/root"
cleanup() {
	# Commands run in private mount namespaces, so nothing should be mounted;
	# this is the guard for the day that changes.
	local m
	awk -v w="$work" 'index($5, w) == 1 { print $5 }' /proc/self/mountinfo | sort -r |
		while read -r m; do umount -l "$m" || true; done
	rm -rf "$work"
}
trap cleanup EXIT

in_root() {
	unshare --mount --uts --propagation private --mount-proc="$root/proc" -- \
		chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C DEBIAN_FRONTEND=noninteractive "$@"
}

echo "build-image: $VERSION $ARCH from $tarball" >&2
mkdir -p "$root"
tar -C "$root" --numeric-owner -xpf "$tarball"

cp "$DEB" "$root/tmp/switchboard.deb"
in_root dpkg -i /tmp/switchboard.deb >"$work/dpkg.log" 2>&1 || { cat "$work/dpkg.log" >&2; exit 1; }
rm -f "$root/tmp/switchboard.deb"

# The overlay belongs to root whoever owns the checkout; existing directories
# keep their modes.
tar -C rootfs/overlay --owner=0 --group=0 -cf - . | tar -C "$root" --no-overwrite-dir -xpf -
in_root systemctl enable switchboard-firstboot.service systemd-networkd.service \
	systemd-resolved.service systemd-timesyncd.service >/dev/null 2>&1
ln -sf ../run/systemd/resolve/stub-resolv.conf "$root/etc/resolv.conf"

# Identity: every appliance gets its own machine-id (an empty file means "first
# boot" to systemd), host name and keys; root has no password until first boot.
: >"$root/etc/machine-id"
rm -f "$root/var/lib/dbus/machine-id"
echo switchboard >"$root/etc/hostname"
printf '127.0.0.1\tlocalhost\n127.0.1.1\tswitchboard\n::1\tlocalhost ip6-localhost ip6-loopback\n' >"$root/etc/hosts"
in_root passwd -l root >/dev/null
printf 'LABEL=sbroot\t/\text4\tdefaults,errors=remount-ro\t0\t1\n' >"$root/etc/fstab"
printf 'Switchboard appliance \\n (\\l)  address \\4\n\n' >"$root/etc/issue"
echo "$VERSION" >"$root/etc/switchboard-image-version"

base="$OUT/switchboard-$VERSION-$ARCH"
if [ "$SB_KERNEL" != none ]; then
	kernel=$(find "$root/boot" -maxdepth 1 -name 'vmlinuz-*' | sort | tail -n 1)
	initrd=$(find "$root/boot" -maxdepth 1 -name 'initrd.img-*' | sort | tail -n 1)
	if [ -z "$kernel" ] || [ -z "$initrd" ]; then
		echo "build-image: no kernel or initrd in /boot" >&2
		exit 1
	fi
	cp "$kernel" "$base.vmlinuz"
	cp "$initrd" "$base.initrd"
fi
rm -rf "$root/tmp/"* "$root/var/tmp/"* "$root/var/cache/apt/"*.bin "$root/var/log/"*.log "$root/var/log/apt/"*

tar -C "$root" --numeric-owner -cf - . | zstd -q -T0 -3 -o "$base-rootfs.tar.zst" -f
# Room for the database, firmware assets and logs on top of the tree.
size_mb=$(($(du -sm "$root" | cut -f1) * 13 / 10 + 512))
rm -f "$base.ext4"
mke2fs -q -t ext4 -L sbroot -d "$root" "$base.ext4" "${size_mb}M" >/dev/null
e2fsck -fn "$base.ext4" >/dev/null 2>&1
if [ "${SB_SQUASHFS:-}" = 1 ]; then
	mksquashfs "$root" "$base.squashfs" -comp zstd -noappend -quiet
fi
ls -1 "$base"*
