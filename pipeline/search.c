/* search.c — placeholder until the search command lands (being written). */
#include "search.h"
#include "common.h"

int search_run(const struct rl_config *cfg, const struct search_args *a)
{
	(void)cfg;
	(void)a;
	log_error("search: not implemented yet");
	return EXIT_FATAL;
}
