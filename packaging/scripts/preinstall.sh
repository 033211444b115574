#!/bin/sh
# Runs before the files are unpacked, on install and on upgrade, for both
# package formats: deb calls it with "install" or "upgrade OLD-VERSION"
# ("abort-upgrade" after a failed upgrade), rpm with 1 (install) or 2 (upgrade).
# dash has no pipefail, and this script has no pipelines, so -eu is the whole set.
set -eu

ensure_user() {
	# The user must exist before unpacking so that the data directory and the
	# config file get their owner and group from the package.
	if ! getent group switchboard >/dev/null; then
		groupadd --system switchboard
	fi
	if ! getent passwd switchboard >/dev/null; then
		shell=/usr/sbin/nologin
		[ -x "$shell" ] || shell=/sbin/nologin
		useradd --system --gid switchboard --home-dir /var/lib/switchboard --no-create-home \
			--shell "$shell" --comment "Switchboard PBX services" switchboard
	fi
}

case "${1:-}" in
install | upgrade | 1 | 2)
	ensure_user
	;;
abort-upgrade) ;;
*)
	echo "switchboard preinst: unknown argument '${1:-}'" >&2
	;;
esac
exit 0
