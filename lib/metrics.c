/*
 * metrics.c — qrels loading and the retrieval metrics of the evaluate stage.
 *
 * What: see metrics.h. How: qrels_load() reads the file line by line into a bounded line
 * buffer, interns query ids in one hash table and judgments in another (open addressing,
 * linear probing, XXH3; a slot holds index + 1 (0 = empty) and the hash's top 32 bits, so a
 * probe past a different key costs no access to the entry itself), strings in an arena of
 * 1 MiB blocks. After loading it collects, per query, the rel > 0 grades sorted descending:
 * the ideal ranking nDCG needs, computed once instead of per call.
 * Why this shape: MS MARCO-sized qrels hold ~1M judgments and the metrics run once per query
 * per method per setting; one malloc per string or a sort per call would dominate.
 */
#include "metrics.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

/* ---- string arena ------------------------------------------------------------------------ */

#define ARENA_BLOCK (1u << 20)

struct arena_block {
	struct arena_block *next;
	size_t used, cap;
	char data[];
};

static char *arena_strdup(struct arena_block **head, const char *s, size_t n)
{
	struct arena_block *b = *head;
	if (!b || b->cap - b->used < n + 1) {
		size_t cap = n + 1 > ARENA_BLOCK ? n + 1 : ARENA_BLOCK;
		b = malloc(sizeof(*b) + cap);
		if (!b)
			return NULL;
		b->next = *head;
		b->used = 0;
		b->cap = cap;
		*head = b;
	}
	char *p = b->data + b->used;
	memcpy(p, s, n);
	p[n] = '\0';
	b->used += n + 1;
	return p;
}

static void arena_free(struct arena_block *b)
{
	while (b) {
		struct arena_block *next = b->next;
		free(b);
		b = next;
	}
}

/* ---- qrels -------------------------------------------------------------------------------- */

struct qrels_query {
	const char *id;
	uint64_t hash;
	size_t n_rel;      /* judgments with rel > 0 */
	size_t ideal_off;  /* their grades, descending, at ideal[ideal_off..] */
};

struct qrels_judgment {
	uint64_t hash;     /* XXH3 of docid seeded with the query index */
	const char *docid;
	uint32_t query;
	int rel;
};

struct qrels {
	enum qrels_format format;
	struct arena_block *arena;
	struct qrels_query *queries;
	size_t n_queries, cap_queries;
	uint64_t *qslots;  /* slot_make(hash, index + 1) into queries; 0 = empty */
	size_t n_qslots;   /* power of two */
	struct qrels_judgment *judgments;
	size_t n_judgments, cap_judgments;
	uint64_t *jslots;
	size_t n_jslots;
	int *ideal;
};

static uint64_t hash_str(const char *s, size_t n, uint64_t seed)
{
	return XXH3_64bits_withSeed(s, n, seed);
}

static uint64_t slot_make(uint64_t hash, uint32_t index1)
{
	return (hash & 0xffffffff00000000ULL) | index1;
}

static uint32_t slot_index1(uint64_t slot)
{
	return (uint32_t)slot;
}

static int slot_tag_match(uint64_t slot, uint64_t hash)
{
	return ((slot ^ hash) >> 32) == 0;
}

/* Puts index1 (an item's index + 1; 0 marks a free slot) at hash h's first free slot of a
 * table of n (a power of two) slots, probing linearly. */
static void slot_put(uint64_t *slots, size_t n, uint64_t h, uint32_t index1)
{
	size_t pos = h & (n - 1);
	while (slots[pos])
		pos = (pos + 1) & (n - 1);
	slots[pos] = slot_make(h, index1);
}

/* Doubles a slot table and reinserts; hashes are stored so nothing is rehashed. */
static int slots_grow(uint64_t **slots, size_t *n_slots, size_t n_items,
		      uint64_t (*hash_of)(const struct qrels *, uint32_t), const struct qrels *q)
{
	size_t n = *n_slots ? *n_slots * 2 : 1024;
	uint64_t *s = calloc(n, sizeof(*s));
	if (!s)
		return RL_ENOMEM;
	for (size_t i = 0; i < n_items; i++)
		slot_put(s, n, hash_of(q, (uint32_t)i), (uint32_t)i + 1);
	free(*slots);
	*slots = s;
	*n_slots = n;
	return 0;
}

