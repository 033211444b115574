#!/usr/bin/env bash
# build.sh: cross-builds switchboard and packages it as deb and rpm with nfpm.
# Environment (all optional but NFPM):
#   NFPM        path of the nfpm v2.45.2 binary (the Makefile installs it)
#   VERSION     package version (default: packaging/version.sh)
#   COMMIT      commit reported by "switchboard version" (default: git HEAD)
#   ARCHES      space-separated Go architectures (default: "amd64 arm64")
#   FORMATS     space-separated nfpm packagers (default: "deb rpm")
#   OUT         output directory (default: dist)
#   SB_CONFIG   default config to package (default: configs/switchboard.yaml)
set -euo pipefail
cd "$(dirname "$0")/.."

: "${NFPM:?NFPM must point at the nfpm binary (make packages installs it)}"
VERSION=${VERSION:-$(packaging/version.sh)}
COMMIT=${COMMIT:-$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)}
ARCHES=${ARCHES:-amd64 arm64}
FORMATS=${FORMATS:-deb rpm}
OUT=${OUT:-dist}
GO=${GO:-go}
export SB_CONFIG=${SB_CONFIG:-configs/switchboard.yaml}
export SB_VERSION=$VERSION

# nfpm expands the environment in a few fields only (not in contents), so the
# recipe's ${SB_...} references are filled in here, one rendered copy per arch.
render() {
	local k v out=$1
	cp packaging/nfpm.yaml "$out"
	for k in SB_VERSION SB_ARCH SB_BINARY SB_CONFIG; do
		v=${!k}
		case $v in *[\|\&\\]*)
			echo "build: $k contains | & or \\: $v" >&2
			exit 1
			;;
		esac
		sed -i "s|\${$k}|$v|g" "$out"
	done
}

mkdir -p "$OUT"
for arch in $ARCHES; do
	bin="$OUT/build/linux-$arch/switchboard"
	echo "build: switchboard $VERSION ($COMMIT) linux/$arch" >&2
	CGO_ENABLED=0 GOOS=linux GOARCH=$arch "$GO" build -trimpath \
		-ldflags "-s -w -X main.version=$VERSION -X main.commit=$COMMIT" -o "$bin" ./cmd/switchboard
	export SB_ARCH=$arch SB_BINARY=$bin
	recipe="$OUT/build/linux-$arch/nfpm.yaml"
	render "$recipe"
	for format in $FORMATS; do
		"$NFPM" package --config "$recipe" --packager "$format" --target "$OUT/" >&2
	done
done
ls -1 "$OUT"/*.deb "$OUT"/*.rpm 2>/dev/null || true
