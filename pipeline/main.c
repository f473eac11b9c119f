/*
 * main.c — the ragload command line: global options, the command table, exit statuses.
 *
 * Commands are entries of one table (as git's builtins are); each gets the parsed config and
 * its remaining arguments and returns an exit status. Only main() exits.
 */
#include "../lib/common.h"
#include "../lib/config.h"
#include "../lib/db.h"
#include "ingest.h"
#include "status.h"
#include "reindex.h"
#include "search.h"
#include "embedcmd.h"
#include "init.h"
#include "modelcmd.h"
#include "indexcmd.h"
#include "evalcmd.h"
#include "../lib/progress.h"
#include "../lib/blas.h"
#include "../stages/read.h"

#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <math.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define RAGLOAD_VERSION "0.1.0"

/* What the option and argument checks return to let the command go on (any exit status,
 * EXIT_DONE included, stops it). */
#define GO_ON (-1)

struct opts {
	struct rl_config cfg;
	const char *model_file;
	const char *output;
	int no_wait;
	int prune;
	int dry_run;
	const char *log_file;
	int roles;
	int shard, n_shards;
	int refit, rollback, chunk_tokens, chunk_overlap, index_given;
	const char *method;
	int all_chunks;        /* search: every chunk, not each document's best */
	int help;              /* --help given: the overview, or the command's own help */
	int json, jsonl;
	int terms;             /* embed: BM25 terms instead of vectors */
	struct eval_args eval;
	const char *ef_search, *probes;  /* eval: the comma lists as given */
	struct index_args index;
	int no_default_excludes;
	char exclude[READ_GLOBS_MAX];  /* --exclude patterns, added to [inputs] exclude */
};

static const char usage_text[] =
	"usage: ragload [options] <command> [args]\n"
	"\n"
	"commands:\n"
	"  init                  create or upgrade the schema (versioned migrations; idempotent)\n"
	"  status                the last runs, the corpus, its model and indexes\n"
	"  ingest PATH...        load directories, archives, compressed files, .txt/.md/.html, .jsonl\n"
	"  search \"QUERY\"        top -k chunks for a query (--method dense|bm25|hybrid|fts, --json)\n"
	"  embed                 embed stdin lines (--jsonl: JSON lines) under the corpus's model\n"
	"                        as pgvector literals (--json: JSON lines)\n"
	"  model fit PATH... -o FILE   fit the built-in model on inputs and write it to FILE\n"
	"  model export FILE     write the corpus's model to FILE\n"
	"  model import FILE     store the model in FILE in the database\n"
	"  index                 build HNSW and IVFFlat (and full-text) indexes after loading\n"
	"  reindex               new chunks/embeddings/indexes built beside the live ones, then\n"
	"                        swapped in (--model FILE, --refit, --chunk-tokens, --hnsw-m...);\n"
	"                        --rollback swaps the previous generation back\n"
	"  eval --queries FILE   exact ground truth, ANN recall/latency, quality; writes a report\n"
	"\n"
	"options:\n"
	"  -d, --conninfo STR    libpq conninfo or URI (default: PG* environment, as psql)\n"
	"  -c, --config FILE     settings file (defaults: config/default.ini, built in)\n"
	"      --set S.K=V       override one setting, e.g. --set chunk.tokens=128\n"
	"  -q, --quiet           no progress and no summary\n"
	"      --progress / --no-progress   force progress on stderr on or off\n"
	"  -h, --help            this text; 'ragload COMMAND --help' (or 'ragload help COMMAND'):\n"
	"                        that command's own options\n"
	"      --version         print the version\n"
	"\n"
	"exit status (every command):\n"
	"  0   done (documents already loaded and unchanged are not skipped)\n"
	"  1   fatal error\n"
	"  2   usage error\n"
	"  3   done, but some inputs, entries or documents were skipped as bad (the rest loaded)\n"
	"  75  another run holds the lock on this corpus\n";

/* The command a usage error's hint points at (found before any option is applied), or NULL. */
static const char *hint_command;

/*
 * usage(EXIT_DONE) prints the overview (--help). usage(EXIT_USAGE) follows an error message
 * already printed: it adds only where to read more, as git and coreutils do, rather than
 * burying the one line that matters under the whole help text.
 */
static int usage(int status)
{
	if (status == EXIT_DONE)
		fputs(usage_text, stdout);
	else if (hint_command)
		fprintf(stderr, "Try 'ragload %s --help'\n", hint_command);
	else
		fputs("Try 'ragload --help'\n", stderr);
	return status;
}

/* Prints "ragload: error: <message>" and the hint; returns EXIT_USAGE. */
static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_error("%s", msg);
	return usage(EXIT_USAGE);
}

/*
 * The commands: each checks its own arguments (a usage error says the one thing wrong), then
 * hands its options to the file that runs it. A command that reads the corpus opens it with
 * db_open_corpus(), which says "run 'ragload init' first" on a database init never ran on.
 */