static uint64_t query_hash_of(const struct qrels *q, uint32_t i)
{
	return q->queries[i].hash;
}

static uint64_t judgment_hash_of(const struct qrels *q, uint32_t i)
{
	return q->judgments[i].hash;
}

/* Room for one more of n items: the slot table kept at most half full (slots_grow), the array
 * *items (elements of size elem, *cap of them) doubled from first_cap. */
static int table_reserve(const struct qrels *q, uint64_t **slots, size_t *n_slots,
			 uint64_t (*hash_of)(const struct qrels *, uint32_t), void **items,
			 size_t *cap, size_t elem, size_t first_cap, size_t n)
{
	if ((n + 1) * 2 > *n_slots) {
		int rc = slots_grow(slots, n_slots, n, hash_of, q);
		if (rc)
			return rc;
	}
	if (n == *cap) {
		size_t c = *cap ? *cap * 2 : first_cap;
		void *p = realloc(*items, c * elem);
		if (!p)
			return RL_ENOMEM;
		*items = p;
		*cap = c;
	}
	return 0;
}

/* Index of qid, or -1. */
static long query_find(const struct qrels *q, const char *qid, size_t len, uint64_t h)
{
	if (!q->n_qslots)
		return -1;
	size_t mask = q->n_qslots - 1;
	for (size_t pos = h & mask; q->qslots[pos]; pos = (pos + 1) & mask) {
		if (!slot_tag_match(q->qslots[pos], h))
			continue;
		uint32_t i = slot_index1(q->qslots[pos]) - 1;
		const struct qrels_query *e = &q->queries[i];
		if (e->hash == h && strncmp(e->id, qid, len) == 0 && e->id[len] == '\0')
			return (long)i;
	}
	return -1;
}

static long query_lookup(const struct qrels *q, const char *qid)
{
	size_t len = strlen(qid);
	return query_find(q, qid, len, hash_str(qid, len, 0));
}

/* The judgment slot index of (query, docid), or -1. */
static long judgment_find(const struct qrels *q, uint32_t query, const char *docid, size_t len,
			  uint64_t h)
{
	if (!q->n_jslots)
		return -1;
	size_t mask = q->n_jslots - 1;
	for (size_t pos = h & mask; q->jslots[pos]; pos = (pos + 1) & mask) {
		if (!slot_tag_match(q->jslots[pos], h))
			continue;
		uint32_t i = slot_index1(q->jslots[pos]) - 1;
		const struct qrels_judgment *e = &q->judgments[i];
		if (e->hash == h && e->query == query && strncmp(e->docid, docid, len) == 0 &&
		    e->docid[len] == '\0')
			return (long)i;
	}
	return -1;
}

static int rel_of(const struct qrels *q, uint32_t query, const char *docid)
{
	size_t len = strlen(docid);
	long j = judgment_find(q, query, docid, len, hash_str(docid, len, (uint64_t)query + 1));
	return j < 0 ? 0 : q->judgments[j].rel;
}

static int query_intern(struct qrels *q, const char *qid, size_t len, uint32_t *out)
{
	uint64_t h = hash_str(qid, len, 0);
	long i = query_find(q, qid, len, h);
	if (i >= 0) {
		*out = (uint32_t)i;
		return 0;
	}
	void *items = q->queries;
	int rc = table_reserve(q, &q->qslots, &q->n_qslots, query_hash_of, &items,
			       &q->cap_queries, sizeof(*q->queries), 256, q->n_queries);
	q->queries = items;
	if (rc)
		return rc;
	const char *id = arena_strdup(&q->arena, qid, len);
	if (!id)
		return RL_ENOMEM;
	q->queries[q->n_queries] = (struct qrels_query){ .id = id, .hash = h };
	slot_put(q->qslots, q->n_qslots, h, (uint32_t)++q->n_queries);
	*out = (uint32_t)(q->n_queries - 1);
	return 0;
}

