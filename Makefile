# Common tasks; `make help` lists them.
.PHONY: help build test test-race lint generate

help: ## list the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

build: ## build ./partnerbill
	go build -o partnerbill ./cmd/partnerbill

test: ## run every test (the README's test command)
	go test ./...

test-race: ## run every test with the race detector
	go test -race ./...

lint: ## gofmt and go vet
	@test -z "$$(gofmt -l .)" || (gofmt -l . && exit 1)
	go vet ./...

generate: ## refresh the golden files in testdata
	go test ./internal/billfile/ -run Golden -update
	go test ./internal/ledger/ -run TestSynthGolden -update
