/*
 * main.c — the ragload command line: global options, the command table, exit statuses.
 *
 * Commands are entries of one table (as git's builtins are); each gets the parsed config and
 * its remaining arguments and returns an exit status. Only main() exits.
 */
#include "common.h"
#include "config.h"
#include "db.h"
#include "ingest.h"
#include "status.h"
#include "reindex.h"
#include "search.h"
#include "embedcmd.h"
#include "../stages/embed.h"
#include "../stages/evaluate.h"
#include "../stages/index.h"

#include <cblas.h>
#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <sys/stat.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define RAGLOAD_VERSION "0.1.0"

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
	int json, jsonl;
	struct eval_args eval;
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
	"  search \"QUERY\"        top -k chunks for a query (--method dense|fts|hybrid, --json)\n"
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
	"      --model FILE      ingest: embed with this model file instead of the corpus's\n"
	"      --chunk-tokens N  ingest: tokens per chunk (default 256)\n"
	"      --chunk-overlap N ingest: tokens shared by consecutive chunks (default 32)\n"
	"      --no-wait         exit 75 at once when another run holds the lock\n"
	"      --prune           ingest: delete documents under the given inputs that are gone\n"
	"      --dry-run         ingest: say what would be added, changed, pruned; write nothing\n"
	"      --log FILE        ingest: also append warnings and the summary to FILE\n"
	"      --shard i/N       ingest: only the documents whose key hashes to share i of N\n"
	"      --roles           init: also create the loader and reader roles\n"
	"  -o, --output FILE     model fit: where to write the model\n"
	"\n"
	"index options:\n"
	"      --distance D      cosine | l2 | ip (default: the corpus's: cosine for text, l2 for .fvecs)\n"
	"      --hnsw-m N        HNSW m (default 16)\n"
	"      --hnsw-efc N      HNSW ef_construction (default 64)\n"
	"      --lists N         IVFFlat lists (default rows/1000, at least 10; sqrt(rows) above 1M)\n"
	"      --only KIND       build only hnsw, ivfflat or fts\n"
	"\n"
	"eval options:\n"
	"      --queries FILE    BEIR queries.jsonl (embedded with the corpus's model) or .fvecs\n"
	"      --qrels FILE      BEIR TSV or TREC qrels: nDCG@10, MRR@10, Recall@100\n"
	"      --ground-truth F  .ivecs exact top-k ids, checked against ragload's own\n"
	"  -k N                  k of recall@k (default 10)\n"
	"      --run-file FILE   also write each method's ranking in TREC run format\n"
	"      --reports-dir DIR where reports go (default reports/)\n"
	"      --keep N          keep only the newest N reports\n"
	"      --fail-on-regression X   exit 1 when nDCG@10 or recall@10 drops by more than X\n"
	"      --connections N   connections for the concurrent QPS figure (default 2)\n"
	"      --ef-search LIST  HNSW ef_search values (default 10,20,40,80,160,320)\n"
	"      --probes LIST     IVFFlat probes values (default 1,2,4,... up to lists/4)\n"
	"      --fts-config CFG  text search configuration (default english)\n"
	"      --max-queries N   evaluate only the first N queries\n"
	"\n"
	"  -q, --quiet           no progress and no summary\n"
	"      --progress / --no-progress   force progress on stderr on or off\n"
	"  -h, --help            this text\n"
	"      --version         print the version\n"
	"\n"
	"exit status (every command):\n"
	"  0   done (documents already loaded and unchanged are not skipped)\n"
	"  1   fatal error\n"
	"  2   usage error\n"
	"  3   done, but some inputs, entries or documents were skipped as bad (the rest loaded)\n"
	"  75  another run holds the lock on this corpus\n";

static int usage(int status)
{
	fputs(usage_text, status == EXIT_DONE ? stdout : stderr);
	return status;
}

static int cmd_init(struct opts *o, int argc, char **argv)
{
	(void)argv;
	if (argc != 0)
		return usage(EXIT_USAGE);
	PGconn *conn = db_connect(o->cfg.conninfo);
	if (!conn)
		return EXIT_FATAL;
	int rc = db_migrate(conn);
	if (!rc)
		log_info("schema at version %d", db_schema_version(conn));
	if (!rc && o->roles)
		rc = db_create_roles(conn);
	PQfinish(conn);
	return rc ? EXIT_FATAL : EXIT_DONE;
}