static int judgment_put(struct qrels *q, uint32_t query, const char *docid, size_t len, int rel)
{
	uint64_t h = hash_str(docid, len, (uint64_t)query + 1);
	long j = judgment_find(q, query, docid, len, h);
	if (j >= 0) {
		q->judgments[j].rel = rel;  /* last judgment wins */
		return 0;
	}
	if (q->n_judgments >= QRELS_MAX_JUDGMENTS)
		return RL_ELIMIT;
	void *items = q->judgments;
	int rc = table_reserve(q, &q->jslots, &q->n_jslots, judgment_hash_of, &items,
			       &q->cap_judgments, sizeof(*q->judgments), 1024, q->n_judgments);
	q->judgments = items;
	if (rc)
		return rc;
	const char *d = arena_strdup(&q->arena, docid, len);
	if (!d)
		return RL_ENOMEM;
	q->judgments[q->n_judgments] =
		(struct qrels_judgment){ .hash = h, .docid = d, .query = query, .rel = rel };
	slot_put(q->jslots, q->n_jslots, h, (uint32_t)++q->n_judgments);
	return 0;
}

/* A field of a line: pointer and length (not NUL-terminated in place). */
struct field {
	const char *p;
	size_t n;
};

/* Splits on tabs only (BEIR ids may in principle hold spaces). Returns the field count. */
static int split_tabs(const char *s, struct field *f, int max)
{
	int n = 0;
	for (;;) {
		const char *t = strchr(s, '\t');
		size_t len = t ? (size_t)(t - s) : strlen(s);
		if (n < max)
			f[n] = (struct field){ s, len };
		n++;
		if (!t)
			return n;
		s = t + 1;
	}
}

static int split_space(const char *s, struct field *f, int max)
{
	int n = 0;
	while (*s) {
		while (*s && isspace((unsigned char)*s))
			s++;
		if (!*s)
			break;
		const char *start = s;
		while (*s && !isspace((unsigned char)*s))
			s++;
		if (n < max)
			f[n] = (struct field){ start, (size_t)(s - start) };
		n++;
	}
	return n;
}

static void field_trim(struct field *f)
{
	while (f->n && isspace((unsigned char)f->p[0])) {
		f->p++;
		f->n--;
	}
	while (f->n && isspace((unsigned char)f->p[f->n - 1]))
		f->n--;
}

/* An integer grade; "1.0"-style integral decimals are accepted, "0.5" is not. */
static int parse_rel(struct field f, int *out)
{
	char tmp[32];
	if (f.n == 0 || f.n >= sizeof(tmp))
		return -1;
	memcpy(tmp, f.p, f.n);
	tmp[f.n] = '\0';
	char *end;
	errno = 0;
	long v = strtol(tmp, &end, 10);
	if (end == tmp || errno)
		return -1;
	if (*end == '.') {
		for (end++; *end == '0'; end++)
			;
	}
	if (*end || v > INT_MAX / 2 || v < INT_MIN / 2)
		return -1;
	*out = (int)v;
	return 0;
}

static int line_blank(const char *s)
{
	for (; *s; s++)
		if (!isspace((unsigned char)*s))
			return 0;
	return 1;
}

static int cmp_int_desc(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;
	return (x < y) - (x > y);
}

/* Per query, the rel > 0 grades in descending order: the ideal ranking of nDCG. */
static int qrels_build_ideal(struct qrels *q)
{
	for (size_t i = 0; i < q->n_queries; i++)
		q->queries[i].n_rel = 0;
	size_t total = 0;
	for (size_t j = 0; j < q->n_judgments; j++)
		if (q->judgments[j].rel > 0) {
			q->queries[q->judgments[j].query].n_rel++;
			total++;
		}
	q->ideal = malloc((total ? total : 1) * sizeof(int));
	if (!q->ideal)
		return RL_ENOMEM;
	size_t off = 0;
	for (size_t i = 0; i < q->n_queries; i++) {
		q->queries[i].ideal_off = off;
		off += q->queries[i].n_rel;
	}
	size_t *fill = calloc(q->n_queries ? q->n_queries : 1, sizeof(*fill));
	if (!fill)
		return RL_ENOMEM;
	for (size_t j = 0; j < q->n_judgments; j++) {
		const struct qrels_judgment *e = &q->judgments[j];
		if (e->rel > 0)
			q->ideal[q->queries[e->query].ideal_off + fill[e->query]++] = e->rel;
	}
	free(fill);
	for (size_t i = 0; i < q->n_queries; i++)
		qsort(q->ideal + q->queries[i].ideal_off, q->queries[i].n_rel, sizeof(int),
		      cmp_int_desc);
	return 0;
}

