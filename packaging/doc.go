// Package packaging holds the deb and rpm recipe (nfpm.yaml, built by build.sh
// with nfpm v2.45.2), the systemd unit and the maintainer scripts, which take
// both the rpm (1/2/0) and the deb (configure/upgrade/remove/purge) argument
// conventions. It has no Go code of its own: its tests build the packages,
// inspect them with dpkg-deb and rpm, and, as root, install, upgrade, remove and
// purge them in a debootstrap chroot (see internal/chroottest).
package packaging
