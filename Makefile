# The two commands: `make demo` runs the closed loop on the simulator, `make test` runs every test.
# Both start with scripts/bootstrap.sh, which installs only what is missing.

SITE ?= config/examples/arterial.toml
CARGO ?= cargo

.PHONY: bootstrap build demo test lint unit bench

bootstrap:
	@bash scripts/bootstrap.sh

build: bootstrap
	$(CARGO) build --release

demo: build
	./target/release/nutgiao demo $(SITE)

lint: bootstrap
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

unit: bootstrap
	$(CARGO) test --workspace

test: lint unit

bench: build
	$(CARGO) bench --workspace