/*
 * Parses one non-blank line (CR/LF already stripped). The first one also decides the format:
 * three tab-separated fields make BEIR TSV (the first line is its header when its third field
 * is not an integer), four whitespace-separated fields make TREC.
 */
static int qrels_parse_line(struct qrels *q, const char *path, size_t lineno, const char *line)
{
	struct field f[5];
	struct field qid, docid, rel_f;

	if (!q->format) {
		if (strncmp(line, "\xef\xbb\xbf", 3) == 0)
			line += 3;  /* a UTF-8 byte order mark, as some exporters write */
		if (split_tabs(line, f, 5) == 3) {
			q->format = QRELS_BEIR_TSV;
			/* BEIR's header is "query-id corpus-id score"; other spellings (query_id)
			 * exist: any first line whose score is not a number is the header */
			int rel;
			field_trim(&f[2]);
			if (parse_rel(f[2], &rel))
				return 0;
		} else if (split_space(line, f, 5) == 4)
			q->format = QRELS_TREC;
		else {
			log_error("%s:%zu: not a qrels file: expected a BEIR header "
				  "\"query-id<TAB>corpus-id<TAB>score\" or TREC lines \"qid iter docid rel\"",
				  path, lineno);
			return RL_ERR;
		}
	}
	if (q->format == QRELS_BEIR_TSV) {
		int n = split_tabs(line, f, 5);
		if (n != 3) {
			log_error("%s:%zu: expected 3 tab-separated fields (query-id, corpus-id, score), "
				  "found %d", path, lineno, n);
			return RL_ERR;
		}
		qid = f[0];
		docid = f[1];
		rel_f = f[2];
		field_trim(&qid);
		field_trim(&docid);
		field_trim(&rel_f);
	} else {
		int n = split_space(line, f, 5);
		if (n != 4) {
			log_error("%s:%zu: expected 4 whitespace-separated fields (qid iter docid rel), "
				  "found %d", path, lineno, n);
			return RL_ERR;
		}
		qid = f[0];
		docid = f[2];
		rel_f = f[3];
	}
	if (!qid.n || !docid.n) {
		log_error("%s:%zu: empty %s", path, lineno, qid.n ? "document id" : "query id");
		return RL_ERR;
	}
	int rel;
	if (parse_rel(rel_f, &rel)) {
		log_error("%s:%zu: relevance \"%.*s\" is not an integer", path, lineno,
			  (int)(rel_f.n > 40 ? 40 : rel_f.n), rel_f.p);
		return RL_ERR;
	}
	uint32_t qi;
	int rc = query_intern(q, qid.p, qid.n, &qi);
	if (!rc)
		rc = judgment_put(q, qi, docid.p, docid.n, rel);
	if (rc == RL_ELIMIT)
		log_error("%s:%zu: more than %d judgments", path, lineno, QRELS_MAX_JUDGMENTS);
	else if (rc)
		log_error("%s:%zu: out of memory", path, lineno);
	return rc;
}

int qrels_load(const char *path, struct qrels **out)
{
	int rc = RL_ERR;
	struct qrels *q = NULL;
	char *line = NULL;
	FILE *fp = NULL;
	size_t lineno = 0;

	*out = NULL;
	q = calloc(1, sizeof(*q));
	line = malloc(QRELS_MAX_LINE + 1);
	if (!q || !line) {
		rc = RL_ENOMEM;
		goto out;
	}
	fp = fopen(path, "r");
	if (!fp) {
		log_error("%s: %s", path, strerror(errno));
		goto out;
	}
	while (fgets(line, QRELS_MAX_LINE + 1, fp)) {
		lineno++;
		size_t len = strlen(line);
		if (len && line[len - 1] == '\n')
			line[--len] = '\0';
		else if (!feof(fp)) {
			log_error("%s:%zu: line longer than %d bytes", path, lineno, QRELS_MAX_LINE);
			goto out;
		}
		if (len && line[len - 1] == '\r')
			line[--len] = '\0';
		if (line_blank(line))
			continue;
		int prc = qrels_parse_line(q, path, lineno, line);
		if (prc) {
			rc = prc;
			goto out;
		}
	}
	if (ferror(fp)) {
		log_error("%s: read error: %s", path, strerror(errno));
		goto out;
	}
	if (!q->format) {
		log_error("%s: empty qrels file", path);
		goto out;
	}
	rc = qrels_build_ideal(q);
	if (rc)
		goto out;
	*out = q;
	q = NULL;
out:
	if (fp)
		fclose(fp);
	free(line);
	qrels_free(q);
	return rc;
}

