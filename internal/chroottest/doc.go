// Package chroottest gives the packaging and image tests a real Debian tree to
// work in: a debootstrap minbase tarball cached across runs (rootfs/mkbase.sh),
// unpacked per test, and commands run chrooted inside private mount namespaces
// (and, for daemons, private network namespaces) so that nothing mounted or
// bound inside can outlive the test or touch the host. It needs root and the
// Debian tools debootstrap, unshare, nsenter and ip. Root.Boot goes further and
// boots the tree's systemd as PID 1 of its own namespaces, for tests that need
// the real service manager (units, D-Bus, polkitd); it makes a cgroup of its
// own on the host, removed at the end.
package chroottest
