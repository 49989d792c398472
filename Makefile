# Strata's table of contents: every command a developer or CI runs.
# Tools are pinned in tools/go.mod (buf, protoc-gen-go-grpc, grpcurl) and go.mod (protoc-gen-go).
BUF := go tool -modfile=tools/go.mod buf

.PHONY: all build test lint fmt generate generate-check ci interop tools bench-check bench run-emulator

all: lint test build

build: ## build the strata binary into bin/
	go build -o bin/strata ./cmd/strata

test: ## the test suite, as CI runs it
	go test -race -shuffle=on -count=1 ./...

generate: ## regenerate gen/ from proto/
	rm -rf gen && $(BUF) generate

generate-check: ## fail if gen/ does not match proto/
	@tmp=$$(mktemp -d) && $(BUF) generate -o $$tmp && diff -r gen $$tmp/gen && rm -rf $$tmp && echo "gen/ matches proto/"

lint: ## gofmt, go vet, buf lint and buf format must be clean
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt would change:"; echo "$$unformatted"; exit 1; fi
	go vet ./...
	$(BUF) lint
	$(BUF) format --diff --exit-code

fmt: ## format the code
	gofmt -w $$(git ls-files '*.go')

interop: build ## drive the emulator with clients nobody here wrote (AWS SDK for JavaScript v3)
	cd interop/js && npm ci --no-audit --no-fund && STRATA_BIN=$(CURDIR)/bin/strata node --test

bench-check: ## a few seconds of Chat and ChatStream side by side with a direct SDK call: Strata's own p50/p99
	@go test -run '^$$' -bench BenchmarkChatSideBySide -benchtime 2000x ./server | tee /dev/stderr | awk '\
		/a_direct_sdk-/ {a50=$$5; a99=$$7} /a_direct_sdk_stream/ {as50=$$5; as99=$$7} \
		/b_strata_chat-/ {b50=$$5; b99=$$7} /b_strata_stream/ {bs50=$$5; bs99=$$7} /c_grpc_health/ {c50=$$5; c99=$$7} \
		END { printf "Chat: Strata own cost p50 %d µs (budget 60); added over direct p99 %d µs (budget 400)\n", b50-a50-c50, b99-a99; \
		      printf "ChatStream: added time to first token beyond direct and the bare hop: p50 %d µs (budget 150), p99 %d µs (budget 1000)\n", bs50-as50-c50, bs99-as99-c99 }'

bench: build ## strata bench: every scenario three ways (direct SDK, Strata, bare hop) against the budgets; ~2 minutes
	./bin/strata bench

tools: ## install the pinned grpcurl and buf into bin/
	GOBIN=$(CURDIR)/bin go install -modfile=tools/go.mod github.com/fullstorydev/grpcurl/cmd/grpcurl github.com/bufbuild/buf/cmd/buf

ci: ## what CI runs
	bash .ci/run

run-emulator: build ## serve the Bedrock emulator on 127.0.0.1:4000
	./bin/strata emulator