void qrels_free(struct qrels *q)
{
	if (!q)
		return;
	arena_free(q->arena);
	free(q->queries);
	free(q->qslots);
	free(q->judgments);
	free(q->jslots);
	free(q->ideal);
	free(q);
}

enum qrels_format qrels_format(const struct qrels *q)
{
	return q->format;
}

size_t qrels_n_judgments(const struct qrels *q)
{
	return q->n_judgments;
}

size_t qrels_n_queries(const struct qrels *q)
{
	return q->n_queries;
}

const char *qrels_query(const struct qrels *q, size_t i)
{
	return i < q->n_queries ? q->queries[i].id : NULL;
}

int qrels_rel(const struct qrels *q, const char *qid, const char *docid)
{
	long qi = query_lookup(q, qid);
	return qi < 0 ? 0 : rel_of(q, (uint32_t)qi, docid);
}

size_t qrels_n_relevant(const struct qrels *q, const char *qid)
{
	long qi = query_lookup(q, qid);
	return qi < 0 ? 0 : q->queries[qi].n_rel;
}

/* ---- per-query metrics -------------------------------------------------------------------- */

/* The query of a metric call, or NULL when it has nothing relevant (every metric is 0). */
static const struct qrels_query *metric_query(const struct qrels *q, const char *qid, int k)
{
	if (!q || !qid || k <= 0)
		return NULL;
	long qi = query_lookup(q, qid);
	if (qi < 0 || q->queries[qi].n_rel == 0)
		return NULL;
	return &q->queries[qi];
}

double metric_ndcg(const struct qrels *q, const char *qid, const char *const *docids, size_t n,
		   int k)
{
	const struct qrels_query *e = metric_query(q, qid, k);
	if (!e)
		return 0.0;
	uint32_t qi = (uint32_t)(e - q->queries);
	size_t cut = n < (size_t)k ? n : (size_t)k;
	double dcg = 0.0, idcg = 0.0;
	for (size_t i = 0; i < cut; i++) {
		int rel = rel_of(q, qi, docids[i]);
		if (rel > 0)
			dcg += rel / log2((double)i + 2.0);  /* rank i + 1, discount log2(rank + 1) */
	}
	size_t icut = e->n_rel < (size_t)k ? e->n_rel : (size_t)k;
	for (size_t i = 0; i < icut; i++)
		idcg += q->ideal[e->ideal_off + i] / log2((double)i + 2.0);
	return idcg > 0.0 ? dcg / idcg : 0.0;
}

double metric_mrr(const struct qrels *q, const char *qid, const char *const *docids, size_t n,
		  int k)
{
	const struct qrels_query *e = metric_query(q, qid, k);
	if (!e)
		return 0.0;
	uint32_t qi = (uint32_t)(e - q->queries);
	size_t cut = n < (size_t)k ? n : (size_t)k;
	for (size_t i = 0; i < cut; i++)
		if (rel_of(q, qi, docids[i]) > 0)
			return 1.0 / (double)(i + 1);
	return 0.0;
}

double metric_recall(const struct qrels *q, const char *qid, const char *const *docids, size_t n,
		     int k)
{
	const struct qrels_query *e = metric_query(q, qid, k);
	if (!e)
		return 0.0;
	uint32_t qi = (uint32_t)(e - q->queries);
	size_t cut = n < (size_t)k ? n : (size_t)k;
	size_t found = 0;
	for (size_t i = 0; i < cut; i++)
		if (rel_of(q, qi, docids[i]) > 0)
			found++;
	return (double)found / (double)e->n_rel;
}

/* ---- small id sets ------------------------------------------------------------------------
 * Open addressing over int64 values for the per-query helpers below: sized once for the
 * number of inserts (load <= 1/2), so inserting never grows. */

