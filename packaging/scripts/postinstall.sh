#!/bin/sh
# Runs after the files are unpacked. deb: "configure OLD-VERSION" (OLD-VERSION is
# empty on a first install) or "abort-*"; rpm: 1 (install) or 2 (upgrade).
# No pipelines here, and dash has no pipefail: -eu is the whole set.
set -eu

fix_ownership() {
	# Only the directory itself, never recursively: an upgrade must not touch the
	# owner or mode of data the administrator moved or restored by hand.
	chown switchboard:switchboard /var/lib/switchboard
	chmod 0750 /var/lib/switchboard
	chown root:switchboard /etc/switchboard
	chmod 0750 /etc/switchboard
	# An administrator may delete a conffile, and dpkg then keeps it deleted.
	if [ -e /etc/switchboard/switchboard.yaml ]; then
		chown root:switchboard /etc/switchboard/switchboard.yaml
		chmod 0640 /etc/switchboard/switchboard.yaml
	fi
}

systemd_running() {
	[ -d /run/systemd/system ]
}

first_install() {
	fix_ownership
	# Enabling works without a running systemd (it only writes symlinks), so an
	# image built in a chroot boots with the service enabled.
	if command -v systemctl >/dev/null 2>&1; then
		systemctl enable switchboard.service >/dev/null 2>&1 || true
	fi
	if systemd_running; then
		systemctl daemon-reload
		systemctl start switchboard.service || echo "switchboard: service did not start; see journalctl -u switchboard" >&2
	fi
}

upgrade() {
	fix_ownership
	if systemd_running; then
		systemctl daemon-reload
		# Restart only a running daemon: an administrator who stopped it keeps it stopped.
		systemctl try-restart switchboard.service || echo "switchboard: restart failed; see journalctl -u switchboard" >&2
	fi
}

case "${1:-}" in
configure)
	# A non-empty old version is an upgrade, or an install after "remove" (the
	# package was in config-files state), which the prerm's marker tells apart.
	if [ -z "${2:-}" ] || [ -e /etc/switchboard/.enabled-before-remove ]; then
		rm -f /etc/switchboard/.enabled-before-remove
		first_install
	else
		upgrade
	fi
	;;
1)
	rm -f /etc/switchboard/.enabled-before-remove
	first_install
	;;
2)
	# rpm restarts in %postun of the old package, once the old files are gone.
	fix_ownership
	;;
abort-upgrade | abort-remove | abort-deconfigure) ;;
*)
	echo "switchboard postinst: unknown argument '${1:-}'" >&2
	;;
esac
exit 0
