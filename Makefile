# Strata's table of contents: every command a developer or CI runs.
# Tools are pinned in tools/go.mod (buf, protoc-gen-go-grpc, grpcurl) and go.mod (protoc-gen-go).
BUF := go tool -modfile=tools/go.mod buf

.PHONY: all build test lint fmt generate generate-check ci interop tools run-emulator

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

tools: ## install the pinned grpcurl and buf into bin/
	GOBIN=$(CURDIR)/bin go install -modfile=tools/go.mod github.com/fullstorydev/grpcurl/cmd/grpcurl github.com/bufbuild/buf/cmd/buf

ci: ## what CI runs
	bash .ci/run

run-emulator: build ## serve the Bedrock emulator on 127.0.0.1:4000
	./bin/strata emulator
