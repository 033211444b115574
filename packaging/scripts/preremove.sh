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
