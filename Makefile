# smsgw — build, test, demo, fuzz, bench.
#
# Every library is found through pkg-config; `make deps` installs what is
# missing from Debian (as root) or prints the apt-get line that would.

CC       ?= gcc
PKGS     := libevent_openssl libevent_core libevent_extra openssl hiredis libconfig json-c libcurl libsmpp34
# libsmpp34's .pc is not in every packaging: fall back to Debian's paths.
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null || echo -I/usr/include/libsmpp34)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null || echo -levent_openssl -levent_core -levent_extra -lssl -lcrypto -lhiredis -lconfig -ljson-c -lcurl -lsmpp34)
TEST_LIBS  := $(shell pkg-config --libs cmocka 2>/dev/null || echo -lcmocka)

WARN     := -Wall -Wextra -Werror -Wshadow -Wmissing-prototypes -Wstrict-prototypes -Wno-unused-parameter
CFLAGS   ?= -O2 -g
CFLAGS   += -std=c11 -D_GNU_SOURCE $(WARN) -I. $(PKG_CFLAGS) -MMD -MP
LDLIBS   += $(PKG_LIBS) -lm

SAN      := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

# Library code: everything in the module folders except program mains.
LIB_SRCS := $(filter-out core/smsgwd.c,$(wildcard smpp/*.c store/*.c router/*.c router/channels/*.c core/*.c))
TOOLS    := $(patsubst tools/%.c,%,$(wildcard tools/*.c))
TESTS    := $(patsubst tests/%.c,%,$(wildcard tests/test_*.c))
FUZZERS  := $(patsubst tests/fuzz/%.c,%,$(wildcard tests/fuzz/fuzz_*.c))

OBJ      := build/obj
AOBJ     := build/asan
LIB_OBJS := $(LIB_SRCS:%.c=$(OBJ)/%.o)
LIB_AOBJS:= $(LIB_SRCS:%.c=$(AOBJ)/%.o)

BINS      := $(TOOLS:%=bin/%) $(if $(wildcard core/smsgwd.c),bin/smsgwd)
ASAN_BINS := $(TOOLS:%=$(AOBJ)/bin/%) $(if $(wildcard core/smsgwd.c),$(AOBJ)/bin/smsgwd)
TEST_BINS := $(TESTS:%=$(AOBJ)/tests/%)

.PHONY: all deps test unit-test demo fuzz fuzz-smoke bench clean check-config soak bench-memory install

all: $(BINS)

# ---------------------------------------------------------------- dependencies
# Debian packages the build, tests, demo and fuzzers need.
DEB_PKGS := build-essential pkg-config libevent-dev libssl-dev libhiredis-dev \
            libconfig-dev libsmpp34-dev libcmocka-dev redis-server openssl \
            clang libclang-rt-14-dev dpkg-dev xz-utils nodejs libjson-c-dev \
            libcurl4-openssl-dev curl tzdata python3 python3-aiosmtpd \
            chromium
deps:
	@sh tools/deps.sh $(DEB_PKGS)

# ----------------------------------------------------------------- build rules
$(OBJ)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(AOBJ)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(SAN) -O1 -c $< -o $@

build/libsmsgw.a: $(LIB_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

build/libsmsgw-asan.a: $(LIB_AOBJS)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

bin/%: $(OBJ)/tools/%.o build/libsmsgw.a
	@mkdir -p bin
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

bin/smsgwd: $(OBJ)/core/smsgwd.o build/libsmsgw.a
	@mkdir -p bin
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

$(AOBJ)/bin/%: $(AOBJ)/tools/%.o build/libsmsgw-asan.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(SAN) -o $@ $^ $(LDLIBS)

$(AOBJ)/bin/smsgwd: $(AOBJ)/core/smsgwd.o build/libsmsgw-asan.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(SAN) -o $@ $^ $(LDLIBS)

$(AOBJ)/tests/%: $(AOBJ)/tests/%.o $(AOBJ)/tests/testlib.o $(AOBJ)/tests/gwfix.o build/libsmsgw-asan.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(SAN) -o $@ $^ $(LDLIBS) $(TEST_LIBS)

# ------------------------------------------------------------------------ test
# Unit and integration tests, all built with ASan+UBSan; integration tests run
# the sanitized builds of smsc-sim and friends against a real redis-server.
test: deps
	@$(MAKE) --no-print-directory build-tests
	@sh tests/run.sh $(TEST_BINS)

build-tests: $(TEST_BINS) $(ASAN_BINS) $(BINS)
.PHONY: build-tests

# ------------------------------------------------------------------------ demo
demo: deps
	@$(MAKE) --no-print-directory all
	@bash tools/demo.sh

# ------------------------------------------------------------------------ fuzz
# libFuzzer targets, linked against an ASan build of libsmpp34 from Debian's
# source package (built in build/fuzz, never committed).
FUZZ_SECONDS ?= 120
fuzz: deps
	@sh tests/fuzz/run.sh $(FUZZ_SECONDS) $(FUZZERS)

fuzz-smoke: deps
	@sh tests/fuzz/run.sh 15 $(FUZZERS)

# ----------------------------------------------------------------------- bench
bench: deps
	@$(MAKE) --no-print-directory all
	@bash bench/run.sh

# bench/store_cost.c: Redis's cost per message, step by step (bench/store_cost.sh)
build/bench/store_cost: $(OBJ)/bench/store_cost.o build/libsmsgw.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

# Issue 6: the whole system under load with faults (SOAK_N messages, default
# 1,000,000), and smsgwd's RSS against SMSC sessions and client binds.
soak: deps
	@$(MAKE) --no-print-directory all
	@bash bench/soak.sh

bench-memory: deps
	@$(MAKE) --no-print-directory all
	@bash bench/memory.sh

# --------------------------------------------------------------------- install
# make install [PREFIX=/usr/local] [DESTDIR=...]: the programs, smsgwd(8), the
# example configs (as documentation), the systemd unit and its sysusers file;
# $(SYSCONFDIR)/smsgw.conf only when there is none, so a reinstall never
# overwrites an operator's config.
PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
MANDIR     ?= $(PREFIX)/share/man
DOCDIR     ?= $(PREFIX)/share/doc/smsgw
SYSCONFDIR ?= /etc/smsgw
UNITDIR    ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
INSTALL    ?= install

install: all
	$(INSTALL) -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(DOCDIR) \
	    $(DESTDIR)$(SYSCONFDIR) $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSUSERSDIR)
	$(INSTALL) -m 0755 bin/smsgwd bin/smsgwctl bin/smsc-sim bin/smpp-load $(DESTDIR)$(BINDIR)/
	$(INSTALL) -m 0644 docs/man/smsgwd.8 docs/man/smsgwctl.8 $(DESTDIR)$(MANDIR)/man8/
	$(INSTALL) -m 0644 conf/smsgw.conf conf/example-carrier.conf conf/smsc-sim-accounts.conf \
	    $(DESTDIR)$(DOCDIR)/
	@if [ -e $(DESTDIR)$(SYSCONFDIR)/smsgw.conf ]; then \
	    echo "install: $(DESTDIR)$(SYSCONFDIR)/smsgw.conf exists, left as it is"; \
	else \
	    echo "$(INSTALL) -m 0640 conf/smsgw.conf $(DESTDIR)$(SYSCONFDIR)/smsgw.conf"; \
	    $(INSTALL) -m 0640 conf/smsgw.conf $(DESTDIR)$(SYSCONFDIR)/smsgw.conf; \
	fi
	sed -e 's|/usr/local/bin/|$(BINDIR)/|g' -e 's|/etc/smsgw/|$(SYSCONFDIR)/|g' \
	    conf/smsgwd.service >$(DESTDIR)$(UNITDIR)/smsgwd.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/smsgwd.service
	$(INSTALL) -m 0644 conf/smsgw.sysusers $(DESTDIR)$(SYSUSERSDIR)/smsgw.conf

clean:
	rm -rf build bin

-include $(shell find build/obj build/asan -name '*.d' -type f 2>/dev/null)
