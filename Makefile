# ragload — plain GNU Makefile, libraries through pkg-config.
#   make            build/ragload and the unit test programs
#   make test       the whole suite (needs the private cluster: use ./run.sh test)
#   make asan/tsan  sanitizer builds into build/asan, build/tsan
#   make bench      benchmarks (reports/bench/)
#   make fuzz       libFuzzer targets (FUZZ_SECONDS=N each)

PKGS     := libpq libarchive libutf8proc openblas libzstd jansson inih libxxhash libxml-2.0
CC       ?= cc
BUILD    ?= build
SANFLAGS ?=
OPT      ?= -O2 -g
CFLAGS   := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror $(OPT) $(SANFLAGS) -pthread -fPIC \
            $(shell pkg-config --cflags $(PKGS))
LDLIBS   := $(shell pkg-config --libs $(PKGS)) -llapacke -lm -pthread
LDFLAGS  := $(SANFLAGS)

MIGRATIONS := $(sort $(wildcard config/migrations/*.sql))
LIB_SRC  := $(filter-out pipeline/main.c,$(wildcard pipeline/*.c)) $(wildcard stages/*.c)
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/obj/%.o) $(BUILD)/obj/gen/migrations.o
MAIN_OBJ := $(BUILD)/obj/pipeline/main.o
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

.PHONY: all test unit asan tsan bench fuzz clean
all: $(BUILD)/ragload $(UNIT_BIN)

$(BUILD)/ragload: $(MAIN_OBJ) $(LIB_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/gen/migrations.c: $(MIGRATIONS) config/migrations/embed.awk
	@mkdir -p $(dir $@)
	awk -f config/migrations/embed.awk $(MIGRATIONS) > $@

$(BUILD)/obj/gen/migrations.o: $(BUILD)/gen/migrations.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/tests/%: tests/unit/%.c $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS) $(shell pkg-config --libs cmocka)

unit: $(UNIT_BIN)
	@tests/run.sh --unit $(BUILD)

test: all
	@tests/run.sh

asan:
	@$(MAKE) --no-print-directory BUILD=build/asan OPT="-O1 -g -fno-omit-frame-pointer" \
	  SANFLAGS="-fsanitize=address,undefined -fno-sanitize-recover=undefined"
tsan:
	@$(MAKE) --no-print-directory BUILD=build/tsan OPT="-O1 -g" SANFLAGS="-fsanitize=thread"

bench: all
	@bench/run.sh

fuzz:
	@tests/fuzz/run.sh $(FUZZ_SECONDS)

clean:
	rm -rf build

-include $(LIB_OBJ:.o=.d) $(MAIN_OBJ:.o=.d)