static int cmd_init(struct opts *o, int argc, char **argv)
{
	if (argc != 0)
		return usage_error("init: unexpected argument '%s'", argv[0]);
	return init_run(&o->cfg, o->roles);
}

/*
 * Directories given side by side must have different names: their source keys start with it
 * (read_input_name(): "a/docs" and "b/docs" would both give "docs/..."). 1 (after the error)
 * when two share one.
 */
static int inputs_named_apart(int argc, char **argv)
{
	char **names = calloc((size_t)argc + 1, sizeof(*names));
	struct stat st;
	int clash = 0;

	if (!names) {
		log_error("out of memory");
		return 1;
	}
	for (int i = 0; i < argc && !clash; i++) {
		if (stat(argv[i], &st) < 0 || !S_ISDIR(st.st_mode))
			continue;
		if (!(names[i] = read_input_name(argv[i]))) {
			log_error("out of memory");
			clash = 1;
			break;
		}
		if (!names[i][0])  /* "/": nothing to share */
			continue;
		for (int j = 0; j < i && !clash; j++) {
			if (names[j] && names[j][0] && !strcmp(names[i], names[j])) {
				log_error("inputs %s and %s are directories of the same name: their source "
					  "keys would both start with '%s/'; give the directory that holds "
					  "both, or load them into separate databases", argv[j], argv[i],
					  names[i]);
				clash = 1;
			}
		}
	}
	for (int i = 0; i < argc; i++)
		free(names[i]);
	free(names);
	return clash;
}

/*
 * Inputs of ingest and model fit: each must exist before anything runs (a typo must not fit
 * a model on nothing); --no-default-excludes empties the [inputs] exclude list, then the
 * --exclude patterns are added to it. Returns GO_ON to go on, else the exit status.
 */
static int inputs_prepare(struct opts *o, int argc, char **argv)
{
	struct stat st;

	for (int i = 0; i < argc; i++) {
		if (stat(argv[i], &st) < 0 && (errno == ENOENT || errno == ENOTDIR)) {
			log_error("no such input: %s", argv[i]);
			return EXIT_USAGE;
		}
	}
	if (inputs_named_apart(argc, argv))
		return EXIT_USAGE;
	if (o->no_default_excludes)
		o->cfg.read.exclude[0] = '\0';
	size_t n = strlen(o->cfg.read.exclude);
	if (o->exclude[0]) {
		if (n + strlen(o->exclude) + 2 > READ_GLOBS_MAX) {
			log_error("--exclude: the exclude list passes %d bytes", READ_GLOBS_MAX - 1);
			return EXIT_USAGE;
		}
		/* lengths checked above: the list and a separator fit */
		char *w = o->cfg.read.exclude + n;
		if (n)
			*w++ = ' ';
		memcpy(w, o->exclude, strlen(o->exclude) + 1);
	}
	return GO_ON;
}

static int cmd_ingest(struct opts *o, int argc, char **argv)
{
	if (argc < 1)
		return usage_error("ingest: no input given");
	int st = inputs_prepare(o, argc, argv);
	if (st >= 0)
		return st;
	struct ingest_args a = {argv, argc, o->model_file, o->no_wait, o->prune, o->dry_run,
				o->log_file, o->shard, o->n_shards};
	return ingest_run(&o->cfg, &a);
}

static int cmd_model(struct opts *o, int argc, char **argv)
{
	if (argc < 1)
		return usage_error("model: give a subcommand: fit, export or import");
	const char *sub = argv[0];
	if (!strcmp(sub, "fit")) {
		if (argc < 2 || !o->output)
			return usage_error("model fit: give inputs and -o FILE");
		int st = inputs_prepare(o, argc - 1, argv + 1);
		if (st >= 0)
			return st;
	} else if (!strcmp(sub, "export") || !strcmp(sub, "import")) {
		if (argc != 2)
			return usage_error("model %s: give one FILE", sub);
	} else {
		return usage_error("model: unknown subcommand '%s' (fit, export or import)", sub);
	}
	struct modelcmd_args a = {sub, argv + 1, argc - 1, o->output};
	return modelcmd_run(&o->cfg, &a);
}

static int cmd_status(struct opts *o, int argc, char **argv)
{
	if (argc != 0)
		return usage_error("status: unexpected argument '%s'", argv[0]);
	return status_run(&o->cfg);
}

static int cmd_reindex(struct opts *o, int argc, char **argv)
{
	if (argc != 0)
		return usage_error("reindex: unexpected argument '%s'", argv[0]);
	struct reindex_args a = {o->model_file, o->refit, o->chunk_tokens, o->chunk_overlap,
				 o->index_given, o->index, o->rollback};
	return reindex_run(&o->cfg, &a);
}

static int cmd_search(struct opts *o, int argc, char **argv)
{
	if (argc != 1)
		return usage_error("search: give the query as one argument (quoted)");
	if (argv[0][strspn(argv[0], " \t\n\r\v\f")] == '\0')
		return usage_error("search: the query is empty");
	struct search_args a = {argv[0], o->eval.k, o->method ? o->method : "dense", o->json,
				o->eval.fts_config, o->all_chunks};
	return search_run(&o->cfg, &a);
}

