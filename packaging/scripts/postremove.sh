#!/bin/sh
# Runs after the files are removed. deb: "remove" (keeps config and data),
# "purge" (Debian policy: remove everything the package created, here the data
# directory and the system user), "upgrade", "failed-upgrade", "abort-install",
# "abort-upgrade", "disappear"; rpm: 0 (erase; rpm has no purge, so data and user
# stay, as the Fedora packaging guidelines ask) or 1 (upgrade, old package).
# No pipelines here, and dash has no pipefail: -eu is the whole set.
set -eu

reload() {
	if [ -d /run/systemd/system ]; then
		systemctl daemon-reload || true
	fi
}

case "${1:-}" in
remove | 0)
	reload
	;;
purge)
	reload
	rm -rf /var/lib/switchboard
	# dpkg deletes the conffile itself; what is left are files the daemon or the
	# administrator added next to it (backups, TLS pairs).
	rm -rf /etc/switchboard
	if getent passwd switchboard >/dev/null; then
		userdel switchboard || echo "switchboard postrm: could not remove user switchboard" >&2
	fi
	if getent group switchboard >/dev/null; then
		groupdel switchboard || echo "switchboard postrm: could not remove group switchboard" >&2
	fi
	;;
1)
	# rpm upgrade: the old files are gone now, restart on the new binary.
	if [ -d /run/systemd/system ]; then
		systemctl daemon-reload || true
		systemctl try-restart switchboard.service || true
	fi
	;;
upgrade | failed-upgrade | abort-install | abort-upgrade | disappear) ;;
*)
	echo "switchboard postrm: unknown argument '${1:-}'" >&2
	;;
esac
exit 0
