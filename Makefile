# SPDX-License-Identifier: MIT
# A thin wrapper over Meson + Ninja. Everything real is in meson.build.
#
#   make run      install missing build deps, build, start posthornd (embedded default)
#   make check    install missing deps, build, run every test
#   make fuzz     run each fuzz target for FUZZ_SECONDS (default 60)
#   make install  PREFIX=/usr/local DESTDIR=

BUILD ?= build
MESON_OPTS ?=
SANITIZE ?=
PREFIX ?= /usr/local
FUZZ_SECONDS ?= 60

ifneq ($(SANITIZE),)
override MESON_OPTS += -Db_sanitize=$(SANITIZE) -Db_lundef=false
endif

.PHONY: all deps build run check fuzz install clean

all: build

deps:
	@scripts/deps.sh

$(BUILD)/build.ninja:
	meson setup $(BUILD) --prefix=$(PREFIX) $(MESON_OPTS)

build: deps $(BUILD)/build.ninja
	ninja -C $(BUILD)

run: build
	./$(BUILD)/posthornd

check: build
	BUILD=$(BUILD) scripts/check.sh

fuzz: build
	BUILD=$(BUILD) FUZZ_SECONDS=$(FUZZ_SECONDS) tests/fuzz/run.sh

install: build
	DESTDIR=$(DESTDIR) meson install -C $(BUILD)

clean:
	rm -rf $(BUILD) build-*
