# ragload — plain GNU Makefile, libraries through pkg-config.
#   make            build/ragload and the unit test programs
#   make test       the whole suite (needs the private cluster: use ./run.sh test)
#   make asan/tsan  sanitizer builds into build/asan, build/tsan
#   make bench      benchmarks (reports/bench/)
#   make bench-scale  archive to evaluated corpus at 125k and 500k chunks (SCALE_SIZES=125k,1M)
#   make fuzz       libFuzzer targets (FUZZ_SECONDS=N each)
#   make ext        the PostgreSQL extension into $(BUILD)/ext (ext-install: into PostgreSQL)

# every core: the suite builds the program four times (release, faults, ASan, TSan) and the fuzz
# replay once; `make -j1` still builds one file at a time
ifeq ($(MAKELEVEL),0)
MAKEFLAGS += -j$(shell nproc 2>/dev/null || echo 2)
endif

PKGS     := libpq libarchive libutf8proc openblas libzstd jansson inih libxxhash libxml-2.0 zlib uchardet md4c
CC       ?= cc
BUILD    ?= build
SANFLAGS ?=
OPT      ?= -O2 -g
DEFS     ?=
CFLAGS   := -std=c11 -D_GNU_SOURCE $(DEFS) -Wall -Wextra -Werror $(OPT) $(SANFLAGS) -pthread -fPIC \
            $(shell pkg-config --cflags $(PKGS))
LDLIBS   := $(shell pkg-config --libs $(PKGS)) -llapacke -lstemmer -lm -pthread
LDFLAGS  := $(SANFLAGS)
# The PDF worker (build/ragload-parse, stages/pdfworker.c) alone links MuPDF: Debian ships it
# as a static library, so its own dependencies are named here too.
# Tesseract (OCR) is dlopen()ed by the worker when a page needs it: its header at build time,
# libtesseract.so.5 at run time (libtesseract-dev, tesseract-ocr-eng in run.sh).
WORKER_PKGS := mupdf harfbuzz freetype2 libopenjp2 jbig2dec libjpeg gumbo mujs zlib
WORKER_LIBS := $(shell pkg-config --libs $(WORKER_PKGS)) -lmupdf-third -ldl -lm