static int cmd_embed(struct opts *o, int argc, char **argv)
{
	if (argc != 0)
		return usage_error("embed: unexpected argument '%s'", argv[0]);
	struct embedcmd_args a = {o->jsonl, o->json, o->model_file, o->terms};
	return embedcmd_run(&o->cfg, &a);
}

static int cmd_index(struct opts *o, int argc, char **argv)
{
	if (argc != 0)
		return usage_error("index: unexpected argument '%s'", argv[0]);
	return indexcmd_run(&o->cfg, &o->index);
}

static int cmd_eval(struct opts *o, int argc, char **argv)
{
	if (argc != 0)
		return usage_error("eval: unexpected argument '%s'", argv[0]);
	if (!o->eval.queries)
		return usage_error("eval: --queries FILE is required");
	return evalcmd_run(&o->cfg, &o->eval, o->ef_search, o->probes);
}

/*
 * Each command's own help (`ragload COMMAND --help`, `ragload help COMMAND`): its synopsis,
 * what it does, the options it reads. The options every command takes are in common_help.
 */
static const char help_init[] =
	"usage: ragload init [--roles]\n"
	"\n"
	"Creates or upgrades the schema: versioned migrations, applied once each (idempotent).\n"
	"\n"
	"options:\n"
	"      --roles           also create the ragload_loader and ragload_reader roles\n";
static const char help_status[] =
	"usage: ragload status\n"
	"\n"
	"Shows the last runs, the corpus, its model and its indexes.\n";
static const char help_ingest[] =
	"usage: ragload ingest [options] PATH...\n"
	"\n"
	"Reads, normalises, chunks, embeds and loads every input: directories, archives\n"
	"(tar, zip, 7z, cpio and their compressions), compressed files, .txt/.md/.html, .jsonl\n"
	"collections, .fvecs vectors. The first ingest into an empty corpus fits its model.\n"
	"\n"
	"options:\n"
	"      --model FILE      embed with this model file instead of the corpus's\n"
	"      --chunk-tokens N  tokens per chunk (default 256)\n"
	"      --chunk-overlap N tokens shared by consecutive chunks (default 32)\n"
	"      --no-wait         exit 75 at once when another run holds the lock\n"
	"      --prune           delete documents under the given inputs that are gone\n"
	"      --dry-run         say what would be added, changed, pruned; write nothing\n"
	"      --log FILE        also append warnings and the summary to FILE\n"
	"      --shard i/N       only the documents whose key hashes to share i of N\n"
	"      --include GLOB    read matching files even if an exclude matches (repeatable)\n"
	"      --exclude GLOB    leave matching files out, counted as ignored (repeatable)\n"
	"      --no-default-excludes  drop the [inputs] exclude defaults (stylesheets, scripts,\n"
	"                        source maps, search indexes, _sources/, _static/, VCS dirs)\n"
	"\n"
	"A GLOB without '/' matches a file name, 'dir/' a directory anywhere, others the path\n"
	"relative to the input. Images, fonts, executables and other files ragload does not read\n"
	"are ignored and counted by type; they do not change the exit status.\n";
static const char help_model[] =
	"usage: ragload model fit PATH... -o FILE\n"
	"       ragload model export FILE\n"
	"       ragload model import FILE\n"
	"\n"
	"Fits the built-in model on inputs without loading them, or writes the corpus's model to\n"
	"a file, or stores a model file in the database.\n"
	"\n"
	"options:\n"
	"  -o, --output FILE     model fit: where to write the model\n";
static const char help_index[] =
	"usage: ragload index [options]\n"
	"\n"
	"Builds the HNSW, IVFFlat and full-text indexes after loading.\n"
	"\n"
	"options:\n"
	"      --distance D      cosine | l2 | ip (default: the corpus's: cosine for text, l2 for .fvecs)\n"
	"      --hnsw-m N        HNSW m (default 16)\n"
	"      --hnsw-efc N      HNSW ef_construction (default 64)\n"
	"      --lists N         IVFFlat lists (default rows/1000, at least 10; sqrt(rows) above 1M)\n"
	"      --only KIND       build only hnsw, ivfflat or fts\n"
	"      --storage S       vector | halfvec | bit, or a comma list (default halfvec): what\n"
	"                        HNSW and IVFFlat index (bit: HNSW only, re-ranked exactly);\n"
	"                        searches are served by the first one's HNSW\n"
	"      --repeat N        build each index N times; N > 1 measures each build's recall@10\n"
	"                        and prints the median and spread (default 1)\n"
	"      --fts-config CFG  text search configuration (default english)\n";
