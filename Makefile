# Installs compose: the binary, bash/zsh/fish completions and manual pages, where the system
# looks for them. The completions and pages come from the binary itself (`compose completion
# SHELL`, `compose man --output DIR`), so they always match the flags it takes.
#
#   make                        build the release binary (cargo build --release), as yourself
#   sudo make install           install it under /usr/local (building first if cargo is on PATH)
#   sudo make uninstall         remove what install put there
#
# Variables: PREFIX (default /usr/local), DESTDIR (a staging directory for packaging; prefixed
# to every installed path), and COMPOSE_BIN: a binary already built to install instead of
# building (e.g. COMPOSE_BIN=target/debug/compose); then cargo is never run.

PREFIX ?= /usr/local
DESTDIR ?=
BINDIR ?= $(PREFIX)/bin
DATADIR ?= $(PREFIX)/share
MANDIR ?= $(DATADIR)/man
CARGO ?= cargo
# cargo builds into CARGO_TARGET_DIR when that is set.
RELEASE_BIN := $(or $(CARGO_TARGET_DIR),target)/release/compose

BASH_COMPLETION := $(DATADIR)/bash-completion/completions/compose
ZSH_COMPLETION := $(DATADIR)/zsh/site-functions/_compose
FISH_COMPLETION := $(DATADIR)/fish/vendor_completions.d/compose.fish

.PHONY: all build install uninstall

all: build

build:
	$(CARGO) build --release --locked

# Without COMPOSE_BIN, install builds first when cargo is on PATH. Under sudo it usually is not
# (sudo's secure_path leaves out ~/.cargo/bin): then the release binary `make` built is
# installed, and if there is none, we say what to run first.
ifeq ($(COMPOSE_BIN),)
BIN := $(RELEASE_BIN)
install-bin-ready:
	@if command -v $(CARGO) >/dev/null 2>&1; then \
	    echo "$(CARGO) build --release --locked"; $(CARGO) build --release --locked; \
	elif [ -x $(RELEASE_BIN) ]; then \
	    echo "make: $(CARGO) is not on PATH; installing the $(RELEASE_BIN) already built" >&2; \
	else \
	    echo "make: $(CARGO) is not on PATH and $(RELEASE_BIN) is not built: run 'make' as" \
	         "yourself first (or 'make install COMPOSE_BIN=path/to/compose')" >&2; \
	    exit 1; \
	fi
else
BIN := $(COMPOSE_BIN)
install-bin-ready:
	@[ -x "$(BIN)" ] || { echo "make: COMPOSE_BIN=$(BIN) is not an executable file" >&2; exit 1; }
endif
.PHONY: install-bin-ready

install: install-bin-ready
	install -d "$(DESTDIR)$(BINDIR)" "$(DESTDIR)$(MANDIR)/man1" \
	    "$(DESTDIR)$(dir $(BASH_COMPLETION))" "$(DESTDIR)$(dir $(ZSH_COMPLETION))" \
	    "$(DESTDIR)$(dir $(FISH_COMPLETION))"
	install -m 0755 "$(BIN)" "$(DESTDIR)$(BINDIR)/compose"
	"$(BIN)" completion bash > "$(DESTDIR)$(BASH_COMPLETION)"
	"$(BIN)" completion zsh > "$(DESTDIR)$(ZSH_COMPLETION)"
	"$(BIN)" completion fish > "$(DESTDIR)$(FISH_COMPLETION)"
	chmod 0644 "$(DESTDIR)$(BASH_COMPLETION)" "$(DESTDIR)$(ZSH_COMPLETION)" \
	    "$(DESTDIR)$(FISH_COMPLETION)"
	@set -e; pages=$$(mktemp -d); trap 'rm -rf "$$pages"' EXIT; \
	    echo "\"$(BIN)\" man --output $$pages"; "$(BIN)" man --output "$$pages"; \
	    install -m 0644 "$$pages"/*.1 "$(DESTDIR)$(MANDIR)/man1/"

# The pages to remove are the ones the installed binary writes (a package's own pages named
# compose-*.1 are left alone); without that binary, compose.1 and compose-*.1.
uninstall:
	@set -e; man1="$(DESTDIR)$(MANDIR)/man1"; bin="$(DESTDIR)$(BINDIR)/compose"; \
	    pages=$$(mktemp -d); trap 'rm -rf "$$pages"' EXIT; \
	    if [ -x "$$bin" ] && "$$bin" man --output "$$pages" >/dev/null 2>&1; then \
	        for p in "$$pages"/*.1; do rm -f "$$man1/$${p##*/}"; done; \
	    else \
	        rm -f "$$man1/compose.1" "$$man1"/compose-*.1; \
	    fi
	rm -f "$(DESTDIR)$(BINDIR)/compose" "$(DESTDIR)$(BASH_COMPLETION)" \
	    "$(DESTDIR)$(ZSH_COMPLETION)" "$(DESTDIR)$(FISH_COMPLETION)"
