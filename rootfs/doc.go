// Package rootfs holds what goes into the appliance image: overlay/ (files laid
// over the Debian tree: the first-boot unit and script, the DHCP network), the
// package list added to debootstrap minbase (base-packages), the cached
// debootstrap step (mkbase.sh) and the image build (build-image.sh). It has no
// Go code of its own; its tests build an image as root and check the ext4 file
// system and the tarball, and run the first-boot setup against the daemon in
// the unpacked tree.
package rootfs