static const char help_reindex[] =
	"usage: ragload reindex [options]\n"
	"\n"
	"Builds new chunks, embeddings and indexes beside the live ones, then swaps them in.\n"
	"\n"
	"options:\n"
	"      --model FILE      embed with this model file\n"
	"      --refit           fit a new built-in model on the corpus\n"
	"      --chunk-tokens N  tokens per chunk\n"
	"      --chunk-overlap N tokens shared by consecutive chunks\n"
	"      --hnsw-m N, --hnsw-efc N, --lists N, --distance D   index settings (see index)\n"
	"      --rollback        swap the previous generation back\n";
static const char help_search[] =
	"usage: ragload search [options] \"QUERY\"\n"
	"\n"
	"Prints the documents that best answer the query, each once, by its best chunk.\n"
	"\n"
	"options:\n"
	"  -k N                  how many results (default 10)\n"
	"      --method M        dense (default: the corpus's model and vector index), bm25\n"
	"                        (Okapi BM25 over the model's words), hybrid (dense and bm25\n"
	"                        fused as [search] hybrid_fusion says), fts (PostgreSQL\n"
	"                        full-text search, ts_rank) or hybrid-fts (dense and fts, RRF)\n"
	"      --all-chunks      every matching chunk, several of one document if they rank so\n"
	"      --json            JSON with chunk and document ids and the whole chunk text\n"
	"      --fts-config CFG  text search configuration (default english)\n";
static const char help_embed[] =
	"usage: ragload embed [--json] [--jsonl] [--model FILE] [--terms] < LINES\n"
	"\n"
	"Embeds each stdin line with the corpus's model, as search embeds a query, and prints\n"
	"it as a pgvector literal.\n"
	"\n"
	"options:\n"
	"      --jsonl           stdin holds JSON lines: embed each one's \"text\"\n"
	"      --json            print JSON lines with id, model, dim and embedding\n"
	"      --model FILE      a model file instead of the corpus's\n"
	"      --terms           print each text's BM25 terms (the bigint[] ragload_bm25() and\n"
	"                        ragload_hybrid() take) instead of its vector; no model needed\n";
static const char help_eval[] =
	"usage: ragload eval --queries FILE [options]\n"
	"\n"
	"Exact ground truth, ANN recall and latency for each index setting, and quality against\n"
	"judgments; writes a report (Markdown, HTML, JSON, CSV).\n"
	"\n"
	"options:\n"
	"      --queries FILE    BEIR queries.jsonl (embedded with the corpus's model) or .fvecs\n"
	"      --qrels FILE      BEIR TSV or TREC qrels: nDCG@10, MRR@10, Recall@100\n"
	"      --ground-truth F  .ivecs exact top-k ids, checked against ragload's own\n"
	"  -k N                  k of recall@k (default 10)\n"
	"      --run-file FILE   also write each method's ranking in TREC run format\n"
	"      --reports-dir DIR where reports go (default reports/)\n"
	"      --keep N          keep only the newest N reports\n"
	"      --fail-on-regression X   exit 1 when nDCG@10 or recall@10 drops by more than X\n"
	"      --connections N   connections for the concurrent QPS figure (default 2)\n"
	"      --ef-search LIST  HNSW ef_search values (default: 10, 20, 40, ... until recall@k\n"
	"                        reaches 0.99 or stops rising)\n"
	"      --probes LIST     IVFFlat probes values (default: 1, 2, 4, ... likewise); binary\n"
	"                        indexes sweep their over-fetch (1, 2, 4, ...) likewise\n"
	"      --qps-seconds S   timed passes per setting last S seconds and are 3 at least\n"
	"                        (or one that took 5 s); QPS is their median (default 1; 0: one\n"
	"                        pass)\n"
	"      --fts-config CFG  text search configuration (default english)\n"
	"      --max-queries N   evaluate only the first N queries\n"
	"      --methods LIST    measure only these besides exact: fts, hybrid_fts, bm25, hybrid,\n"
	"                        ann (the index sweep); default all\n";
static const char common_help[] =
	"\n"
	"common options:\n"
	"  -d, --conninfo STR    libpq conninfo or URI (default: PG* environment, as psql)\n"
	"  -c, --config FILE     settings file (defaults: config/default.ini, built in)\n"
	"      --set S.K=V       override one setting, e.g. --set chunk.tokens=128\n"
	"  -q, --quiet           no progress and no summary\n"
	"      --progress / --no-progress   force progress on stderr on or off\n"
	"  -h, --help            this text\n"
	"\n"
	"exit status: 0 done, 1 fatal, 2 usage, 3 done with skipped input, 75 locked\n";

static const struct command {
	const char *name;
	int (*fn)(struct opts *o, int argc, char **argv);
	const char *help;
} commands[] = {
	{"init", cmd_init, help_init},
	{"status", cmd_status, help_status},
	{"ingest", cmd_ingest, help_ingest},
	{"model", cmd_model, help_model},
	{"index", cmd_index, help_index},
	{"reindex", cmd_reindex, help_reindex},
	{"search", cmd_search, help_search},
	{"embed", cmd_embed, help_embed},
	{"eval", cmd_eval, help_eval},
};