struct idset {
	int64_t *v;
	uint32_t *val;    /* payload per slot (an index), for rrf */
	uint8_t *used;
	size_t mask;
};

static uint64_t mix64(uint64_t x)
{
	/* splitmix64's finaliser: consecutive ids (SERIAL) spread over the table */
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

static int idset_init(struct idset *s, size_t n_max, int with_payload)
{
	size_t n = 16;
	while (n < n_max * 2)
		n *= 2;
	s->v = malloc(n * sizeof(*s->v));
	s->used = calloc(n, 1);
	s->val = with_payload ? malloc(n * sizeof(*s->val)) : NULL;
	s->mask = n - 1;
	if (!s->v || !s->used || (with_payload && !s->val)) {
		free(s->v);
		free(s->used);
		free(s->val);
		return RL_ENOMEM;
	}
	return 0;
}

static void idset_release(struct idset *s)
{
	free(s->v);
	free(s->used);
	free(s->val);
}

/* Returns the slot of id; *added = 1 when it was not there before. */
static size_t idset_put(struct idset *s, int64_t id, int *added)
{
	size_t pos = mix64((uint64_t)id) & s->mask;
	while (s->used[pos]) {
		if (s->v[pos] == id) {
			*added = 0;
			return pos;
		}
		pos = (pos + 1) & s->mask;
	}
	s->used[pos] = 1;
	s->v[pos] = id;
	*added = 1;
	return pos;
}

static int idset_has(const struct idset *s, int64_t id)
{
	for (size_t pos = mix64((uint64_t)id) & s->mask; s->used[pos]; pos = (pos + 1) & s->mask)
		if (s->v[pos] == id)
			return 1;
	return 0;
}

int metric_collapse_ids(const int64_t *ids, size_t n, int64_t *out, size_t *n_out)
{
	struct idset s;
	size_t w = 0;
	*n_out = 0;
	if (n == 0)
		return 0;
	if (idset_init(&s, n, 0))
		return RL_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		int added;
		idset_put(&s, ids[i], &added);
		if (added)
			out[w++] = ids[i];
	}
	idset_release(&s);
	*n_out = w;
	return 0;
}

int metric_collapse_keys(const char *const *keys, size_t n, const char **out, size_t *n_out)
{
	int rc = 0;
	size_t w = 0, nslots = 16;
	uint32_t *slots = NULL;
	uint64_t *hashes = NULL;

	*n_out = 0;
	if (n == 0)
		goto out;
	while (nslots < n * 2)
		nslots *= 2;
	slots = calloc(nslots, sizeof(*slots));  /* index + 1 into out; 0 = empty */
	hashes = malloc(n * sizeof(*hashes));
	if (!slots || !hashes) {
		rc = RL_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		const char *k = keys[i];
		uint64_t h = XXH3_64bits(k, strlen(k));
		size_t pos = h & (nslots - 1);
		int seen = 0;
		for (; slots[pos]; pos = (pos + 1) & (nslots - 1)) {
			uint32_t j = slots[pos] - 1;
			if (hashes[j] == h && strcmp(out[j], k) == 0) {
				seen = 1;
				break;
			}
		}
		if (seen)
			continue;
		/* out may alias keys: w <= i, so keys[i] was read before out[w] is written */
		hashes[w] = h;
		out[w] = k;
		slots[pos] = (uint32_t)++w;
	}
	*n_out = w;
out:
	free(slots);
	free(hashes);
	return rc;
}

/* ---- ANN recall --------------------------------------------------------------------------- */

double metric_ann_recall(const int64_t *ann_ids, const float *ann_dists, int n_ann,
			 const int64_t *exact_ids, const float *exact_dists, int k, double rel_tol)
{
	struct idset exact, seen;
	if (k <= 0)
		return -1.0;
	if (rel_tol < 0)
		rel_tol = METRIC_ANN_REL_TOL;
	int m = n_ann < k ? (n_ann > 0 ? n_ann : 0) : k;
	if (idset_init(&exact, (size_t)k, 0))
		return -1.0;
	if (idset_init(&seen, (size_t)k, 0)) {
		idset_release(&exact);
		return -1.0;
	}
	int added;
	for (int i = 0; i < k; i++)
		idset_put(&exact, exact_ids[i], &added);

	double dk = exact_dists ? (double)exact_dists[k - 1] : NAN;
	double tol = rel_tol * fmax(fabs(dk), METRIC_ANN_TIE_FLOOR);
	int hits = 0;
	for (int i = 0; i < m; i++) {
		idset_put(&seen, ann_ids[i], &added);
		if (!added)
			continue;  /* an id returned twice is one result */
		if (idset_has(&exact, ann_ids[i]))
			hits++;
		else if (ann_dists && exact_dists) {
			double d = ann_dists[i];
			if (d <= dk || fabs(d - dk) <= tol)
				hits++;
		}
	}
	idset_release(&exact);
	idset_release(&seen);
	return (double)hits / (double)k;
}

