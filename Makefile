# tmisgw — plain Makefile, libraries through pkg-config.
#   make            build ./tmisgw
#   make check      unit tests (normal and ASan+UBSan) and integration tests
#   make demo       sample province loaded into a private PostgreSQL
#   make bench      benchmarks against psql \copy and pgloader
#   make soak       32 provinces at once, floods and kill -9 of the server
#   make deps       install missing Debian packages (as root) or print the line

PKGS      := libcurl libxml-2.0 libarchive libpq gpgme libmicrohttpd
TEST_PKGS := cmocka
DEB_PKGS  := build-essential pkg-config libcurl4-openssl-dev libxml2-dev \
             libarchive-dev libpq-dev libgpgme-dev libcmocka-dev \
             libmicrohttpd-dev curl python3 time netcat-openbsd openssl \
             postgresql postgresql-client gnupg zstd
# optional: the /audit page's browser test skips, visibly, without it
OPT_DEB_PKGS := chromium

CC      ?= cc
OPT     ?= -O2
CFLAGS  ?= $(OPT) -g
WARN    := -Wall -Wextra -Werror
DATADIR ?= $(CURDIR)
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
ALL_CFLAGS  = -std=c11 -D_GNU_SOURCE $(WARN) $(CFLAGS) $(PKG_CFLAGS) \
              -DTMISGW_DATADIR='"$(DATADIR)"' -MMD -MP
LIBS        = $(PKG_LIBS) -lm -pthread

SRCS     := $(wildcard etl/*.c adapters/*.c gateway/*.c)
LIB_SRCS := $(filter-out gateway/%,$(SRCS))
UNIT_SRCS := $(wildcard tests/unit/test_*.c)

OBJ      := build/obj
AOBJ     := build/asan
SAN      := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

.PHONY: all check check-unit check-integration demo demo-stop bench soak fuzz deps \
        clean asan unit

all: tmisgw

# ---- normal build -------------------------------------------------------
$(OBJ)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

tmisgw: $(SRCS:%.c=$(OBJ)/%.o)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LIBS)

# ---- ASan + UBSan build -------------------------------------------------
$(AOBJ)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -O1 $(SAN) -c $< -o $@

build/tmisgw-asan: $(SRCS:%.c=$(AOBJ)/%.o)
	$(CC) $(ALL_CFLAGS) $(SAN) -o $@ $^ $(LIBS)

asan: build/tmisgw-asan

# ---- unit tests (cmocka), one binary per tests/unit/test_*.c -------------
CMOCKA_CFLAGS := $(shell pkg-config --cflags $(TEST_PKGS) 2>/dev/null)
CMOCKA_LIBS   := $(shell pkg-config --libs $(TEST_PKGS) 2>/dev/null)
UNIT_BINS  := $(UNIT_SRCS:tests/unit/%.c=build/unit/%)
AUNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=build/unit-asan/%)

build/unit/%: tests/unit/%.c $(LIB_SRCS:%.c=$(OBJ)/%.o)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(CMOCKA_CFLAGS) -o $@ $(filter %.c %.o,$^) $(LIBS) $(CMOCKA_LIBS)

build/unit-asan/%: tests/unit/%.c $(LIB_SRCS:%.c=$(AOBJ)/%.o)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -O1 $(SAN) $(CMOCKA_CFLAGS) -o $@ $(filter %.c %.o,$^) $(LIBS) $(CMOCKA_LIBS)

unit: $(UNIT_BINS) $(AUNIT_BINS)

check: deps-check tmisgw build/tmisgw-asan unit
	@TMISGW_BIN=$(CURDIR)/build/tmisgw-asan UNIT_BINS="$(UNIT_BINS) $(AUNIT_BINS)" \
	  sh tests/run.sh

demo: deps-check tmisgw
	@sh scripts/demo.sh

demo-stop:
	@sh scripts/demo.sh stop

soak: deps-check tmisgw
	sh scripts/soak.sh

bench: deps-check tmisgw
	@sh scripts/bench.sh

# ---- dependencies -------------------------------------------------------
deps:
	@sh scripts/deps.sh install $(DEB_PKGS)
	@sh scripts/deps.sh optional $(OPT_DEB_PKGS)

deps-check:
	@sh scripts/deps.sh check $(DEB_PKGS)
	@sh scripts/deps.sh optional $(OPT_DEB_PKGS)

clean:
	rm -rf build tmisgw

-include $(shell find build -name '*.d' 2>/dev/null)