static const struct command *find_command(const char *name)
{
	for (size_t i = 0; i < RL_ARRAY_LEN(commands); i++)
		if (!strcmp(commands[i].name, name))
			return &commands[i];
	return NULL;
}

static int command_help(const struct command *c)
{
	fputs(c->help, stdout);
	fputs(common_help, stdout);
	return EXIT_DONE;
}

enum { OPT_SET = 256, OPT_MODEL, OPT_CHUNK_TOKENS, OPT_CHUNK_OVERLAP, OPT_NO_WAIT, OPT_VERSION,
       OPT_PROGRESS, OPT_NO_PROGRESS, OPT_DISTANCE, OPT_HNSW_M, OPT_HNSW_EFC, OPT_LISTS, OPT_ONLY,
       OPT_QUERIES, OPT_QRELS, OPT_GROUND_TRUTH, OPT_RUN_FILE, OPT_REPORTS_DIR, OPT_KEEP,
       OPT_FAIL_ON_REGRESSION, OPT_CONNECTIONS, OPT_EF_SEARCH, OPT_PROBES, OPT_FTS_CONFIG,
       OPT_MAX_QUERIES, OPT_METHODS, OPT_PRUNE, OPT_DRY_RUN, OPT_LOG, OPT_ROLES, OPT_SHARD, OPT_REFIT,
       OPT_ROLLBACK, OPT_METHOD, OPT_JSON, OPT_JSONL, OPT_TERMS, OPT_INCLUDE, OPT_EXCLUDE,
       OPT_NO_DEFAULT_EXCLUDES, OPT_STORAGE, OPT_REPEAT, OPT_QPS_SECONDS };
enum { OPT_ALL_CHUNKS = 512 };  /* search */

/* Parses a whole int within [lo, hi] into *out; on failure says why, naming the option. */
static int int_option(const char *opt, const char *s, int lo, int hi, int *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (end == s || *end || errno == ERANGE)
		return usage_error("%s: expected a whole number, got '%s'", opt, s);
	if (v < lo)
		return usage_error("%s: must be ≥ %d", opt, lo);
	if (v > hi)
		return usage_error("%s: must be ≤ %d", opt, hi);
	*out = (int)v;
	return GO_ON;
}

static int set_option(struct rl_config *c, const char *arg)
{
	char tmp[1200];
	snprintf(tmp, sizeof(tmp), "%s", arg);
	char *eq = strchr(tmp, '='), *dot = strchr(tmp, '.');
	if (!eq || !dot || dot > eq)
		return GO_ON;
	*eq = '\0';
	*dot = '\0';
	return config_set(c, tmp, dot + 1, eq + 1);
}

/* An enumerated option's value: NULL when arg is none of the choices (error printed). */
static const char *enum_option(const char *opt, const char *arg, const char *const *choices,
			       const char *expected)
{
	for (size_t i = 0; choices[i]; i++)
		if (!strcmp(arg, choices[i]))
			return choices[i];
	usage_error("%s: expected %s, got '%s'", opt, expected, arg);
	return NULL;
}

/* Applies one parsed option; raw is the option as named on the command line ("-k",
 * "--hnsw-m"), for messages. Returns GO_ON to go on, else an exit status to stop with. */
