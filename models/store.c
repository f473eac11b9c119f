/*
 * store.c — models kept with their corpus (models/store.h): model_save's bytes into
 * ragload_models through lib/corpus.c, model_load's model back out of it.
 *
 * The local model cache. A stored model is ~20 MB; reading it back costs the server a TOAST
 * decompression and the client the transfer (~0.15 s of CPU between them), which dominated a
 * one-shot `ragload search`. So a model read from ragload_models is also written to a file
 * named by the model's name, and the next command on this machine that needs that name reads
 * the file instead, once ragload_models still lists the name. The name ends in 12 hex digits
 * of the checksum of the bytes, and model_load checks the whole checksum, so a cached file is
 * used only if it loads whole and names itself as asked; anything else is ignored (and
 * replaced at the next read from the database). The folder: RAGLOAD_MODEL_CACHE, or
 * $XDG_CACHE_HOME/ragload/models, or ~/.cache/ragload/models; RAGLOAD_MODEL_CACHE=off turns
 * the cache off. It keeps the MODEL_CACHE_KEEP most recently used models. The cache never
 * fails a command: a folder that cannot be made or written only means no caching.
 */
#include "store.h"
#include "../lib/corpus.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define MODEL_CACHE_KEEP 4
#define MODEL_CACHE_EXT ".model"
#define MODEL_CACHE_MAX (1ull << 30)  /* a stored model is a bytea: at most 1 GB */

/* The cache folder into dir (made if missing), or 1 when the cache is off or unusable. */
static int cache_dir(char *dir, size_t len)
{
	const char *env = getenv("RAGLOAD_MODEL_CACHE"), *xdg = getenv("XDG_CACHE_HOME"),
		   *home = getenv("HOME");
	int n;
	if (env && *env)
		n = strcmp(env, "off") ? snprintf(dir, len, "%s", env) : -1;
	else if (xdg && *xdg == '/')
		n = snprintf(dir, len, "%s/ragload/models", xdg);
	else if (home && *home == '/')
		n = snprintf(dir, len, "%s/.cache/ragload/models", home);
	else
		n = -1;
	if (n <= 0 || (size_t)n >= len)
		return 1;
	/* make each missing level (the user's own cache folders: private) */
	for (char *p = dir + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		int bad = mkdir(dir, 0700) && errno != EEXIST;
		*p = '/';
		if (bad)
			return 1;
	}
	return mkdir(dir, 0700) && errno != EEXIST;
}

/* A cached model of that name: 0 and *out, or 1 (not cached, or not usable). */
static int cache_read(const char *dir, const char *name, struct model **out)
{
	char path[4096], err[256];
	if ((size_t)snprintf(path, sizeof(path), "%s/%s" MODEL_CACHE_EXT, dir, name) >= sizeof(path))
		return 1;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 1;
	struct stat st;
	int rc = 1;
	if (!fstat(fd, &st) && S_ISREG(st.st_mode) && st.st_size > 0 &&
	    (uint64_t)st.st_size <= MODEL_CACHE_MAX) {
		void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (p != MAP_FAILED) {
			if (!model_load(p, (size_t)st.st_size, out, err, sizeof(err))) {
				if (!strcmp(model_name(*out), name))
					rc = 0;
				else {
					model_free(*out);
					*out = NULL;
				}
			}
			munmap(p, (size_t)st.st_size);
		}
	}
	if (!rc)
		futimens(fd, NULL);   /* most recently used */
	close(fd);
	return rc;
}

static int by_mtime_desc(const void *a, const void *b)
{
	const struct timespec *x = a, *y = b;
	return x->tv_sec != y->tv_sec ? (x->tv_sec < y->tv_sec) - (x->tv_sec > y->tv_sec)
				      : (x->tv_nsec < y->tv_nsec) - (x->tv_nsec > y->tv_nsec);
}