/* ---- reciprocal rank fusion --------------------------------------------------------------- */

struct rrf_entry {
	int64_t id;
	double sa, sb;       /* contributions of list a and b, summed at the end */
	size_t first;        /* position of first appearance in the interleaving */
	unsigned in_a : 1, in_b : 1;
};

static int rrf_cmp(const void *x, const void *y)
{
	const struct rrf_entry *a = x, *b = y;
	double s = a->sa + a->sb, t = b->sa + b->sb;
	if (s != t)
		return s > t ? -1 : 1;
	return (a->first > b->first) - (a->first < b->first);
}

int rrf_fuse(const int64_t *a, size_t na, const int64_t *b, size_t nb, int k_rrf, int64_t *out,
	     double *scores, size_t *n_out)
{
	int rc = 0;
	struct idset s = { 0 };
	struct rrf_entry *e = NULL;
	size_t n = 0;

	*n_out = 0;
	if (k_rrf <= 0)
		k_rrf = RRF_K;
	if (na + nb == 0)
		goto out;
	e = malloc((na + nb) * sizeof(*e));
	if (!e || idset_init(&s, na + nb, 1)) {
		rc = RL_ENOMEM;
		goto out;
	}
	size_t longest = na > nb ? na : nb;
	for (size_t r = 0; r < longest; r++) {
		for (int list = 0; list < 2; list++) {
			const int64_t *ids = list ? b : a;
			if (r >= (list ? nb : na))
				continue;
			int added;
			size_t slot = idset_put(&s, ids[r], &added);
			if (added) {
				s.val[slot] = (uint32_t)n;
				e[n] = (struct rrf_entry){ .id = ids[r], .first = n };
				n++;
			}
			struct rrf_entry *x = &e[s.val[slot]];
			double c = 1.0 / (double)(k_rrf + (double)(r + 1));
			if (list == 0 && !x->in_a) {
				x->in_a = 1;
				x->sa = c;
			} else if (list == 1 && !x->in_b) {
				x->in_b = 1;
				x->sb = c;
			}
		}
	}
	qsort(e, n, sizeof(*e), rrf_cmp);
	for (size_t i = 0; i < n; i++) {
		out[i] = e[i].id;
		if (scores)
			scores[i] = e[i].sa + e[i].sb;
	}
	*n_out = n;
out:
	if (s.v)
		idset_release(&s);
	free(e);
	return rc;
}

/* ---- latency ------------------------------------------------------------------------------ */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

double metric_percentile(double *samples, size_t n, double p)
{
	if (n == 0 || !(p >= 0.0 && p <= 100.0))
		return NAN;
	qsort(samples, n, sizeof(double), cmp_double);
	double h = (double)(n - 1) * p / 100.0;
	size_t lo = (size_t)floor(h);
	size_t hi = lo + 1 < n ? lo + 1 : lo;
	return samples[lo] + (h - (double)lo) * (samples[hi] - samples[lo]);
}

/* ---- TREC run files ------------------------------------------------------------------------ */

static int run_field_ok(const char *s)
{
	if (!s || !*s)
		return 0;
	for (; *s; s++)
		if (isspace((unsigned char)*s))
			return 0;
	return 1;
}

int metric_run_line(struct buf *out, const char *qid, const char *docid, int rank, double score,
		    const char *tag)
{
	if (!run_field_ok(qid) || !run_field_ok(docid) || !run_field_ok(tag))
		return RL_ERR;
	return buf_printf(out, "%s Q0 %s %d %.9g %s\n", qid, docid, rank, score, tag);
}