static int apply_option(struct opts *o, int c, const char *arg, const char *raw)
{
	switch (c) {
	case 'd':
		if (strlen(arg) >= sizeof(o->cfg.conninfo))
			return usage_error("%s: longer than %zu bytes", raw,
					   sizeof(o->cfg.conninfo) - 1);
		strcpy(o->cfg.conninfo, arg);
		return GO_ON;
	case 'c': return GO_ON; /* read before everything else */
	case 'o': o->output = arg; return GO_ON;
	case 'q': o->cfg.quiet = 1; return GO_ON;
	case 'h': o->help = 1; return GO_ON;
	case OPT_SET:
		if (set_option(&o->cfg, arg))
			return usage_error("--set: unknown setting or invalid value '%s' "
					   "(config/default.ini lists them)", arg);
		return GO_ON;
	case OPT_MODEL: o->model_file = arg; return GO_ON;
	case OPT_CHUNK_TOKENS:
		if (int_option(raw, arg, 8, 65536, &o->chunk_tokens) >= 0)
			return EXIT_USAGE;
		o->cfg.chunk.tokens = o->chunk_tokens;
		return GO_ON;
	case OPT_CHUNK_OVERLAP:
		if (int_option(raw, arg, 0, 65535, &o->chunk_overlap) >= 0)
			return EXIT_USAGE;
		o->cfg.chunk.overlap = o->chunk_overlap;
		return GO_ON;
	case OPT_NO_WAIT: o->no_wait = 1; return GO_ON;
	case OPT_PRUNE: o->prune = 1; return GO_ON;
	case OPT_INCLUDE:
	case OPT_EXCLUDE:
		if (config_globs_append(c == OPT_INCLUDE ? o->cfg.read.include : o->exclude, arg)) {
			log_error("%s %s: expected one glob without ',' or spaces (lists of at most "
				  "%d bytes)", raw, arg, READ_GLOBS_MAX - 1);
			return EXIT_USAGE;
		}
		return GO_ON;
	case OPT_NO_DEFAULT_EXCLUDES: o->no_default_excludes = 1; return GO_ON;
	case OPT_DRY_RUN: o->dry_run = 1; return GO_ON;
	case OPT_LOG: o->log_file = arg; return GO_ON;
	case OPT_ROLES: o->roles = 1; return GO_ON;
	case OPT_REFIT: o->refit = 1; return GO_ON;
	case OPT_ROLLBACK: o->rollback = 1; return GO_ON;
	case OPT_METHOD: {
		static const char *const methods[] = {"dense", "bm25", "hybrid", "fts", "hybrid-fts",
						      NULL};
		o->method = enum_option(raw, arg, methods, "dense, bm25, hybrid, fts or hybrid-fts");
		return o->method ? GO_ON : EXIT_USAGE;
	}
	case OPT_ALL_CHUNKS: o->all_chunks = 1; return GO_ON;
	case OPT_JSON: o->json = 1; return GO_ON;
	case OPT_JSONL: o->jsonl = 1; return GO_ON;
	case OPT_TERMS: o->terms = 1; return GO_ON;
	case OPT_SHARD: {
		int i, n, used = 0;
		if (sscanf(arg, "%d/%d%n", &i, &n, &used) != 2 || arg[used] || n < 1 || n > 1024 ||
		    i < 1 || i > n) {
			return usage_error("%s: expected i/N with 1 ≤ i ≤ N ≤ 1024, got '%s'", raw,
					   arg);
		}
		o->shard = i;
		o->n_shards = n;
		return GO_ON;
	}
	case OPT_VERSION: printf("ragload %s\n", RAGLOAD_VERSION); return EXIT_DONE;
	case OPT_PROGRESS: o->cfg.progress = 1; return GO_ON;
	case OPT_NO_PROGRESS: o->cfg.progress = 0; return GO_ON;
	case OPT_DISTANCE: {
		static const char *const distances[] = {"cosine", "l2", "ip", NULL};
		o->index.distance = enum_option(raw, arg, distances, "cosine, l2 or ip");
		return o->index.distance ? GO_ON : EXIT_USAGE;
	}
	case OPT_HNSW_M: o->index_given = 1; return int_option(raw, arg, 2, 100, &o->index.m);
	case OPT_HNSW_EFC: return int_option(raw, arg, 4, 1000, &o->index.ef_construction);
	case OPT_LISTS: return int_option(raw, arg, 1, 32768, &o->index.lists);
	case OPT_ONLY: {
		static const char *const kinds[] = {"hnsw", "ivfflat", "fts", NULL};
		o->index.only = enum_option(raw, arg, kinds, "hnsw, ivfflat or fts");
		return o->index.only ? GO_ON : EXIT_USAGE;
	}
	case OPT_STORAGE:
		if (strlen(arg) >= sizeof(o->cfg.index.storage))
			return usage_error("%s: longer than %zu bytes", raw,
					   sizeof(o->cfg.index.storage) - 1);
		o->index.storage = arg;
		return GO_ON;
	case OPT_REPEAT: return int_option(raw, arg, 1, 100, &o->index.repeat);
	case OPT_QPS_SECONDS: {
		char *end;
		o->eval.qps_seconds = strtod(arg, &end);
		if (end == arg || *end || !isfinite(o->eval.qps_seconds) ||
		    o->eval.qps_seconds < 0 || o->eval.qps_seconds > 3600)
			return usage_error("%s: expected seconds from 0 to 3600, got '%s'", raw, arg);
		return GO_ON;
	}
	case OPT_QUERIES: o->eval.queries = arg; return GO_ON;
	case OPT_QRELS: o->eval.qrels = arg; return GO_ON;
	case OPT_GROUND_TRUTH: o->eval.ground_truth = arg; return GO_ON;
	case 'k': return int_option(raw, arg, 1, 1000, &o->eval.k);
	case OPT_RUN_FILE: o->eval.run_file = arg; return GO_ON;
	case OPT_REPORTS_DIR: o->eval.reports_dir = arg; return GO_ON;
	case OPT_KEEP: return int_option(raw, arg, 0, 1000000, &o->eval.keep);
	case OPT_FAIL_ON_REGRESSION: {
		char *end;
		o->eval.fail_on_regression = strtod(arg, &end);
		if (end == arg || *end || !isfinite(o->eval.fail_on_regression))
			return usage_error("%s: expected a number, got '%s'", raw, arg);
		return o->eval.fail_on_regression < 0 ? usage_error("%s: must be ≥ 0", raw) : GO_ON;
	}
	case OPT_CONNECTIONS:
		return int_option(raw, arg, 1, 64, &o->eval.connections);
	case OPT_EF_SEARCH: o->ef_search = arg; return GO_ON;
	case OPT_PROBES: o->probes = arg; return GO_ON;
	case OPT_FTS_CONFIG:
		if (strspn(arg, "abcdefghijklmnopqrstuvwxyz0123456789_") != strlen(arg) || !*arg)
			return usage_error("%s: expected a text search configuration name such as "
					   "english or simple, got '%s'", raw, arg);
		o->eval.fts_config = o->index.fts_config = arg;
		return GO_ON;
	case OPT_MAX_QUERIES:
		return int_option(raw, arg, 0, 100000000, &o->eval.max_queries);
	case OPT_METHODS:
		if (eval_methods_parse(arg, &o->eval.methods))
			return usage_error("%s: expected a comma list of exact, fts, hybrid_fts, bm25, "
					   "hybrid and ann, got '%s'", raw, arg);
		return GO_ON;
	case ':': return usage_error("%s: needs a value", raw);
	default: return usage_error("unknown option '%s'", raw);
	}
}

