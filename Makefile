# Switchboard. "make run" starts a demo; "make test" runs every test CI runs.
GO       ?= go
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT   ?= $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
LDFLAGS  := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)
GOFILES  := $(shell find . -name '*.go' -not -path './data/*') go.mod go.sum
# Files the binary embeds (//go:embed): the console and the built-in catalog.
EMBEDDED := $(shell find webui/static provision/catalog -type f)

.PHONY: build run test test-unit test-race bench lint lint-golangci fmt clean

build: bin/switchboard

bin/switchboard: $(GOFILES) $(EMBEDDED)
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $@ ./cmd/switchboard

# The demo: unprivileged ports, data in ./data, self-signed certificate, demo
# tenant and admin login printed at start. Ctrl-C stops it.
run: bin/switchboard
	./bin/switchboard serve --config configs/demo.yaml

# Everything CI runs. Tests that need root skip themselves, saying so, when not root.
# The packaging tests (packaging/, rootfs/) are among them: they find nfpm and the
# debootstrap cache through NFPM and SB_CACHE (see test-packages below).
# The tests with a real Asterisk find it through SB_ASTERISK (default
# $(SB_CACHE)/asterisk-20.20.1, then /var/cache/switchboard/asterisk-20.20.1;
# .ci/run builds it) and skip, saying so, when it is not there.
test: lint bin/switchboard
	NFPM=$(NFPM) SB_CACHE=$(SB_CACHE) SB_ASTERISK=$(SB_ASTERISK) $(GO) test -count=1 -timeout 25m ./...

test-race:
	$(GO) test -race -count=1 -timeout 20m ./...

# Benchmarks against the baselines in the same run (tftpd-hpa, dnsmasq, nginx, wrk, keepalived, MariaDB; root).
bench: bin/switchboard
	$(GO) run ./bench/provbench -bin bin/switchboard
	$(GO) run ./bench/cti
	$(GO) run ./bench/ha -bin bin/switchboard
	$(GO) run ./bench/harepl -bin bin/switchboard
	$(GO) run ./bench/bootstorm -bin bin/switchboard
	$(GO) run ./bench/pnp -bin bin/switchboard
	$(GO) run ./bench/export
	$(GO) run ./bench/history
	$(GO) run ./bench/console -bin bin/switchboard
	$(GO) run ./bench/phonebook

# golangci-lint, pinned, built from the Go module proxy into the tools cache
# (SB_CACHE, outside the module); .golangci.yml says which linters run. Part
# of "make lint" and so of "make test": a new finding fails CI.
SB_CACHE              ?= $(CURDIR)/.cache
GOLANGCI_LINT_VERSION := v2.15.0
GOLANGCI_LINT         := $(SB_CACHE)/tools/golangci-lint-$(GOLANGCI_LINT_VERSION)/golangci-lint

$(GOLANGCI_LINT):
	GOFLAGS= GOBIN=$(dir $@) $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION)

lint: $(GOLANGCI_LINT)
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GOLANGCI_LINT) run ./...

lint-golangci: $(GOLANGCI_LINT)
	$(GOLANGCI_LINT) run ./...

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf bin dist

# Packages and the appliance image (packaging/, rootfs/); output in dist/.
# Debian trees built with debootstrap are cached in SB_CACHE (root only).
PKG_VERSION ?= $(shell packaging/version.sh)
SB_CACHE    ?= $(CURDIR)/.cache
NFPM        := $(SB_CACHE)/tools/nfpm-v2.45.2/nfpm

.PHONY: packages image test-packages test-qemu

$(NFPM):
	GOFLAGS= GOBIN=$(dir $@) $(GO) install github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.45.2

packages: $(NFPM)
	NFPM=$(NFPM) VERSION=$(PKG_VERSION) COMMIT=$(COMMIT) GO=$(GO) packaging/build.sh

image: $(NFPM)
	NFPM=$(NFPM) VERSION=$(PKG_VERSION) COMMIT=$(COMMIT) GO=$(GO) SB_CACHE=$(SB_CACHE) rootfs/build-image.sh

# Inspects the packages; as root also installs, upgrades, removes and purges them
# in a debootstrap chroot and builds the image. The tests install nfpm at
# $(NFPM) themselves, while debootstrap runs beside it.
test-packages:
	NFPM=$(NFPM) SB_CACHE=$(SB_CACHE) $(GO) test -count=1 -timeout 15m -v ./packaging/ ./rootfs/

# Opt-in, not part of "make test": boots the full image under qemu (software
# emulation) and fetches a provisioning file from it (root, qemu-system-x86).
test-qemu:
	SB_TEST_QEMU=1 NFPM=$(NFPM) SB_CACHE=$(SB_CACHE) $(GO) test -count=1 -timeout 20m -v -run TestQEMUBoot ./rootfs/
