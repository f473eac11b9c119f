/*
 * ingest_summary.c — what `ragload ingest` says: the progress line (a percentage of the
 * inputs and an ETA from the input meter), the closing summary (per-stage busy time and the
 * bottleneck), and the counts the run log keeps.
 */
#include "ingest_private.h"
#include "modelcmd.h"
#include "../models/store.h"
#include "../lib/corpus.h"
#include "../lib/db.h"
#include "../lib/blas.h"
#include "../lib/vecfile.h"
#include "../stages/read.h"
#include "../stages/normalize.h"
#include "../stages/chunk.h"
#include "../stages/embedding.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#define XXH_STATIC_LINKING_ONLY /* XXH3_state_t on the stack */
#include <xxhash.h>

void print_progress(struct ingest *in, const struct load_stats *ls, double t0, int final)
{
	double el = now_seconds() - t0;
	double mb = (double)in->raw_bytes / 1e6;
	uint64_t total = meter_total(in->meter);
	char where[96] = "", eta[16];
	if (total && !final) {
		/* The reader runs a queue ahead of the embedding, the slow part: the share of the
		 * inputs read, scaled by the share of the documents read so far that have been
		 * embedded (or found unchanged), is what is behind us. The rate of that gives the
		 * ETA; the first second is too noisy for one. */
		uint64_t seen = in->docs_seen, through = in->docs_to_load + in->unchanged;
		double f = (double)meter_done(in->meter) / (double)total;
		if (seen && !in->args->dry_run)
			f *= through < seen ? (double)through / (double)seen : 1.0;
		uint64_t done = (uint64_t)(f * (double)total);
		if (el >= 1 && done > 0 && f < 1)
			snprintf(where, sizeof(where), "%.0f%% of %.1f MB, ETA %s, ", 100 * f,
				 (double)total / 1e6,
				 progress_duration(el * (1 - f) / f, eta, sizeof(eta)));
		else
			snprintf(where, sizeof(where), "%.0f%% of %.1f MB, ", 100 * f,
				 (double)total / 1e6);
	}
	progress_update(final, "ragload: %s%llu documents (%llu loaded, %llu unchanged), "
			"%.1f MB, %.1f MB/s", where, (unsigned long long)in->docs_seen,
			(unsigned long long)(ls->docs_added + ls->docs_changed),
			(unsigned long long)in->unchanged, mb, el > 0 ? mb / el : 0.0);
	if (final)
		progress_end(1);
}

