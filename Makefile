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

# Every fuzz target under internal/, found by name, so that a new or renamed
# one is never left out; FUZZTIME each.
FUZZTIME ?= 60s
fuzz:
	@set -e; for file in $$(grep -rl --include='*_test.go' '^func Fuzz' internal | sort); do \
		pkg=./$$(dirname $$file); \
		for target in $$(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' $$file); do \
			echo "$(GO) test -run '^$$' -fuzz '^$$target\$$' -fuzztime $(FUZZTIME) $$pkg"; \
			$(GO) test -run '^$$' -fuzz "^$$target\$$" -fuzztime $(FUZZTIME) $$pkg; \
		done; \
	done

clean:
	rm -rf bin out
