# smsbot: make run (dev mode on http://localhost:8080), make check, make test.
GO ?= go
FUZZTIME ?= 30s
# The version smsbot version prints, also in builds without VCS stamping.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.buildVersion=$(VERSION)

.PHONY: run build check test vet fmt fuzz crashtest clustertest clean bench bench-smoke readme screenshots

run:
	$(GO) run -ldflags '$(LDFLAGS)' ./cmd/smsbot serve --dev

build:
	$(GO) build -ldflags '$(LDFLAGS)' -o bin/smsbot ./cmd/smsbot

# The benchmark: docs/benchmarks.md and docs/benchmarks.svg, under 10 minutes.
# SQLite, and PostgreSQL with 1 and 3 instances on a schema of their own on
# SMSBOT_TEST_POSTGRES (default the local test server); without a server it
# says so loudly and measures SQLite only (under CI=true it fails).
bench:
	$(GO) run ./cmd/smsbot-bench -out docs

# A few seconds of every workload, report in a temporary directory.
bench-smoke:
	$(GO) run ./cmd/smsbot-bench -smoke -out $$(mktemp -d)

# The edit loop, in about a minute: vet, gofmt, the short tests without the
# race detector (the crash test and the browser test are left out).
check: vet
	$(GO) test -short -count=1 ./...

# The whole suite, as CI runs it: vet, then every test with the race detector.
test: vet
	@pg_isready -q -d "$${SMSBOT_TEST_POSTGRES:-postgres://postgres@127.0.0.1:5432/test}" 2>/dev/null || echo "*** NO POSTGRESQL answers (SMSBOT_TEST_POSTGRES): the PostgreSQL store's tests skip" >&2
	$(GO) test -race -count=1 ./...

vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))" || { gofmt -l .; echo "gofmt needed"; exit 1; }

# Each fuzz target for FUZZTIME (seed corpora live in testdata/fuzz and run in make test).
fuzz:
	$(GO) test ./bot -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME)
	$(GO) test ./bot -run '^$$' -fuzz '^FuzzParseCode$$' -fuzztime $(FUZZTIME)
	$(GO) test ./bot -run '^$$' -fuzz '^FuzzHashToken$$' -fuzztime $(FUZZTIME)
	$(GO) test ./bot -run '^$$' -fuzz '^FuzzMaskPhones$$' -fuzztime $(FUZZTIME)
	$(GO) test ./webhooks -run '^$$' -fuzz '^FuzzHandleSMS$$' -fuzztime $(FUZZTIME)
	$(GO) test ./nest -run '^$$' -fuzz '^FuzzParseSetting$$' -fuzztime $(FUZZTIME)

# The real binary under load, killed with SIGKILL 25 times (make test runs 3).
# It logs its random seed; SMSBOT_CRASH_SEED=N make crashtest replays it.
crashtest:
	SMSBOT_CRASH_KILLS=$${SMSBOT_CRASH_KILLS:-25} SMSBOT_CRASH_PHONES=$${SMSBOT_CRASH_PHONES:-200} \
		$(GO) test ./cmd/smsbot -run '^TestCrash$$' -count=1 -v -timeout 30m

# Three instances on one PostgreSQL, a random one SIGKILLed 20 times (make test: 3); SMSBOT_CLUSTER_SEED=N replays.
clustertest:
	SMSBOT_CLUSTER_KILLS=$${SMSBOT_CLUSTER_KILLS:-20} SMSBOT_CLUSTER_PHONES=$${SMSBOT_CLUSTER_PHONES:-1000} \
		$(GO) test ./cmd/smsbot -run '^TestCluster$$' -count=1 -v -timeout 30m

clean:
	rm -rf bin smsbot.db smsbot.db-wal smsbot.db-shm

# The README's generated parts: the state diagram, the settings and the
# reply templates (TestREADME fails when they are stale).
readme:
	$(GO) test ./cmd/smsbot -run '^TestREADME$$' -count=1 -update-readme

# docs/*.png from the browser test (needs chromium).
screenshots:
	$(GO) test ./cmd/smsbot -run '^TestBrowser' -count=1 -screenshots ../../docs