void summary(struct ingest *in, const struct load_stats *ls, double elapsed, FILE *f)
{
	/* busy seconds of each stage, summed over its threads; the bottleneck is the stage
	 * whose threads were busiest (chunk and embed share the workers) */
	struct { const char *name; double t; int threads; } st[] = {
		{"read", in->t_read, 1}, {"normalize", in->t_normalize, 1},
		{"chunk", in->t_chunk, EMBED_WORKERS}, {"embed", in->t_embed, EMBED_WORKERS},
		{"load", ls->seconds, in->n_loaders > 1 ? in->n_loaders : 1},
	};
	int slow = 0;
	for (size_t i = 1; i < RL_ARRAY_LEN(st); i++) {
		double a = st[i].t / st[i].threads, b = st[slow].t / st[slow].threads;
		if (i == 3)
			a += st[2].t / st[2].threads;
		if (slow == 3)
			b += st[2].t / st[2].threads;
		if (a > b)
			slow = (int)i;
	}
	uint64_t skipped = counts_total(&in->counts);
	if (in->args->dry_run) {
		fprintf(f, "ragload: dry run (nothing written) in %.2f s\n", elapsed);
		fprintf(f, "  documents: %llu would be added, %llu changed, %llu unchanged, "
			   "%llu pruned, %llu skipped\n",
			(unsigned long long)in->would_add, (unsigned long long)in->would_change,
			(unsigned long long)in->unchanged, (unsigned long long)in->pruned,
			(unsigned long long)skipped);
	} else {
		fprintf(f, "ragload: ingest finished in %.2f s\n", elapsed);
		fprintf(f, "  documents: %llu added, %llu changed, %llu unchanged, %llu pruned, "
			   "%llu skipped\n",
			(unsigned long long)ls->docs_added, (unsigned long long)ls->docs_changed,
			(unsigned long long)in->unchanged, (unsigned long long)in->pruned,
			(unsigned long long)skipped);
		fprintf(f, "  chunks:    %llu in %llu transactions\n", (unsigned long long)ls->chunks,
			(unsigned long long)ls->transactions);
	}
	fprintf(f, "  bytes:     %.2f MB read, %.2f MB text loaded (%.1f MB/s)\n",
		(double)in->raw_bytes / 1e6, (double)ls->text_bytes / 1e6,
		elapsed > 0 ? (double)in->raw_bytes / 1e6 / elapsed : 0.0);
	fprintf(f, "  stages:   ");
	for (size_t i = 0; i < RL_ARRAY_LEN(st); i++)
		if (i == 3)
			fprintf(f, " %s %.2f s (%d threads, with chunk),", st[i].name, st[i].t,
				EMBED_WORKERS);
		else if (i == 4 && st[i].threads > 1)
			fprintf(f, " %s %.2f s (%d connections)", st[i].name, st[i].t, st[i].threads);
		else
			fprintf(f, " %s %.2f s%s", st[i].name, st[i].t,
				i + 1 < RL_ARRAY_LEN(st) ? "," : "");
	fprintf(f, " (bottleneck: %s)\n", st[slow].name);
	struct rusage ru;
	if (getrusage(RUSAGE_SELF, &ru) == 0)
		fprintf(f, "  memory:    peak RSS %.1f MB (queues %.0f MB each)\n",
			(double)ru.ru_maxrss / 1024.0, (double)in->cfg->load.queue_bytes / 1048576.0);
	if (counts_ignored(&in->counts)) {
		/* recognised and left alone (images, fonts, symlinks, excluded files...): not
		 * warnings; the most frequent types first */
		int order[COUNTS_MAX_REASONS], m;
		pthread_mutex_lock(&in->counts.mu);
		m = in->counts.n_ignored;
		for (int i = 0; i < m; i++) {
			int j = i;
			for (; j > 0 && in->counts.ignored[order[j - 1]].n < in->counts.ignored[i].n; j--)
				order[j] = order[j - 1];
			order[j] = i;
		}
		fprintf(f, "  ignored:   %llu (", (unsigned long long)in->counts.ignored_total);
		for (int i = 0; i < m; i++)
			fprintf(f, "%s%s %llu", i ? ", " : "", in->counts.ignored[order[i]].type,
				(unsigned long long)in->counts.ignored[order[i]].n);
		pthread_mutex_unlock(&in->counts.mu);
		fprintf(f, ")\n");
	}
	if (skipped) {
		fprintf(f, "  skipped:  ");
		pthread_mutex_lock(&in->counts.mu);
		for (int i = 0; i < in->counts.n_reasons; i++)
			fprintf(f, " %s %llu%s", in->counts.reasons[i].reason,
				(unsigned long long)in->counts.reasons[i].n,
				i + 1 < in->counts.n_reasons ? "," : "");
		pthread_mutex_unlock(&in->counts.mu);
		fprintf(f, "\n");
	}
}

void counts_json(struct ingest *in, const struct load_stats *ls, struct buf *b)
{
	buf_printf(b, "{\"added\": %llu, \"changed\": %llu, \"unchanged\": %llu, \"pruned\": %llu, "
		      "\"skipped\": %llu, \"chunks\": %llu, \"reconnects\": %llu, "
		      "\"skipped_by_reason\": {",
		   (unsigned long long)ls->docs_added, (unsigned long long)ls->docs_changed,
		   (unsigned long long)in->unchanged, (unsigned long long)in->pruned,
		   (unsigned long long)counts_total(&in->counts), (unsigned long long)ls->chunks,
		   (unsigned long long)in->reconnects);
	pthread_mutex_lock(&in->counts.mu);
	for (int i = 0; i < in->counts.n_reasons; i++)
		buf_printf(b, "%s\"%s\": %llu", i ? ", " : "", in->counts.reasons[i].reason,
			   (unsigned long long)in->counts.reasons[i].n);
	buf_printf(b, "}, \"ignored\": %llu, \"ignored_by_type\": {",
		   (unsigned long long)in->counts.ignored_total);
	for (int i = 0; i < in->counts.n_ignored; i++)
		buf_printf(b, "%s\"%s\": %llu", i ? ", " : "", in->counts.ignored[i].type,
			   (unsigned long long)in->counts.ignored[i].n);
	pthread_mutex_unlock(&in->counts.mu);
	buf_printf(b, "}}");
}