/*
 * Inputs of ingest and model fit: each must exist before anything runs (a typo must not fit
 * a model on nothing); --no-default-excludes empties the [inputs] exclude list, then the
 * --exclude patterns are added to it. Returns -1 to go on, else the exit status.
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
	if (o->no_default_excludes)
		o->cfg.read.exclude[0] = '\0';
	size_t n = strlen(o->cfg.read.exclude);
	if (o->exclude[0]) {
		if (n + strlen(o->exclude) + 2 > READ_GLOBS_MAX) {
			log_error("--exclude: the exclude list passes %d bytes", READ_GLOBS_MAX - 1);
			return EXIT_USAGE;
		}
		snprintf(o->cfg.read.exclude + n, READ_GLOBS_MAX - n, "%s%s", n ? " " : "",
			 o->exclude);
	}
	return -1;
}

static int cmd_ingest(struct opts *o, int argc, char **argv)
{
	if (argc < 1) {
		log_error("ingest: no input given");
		return usage(EXIT_USAGE);
	}
	int st = inputs_prepare(o, argc, argv);
	if (st >= 0)
		return st;
	struct ingest_args a = {argv, argc, o->model_file, o->no_wait, o->prune, o->dry_run,
				o->log_file, o->shard, o->n_shards};
	return ingest_run(&o->cfg, &a);
}

static int write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	if (!f) {
		log_error("%s: cannot create file", path);
		return -1;
	}
	int rc = fwrite(data, 1, len, f) == len ? 0 : -1;
	if (fclose(f))
		rc = -1;
	if (rc)
		log_error("%s: write failed", path);
	return rc;
}

static int save_model(const struct model *m, const char *path)
{
	struct buf b;
	buf_init(&b, 0);
	int rc = model_save(m, &b) || write_file(path, b.data, b.len);
	buf_release(&b);
	if (!rc)
		log_info("wrote model %s (%d dimensions) to %s", model_name(m), model_dim(m), path);
	return rc;
}

static int cmd_model(struct opts *o, int argc, char **argv)
{
	if (argc < 1)
		return usage(EXIT_USAGE);
	const char *sub = argv[0];
	struct model *m = NULL;
	PGconn *conn = NULL;
	int status = EXIT_FATAL;
	if (!strcmp(sub, "fit")) {
		if (argc < 2 || !o->output) {
			log_error("model fit: give inputs and -o FILE");
			return usage(EXIT_USAGE);
		}
		int st = inputs_prepare(o, argc - 1, argv + 1);
		if (st >= 0)
			return st;
		if (ingest_fit_model(&o->cfg, argv + 1, argc - 1, &m) || save_model(m, o->output))
			goto out;
	} else if (!strcmp(sub, "export")) {
		if (argc != 2)
			return usage(EXIT_USAGE);
		conn = db_connect(o->cfg.conninfo);
		if (!conn)
			goto out;
		int rc = corpus_current_model(conn, &m);
		if (rc == 1)
			log_error("this corpus has no model yet");
		if (rc || save_model(m, argv[1]))
			goto out;
	} else if (!strcmp(sub, "import")) {
		if (argc != 2)
			return usage(EXIT_USAGE);
		if (model_read_file(argv[1], &m))
			goto out;
		conn = db_connect(o->cfg.conninfo);
		if (!conn || corpus_store_model(conn, m))
			goto out;
		log_info("stored model %s", model_name(m));
	} else {
		log_error("model: unknown subcommand '%s'", sub);
		return usage(EXIT_USAGE);
	}
	status = EXIT_DONE;
out:
	model_free(m);
	if (conn)
		PQfinish(conn);
	return status;
}

static int cmd_status(struct opts *o, int argc, char **argv)
{
	(void)argv;
	if (argc != 0)
		return usage(EXIT_USAGE);
	return status_run(&o->cfg);
}

static int cmd_reindex(struct opts *o, int argc, char **argv)
{
	(void)argv;
	if (argc != 0)
		return usage(EXIT_USAGE);
	struct reindex_args a = {o->model_file, o->refit, o->chunk_tokens, o->chunk_overlap,
				 o->index_given, o->index, o->rollback};
	return reindex_run(&o->cfg, &a);
}

static int cmd_search(struct opts *o, int argc, char **argv)
{
	if (argc != 1) {
		log_error("search: give the query as one argument");
		return usage(EXIT_USAGE);
	}
	if (o->method && strcmp(o->method, "dense") && strcmp(o->method, "fts") &&
	    strcmp(o->method, "hybrid")) {
		log_error("--method %s: expected dense, fts or hybrid", o->method);
		return EXIT_USAGE;
	}
	struct search_args a = {argv[0], o->eval.k, o->method ? o->method : "dense", o->json,
				o->eval.fts_config};
	return search_run(&o->cfg, &a);
}

static int cmd_embed(struct opts *o, int argc, char **argv)
{
	(void)argv;
	if (argc != 0)
		return usage(EXIT_USAGE);
	struct embedcmd_args a = {o->jsonl, o->json, o->model_file};
	return embedcmd_run(&o->cfg, &a);
}

static int cmd_index(struct opts *o, int argc, char **argv)
{
	(void)argv;
	if (argc != 0)
		return usage(EXIT_USAGE);
	return index_run(&o->cfg, &o->index);
}

static int cmd_eval(struct opts *o, int argc, char **argv)
{
	(void)argv;
	if (argc != 0 || !o->eval.queries) {
		log_error("eval: --queries FILE is required");
		return usage(EXIT_USAGE);
	}
	return evaluate_run(&o->cfg, &o->eval);
}

static const struct command {
	const char *name;
	int (*fn)(struct opts *o, int argc, char **argv);
} commands[] = {
	{"init", cmd_init},
	{"status", cmd_status},
	{"ingest", cmd_ingest},
	{"model", cmd_model},
	{"index", cmd_index},
	{"reindex", cmd_reindex},
	{"search", cmd_search},
	{"embed", cmd_embed},
	{"eval", cmd_eval},
};

enum { OPT_SET = 256, OPT_MODEL, OPT_CHUNK_TOKENS, OPT_CHUNK_OVERLAP, OPT_NO_WAIT, OPT_VERSION,
       OPT_PROGRESS, OPT_NO_PROGRESS, OPT_DISTANCE, OPT_HNSW_M, OPT_HNSW_EFC, OPT_LISTS, OPT_ONLY,
       OPT_QUERIES, OPT_QRELS, OPT_GROUND_TRUTH, OPT_RUN_FILE, OPT_REPORTS_DIR, OPT_KEEP,
       OPT_FAIL_ON_REGRESSION, OPT_CONNECTIONS, OPT_EF_SEARCH, OPT_PROBES, OPT_FTS_CONFIG,
       OPT_MAX_QUERIES, OPT_PRUNE, OPT_DRY_RUN, OPT_LOG, OPT_ROLES, OPT_SHARD, OPT_REFIT,
       OPT_ROLLBACK, OPT_METHOD, OPT_JSON, OPT_JSONL, OPT_INCLUDE, OPT_EXCLUDE,
       OPT_NO_DEFAULT_EXCLUDES };

/* Parses a whole positive int within [lo, hi] into *out. */
static int parse_int(const char *s, int lo, int hi, int *out)
{
	char *end;
	long v = strtol(s, &end, 10);
	if (end == s || *end || v < lo || v > hi)
		return -1;
	*out = (int)v;
	return 0;
}