/* Removes all but the MODEL_CACHE_KEEP most recently used models of the folder. */
static void cache_prune(const char *dir)
{
	struct ent { struct timespec t; char name[256]; } *e = NULL;
	size_t n = 0, cap = 0;
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *de;
	char path[4096];
	while ((de = readdir(d))) {
		size_t l = strlen(de->d_name), el = strlen(MODEL_CACHE_EXT);
		struct stat st;
		if (l <= el || l >= sizeof(e->name) || strcmp(de->d_name + l - el, MODEL_CACHE_EXT) ||
		    (size_t)snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >= sizeof(path) ||
		    stat(path, &st) || !S_ISREG(st.st_mode))
			continue;
		if (n == cap) {
			void *g = realloc(e, (cap = cap ? 2 * cap : 16) * sizeof(*e));
			if (!g)
				break;
			e = g;
		}
		e[n].t = st.st_mtim;
		memcpy(e[n++].name, de->d_name, l + 1);
	}
	closedir(d);
	if (n > MODEL_CACHE_KEEP)
		qsort(e, n, sizeof(*e), by_mtime_desc);   /* t is the first member */
	for (size_t i = MODEL_CACHE_KEEP; i < n; i++)
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, e[i].name) < sizeof(path))
			unlink(path);
	free(e);
}

/* Writes the bytes of model name into the cache: a private temporary file renamed into place,
 * so a reader sees the whole file or none. */
static void cache_write(const char *dir, const char *name, const void *data, size_t len)
{
	char path[4096], tmp[4096 + 32];
	if ((size_t)snprintf(path, sizeof(path), "%s/%s" MODEL_CACHE_EXT, dir, name) >= sizeof(path))
		return;
	snprintf(tmp, sizeof(tmp), "%s.%ld.tmp", path, (long)getpid());
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return;
	const char *p = data;
	size_t left = len;
	while (left) {
		ssize_t w = write(fd, p, left);
		if (w <= 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		p += w;
		left -= (size_t)w;
	}
	if (close(fd) || left || rename(tmp, path))
		unlink(tmp);
	else
		cache_prune(dir);
}

int corpus_store_model(PGconn *conn, const struct model *m)
{
	struct buf data;
	buf_init(&data, 0);
	int rc = model_save(m, &data);
	if (rc)
		log_error("cannot serialise model %s", model_name(m));
	else
		rc = corpus_store_model_bytes(conn, model_name(m), model_dim(m),
					      model_settings_json(m), data.data, data.len);
	buf_release(&data);
	return rc;
}

int corpus_load_model(PGconn *conn, const char *name, struct model **out)
{
	char dir[4096];
	int cached = !cache_dir(dir, sizeof(dir));
	if (cached) {
		int has = corpus_has_model(conn, name);
		if (has != 1)
			return has ? has : 1;
		if (!cache_read(dir, name, out))
			return 0;
	}
	PGresult *r;
	int rc = corpus_fetch_model_bytes(conn, name, &r);
	if (rc)
		return rc;
	char err[256];
	const char *data = PQgetvalue(r, 0, 0);
	size_t len = (size_t)PQgetlength(r, 0, 0);
	if (model_load(data, len, out, err, sizeof(err))) {
		log_error("stored model %s: %s", name, err);
		rc = RL_ERR;
	} else if (cached && !strcmp(model_name(*out), name)) {
		cache_write(dir, name, data, len);
	}
	PQclear(r);
	return rc;
}

int corpus_current_model(PGconn *conn, struct model **out)
{
	char name[256];
	int rc = corpus_model_name(conn, name, sizeof(name));
	if (rc)
		return rc;
	rc = corpus_load_model(conn, name, out);
	if (rc == 1) {
		log_error("the corpus is embedded with model %s, which is not in ragload_models",
			  name);
		rc = RL_ERR;
	}
	return rc;
}

int corpus_use_model(PGconn *conn, const struct model *m, const char *chunking)
{
	if (corpus_store_model(conn, m))
		return RL_ERR;
	return corpus_claim(conn, model_name(m), model_dim(m), "cosine", chunking);
}

int model_read_file(const char *path, struct model **out)
{
	/* a model file, or a spec such as glove:FILE (model_open names the file in err) */
	char err[512];
	if (model_open(path, out, err, sizeof(err))) {
		log_error("%s", err);
		return RL_ERR;
	}
	return 0;
}
