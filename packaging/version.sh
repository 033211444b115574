#!/usr/bin/env bash
# Prints the package version for the current checkout, in a form deb and rpm both
# order correctly: a release tag vX.Y.Z gives X.Y.Z; anything else gives
# LAST-TAG+gitYYYYMMDDHHMMSS.SHA (0.0.0 before the first tag), the commit time
# keeping later builds above earlier ones; uncommitted changes add ".dirty".
set -euo pipefail
cd "$(dirname "$0")/.."

if ! git rev-parse --git-dir >/dev/null 2>&1; then
	echo "0.0.0+unknown"
	exit 0
fi
if tag=$(git describe --tags --exact-match --match 'v[0-9]*' 2>/dev/null) && [ -z "$(git status --porcelain --untracked-files=no)" ]; then
	echo "${tag#v}"
	exit 0
fi
base=$(git describe --tags --abbrev=0 --match 'v[0-9]*' 2>/dev/null || echo v0.0.0)
when=$(TZ=UTC git log -1 --format=%cd --date=format-local:%Y%m%d%H%M%S)
sha=$(git rev-parse --short=12 HEAD)
v="${base#v}+git${when}.${sha}"
if [ -n "$(git status --porcelain --untracked-files=no)" ]; then
	v="${v}.dirty"
fi
echo "$v"
