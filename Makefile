GO      ?= go
BIN     := bin/provision
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)

.PHONY: build test check demo bench fuzz clean

build:
	$(GO) build -ldflags "-X main.version=$(VERSION)" -o $(BIN) ./cmd/provision

# What CI runs: formatting, vet, module tidiness, and every test with the race detector.
test: check
	$(GO) test -race -count=1 ./...

check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	@cp go.mod /tmp/provision-go.mod.bak; cp go.sum /tmp/provision-go.sum.bak; \
	$(GO) mod tidy; \
	if ! cmp -s go.mod /tmp/provision-go.mod.bak || ! cmp -s go.sum /tmp/provision-go.sum.bak; then \
		echo "go mod tidy changes go.mod/go.sum; run it and commit"; exit 1; fi

# The emulator plus a run over samples/, then a second run that creates nothing.
demo: build
	./scripts/demo.sh

bench: build
	./scripts/bench.sh

fuzz:
	$(GO) test -run '^$$' -fuzz FuzzCSV -fuzztime 60s ./internal/reader/
	$(GO) test -run '^$$' -fuzz FuzzJSONL -fuzztime 60s ./internal/reader/
	$(GO) test -run '^$$' -fuzz FuzzValidate -fuzztime 60s ./internal/profile/

clean:
	rm -rf bin out
