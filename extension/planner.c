/*
 * planner.c — indexes hidden from the planner for one transaction (extension 1.2).
 *
 * Two vector indexes on the same column (an HNSW and an IVFFlat index on
 * embeddings.embedding_vector) both serve `ORDER BY embedding_vector <=> q LIMIT k`, and the
 * planner picks between them by pgvector's cost estimates. Those cannot be steered far enough
 * by settings: past a few percent of IVFFlat's lists probed, the HNSW index is priced cheaper
 * whatever hnsw.ef_search is, so an IVFFlat sweep beside an HNSW index measured the HNSW index
 * (eval flagged those rows and stopped at probes 8-16 on the scale corpora). With
 *
 *     SELECT ragload_hide_indexes('embeddings_hnsw_idx');   -- SET LOCAL, this transaction
 *
 * the named indexes are removed from the planner's list of the relation's indexes
 * (get_relation_info_hook), so only the other one can serve, and no lock is taken and no
 * other session sees anything: the same approach as HypoPG's hidden indexes.
 *
 * The setting is the GUC ragload.hidden_indexes, a comma-separated list of index names
 * (identifiers: unquoted names are folded to lower case, "quoted" ones kept); it matches the
 * index's own name, whatever its schema, on any relation planned. A name that matches no
 * index hides nothing. The function sets it with SET LOCAL semantics; `SET
 * ragload.hidden_indexes` works as well once the library is loaded in the backend (calling the
 * function loads it). Malformed lists are rejected by the GUC's check hook with an error.
 */
#include <postgres.h>

#include <fmgr.h>
#include <nodes/pg_list.h>
#include <optimizer/plancat.h>
#include <utils/builtins.h>
#include <utils/guc.h>
#include <utils/lsyscache.h>
#include <utils/varlena.h>

#include "planner.h"

PGDLLEXPORT Datum pg_ragload_hide_indexes(PG_FUNCTION_ARGS);
PG_FUNCTION_INFO_V1(pg_ragload_hide_indexes);

static char *hidden_indexes;          /* the GUC's value; "" hides nothing */
static get_relation_info_hook_type prev_get_relation_info;

/* Is the list well formed? SplitIdentifierString scribbles on its input: a copy. */
static bool hidden_check(char **newval, void **extra, GucSource source)
{
	char *copy;
	List *names = NIL;
	bool ok;

	if (*newval == NULL || **newval == '\0')
		return true;
	copy = pstrdup(*newval);
	ok = SplitIdentifierString(copy, ',', &names);
	list_free(names);
	pfree(copy);
	if (!ok)
		GUC_check_errdetail("ragload.hidden_indexes is a comma-separated list of index names.");
	return ok;
}

static void hide_indexes(PlannerInfo *root, Oid relid, bool inhparent, RelOptInfo *rel)
{
	char *copy;
	List *names = NIL;
	ListCell *lc;

	if (prev_get_relation_info)
		prev_get_relation_info(root, relid, inhparent, rel);
	if (hidden_indexes == NULL || *hidden_indexes == '\0' || rel->indexlist == NIL)
		return;
	copy = pstrdup(hidden_indexes);
	if (SplitIdentifierString(copy, ',', &names)) {
		foreach(lc, rel->indexlist) {
			IndexOptInfo *info = (IndexOptInfo *)lfirst(lc);
			char *name = get_rel_name(info->indexoid);
			ListCell *n;
			bool hide = false;

			if (name == NULL)
				continue;
			foreach(n, names) {
				if (strcmp(name, (const char *)lfirst(n)) == 0) {
					hide = true;
					break;
				}
			}
			pfree(name);
			if (hide)
				rel->indexlist = foreach_delete_current(rel->indexlist, lc);
		}
	}
	list_free(names);
	pfree(copy);
}

void planner_init(void)
{
	DefineCustomStringVariable("ragload.hidden_indexes",
				   "Indexes the planner does not see (comma-separated names).",
				   "Set by ragload_hide_indexes() for one transaction; eval uses it to "
				   "measure one of two vector indexes on the same column.",
				   &hidden_indexes, "", PGC_USERSET, 0, hidden_check, NULL, NULL);
	MarkGUCPrefixReserved("ragload");
	prev_get_relation_info = get_relation_info_hook;
	get_relation_info_hook = hide_indexes;
}

/* ragload_hide_indexes(names text): SET LOCAL ragload.hidden_indexes = names (NULL: none). */
Datum pg_ragload_hide_indexes(PG_FUNCTION_ARGS)
{
	char *value = PG_ARGISNULL(0) ? "" : text_to_cstring(PG_GETARG_TEXT_PP(0));

	(void)set_config_option("ragload.hidden_indexes", value, PGC_USERSET, PGC_S_SESSION,
				GUC_ACTION_LOCAL, true, 0, false);
	PG_RETURN_VOID();
}
