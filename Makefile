# Pavilion. `make run` starts the embedded server with demo data; `make test`
# runs the whole suite. Nothing else needs installing first but Go.

GO      ?= go
BIN     := bin
DATA    ?= ./data
HTTP    ?= :8080
# Packages with goroutines that meet: always tested under the race detector.
RACE_PKGS := ./internal/... ./chat/... ./checkout/... ./stream/... ./web/... ./cmd/... ./deploy/...

.PHONY: all build run test vet fmt-check test-go bench clean

all: build

build:
	$(GO) build -o $(BIN)/pavilion ./cmd/pavilion

run: build
	$(BIN)/pavilion serve --demo --data-dir $(DATA) --http $(HTTP)

test: fmt-check vet test-go

fmt-check:
	@out="$$(gofmt -l .)"; \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

test-go:
	$(GO) test -race -count=1 -timeout 15m $(RACE_PKGS)
	$(GO) test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime 15s ./chat/

bench:
	@# BENCH_SUITES: which benchmarks, in order: buy (bench/buy.sh), chat (bench/chat.sh), stream (bench/stream.sh), draw (bench/draw.sh).
	@rc=0; for s in $${BENCH_SUITES:-buy chat stream draw}; do \
		case "$$s" in buy|chat|stream|draw) GO=$(GO) bench/$$s.sh || rc=1 ;; *) echo "unknown bench suite $$s (buy, chat, stream, draw)"; rc=1 ;; esac; \
	done; exit $$rc

clean:
	rm -rf $(BIN)
