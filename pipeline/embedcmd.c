/* embedcmd.c — placeholder until the embed command lands (being written). */
#include "embedcmd.h"
#include "common.h"

int embedcmd_run(const struct rl_config *cfg, const struct embedcmd_args *a)
{
	(void)cfg;
	(void)a;
	log_error("embed: not implemented yet");
	return EXIT_FATAL;
}
