# danshari — one Makefile, pkg-config for every outside library.
# make            build build/danshari
# make test       every suite; ends with "N passed, N failed"
# make run        local 4-node consortium (see README.md)
# make bench      benchmark figures (never pass/fail)
# make fuzz       libFuzzer targets (clang)
# make sim        consensus simulator
# make san        unit tests built with ASan+UBSan (BUILD=build-san)

BUILD   ?= build
FUZZ_BUILD ?= build-fuzz
CC      ?= cc
SAN     ?=
PKGS    := libsodium libcrypto lmdb libuv lua5.4 jansson libmicrohttpd

# Install missing Debian packages before pkg-config is asked anything.
DEPS_STATUS := $(shell scripts/deps.sh build 1>&2 && echo ok)
ifneq ($(DEPS_STATUS),ok)
$(error missing build dependencies, see the message above)
endif

PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS))
PKG_LIBS   := $(shell pkg-config --libs $(PKGS))
CMOCKA_LIBS := $(shell pkg-config --libs cmocka)

WARN    := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wundef -Wpointer-arith \
           -Wstrict-prototypes -Wmissing-prototypes -Wno-unused-parameter
OPT     ?= -O2
CFLAGS  ?= $(OPT) -g
ALL_CFLAGS := -std=c11 -D_GNU_SOURCE -Isrc $(WARN) $(CFLAGS) $(PKG_CFLAGS) -MMD -MP
ifneq ($(SAN),)
ALL_CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined -DDS_TEST_BUILD=1
LDSAN      := -fsanitize=address,undefined
endif
LDLIBS  := $(PKG_LIBS) -lpthread -lm

# MODULES="util codec crypto" restricts the library to those modules (handy
# while other modules are mid-change); default: every folder under src/.
MODULES  ?= $(notdir $(wildcard src/*))
LIB_SRC  := $(sort $(filter-out src/cli/main.c,$(foreach m,$(MODULES),$(wildcard src/$(m)/*.c))))
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
TEST_SRC := $(sort $(wildcard tests/unit/test_*.c))
TEST_HELP_SRC := $(sort $(filter-out $(TEST_SRC),$(wildcard tests/unit/*.c)))
TEST_HELP_OBJ := $(TEST_HELP_SRC:%.c=$(BUILD)/obj/%.o)
TEST_BIN := $(TEST_SRC:tests/unit/%.c=$(BUILD)/tests/%)
BENCH_SRC := $(sort $(wildcard bench/bench_*.c))
BENCH_HELP_SRC := $(sort $(filter-out $(BENCH_SRC),$(wildcard bench/*.c)))
BENCH_HELP_OBJ := $(BENCH_HELP_SRC:%.c=$(BUILD)/obj/%.o)
BENCH_BIN := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)
SIM_SRC  := $(sort $(wildcard tests/sim/*.c))
SIM_OBJ  := $(SIM_SRC:%.c=$(BUILD)/obj/%.o)

.PRECIOUS: $(BUILD)/obj/%.o $(FUZZ_BUILD)/obj/%.o
.DELETE_ON_ERROR:
.PHONY: all test unit run bench fuzz fuzz-run sim san clean deps-test
all: $(BUILD)/danshari

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(BUILD)/libds.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

# Linked from the objects, not the archive: commands are weak symbols, and a
# weak reference never pulls a member out of an archive.
$(BUILD)/danshari: $(BUILD)/obj/src/cli/main.o $(LIB_OBJ)
	$(CC) $(LDSAN) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(TEST_HELP_OBJ) $(BUILD)/libds.a
	@mkdir -p $(dir $@)
	$(CC) $(LDSAN) -o $@ $^ $(CMOCKA_LIBS) $(LDLIBS)

$(BUILD)/bench/%: $(BUILD)/obj/bench/%.o $(BENCH_HELP_OBJ) $(BUILD)/libds.a
	@mkdir -p $(dir $@)
	$(CC) $(LDSAN) -o $@ $^ $(LDLIBS)

$(BUILD)/sim: $(SIM_OBJ) $(BUILD)/libds.a
	$(CC) $(LDSAN) -o $@ $^ $(LDLIBS)

deps-test:
	@scripts/deps.sh all

unit: $(TEST_BIN) $(BUILD)/danshari
	@scripts/test.sh unit $(BUILD)

sim: $(BUILD)/sim
	$(BUILD)/sim --seeds 20 --rounds 200

# Every suite: unit tests, simulator, CLI and cluster tests. One summary line.
test: deps-test $(TEST_BIN) $(BUILD)/danshari $(if $(SIM_SRC),$(BUILD)/sim)
	@scripts/test.sh all $(BUILD)

san:
	$(MAKE) BUILD=build-san SAN=1 OPT=-O1 unit

bench: $(BENCH_BIN) $(BUILD)/danshari
	@scripts/bench.sh $(BUILD)

run: $(BUILD)/danshari
	@scripts/run.sh $(BUILD)

# libFuzzer targets: clang, all library code rebuilt with the fuzzer's sanitizers.
FUZZ_SRC := $(sort $(wildcard fuzz/fuzz_*.c))

FUZZ_BIN := $(FUZZ_SRC:fuzz/%.c=$(FUZZ_BUILD)/%)
FUZZ_CFLAGS := -std=c11 -D_GNU_SOURCE -Isrc $(WARN) -O1 -g $(PKG_CFLAGS) \
               -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer -DDS_FUZZ=1
FUZZ_LIB_OBJ := $(LIB_SRC:%.c=$(FUZZ_BUILD)/obj/%.o)
$(FUZZ_BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -c $< -o $@
$(FUZZ_BUILD)/%: fuzz/%.c $(FUZZ_LIB_OBJ)
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer,address,undefined -o $@ $^ $(LDLIBS)
fuzz: deps-test $(FUZZ_BIN)
fuzz-run: fuzz
	@scripts/fuzz.sh $(FUZZ_SECONDS)

clean:
	rm -rf build build-san build-fuzz build-clang build-seeds

# Every object's header dependencies, tests, benches and the simulator
# included: a test object built against an old struct layout links fine
# and fails at run time.
-include $(LIB_OBJ:.o=.d) $(TEST_HELP_OBJ:.o=.d) $(BUILD)/obj/src/cli/main.d \
	$(TEST_SRC:%.c=$(BUILD)/obj/%.d) $(BENCH_SRC:%.c=$(BUILD)/obj/%.d) \
	$(BENCH_HELP_OBJ:.o=.d) $(SIM_SRC:%.c=$(BUILD)/obj/%.d)