static int set_option(struct rl_config *c, const char *arg)
{
	char tmp[1200];
	snprintf(tmp, sizeof(tmp), "%s", arg);
	char *eq = strchr(tmp, '='), *dot = strchr(tmp, '.');
	if (!eq || !dot || dot > eq)
		return -1;
	*eq = '\0';
	*dot = '\0';
	return config_set(c, tmp, dot + 1, eq + 1);
}

static int bad_value(const char *opt, const char *arg)
{
	log_error("%s %s: invalid value", opt, arg);
	return EXIT_USAGE;
}

/* Applies one parsed option. Returns -1 to go on, else an exit status to stop with. */
static int apply_option(struct opts *o, int c, const char *arg, const char *raw)
{
	switch (c) {
	case 'd':
		if (strlen(arg) >= sizeof(o->cfg.conninfo))
			return usage(EXIT_USAGE);
		strcpy(o->cfg.conninfo, arg);
		return -1;
	case 'c': return -1; /* read before everything else */
	case 'o': o->output = arg; return -1;
	case 'q': o->cfg.quiet = 1; return -1;
	case 'h': return usage(EXIT_DONE);
	case OPT_SET:
		if (set_option(&o->cfg, arg)) {
			log_error("--set %s: unknown setting or invalid value", arg);
			return EXIT_USAGE;
		}
		return -1;
	case OPT_MODEL: o->model_file = arg; return -1;
	case OPT_CHUNK_TOKENS:
		if (config_set(&o->cfg, "chunk", "tokens", arg)) {
			log_error("--chunk-tokens %s: expected 8..65536", arg);
			return EXIT_USAGE;
		}
		o->chunk_tokens = o->cfg.chunk.tokens;
		return -1;
	case OPT_CHUNK_OVERLAP:
		if (config_set(&o->cfg, "chunk", "overlap", arg)) {
			log_error("--chunk-overlap %s: invalid", arg);
			return EXIT_USAGE;
		}
		o->chunk_overlap = o->cfg.chunk.overlap;
		return -1;
	case OPT_NO_WAIT: o->no_wait = 1; return -1;
	case OPT_PRUNE: o->prune = 1; return -1;
	case OPT_INCLUDE:
	case OPT_EXCLUDE:
		if (config_globs_append(c == OPT_INCLUDE ? o->cfg.read.include : o->exclude, arg)) {
			log_error("%s %s: expected one glob without ',' or spaces (lists of at most "
				  "%d bytes)", raw, arg, READ_GLOBS_MAX - 1);
			return EXIT_USAGE;
		}
		return -1;
	case OPT_NO_DEFAULT_EXCLUDES: o->no_default_excludes = 1; return -1;
	case OPT_DRY_RUN: o->dry_run = 1; return -1;
	case OPT_LOG: o->log_file = arg; return -1;
	case OPT_ROLES: o->roles = 1; return -1;
	case OPT_REFIT: o->refit = 1; return -1;
	case OPT_ROLLBACK: o->rollback = 1; return -1;
	case OPT_METHOD: o->method = arg; return -1;
	case OPT_JSON: o->json = 1; return -1;
	case OPT_JSONL: o->jsonl = 1; return -1;
	case OPT_SHARD: {
		int i, n, used = 0;
		if (sscanf(arg, "%d/%d%n", &i, &n, &used) != 2 || arg[used] || n < 1 || n > 1024 ||
		    i < 1 || i > n) {
			log_error("--shard %s: expected i/N with 1 <= i <= N <= 1024", arg);
			return EXIT_USAGE;
		}
		o->shard = i;
		o->n_shards = n;
		return -1;
	}
	case OPT_VERSION: printf("ragload %s\n", RAGLOAD_VERSION); return EXIT_DONE;
	case OPT_PROGRESS: o->cfg.progress = 1; return -1;
	case OPT_NO_PROGRESS: o->cfg.progress = 0; return -1;
	case OPT_DISTANCE:
		if (strcmp(arg, "cosine") && strcmp(arg, "l2") && strcmp(arg, "ip")) {
			log_error("--distance %s: expected cosine, l2 or ip", arg);
			return EXIT_USAGE;
		}
		o->index.distance = arg;
		return -1;
	case OPT_HNSW_M: o->index_given = 1; return parse_int(arg, 2, 100, &o->index.m) ? bad_value(raw, arg) : -1;
	case OPT_HNSW_EFC:
		return parse_int(arg, 4, 1000, &o->index.ef_construction) ? bad_value(raw, arg) : -1;
	case OPT_LISTS: return parse_int(arg, 1, 32768, &o->index.lists) ? bad_value(raw, arg) : -1;
	case OPT_ONLY:
		if (strcmp(arg, "hnsw") && strcmp(arg, "ivfflat") && strcmp(arg, "fts"))
			return bad_value(raw, arg);
		o->index.only = arg;
		return -1;
	case OPT_QUERIES: o->eval.queries = arg; return -1;
	case OPT_QRELS: o->eval.qrels = arg; return -1;
	case OPT_GROUND_TRUTH: o->eval.ground_truth = arg; return -1;
	case 'k': return parse_int(arg, 1, 1000, &o->eval.k) ? bad_value(raw, arg) : -1;
	case OPT_RUN_FILE: o->eval.run_file = arg; return -1;
	case OPT_REPORTS_DIR: o->eval.reports_dir = arg; return -1;
	case OPT_KEEP: return parse_int(arg, 0, 1000000, &o->eval.keep) ? bad_value(raw, arg) : -1;
	case OPT_FAIL_ON_REGRESSION: {
		char *end;
		o->eval.fail_on_regression = strtod(arg, &end);
		return (end == arg || *end || o->eval.fail_on_regression < 0) ? bad_value(raw, arg) : -1;
	}
	case OPT_CONNECTIONS:
		return parse_int(arg, 1, 64, &o->eval.connections) ? bad_value(raw, arg) : -1;
	case OPT_EF_SEARCH: o->eval.ef_search = arg; return -1;
	case OPT_PROBES: o->eval.probes = arg; return -1;
	case OPT_FTS_CONFIG:
		if (strspn(arg, "abcdefghijklmnopqrstuvwxyz0123456789_") != strlen(arg) || !*arg)
			return bad_value(raw, arg);
		o->eval.fts_config = o->index.fts_config = arg;
		return -1;
	case OPT_MAX_QUERIES:
		return parse_int(arg, 0, 100000000, &o->eval.max_queries) ? bad_value(raw, arg) : -1;
	default:
		log_error("unknown or incomplete option '%s'", raw);
		return usage(EXIT_USAGE);
	}
}