MIGRATIONS := $(sort $(wildcard config/migrations/*.sql))
LIB_SRC  := $(wildcard lib/*.c) $(wildcard models/*.c) \
            $(filter-out stages/pdfworker.c,$(wildcard stages/*.c)) \
            $(filter-out pipeline/main.c,$(wildcard pipeline/*.c))
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/obj/%.o) $(BUILD)/obj/gen/migrations.o
MAIN_OBJ := $(BUILD)/obj/pipeline/main.o
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

.PHONY: all test unit asan tsan faults bench bench-scale fuzz clean ext ext-install ext-asan
all: $(BUILD)/ragload $(BUILD)/ragload-parse $(BUILD)/libragload.so $(UNIT_BIN)

$(BUILD)/ragload: $(MAIN_OBJ) $(LIB_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# Found by ragload next to its own executable (stages/pdf.c); install the two side by side.
$(BUILD)/ragload-parse: $(BUILD)/obj/stages/pdfworker.o
	$(CC) $(LDFLAGS) -o $@ $^ $(WORKER_LIBS)

# The embedding library (include/ragload.h); only the ragload_* API is exported.
$(BUILD)/libragload.so: $(LIB_OBJ) include/ragload.map
	$(CC) $(LDFLAGS) -shared -Wl,--version-script=include/ragload.map -o $@ $(LIB_OBJ) $(LDLIBS)

# The same objects as an archive, for the extension to link what it uses of them.
$(BUILD)/libragload.a: $(LIB_OBJ)
	rm -f $@ && ar rcs $@ $^

# The PostgreSQL extension (extension/Makefile, PGXS), built out of tree with this build's
# objects and sanitizer flags; PG_CONFIG picks the server (run.sh gives its own).
PG_CONFIG ?= pg_config
EXT_MAKE = $(MAKE) --no-print-directory -C $(BUILD)/ext -f $(CURDIR)/extension/Makefile \
	VPATH=$(CURDIR)/extension with_llvm=no PG_CONFIG=$(PG_CONFIG) RAGLOAD_LIB=$(abspath $(BUILD))/libragload.a \
	EXT_SANFLAGS="$(SANFLAGS)"
ext: $(BUILD)/libragload.a
	@mkdir -p $(BUILD)/ext
	+@$(EXT_MAKE)
ext-install: ext
	+@$(EXT_MAKE) install

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
# The extension over the ASan objects, for a server run with the ASan runtime preloaded
# (tests/integration/extension_asan.sh).
ext-asan:
	@$(MAKE) --no-print-directory BUILD=build/asan OPT="-O1 -g -fno-omit-frame-pointer" \
	  SANFLAGS="-fsanitize=address,undefined -fno-sanitize-recover=undefined" ext
tsan:
	@$(MAKE) --no-print-directory BUILD=build/tsan OPT="-O1 -g" SANFLAGS="-fsanitize=thread"
# The test build with fault injection hooks (lib/fault.h); never shipped.
faults:
	@$(MAKE) --no-print-directory BUILD=build/faults DEFS=-DRAGLOAD_FAULT_INJECTION \
	  build/faults/ragload build/faults/ragload-parse

# bench/stages.c times each stage alone and the bare baselines; linked like the unit tests.
bench: all $(BUILD)/bench/stages
	@BUILD=$(BUILD) bench/run.sh

# bench/scale.sh: archive -> loaded -> indexed -> evaluated at each corpus size (SCALE_SIZES,
# default 125k,500k, ~29 min here; corpora by datasets/make-scale-corpus.sh, which uses bench/stages)
bench-scale: all $(BUILD)/bench/stages
	@BUILD=$(BUILD) bench/scale.sh

$(BUILD)/bench/stages: bench/stages.c $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

# ---- fuzz targets (tests/fuzz/README.md) ----------------------------------------------------
# build/fuzz/fuzz_T: libFuzzer + ASan/UBSan (clang); build/fuzz/replay_T: the same target with
# tests/fuzz/replay.c as driver (gcc + ASan/UBSan), which replays corpora in seconds.
FUZZ_TARGETS := read jsonl normalize markdown mail office pdfwire chunk vecfile config extension man pod info rst docbook
FUZZ_SRC     := lib/common.c lib/config.c lib/vecfile.c lib/spawn.c \
                stages/read.c stages/normalize.c stages/markdown.c stages/mail.c stages/office.c stages/pdf.c stages/man.c stages/pod.c stages/info.c stages/rst.c stages/docbook.c stages/pandoc.c \
                stages/chunk.c
FUZZ_PKGS    := libarchive libutf8proc jansson inih libxxhash libxml-2.0 zlib uchardet md4c
FUZZ_CC      ?= clang
REPLAY_CC    ?= gcc
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_CFLAGS   = -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -O1 -g $(FUZZ_SAN) -pthread \
                $(shell pkg-config --cflags $(FUZZ_PKGS))
FUZZ_LDLIBS   = $(shell pkg-config --libs $(FUZZ_PKGS)) -lm -pthread
FUZZ_OBJ     := $(FUZZ_SRC:%.c=$(BUILD)/fuzz/obj/%.o)
REPLAY_OBJ   := $(FUZZ_SRC:%.c=$(BUILD)/fuzz/replay-obj/%.o)
FUZZ_BIN     := $(FUZZ_TARGETS:%=$(BUILD)/fuzz/fuzz_%)
REPLAY_BIN   := $(FUZZ_TARGETS:%=$(BUILD)/fuzz/replay_%)
.PHONY: fuzz-build replay-build

$(BUILD)/fuzz/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c -o $@ $<
$(BUILD)/fuzz/replay-obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(REPLAY_CC) $(FUZZ_CFLAGS) -MMD -MP -c -o $@ $<
$(BUILD)/fuzz/fuzz_%: $(BUILD)/fuzz/obj/tests/fuzz/fuzz_%.o $(FUZZ_OBJ)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $^ $(FUZZ_LDLIBS)
$(BUILD)/fuzz/replay_%: $(BUILD)/fuzz/replay-obj/tests/fuzz/fuzz_%.o \
                        $(BUILD)/fuzz/replay-obj/tests/fuzz/replay.o $(REPLAY_OBJ)
	$(REPLAY_CC) $(FUZZ_CFLAGS) -o $@ $^ $(FUZZ_LDLIBS)

# The extension's C core (extension/core.h) needs the query path and the models beside them.
EXT_FUZZ_SRC  := extension/core.c stages/query.c models/model.c models/contrastive.c \
                 models/glove.c models/stems.c lib/blas.c lib/progress.c
EXT_FUZZ_LIBS  = $(shell pkg-config --libs openblas) -llapacke -lstemmer
$(BUILD)/fuzz/obj/extension/%.o $(BUILD)/fuzz/replay-obj/extension/%.o \
$(BUILD)/fuzz/obj/models/%.o $(BUILD)/fuzz/replay-obj/models/%.o \
$(BUILD)/fuzz/obj/lib/blas.o $(BUILD)/fuzz/replay-obj/lib/blas.o: \
  FUZZ_CFLAGS += $(shell pkg-config --cflags openblas)
$(BUILD)/fuzz/fuzz_extension: $(BUILD)/fuzz/obj/tests/fuzz/fuzz_extension.o $(FUZZ_OBJ) \
                              $(EXT_FUZZ_SRC:%.c=$(BUILD)/fuzz/obj/%.o)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $^ $(FUZZ_LDLIBS) $(EXT_FUZZ_LIBS)
$(BUILD)/fuzz/replay_extension: $(BUILD)/fuzz/replay-obj/tests/fuzz/fuzz_extension.o \
                                $(BUILD)/fuzz/replay-obj/tests/fuzz/replay.o $(REPLAY_OBJ) \
                                $(EXT_FUZZ_SRC:%.c=$(BUILD)/fuzz/replay-obj/%.o)
	$(REPLAY_CC) $(FUZZ_CFLAGS) -o $@ $^ $(FUZZ_LDLIBS) $(EXT_FUZZ_LIBS)

fuzz-build: $(FUZZ_BIN)
replay-build: $(REPLAY_BIN)
.PRECIOUS: $(BUILD)/fuzz/obj/tests/fuzz/%.o $(BUILD)/fuzz/replay-obj/tests/fuzz/%.o

# make fuzz FUZZ_SECONDS=N: each target N seconds (FUZZ_JOBS=2: two at a time)
fuzz: fuzz-build
	@BUILD=$(BUILD) tests/fuzz/run.sh $(FUZZ_SECONDS)

clean:
	rm -rf build

-include $(LIB_OBJ:.o=.d) $(MAIN_OBJ:.o=.d) $(BUILD)/obj/stages/pdfworker.d
-include $(wildcard $(BUILD)/fuzz/obj/*/*.d $(BUILD)/fuzz/obj/tests/fuzz/*.d \
  $(BUILD)/fuzz/replay-obj/*/*.d $(BUILD)/fuzz/replay-obj/tests/fuzz/*.d)