/*
 * The command named on the command line, for the hint after a usage error found before the
 * command is reached ("ragload -k 0 search q"): the first word that is not an option or an
 * option's value and names a command. NULL when there is none.
 */
static const char *find_hint_command(int argc, char **argv, const struct option *longopts)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--"))
			return i + 1 < argc && find_command(argv[i + 1]) ? argv[i + 1] : NULL;
		if (a[0] != '-' || !a[1]) {
			if (!strcmp(a, "help"))
				continue;
			return find_command(a) ? a : NULL;
		}
		int takes_value = 0;
		if (a[1] == '-') {
			size_t n = strcspn(a + 2, "=");
			for (const struct option *lo = longopts; lo->name && !a[2 + n]; lo++)
				if (strlen(lo->name) == n && !strncmp(lo->name, a + 2, n))
					takes_value = lo->has_arg == required_argument;
		} else {
			/* short options: the last letter of a cluster takes the next word */
			size_t n = strlen(a);
			takes_value = n == 2 && strchr("dcok", a[1]);
		}
		i += takes_value;
	}
	return NULL;
}

/* Every option of every command; each command reads the ones its help lists. */
static const struct option longopts[] = {
	{"conninfo", required_argument, NULL, 'd'},
	{"config", required_argument, NULL, 'c'},
	{"output", required_argument, NULL, 'o'},
	{"quiet", no_argument, NULL, 'q'},
	{"help", no_argument, NULL, 'h'},
	{"set", required_argument, NULL, OPT_SET},
	{"model", required_argument, NULL, OPT_MODEL},
	{"chunk-tokens", required_argument, NULL, OPT_CHUNK_TOKENS},
	{"chunk-overlap", required_argument, NULL, OPT_CHUNK_OVERLAP},
	{"no-wait", no_argument, NULL, OPT_NO_WAIT},
	{"version", no_argument, NULL, OPT_VERSION},
	{"progress", no_argument, NULL, OPT_PROGRESS},
	{"no-progress", no_argument, NULL, OPT_NO_PROGRESS},
	{"distance", required_argument, NULL, OPT_DISTANCE},
	{"hnsw-m", required_argument, NULL, OPT_HNSW_M},
	{"hnsw-efc", required_argument, NULL, OPT_HNSW_EFC},
	{"lists", required_argument, NULL, OPT_LISTS},
	{"only", required_argument, NULL, OPT_ONLY},
	{"storage", required_argument, NULL, OPT_STORAGE},
	{"repeat", required_argument, NULL, OPT_REPEAT},
	{"qps-seconds", required_argument, NULL, OPT_QPS_SECONDS},
	{"queries", required_argument, NULL, OPT_QUERIES},
	{"qrels", required_argument, NULL, OPT_QRELS},
	{"ground-truth", required_argument, NULL, OPT_GROUND_TRUTH},
	{"run-file", required_argument, NULL, OPT_RUN_FILE},
	{"reports-dir", required_argument, NULL, OPT_REPORTS_DIR},
	{"keep", required_argument, NULL, OPT_KEEP},
	{"fail-on-regression", required_argument, NULL, OPT_FAIL_ON_REGRESSION},
	{"connections", required_argument, NULL, OPT_CONNECTIONS},
	{"ef-search", required_argument, NULL, OPT_EF_SEARCH},
	{"probes", required_argument, NULL, OPT_PROBES},
	{"fts-config", required_argument, NULL, OPT_FTS_CONFIG},
	{"max-queries", required_argument, NULL, OPT_MAX_QUERIES},
	{"methods", required_argument, NULL, OPT_METHODS},
	{"prune", no_argument, NULL, OPT_PRUNE},
	{"include", required_argument, NULL, OPT_INCLUDE},
	{"exclude", required_argument, NULL, OPT_EXCLUDE},
	{"no-default-excludes", no_argument, NULL, OPT_NO_DEFAULT_EXCLUDES},
	{"dry-run", no_argument, NULL, OPT_DRY_RUN},
	{"log", required_argument, NULL, OPT_LOG},
	{"roles", no_argument, NULL, OPT_ROLES},
	{"shard", required_argument, NULL, OPT_SHARD},
	{"refit", no_argument, NULL, OPT_REFIT},
	{"rollback", no_argument, NULL, OPT_ROLLBACK},
	{"method", required_argument, NULL, OPT_METHOD},
	{"all-chunks", no_argument, NULL, OPT_ALL_CHUNKS},
	{"json", no_argument, NULL, OPT_JSON},
	{"jsonl", no_argument, NULL, OPT_JSONL},
	{"terms", no_argument, NULL, OPT_TERMS},
	{NULL, 0, NULL, 0},
};