/*
 * Debian 12's OpenBLAS (0.3.21) does not recognise newer AVX-512 CPUs (e.g. Zen 4/5) and falls
 * back to its Haswell kernels, at 0.55-0.6x the sgemm speed. OpenBLAS picks its kernels when it
 * loads, so the only fix from inside is to re-run this process with OPENBLAS_CORETYPE set. Done
 * only when the CPU has every AVX-512 subset the SkylakeX kernels use and the user has not set
 * OPENBLAS_CORETYPE; RAGLOAD_BLAS_REEXEC stops any loop.
 */
static void tune_blas(char **argv)
{
#if defined(__x86_64__) && defined(__GNUC__)
	if (getenv("OPENBLAS_CORETYPE") || getenv("RAGLOAD_BLAS_REEXEC"))
		return;
	__builtin_cpu_init();
	if (!__builtin_cpu_supports("avx512f") || !__builtin_cpu_supports("avx512bw") ||
	    !__builtin_cpu_supports("avx512dq") || !__builtin_cpu_supports("avx512vl"))
		return;
	const char *core = openblas_get_corename();
	if (!core || (strcasecmp(core, "haswell") && strcasecmp(core, "zen")))
		return;
	setenv("OPENBLAS_CORETYPE", "SkylakeX", 1);
	setenv("RAGLOAD_BLAS_REEXEC", "1", 1);
	execv("/proc/self/exe", argv);
	unsetenv("OPENBLAS_CORETYPE"); /* exec failed: carry on with what we have */
#else
	(void)argv;
#endif
}

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
	tune_blas(argv);
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
		{"json", no_argument, NULL, OPT_JSON},
		{"jsonl", no_argument, NULL, OPT_JSONL},
		{NULL, 0, NULL, 0},
	};
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
	int n_pos = 0, status = -1;
	opterr = 0;
	optind = 1;
	while (status < 0 && optind < argc) {
		int c = getopt_long(argc, argv, "+d:c:o:qhk:", longopts, NULL);
		if (c == -1) {
			pos[n_pos++] = argv[optind++];
			continue;
		}
		status = apply_option(&o, c, optarg, argv[optind - 1]);
	}
	if (status >= 0)
		goto out;
	status = EXIT_USAGE;
	if (n_pos == 0) {
		usage(EXIT_USAGE);
		goto out;
	}
	if (o.cfg.chunk.overlap >= o.cfg.chunk.tokens) {
		log_error("chunk overlap (%d) must be smaller than chunk tokens (%d)",
			  o.cfg.chunk.overlap, o.cfg.chunk.tokens);
		goto out;
	}
	rl_quiet = o.cfg.quiet;
	for (size_t i = 0; i < RL_ARRAY_LEN(commands); i++) {
		if (!strcmp(commands[i].name, pos[0])) {
			status = commands[i].fn(&o, n_pos - 1, pos + 1);
			goto out;
		}
	}
	log_error("unknown command '%s'", pos[0]);
	status = usage(EXIT_USAGE);
out:
	free(pos);
	return status;
}
