#!/bin/sh
# Runs before the files are removed. deb: "remove", "upgrade NEW-VERSION",
# "deconfigure" or "failed-upgrade"; rpm: 0 (erase) or 1 (upgrade, old package).
# No pipelines here, and dash has no pipefail: -eu is the whole set.
set -eu

stop_and_disable() {
	if [ -d /run/systemd/system ]; then
		systemctl stop switchboard.service || true
	fi
	if command -v systemctl >/dev/null 2>&1; then
		# dpkg keeps /etc/switchboard after "remove", and a later install
		# (configure with the old version) must enable the unit again, as it
		# was: the marker says so. Purge deletes it with the directory.
		if systemctl is-enabled --quiet switchboard.service 2>/dev/null && [ -d /etc/switchboard ]; then
			: >/etc/switchboard/.enabled-before-remove
		fi
		systemctl disable switchboard.service >/dev/null 2>&1 || true
	fi
}

case "${1:-}" in
remove | deconfigure | 0)
	stop_and_disable
	;;
upgrade | failed-upgrade | 1)
	# An upgrade keeps the daemon running; the new package restarts it.
	;;
*)
	echo "switchboard prerm: unknown argument '${1:-}'" >&2
	;;
esac
exit 0