int main(int argc, char **argv)
{
	/* glibc gives each allocating thread an arena of its own (up to 8 per core) and keeps
	 * what they free for reuse: with the reader, worker and loader each passing large
	 * buffers on, peak RSS crept up with the length of a run (4x corpus: 223-251 MB against
	 * 195-210 MB at 1x). Two arenas hold it flat (194 vs 184 MB, measured with
	 * MALLOC_ARENA_MAX) at no cost in speed: these threads allocate in large pieces, rarely. */
#ifdef M_ARENA_MAX
	mallopt(M_ARENA_MAX, 2);
#endif
	blas_tune(argv);
	struct opts o;
	memset(&o, 0, sizeof(o));
	o.chunk_overlap = -1;
	config_defaults(&o.cfg);
	eval_args_defaults(&o.eval);
	index_args_defaults(&o.index);

	/* First pass: only --config, so that flags given anywhere override the file. */
	for (int i = 1; i < argc; i++) {
		const char *path = NULL;
		if ((!strcmp(argv[i], "-c") || !strcmp(argv[i], "--config")) && i + 1 < argc)
			path = argv[i + 1];
		else if (!strncmp(argv[i], "--config=", 9))
			path = argv[i] + 9;
		if (path && config_load(&o.cfg, path))
			return EXIT_USAGE;
	}

	/* Options may come before or after the command; the rest are its arguments. */
	char **pos = calloc((size_t)argc, sizeof(char *));
	if (!pos)
		return EXIT_FATAL;
	hint_command = find_hint_command(argc, argv, longopts);
	int n_pos = 0, status = GO_ON;
	opterr = 0;
	optind = 1;
	while (status < 0 && optind < argc) {
		int li = -1;
		int c = getopt_long(argc, argv, "+:d:c:o:qhk:", longopts, &li);
		if (c == -1) {
			pos[n_pos++] = argv[optind++];
			continue;
		}
		/* the option as the user named it, for messages */
		char name[64];
		if (li >= 0)
			snprintf(name, sizeof(name), "--%s", longopts[li].name);
		else if ((c == '?' || c == ':') && optopt)
			snprintf(name, sizeof(name), "-%c", optopt);
		else if (c == '?' || c == ':')
			snprintf(name, sizeof(name), "%.*s", (int)strcspn(argv[optind - 1], "="),
				 argv[optind - 1]);
		else
			snprintf(name, sizeof(name), "-%c", c);
		status = apply_option(&o, c, optarg, name);
	}
	if (status >= 0)
		goto out;
	status = EXIT_USAGE;
	if (o.help || (n_pos > 0 && !strcmp(pos[0], "help"))) {
		/* ragload --help, ragload COMMAND --help, ragload help [COMMAND] */
		const char *name = n_pos == 0 ? NULL : strcmp(pos[0], "help") ? pos[0]
				   : n_pos > 1 ? pos[1] : NULL;
		const struct command *c = name ? find_command(name) : NULL;
		if (name && !c) {
			hint_command = NULL;
			status = usage_error("unknown command '%s'", name);
		} else {
			status = c ? command_help(c) : usage(EXIT_DONE);
		}
		goto out;
	}
	if (n_pos == 0) {
		status = usage_error("no command given");
		goto out;
	}
	if (o.cfg.chunk.overlap >= o.cfg.chunk.tokens) {
		status = usage_error("chunk overlap (%d) must be smaller than chunk tokens (%d)",
				     o.cfg.chunk.overlap, o.cfg.chunk.tokens);
		goto out;
	}
	rl_quiet = o.cfg.quiet;
	/* progress: on a terminal unless told otherwise; -q silences it whatever else is given */
	o.cfg.progress = o.cfg.quiet ? 0 : o.cfg.progress < 0 ? isatty(2) : o.cfg.progress;
	progress_enable(o.cfg.progress);
	const struct command *cmd = find_command(pos[0]);
	if (!cmd) {
		status = usage_error("unknown command '%s'", pos[0]);
		goto out;
	}
	status = cmd->fn(&o, n_pos - 1, pos + 1);
out:
	free(pos);
	return status;
}
