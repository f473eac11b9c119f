/*
 * test_read.c — unit tests of the read stage (stages/read.c).
 *
 * Every fixture is built at test time in a mkdtemp() directory, with the archivers that are
 * installed (bsdtar, zstd, zip, gzip, cpio, 7z) or with libarchive's write API when a name
 * or a size must be exact; nothing binary is committed. Each test runs read_inputs() with a
 * collecting emit callback and looks at the items, the skip counts and the skip messages.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <archive.h>
#include <archive_entry.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../stages/read.h"

static char tmp[256];

/* ---- harness ------------------------------------------------------------------------------- */

struct run {
	struct read_item **items;
	size_t n, cap;
	size_t stop_after;       /* emit returns 42 after this many items; 0 = never */
	struct counts c;
	char *log;
	size_t log_len;
	FILE *logf;
	int rc;
	double seconds;
	void *log_extra;         /* a test's own record (damage reports) */
};

static int collect(void *ctx, struct read_item *it)
{
	struct run *R = ctx;
	if (R->n == R->cap) {
		R->cap = R->cap ? R->cap * 2 : 16;
		R->items = realloc(R->items, R->cap * sizeof(*R->items));
		assert_non_null(R->items);
	}
	R->items[R->n++] = it;
	assert_true(it->data != NULL);
	assert_int_equal(it->data[it->len], 0);
	return R->stop_after && R->n >= R->stop_after ? 42 : 0;
}

static struct read_opts opts_default(void)
{
	struct read_opts o = {
		.max_entry_bytes = 64u << 20,
		.max_total_bytes = (uint64_t)1 << 30,
		.max_ratio = 1000,
		.max_line_bytes = 1u << 20,
		.max_nesting = 1,
	};
	return o;
}

static void run_paths(struct run *R, const struct read_opts *o, char *const *paths, int n)
{
	counts_init(&R->c, 1);
	R->logf = open_memstream(&R->log, &R->log_len);
	assert_non_null(R->logf);
	R->c.log = R->logf;
	double t0 = now_seconds();
	R->rc = read_inputs(o, paths, n, collect, R, &R->c);
	R->seconds = now_seconds() - t0;
	fflush(R->logf);
}

/* Paths are relative to the fixture directory. */
static void run1(struct run *R, const struct read_opts *o, const char *rel)
{
	char path[512];
	char *paths[1] = { path };
	snprintf(path, sizeof(path), "%s/%s", tmp, rel);
	run_paths(R, o, paths, 1);
}

static void run_free(struct run *R)
{
	for (size_t i = 0; i < R->n; i++)
		read_item_free(R->items[i]);
	free(R->items);
	fclose(R->logf);
	free(R->log);
	counts_release(&R->c);
	memset(R, 0, sizeof(*R));
}

static struct read_item *find(struct run *R, const char *source)
{
	for (size_t i = 0; i < R->n; i++)
		if (strcmp(R->items[i]->source, source) == 0)
			return R->items[i];
	return NULL;
}

static uint64_t reason(struct run *R, const char *why)
{
	for (int i = 0; i < R->c.n_reasons; i++)
		if (strcmp(R->c.reasons[i].reason, why) == 0)
			return R->c.reasons[i].n;
	return 0;
}

static uint64_t ignored(struct run *R, const char *type)
{
	for (int i = 0; i < R->c.n_ignored; i++)
		if (strcmp(R->c.ignored[i].type, type) == 0)
			return R->c.ignored[i].n;
	return 0;
}

static int log_has(struct run *R, const char *s)
{
	return R->log && strstr(R->log, s) != NULL;
}

static void expect_item(struct run *R, const char *source, const char *name, const char *data)
{
	struct read_item *it = find(R, source);
	if (!it)
		fail_msg("no item %s (log: %s)", source, R->log ? R->log : "");
	assert_int_equal(it->kind, READ_FILE);
	assert_string_equal(it->name, name);
	assert_int_equal(it->len, strlen(data));
	assert_memory_equal(it->data, data, it->len);
}

/* Runs a shell command inside the fixture directory. */
static void sh(const char *fmt, ...)
{
	char cmd[4096];
	int n = snprintf(cmd, sizeof(cmd), "cd '%s' && (", tmp);
	va_list ap;
	va_start(ap, fmt);
	n += vsnprintf(cmd + n, sizeof(cmd) - (size_t)n, fmt, ap);
	va_end(ap);
	snprintf(cmd + n, sizeof(cmd) - (size_t)n, ") >/dev/null 2>&1");
	int st = system(cmd);
	if (st != 0)
		fail_msg("fixture command failed (%d): %s", st, cmd);
}

static void put(const char *rel, const char *text)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", tmp, rel);
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* libarchive's write API, for exact entry names and sizes the archivers would not produce. */
struct wentry {
	const char *name;
	const char *data;        /* NULL: size bytes of fill */
	int64_t size;
	char fill;
};

static void write_tar(const char *rel, int zstd, const struct wentry *e, size_t n)
{
	char path[512], *block = malloc(1 << 20);
	struct archive *a = archive_write_new();
	snprintf(path, sizeof(path), "%s/%s", tmp, rel);
	assert_non_null(block);
	archive_write_set_format_ustar(a);  /* names stored byte for byte, valid UTF-8 or not */
	if (zstd) {
		archive_write_add_filter_zstd(a);
		archive_write_set_filter_option(a, "zstd", "compression-level", "1");
	}
	assert_int_equal(archive_write_open_filename(a, path), ARCHIVE_OK);
	for (size_t i = 0; i < n; i++) {
		struct archive_entry *ae = archive_entry_new();
		int64_t size = e[i].data ? (int64_t)strlen(e[i].data) : e[i].size;
		archive_entry_set_pathname(ae, e[i].name);
		archive_entry_set_filetype(ae, AE_IFREG);
		archive_entry_set_perm(ae, 0644);
		archive_entry_set_size(ae, size);
		archive_entry_set_mtime(ae, 1700000000, 0);
		assert_true(archive_write_header(a, ae) >= ARCHIVE_WARN);
		if (e[i].data) {
			archive_write_data(a, e[i].data, (size_t)size);
		} else {
			memset(block, e[i].fill, 1 << 20);
			for (int64_t left = size; left > 0;) {
				size_t k = left > (1 << 20) ? (1 << 20) : (size_t)left;
				assert_int_equal(archive_write_data(a, block, k), (la_ssize_t)k);
				left -= (int64_t)k;
			}
		}
		archive_entry_free(ae);
	}
	assert_int_equal(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);
	free(block);
}


/* ---- what a file is: ignored types, globs --------------------------------------------------- */

static void test_sniff_signatures(void **state)
{
	(void)state;
	static const struct { const char *bytes; size_t n; const char *name, *type; } cases[] = {
		{ "\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 16, "a.png", "png" },
		{ "\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 16, "misnamed.txt", "png" },  /* content wins */
		{ "\xff\xd8\xff\xe0\0\x10JFIF\0\1", 12, NULL, "jpeg" },
		{ "GIF89a\1\0\1\0", 10, NULL, "gif" },
		{ "\x7f" "ELF\2\1\1\0\0\0\0\0\0\0\0\0", 16, "tool", "elf" },
		{ "\0\1\0\0\0\x0a\0\x80\0\3\0\x20", 12, "f.ttf", "ttf" },
		{ "wOF2\0\1\0\0", 8, NULL, "woff2" },
		{ "%PDF-1.7\n", 9, NULL, "pdf" },
		{ "SQLite format 3\0\x10\0", 18, NULL, "sqlite" },
		{ "\xa7\x0d\x0d\x0a\0\0\0\0\0\0\0\0\0\0\0\0", 16, "m.cpython-311.pyc", "pyc" },
		{ "\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", 8, "old.doc", "doc" },
		{ "RIFF\0\0\0\0WEBPVP8 ", 16, NULL, "webp" },
		{ "\0\0\0\x18" "ftypmp42\0\0\0\0", 16, NULL, "mp4" },
		{ "<?xml version=\"1.0\"?>\n<!-- c -->\n<svg xmlns=\"x\">", 48, "f.svg", "svg" },
		{ "<svg><text>x</text></svg>", 25, NULL, "svg" },
		{ "# Sphinx inventory version 2\n", 29, "objects.inv", "sphinx-inventory" },
		/* read: text, HTML, archives, and bytes that claim nothing (damage is normalize's) */
		{ "Plain text about PostgreSQL.\n", 29, "a.txt", NULL },
		{ "<!DOCTYPE html><html><body>x", 28, "a.html", NULL },
		{ "<?xml version=\"1.0\"?><html>", 27, "a.xhtml", NULL },
		{ "\x1f\x8b\x08\0\0\0\0\0", 8, "a.gz", NULL },
		{ "\x28\xb5\x2f\xfd\0\0", 6, NULL, NULL },
		{ "\xff\xfb\x90\x64\0\0\0\0", 8, "random.bin", NULL },  /* MP3 sync only by name */
		{ "MZ\x90\0\3\0\0\0", 8, "x.bin", NULL },              /* "MZ" alone is not PE */
		{ "true facts about ranking\n", 25, NULL, NULL },
		{ "BM is a text that starts with BM and some more text here", 56, NULL, NULL },
	};
	for (size_t i = 0; i < RL_ARRAY_LEN(cases); i++) {
		const char *t = read_sniff((const unsigned char *)cases[i].bytes, cases[i].n, NULL, 0,
					   cases[i].name);
		if (!cases[i].type)
			assert_null(t);
		else
			assert_string_equal(t, cases[i].type);
	}
}

/* A docx, an odt, an epub are documents, read whole as one item each with their type (never
 * walked member by member), a zip of pages is walked; the decision is the same on disk and
 * inside a tar. */
static void test_zip_documents_not_walked(void **state)
{
	(void)state;
	struct run R = { 0 };
	struct read_opts o = opts_default();

	sh("mkdir -p zd && cd zd && python3 -c \"\n"
	   "import zipfile\n"
	   "def mk(name, members, stored_first=None):\n"
	   "    z = zipfile.ZipFile(name, 'w', zipfile.ZIP_DEFLATED)\n"
	   "    if stored_first: z.writestr(zipfile.ZipInfo(stored_first[0]), stored_first[1])\n"
	   "    for m, d in members: z.writestr(m, d)\n"
	   "    z.close()\n"
	   "mk('a.docx', [('[Content_Types].xml', '<Types/>'), ('word/document.xml', '<w/>')])\n"
	   "mk('late.xlsx', [('xl/workbook.xml', '<w/>'), ('[Content_Types].xml', '<Types/>')])\n"
	   "mk('b.odt', [('content.xml', '<x/>')], ('mimetype', 'application/vnd.oasis.opendocument.text'))\n"
	   "mk('c.epub', [('META-INF/container.xml', '<c/>'), ('text.xhtml', '<p>x</p>')], ('mimetype', 'application/epub+zip'))\n"
	   "mk('pages.zip', [('one.md', '# One\\\\n\\\\nPage one.'), ('two.txt', 'Page two.')])\n"
	   "\" && bsdtar -cf ../zd.tar a.docx b.odt pages.zip && cp a.docx ../renamed.zip");
	static const struct { const char *key, *type; } docs[] = {
		{ "zd/a.docx", "docx" }, { "zd/late.xlsx", "xlsx" },  /* late: the zip's end says */
		{ "zd/b.odt", "odt" }, { "zd/c.epub", "epub" },
	};
	run1(&R, &o, "zd");
	assert_int_equal(R.rc, 0);
	assert_int_equal(R.c.total, 0);
	assert_int_equal(R.n, 6);
	assert_non_null(find(&R, "zd/pages.zip!one.md"));
	assert_null(find(&R, "zd/pages.zip!one.md")->type);
	for (size_t i = 0; i < RL_ARRAY_LEN(docs); i++) {
		struct read_item *it = find(&R, docs[i].key);
		assert_non_null(it);
		assert_string_equal(it->type, docs[i].type);
		assert_int_equal(ignored(&R, docs[i].type), 0);
	}
	assert_memory_equal(find(&R, "zd/a.docx")->data, "PK\3\4", 4);
	run_free(&R);

	run1(&R, &o, "zd.tar");
	assert_int_equal(R.c.total, 0);
	assert_int_equal(R.n, 4);
	assert_string_equal(find(&R, "zd.tar!a.docx")->type, "docx");
	assert_string_equal(find(&R, "zd.tar!b.odt")->type, "odt");
	assert_null(find(&R, "zd.tar!pages.zip!two.txt")->type);
	run_free(&R);

	run1(&R, &o, "renamed.zip");  /* a docx by content, whatever its name */
	assert_int_equal(R.n, 1);
	assert_string_equal(R.items[0]->type, "docx");
	run_free(&R);
}

/* Ignored types inside archives and compressed files; random bytes stay normalize's to warn
 * about (emitted), a large video member is judged by its first block and drained. */
static void test_ignored_inside_archives(void **state)
{
	(void)state;
	struct run R = { 0 };
	struct read_opts o = opts_default();

	o.max_entry_bytes = 100000;
	sh("mkdir -p ia && cd ia && printf '\\211PNG\\r\\n\\032\\n0000' > pic.png && "
	   "cp pic.png pic2.png && gzip pic2.png && cp /bin/true tool && "
	   "(printf '\\0\\0\\0\\030ftypisom'; head -c 300000 /dev/zero) > big.mp4 && "
	   "head -c 2048 /dev/urandom > random.bin && printf 'text\\n' > a.txt && "
	   "bsdtar -czf ../ia.tar.gz pic.png pic2.png.gz tool big.mp4 random.bin a.txt");
	run1(&R, &o, "ia.tar.gz");
	assert_int_equal(R.rc, 0);
	assert_int_equal(R.c.total, 0);  /* big.mp4 is not entry_too_large: it is a video */
	assert_int_equal(R.n, 2);
	assert_non_null(find(&R, "ia.tar.gz!a.txt"));
	assert_non_null(find(&R, "ia.tar.gz!random.bin"));
	assert_int_equal(ignored(&R, "png"), 2);  /* pic2.png.gz: judged by what it holds */
	assert_int_equal(ignored(&R, "elf"), 1);
	assert_int_equal(ignored(&R, "mp4"), 1);
	run_free(&R);
}

static void test_include_exclude_globs(void **state)
{
	(void)state;
	struct run R = { 0 };
	struct read_opts o = opts_default();

	sh("mkdir -p gl/_static gl/_sources/api gl/api gl/.git/objects gl/drafts/deep && cd gl && "
	   "printf p > index.html && printf s > _static/basic.css && printf j > _static/doc.js && "
	   "printf j > app.js && printf x > app.js.gz.txt && printf s > _sources/api/x.rst.txt && "
	   "printf a > api/ref.html && printf g > .git/objects/ab && printf d > drafts/old1.md && "
	   "printf d > drafts/deep/old2.md && printf m > notes.md && printf j > lib.js && gzip lib.js && "
	   "bsdtar -cf ../gl.tar index.html _static app.js api");
	snprintf(o.exclude, sizeof(o.exclude), "%s", READ_DEFAULT_EXCLUDES " /drafts/old*");
	run1(&R, &o, "gl");
	assert_int_equal(R.rc, 0);
	const char *want[] = { "gl/api/ref.html", "gl/app.js.gz.txt", "gl/drafts/deep/old2.md",
			       "gl/index.html", "gl/notes.md" };
	assert_int_equal(R.n, RL_ARRAY_LEN(want));
	for (size_t i = 0; i < R.n; i++)
		assert_string_equal(R.items[i]->source, want[i]);
	/* _static/, _sources/, .git/ once each, app.js, lib.js.gz (as lib.js), drafts/old1.md */
	assert_int_equal(ignored(&R, "excluded"), 6);
	assert_int_equal(R.c.total, 0);
	run_free(&R);

	/* an include takes a default back, even under an excluded directory */
	snprintf(o.include, sizeof(o.include), "*.js");
	run1(&R, &o, "gl");
	assert_non_null(find(&R, "gl/app.js"));
	assert_non_null(find(&R, "gl/lib.js.gz"));
	assert_non_null(find(&R, "gl/_static/doc.js"));
	assert_null(find(&R, "gl/_static/basic.css"));
	assert_null(find(&R, "gl/.git/objects/ab"));
	run_free(&R);

	/* inside an archive: the entry's path */
	o.include[0] = '\0';
	run1(&R, &o, "gl.tar");
	assert_int_equal(R.n, 2);
	assert_non_null(find(&R, "gl.tar!index.html"));
	assert_non_null(find(&R, "gl.tar!api/ref.html"));
	assert_true(log_has(&R, "gl.tar!_static/basic.css [excluded]"));
	run_free(&R);

	/* no excludes at all */
	o.exclude[0] = '\0';
	run1(&R, &o, "gl");
	assert_int_equal(ignored(&R, "excluded"), 0);
	assert_non_null(find(&R, "gl/_sources/api/x.rst.txt"));
	run_free(&R);
}

/* Damage is reported per place for --prune; ignored files are not damage. */
struct damage_log { char keys[8][128]; int n; };
static void note_damage(void *ctx, const char *input, const char *key)
{
	struct run *R = ctx;
	struct damage_log *d = (struct damage_log *)R->log_extra;
	(void)input;
	if (d->n < 8)
		snprintf(d->keys[d->n++], 128, "%s", key ? key : "(input)");
}

static void test_damage_reported_per_place(void **state)
{
	(void)state;
	struct run R = { 0 };
	struct read_opts o = opts_default();
	struct damage_log d = { 0 };
	char path[512];
	char *paths[1] = { path };

	sh("mkdir -p dm/src && cd dm/src && for i in 1 2 3 4; do head -c 40000 /dev/urandom | base64 > p$i.txt; done && "
	   "tar -czf ../full.tar.gz . && cd .. && head -c 100000 full.tar.gz > cut.tar.gz && rm -rf src full.tar.gz && "
	   "printf '\\211PNG\\r\\n\\032\\n0000' > pic.png && ln -s pic.png link.png && printf ok > ok.txt");
	snprintf(path, sizeof(path), "%s/dm", tmp);
	counts_init(&R.c, 1);
	R.logf = open_memstream(&R.log, &R.log_len);
	R.c.log = R.logf;
	R.log_extra = &d;
	R.rc = read_inputs_noting(&o, paths, 1, collect, note_damage, &R, &R.c);
	fflush(R.logf);
	assert_int_equal(R.rc, 0);
	assert_true(R.c.total >= 1);
	assert_true(d.n >= 1);
	for (int i = 0; i < d.n; i++)
		assert_string_equal(d.keys[i], "dm/cut.tar.gz");
	assert_int_equal(ignored(&R, "png"), 1);
	assert_int_equal(ignored(&R, "symlink"), 1);
	run_free(&R);
}

/* ---- directories and plain files ----------------------------------------------------------- */

static void test_dir_walk_order_and_relative_keys(void **state)
{
	(void)state;
	struct run R = { 0 };
	struct read_opts o = opts_default();

	sh("mkdir -p walk/a/sub walk/z && printf B > walk/b.txt && printf X > walk/a/x.txt && "
	   "printf A > walk/a.txt && printf Y > walk/a/sub/y.md && printf C > walk/c.TXT && "
	   "ln -s b.txt walk/link.txt && ln -s a walk/dirlink && ln -s /etc/hostname walk/z/out");
	run1(&R, &o, "walk");
	assert_int_equal(R.rc, 0);
	/* keys start with the directory's name */
	const char *want[] = { "walk/a/sub/y.md", "walk/a/x.txt", "walk/a.txt", "walk/b.txt",
			       "walk/c.TXT" };
	assert_int_equal(R.n, RL_ARRAY_LEN(want));
	for (size_t i = 0; i < R.n; i++)
		assert_string_equal(R.items[i]->source, want[i]);
	expect_item(&R, "walk/a/sub/y.md", "y.md", "Y");
	expect_item(&R, "walk/c.TXT", "c.TXT", "C");
	assert_true(strstr(R.items[0]->input, "/walk") != NULL);
	/* symlinks (to files inside or outside, to a directory) are ignored and counted, not
	 * warnings */
	assert_int_equal(ignored(&R, "symlink"), 3);
	assert_int_equal(R.c.total, 0);
	assert_true(log_has(&R, "link.txt [symlink]"));
	assert_true(log_has(&R, "z/out [symlink]"));
	assert_true(log_has(&R, "dirlink [symlink]"));
	run_free(&R);
}

static void test_same_keys_from_another_working_directory(void **state)
{
	(void)state;
	struct run A = { 0 }, B = { 0 };
	struct read_opts o = opts_default();
	char abs_dir[512], abs_file[512], cwd[512];

	sh("mkdir -p cwd/docs/d && printf 1 > cwd/docs/d/one.txt && printf 2 > cwd/docs/two.txt && "
	   "bsdtar -cf cwd/pack.tar -C cwd/docs d");
	snprintf(abs_dir, sizeof(abs_dir), "%s/cwd/docs/", tmp);
	snprintf(abs_file, sizeof(abs_file), "%s/cwd/pack.tar", tmp);
	char *pa[] = { abs_dir, abs_file };
	run_paths(&A, &o, pa, 2);

	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir(tmp), 0);
	char *pb[] = { "cwd/docs", "cwd/pack.tar" };
	run_paths(&B, &o, pb, 2);
	assert_int_equal(chdir(cwd), 0);

	assert_int_equal(A.rc, 0);
	assert_int_equal(B.rc, 0);
	assert_int_equal(A.n, 3);
	assert_int_equal(B.n, 3);
	for (size_t i = 0; i < A.n; i++)
		assert_string_equal(A.items[i]->source, B.items[i]->source);
	assert_string_equal(A.items[0]->source, "docs/d/one.txt");
	assert_string_equal(A.items[1]->source, "docs/two.txt");
	assert_string_equal(A.items[2]->source, "pack.tar!d/one.txt");
	assert_string_equal(B.items[2]->input, "cwd/pack.tar");
	run_free(&A);
	run_free(&B);
}

static void test_plain_txt_and_empty_files(void **state)
{
	(void)state;
	struct run R = { 0 };
	struct read_opts o = opts_default();
	char p1[512], p2[512], p3[512], p4[512];

	put("hello.txt", "hello world\n");
	put("notes.gz", "not really gzip\n");  /* named like an archive, but libarchive says no */
	sh(": > empty.txt && gzip -c < /dev/null > nothing.txt.gz");
	snprintf(p1, sizeof(p1), "%s/hello.txt", tmp);
	snprintf(p2, sizeof(p2), "%s/notes.gz", tmp);
	snprintf(p3, sizeof(p3), "%s/empty.txt", tmp);
	snprintf(p4, sizeof(p4), "%s/nothing.txt.gz", tmp);
	char *paths[] = { p1, p2, p3, p4 };
	run_paths(&R, &o, paths, 4);
	assert_int_equal(R.rc, 0);
	assert_int_equal(R.n, 3);
	expect_item(&R, "hello.txt", "hello.txt", "hello world\n");
	expect_item(&R, "notes.gz", "notes.gz", "not really gzip\n");
	expect_item(&R, "empty.txt", "empty.txt", "");
	assert_string_equal(R.items[0]->input, p1);
	assert_int_equal(R.items[0]->raw_bytes, 12);
	assert_true(R.items[0]->mtime > 0);
	assert_int_equal(counts_total(&R.c), 0);  /* an empty compressed file: nothing, no error */
	run_free(&R);
}

/* ---- archives ------------------------------------------------------------------------------ */

static void test_archive_formats_have_entry_keys(void **state)
{
	(void)state;
	struct read_opts o = opts_default();
	const char *archives[] = { "f.tar", "f.tar.gz", "f.tar.zst", "f.tar.xz", "f.zip", "f.7z", "f.cpio" };

	sh("mkdir -p fmt/docs && printf alpha > fmt/docs/a.txt && printf '# B' > fmt/b.md && cd fmt && "
	   "bsdtar -cf ../f.tar docs b.md && bsdtar -czf ../f.tar.gz docs b.md && "
	   "bsdtar -cf - docs b.md | zstd -q -o ../f.tar.zst && bsdtar -cJf ../f.tar.xz docs b.md && "
	   "zip -qr ../f.zip docs b.md && 7z a -bd ../f.7z docs b.md && "
	   "find . | cpio -o -H newc > ../f.cpio");
	for (size_t i = 0; i < RL_ARRAY_LEN(archives); i++) {
		struct run R = { 0 };
		char key[128];
		run1(&R, &o, archives[i]);
		assert_int_equal(R.rc, 0);
		if (R.n != 2)
			fail_msg("%s: %zu items, log: %s", archives[i], R.n, R.log ? R.log : "");
		snprintf(key, sizeof(key), "%s!docs/a.txt", archives[i]);
		expect_item(&R, key, "a.txt", "alpha");
		snprintf(key, sizeof(key), "%s!b.md", archives[i]);
		expect_item(&R, key, "b.md", "# B");
		assert_int_equal(counts_total(&R.c), 0);
		run_free(&R);
	}
}

static void test_nested_tar_one_level_works_two_refused(void **state)
{
	(void)state;
	struct run R = { 0 };
	struct read_opts o = opts_default();

	sh("mkdir -p nest && cd nest && printf deep > z.txt && bsdtar -cf deep.tar z.txt && "
	   "printf inner > i.txt && printf gz > g.txt && gzip g.txt && "
	   "bsdtar -cf inner.tar i.txt deep.tar g.txt.gz && printf outer > o.txt && "
	   "bsdtar -cf - inner.tar o.txt | zstd -q -o ../outer.tar.zst");
	run1(&R, &o, "outer.tar.zst");
	assert_int_equal(R.rc, 0);
	expect_item(&R, "outer.tar.zst!inner.tar!i.txt", "i.txt", "inner");
	expect_item(&R, "outer.tar.zst!o.txt", "o.txt", "outer");
	assert_int_equal(R.n, 2);  /* g.txt.gz is nested two levels deep as well */
	assert_int_equal(reason(&R, "nesting"), 2);
	assert_true(log_has(&R, "outer.tar.zst!inner.tar!deep.tar: archive nested deeper"));
	run_free(&R);

	o.max_nesting = 2;
	run1(&R, &o, "outer.tar.zst");
	expect_item(&R, "outer.tar.zst!inner.tar!deep.tar!z.txt", "z.txt", "deep");
	expect_item(&R, "outer.tar.zst!inner.tar!g.txt.gz", "g.txt", "gz");
	assert_int_equal(R.n, 4);
	assert_int_equal(counts_total(&R.c), 0);
	run_free(&R);
}

static void test_compressed_single_files(void **state)
{
	(void)state;
	struct run R = { 0 };
	struct read_opts o = opts_default();
	char p1[512], p2[512];

	put("story.txt", "once upon a time\n");
	put("corpus.jsonl", "{\"_id\":\"d1\",\"title\":\"T\",\"text\":\"first\"}\n"
			    "{\"_id\":\"d2\",\"text\":\"second\"}\n");
	sh("gzip -k story.txt && zstd -q corpus.jsonl -o corpus.jsonl.zst");
	snprintf(p1, sizeof(p1), "%s/story.txt.gz", tmp);
	snprintf(p2, sizeof(p2), "%s/corpus.jsonl.zst", tmp);
	char *paths[] = { p1, p2 };
	run_paths(&R, &o, paths, 2);
	assert_int_equal(R.rc, 0);
	assert_int_equal(R.n, 3);
	expect_item(&R, "story.txt.gz", "story.txt", "once upon a time\n");
	struct read_item *row = find(&R, "corpus.jsonl.zst#d2");
	assert_non_null(row);
	assert_int_equal(row->kind, READ_ROW);
	assert_string_equal(row->name, "corpus.jsonl");
	assert_string_equal(row->data, "second");
	assert_non_null(find(&R, "corpus.jsonl.zst#d1"));
	run_free(&R);
}

static void test_entry_names_cleaned_whatever_the_locale(void **state)
{
	(void)state;
	struct read_opts o = opts_default();
	const struct wentry e[] = {
		{ .name = "/abs.txt", .data = "1" },
		{ .name = "./dot.txt", .data = "2" },
		{ .name = "../up/x.txt", .data = "3" },
		{ .name = "bad\xff\xfe.txt", .data = "4" },
		{ .name = "caf\xc3\xa9.txt", .data = "5" },
	};
	const char *locales[] = { "C", "C.UTF-8" };

	write_tar("names.tar", 0, e, RL_ARRAY_LEN(e));
	/* 7z keeps names as UTF-16: in the C locale libarchive has only the wide form */
	sh("mkdir -p u7 && printf 6 > 'u7/caf\303\251.txt' && cd u7 && 7z a -bd ../names.7z .");
	for (size_t i = 0; i < RL_ARRAY_LEN(locales); i++) {
		struct run R = { 0 };
		if (!setlocale(LC_CTYPE, locales[i]))
			continue;
		run1(&R, &o, "names.tar");
		assert_int_equal(R.rc, 0);
		expect_item(&R, "names.tar!abs.txt", "abs.txt", "1");
		expect_item(&R, "names.tar!dot.txt", "dot.txt", "2");
		expect_item(&R, "names.tar!../up/x.txt", "x.txt", "3");
		expect_item(&R, "names.tar!bad??.txt", "bad??.txt", "4");
		expect_item(&R, "names.tar!caf\xc3\xa9.txt", "caf\xc3\xa9.txt", "5");
		run_free(&R);
		run1(&R, &o, "names.7z");
		expect_item(&R, "names.7z!caf\xc3\xa9.txt", "caf\xc3\xa9.txt", "6");
		run_free(&R);
	}
	setlocale(LC_CTYPE, "C");
}

static void test_symlink_and_hardlink_entries_skipped(void **state)
{
	(void)state;
	struct run R = { 0 };
	struct read_opts o = opts_default();

	sh("mkdir -p links && cd links && printf real > real.txt && ln -s real.txt soft.txt && "
	   "ln -s /etc/passwd out.txt && ln real.txt hard.txt && bsdtar -cf ../links.tar *");
	run1(&R, &o, "links.tar");
	assert_int_equal(R.rc, 0);
	assert_int_equal(R.n, 1);  /* bsdtar stores hard.txt first and real.txt as its link */
	assert_string_equal(R.items[0]->data, "real");
	assert_int_equal(R.c.total, 0);  /* links are ignored, not warnings */
	assert_int_equal(ignored(&R, "symlink"), 2);
	assert_int_equal(ignored(&R, "hardlink"), 1);
	assert_true(log_has(&R, "links.tar!soft.txt [symlink]"));
	assert_true(log_has(&R, "links.tar!out.txt [symlink]"));
	run_free(&R);

	/* newc cpio carries a hard link's data on its last name: that one is read as a file */
	sh("cd links && ls hard.txt real.txt | cpio -o -H newc > ../links.cpio");
	run1(&R, &o, "links.cpio");
	expect_item(&R, "links.cpio!real.txt", "real.txt", "real");
	assert_int_equal(counts_total(&R.c), 0);
	run_free(&R);
}

static void test_encrypted_zip_entry(void **state)
{
	(void)state;
	struct run R = { 0 };
	struct read_opts o = opts_default();

	sh("mkdir -p enc && cd enc && printf secret > s.txt && zip -q -P pw ../enc.zip s.txt && "
	   "printf open > p.txt && zip -q ../enc.zip p.txt");
	sh("cd enc && 7z a -bd -pPW ../data.7z s.txt && 7z a -bd -pPW -mhe=on ../head.7z s.txt");
	run1(&R, &o, "enc.zip");
	assert_int_equal(R.rc, 0);
	expect_item(&R, "enc.zip!p.txt", "p.txt", "open");
	assert_int_equal(R.n, 1);
	assert_int_equal(reason(&R, "encrypted"), 1);
	run_free(&R);

	run1(&R, &o, "data.7z");
	assert_int_equal(R.n, 0);
	assert_true(log_has(&R, "data.7z!s.txt: encrypted entry"));
	run_free(&R);
	run1(&R, &o, "head.7z");
	assert_int_equal(R.n, 0);
	assert_int_equal(reason(&R, "encrypted"), 1);
	assert_int_equal(reason(&R, "corrupt_archive"), 0);
	run_free(&R);
}

static void test_truncated_tar_zst_keeps_early_entries(void **state)
{
	(void)state;
	struct run R = { 0 };
	struct read_opts o = opts_default();
	char p1[512], p2[512];

	/* incompressible entries so that half the file is about half the entries */
	sh("mkdir -p cut && cd cut && for i in 01 02 03 04 05 06 07 08 09 10; do "
	   "head -c 30000 /dev/urandom | base64 > f$i.txt; done && "
	   "bsdtar -cf - f*.txt | zstd -q -o ../whole.tar.zst && cd .. && "
	   "head -c $(( $(stat -c %%s whole.tar.zst) / 2 )) whole.tar.zst > half.tar.zst && "
	   "printf after > after.txt");
	snprintf(p1, sizeof(p1), "%s/half.tar.zst", tmp);
	snprintf(p2, sizeof(p2), "%s/after.txt", tmp);
	char *paths[] = { p1, p2 };
	run_paths(&R, &o, paths, 2);
	assert_int_equal(R.rc, 0);
	assert_non_null(find(&R, "half.tar.zst!f01.txt"));
	assert_non_null(find(&R, "half.tar.zst!f03.txt"));
	assert_null(find(&R, "half.tar.zst!f10.txt"));
	assert_int_equal(reason(&R, "corrupt_archive"), 1);
	assert_true(log_has(&R, "warning: half.tar.zst: "));
	assert_true(log_has(&R, "(at byte offset "));
	expect_item(&R, "after.txt", "after.txt", "after");  /* the run goes on */
	run_free(&R);
}

static void test_truncated_zip_and_garbage_archive(void **state)
{
	(void)state;
	struct run R = { 0 };
	struct read_opts o = opts_default();
	char p1[512], p2[512];

	sh("mkdir -p zcut && cd zcut && for i in 1 2 3 4 5 6; do head -c 30000 /dev/urandom > r$i.bin; done && "
	   "zip -q -0 ../whole.zip r*.bin && cd .. && head -c 100000 whole.zip > half.zip && "
	   "head -c 600 /dev/urandom > junk.tar.gz");
	snprintf(p1, sizeof(p1), "%s/half.zip", tmp);
	snprintf(p2, sizeof(p2), "%s/junk.tar.gz", tmp);
	char *paths[] = { p1, p2 };
	run_paths(&R, &o, paths, 2);
	assert_int_equal(R.rc, 0);
	assert_non_null(find(&R, "half.zip!r1.bin"));
	assert_null(find(&R, "half.zip!r6.bin"));
	assert_int_equal(reason(&R, "corrupt_archive"), 1);
	/* random bytes named .tar.gz are no archive: a plain file, normalize will call it binary */
	struct read_item *j = find(&R, "junk.tar.gz");
	assert_non_null(j);
	assert_int_equal(j->len, 600);
	run_free(&R);
}

/* ---- JSONL collections --------------------------------------------------------------------- */

static void test_jsonl_rows(void **state)
{
	(void)state;
	struct run R = { 0 };
	struct read_opts o = opts_default();
	char p1[512], p2[512];

	sh("mkdir -p rows");
	put("rows/corpus.jsonl",
	    "{\"_id\": \"d1\", \"title\": \"Title one\", \"text\": \"Body one\", "
	    "\"metadata\": {\"url\": \"http://x\", \"year\": 2020}}\n"
	    "\r\n"
	    "{\"_id\": 42, \"title\": \"\", \"text\": \"nul\\u0000inside\"}\r\n"
	    "{\"_id\": \"d3\", \"text\": \"\", \"metadata\": \"loose\"}");
	sh("bsdtar -czf rows.tar.gz -C rows corpus.jsonl");
	snprintf(p1, sizeof(p1), "%s/rows/corpus.jsonl", tmp);
	snprintf(p2, sizeof(p2), "%s/rows.tar.gz", tmp);
	char *paths[] = { p1, p2 };
	run_paths(&R, &o, paths, 2);
	assert_int_equal(R.rc, 0);
	assert_int_equal(counts_total(&R.c), 0);
	assert_int_equal(R.n, 6);

	struct read_item *a = find(&R, "corpus.jsonl#d1");
	assert_non_null(a);
	assert_int_equal(a->kind, READ_ROW);
	assert_string_equal(a->name, "corpus.jsonl");
	assert_string_equal(a->title, "Title one");
	assert_string_equal(a->data, "Body one");
	assert_string_equal(a->metadata_json, "{\"url\":\"http://x\",\"year\":2020,\"_id\":\"d1\"}");
	assert_string_equal(a->input, p1);

	struct read_item *b = find(&R, "corpus.jsonl#42");
	assert_non_null(b);
	assert_null(b->title);
	assert_int_equal(b->len, 10);
	assert_memory_equal(b->data, "nul\0inside", 10);
	assert_string_equal(b->metadata_json, "{\"_id\":\"42\"}");

	struct read_item *c = find(&R, "corpus.jsonl#d3");
	assert_non_null(c);
	assert_int_equal(c->len, 0);
	assert_string_equal(c->metadata_json, "{\"metadata\":\"loose\",\"_id\":\"d3\"}");

	assert_non_null(find(&R, "rows.tar.gz!corpus.jsonl#d1"));
	assert_non_null(find(&R, "rows.tar.gz!corpus.jsonl#42"));
	run_free(&R);
}

static void test_jsonl_malformed_lines_counted_with_numbers(void **state)
{
	(void)state;
	struct run R = { 0 };
	struct read_opts o = opts_default();

	put("bad.jsonl",
	    "{\"_id\":\"ok1\",\"text\":\"fine\"}\n"      /* 1 */
	    "\n"                                        /* 2 blank */
	    "this is not json\n"                        /* 3 */
	    "[1,2,3]\n"                                 /* 4 */
	    "{\"_id\":\"x\"}\n"                         /* 5 */
	    "{\"text\":\"no id\"}\n"                    /* 6 */
	    "{\"_id\":[1],\"text\":\"t\"}\n"            /* 7 */
	    "{\"_id\":\"y\",\"text\":7}\n"              /* 8 */
	    "{\"_id\":\"ok2\",\"text\":\"fine\"}\n"     /* 9 */
	    "{\"_id\":\"cut\",\"text\":\"the file ends he"); /* 10, cut short */
	run1(&R, &o, "bad.jsonl");
	assert_int_equal(R.rc, 0);
	assert_int_equal(R.n, 2);
	assert_non_null(find(&R, "bad.jsonl#ok1"));
	assert_non_null(find(&R, "bad.jsonl#ok2"));
	assert_int_equal(reason(&R, "bad_jsonl_line"), 7);
	assert_true(log_has(&R, "bad.jsonl: line 3: invalid JSON"));
	assert_true(log_has(&R, "bad.jsonl: line 4: not a JSON object"));
	assert_true(log_has(&R, "bad.jsonl: line 5: missing \"text\""));
	assert_true(log_has(&R, "bad.jsonl: line 6: missing \"_id\""));
	assert_true(log_has(&R, "bad.jsonl: line 7: \"_id\" is not a string"));
	assert_true(log_has(&R, "bad.jsonl: line 8: \"text\" is not a string"));
	assert_true(log_has(&R, "bad.jsonl: line 10: invalid JSON"));
	run_free(&R);
}

static void test_jsonl_duplicate_id(void **state)
{
	(void)state;
	struct run R = { 0 };
	struct read_opts o = opts_default();

	put("dup.jsonl", "{\"_id\":\"a\",\"text\":\"first\"}\n"
			 "{\"_id\":\"b\",\"text\":\"other\"}\n"
			 "{\"_id\":\"a\",\"text\":\"second\"}\n");
	run1(&R, &o, "dup.jsonl");
	assert_int_equal(R.rc, 0);
	assert_int_equal(R.n, 2);
	assert_string_equal(find(&R, "dup.jsonl#a")->data, "first");
	assert_int_equal(reason(&R, "duplicate_id"), 1);
	assert_true(log_has(&R, "dup.jsonl: line 3: duplicate _id \"a\""));
	run_free(&R);
}

static void test_jsonl_many_ids_and_long_line(void **state)
{
	(void)state;
	struct run R = { 0 };
	struct read_opts o = opts_default();
	char path[512];

	/* enough ids to grow the id set several times; one line over the limit in the middle */
	snprintf(path, sizeof(path), "%s/many.jsonl", tmp);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	for (int i = 0; i < 5000; i++) {
		if (i == 2500) {
			fputs("{\"_id\":\"long\",\"text\":\"", f);
			for (int k = 0; k < 300000; k++)
				fputc('x', f);
			fputs("\"}\n", f);
		}
		fprintf(f, "{\"_id\":\"id%d\",\"text\":\"t%d\"}\n", i, i);
	}
	fputs("{\"_id\":\"id7\",\"text\":\"again\"}\n", f);
	fclose(f);
	o.max_line_bytes = 1000;
	run1(&R, &o, "many.jsonl");
	assert_int_equal(R.rc, 0);
	assert_int_equal(R.n, 5000);
	assert_string_equal(find(&R, "many.jsonl#id2500")->data, "t2500");
	assert_int_equal(reason(&R, "line_too_long"), 1);
	assert_true(log_has(&R, "many.jsonl: line 2501: longer than max_line_bytes"));
	assert_int_equal(reason(&R, "duplicate_id"), 1);
	assert_true(log_has(&R, "line 5002: duplicate _id \"id7\""));
	run_free(&R);
}

/* ---- limits -------------------------------------------------------------------------------- */

static void test_entry_too_large(void **state)
{
	(void)state;
	struct run R = { 0 };
	struct read_opts o = opts_default();
	char p1[512], p2[512], p3[512];

	sh("mkdir -p big && cd big && head -c 5000 /dev/zero | tr '\\0' a > big.txt && printf small > small.txt && "
	   "bsdtar -cf ../big.tar big.txt small.txt && gzip -c big.txt > ../big.txt.gz && cp big.txt ../bigplain.txt");
	o.max_entry_bytes = 1000;
	snprintf(p1, sizeof(p1), "%s/big.tar", tmp);
	snprintf(p2, sizeof(p2), "%s/big.txt.gz", tmp);   /* size unknown: caught while streaming */
	snprintf(p3, sizeof(p3), "%s/bigplain.txt", tmp);
	char *paths[] = { p1, p2, p3 };
	run_paths(&R, &o, paths, 3);
	assert_int_equal(R.rc, 0);
	assert_int_equal(R.n, 1);
	expect_item(&R, "big.tar!small.txt", "small.txt", "small");
	assert_int_equal(reason(&R, "entry_too_large"), 3);
	assert_true(log_has(&R, "big.tar!big.txt: declares 5000 bytes"));
	assert_true(log_has(&R, "big.txt.gz: more than max_entry_bytes (1000)"));
	run_free(&R);
}

static void test_input_too_large(void **state)
{
	(void)state;
	struct run R = { 0 };
	struct read_opts o = opts_default();

	sh("mkdir -p tot && cd tot && for i in 1 2 3 4; do head -c 3000 /dev/zero | tr '\\0' b > t$i.txt; done && "
	   "bsdtar -czf ../tot.tar.gz t*.txt");
	o.max_total_bytes = 7000;
	run1(&R, &o, "tot.tar.gz");
	assert_int_equal(R.rc, 0);
	assert_int_equal(R.n, 2);
	assert_int_equal(reason(&R, "input_too_large"), 1);
	assert_true(log_has(&R, "tot.tar.gz: stopped at tot.tar.gz!t3.txt"));
	run_free(&R);
}

static long maxrss_kb(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss;
}

static void test_compression_bomb_refused_quickly(void **state)
{
	(void)state;
	struct run R = { 0 };
	struct read_opts o = opts_default();
	const struct wentry tar[] = {
		{ .name = "before.txt", .data = "before" },
		{ .name = "zeros.bin", .size = 200 << 20, .fill = 0 },
	};
	char p1[512], p2[512];

	write_tar("bomb.tar.zst", 1, tar, RL_ARRAY_LEN(tar));
	/* a compressed single file declares no size: only the ratio can catch it */
	sh("head -c 200000000 /dev/zero | tr '\\0' A | zstd -q -o bomb.txt.zst");
	snprintf(p1, sizeof(p1), "%s/bomb.tar.zst", tmp);
	snprintf(p2, sizeof(p2), "%s/bomb.txt.zst", tmp);
	char *paths[] = { p1, p2 };
	run_paths(&R, &o, paths, 2);
	assert_int_equal(R.rc, 0);
	assert_int_equal(R.n, 1);
	expect_item(&R, "bomb.tar.zst!before.txt", "before.txt", "before");
	assert_true(reason(&R, "entry_too_large") + reason(&R, "compression_ratio") >= 2);
	assert_true(log_has(&R, "bomb.txt.zst: stopped at bomb.txt.zst: "));
	assert_true(R.seconds < 10.0);
	run_free(&R);
}

/* The figure from the brief: 2 GB of zeros in a tar.zst, refused in seconds, memory bounded. */
static void test_compression_bomb_2gb(void **state)
{
	(void)state;
	struct run R = { 0 };
	struct read_opts o = opts_default();
	const struct wentry tar[] = { { .name = "zeros.bin", .size = (int64_t)2 << 30, .fill = 0 } };

	write_tar("bomb2g.tar.zst", 1, tar, RL_ARRAY_LEN(tar));
	long before = maxrss_kb();
	run1(&R, &o, "bomb2g.tar.zst");
	assert_int_equal(R.rc, 0);
	assert_int_equal(R.n, 0);
	assert_true(reason(&R, "entry_too_large") >= 1);
	assert_int_equal(reason(&R, "compression_ratio"), 1);
	assert_true(R.seconds < 10.0);
	/* declared size over the limit: refused before any allocation for it */
	assert_true(maxrss_kb() - before < 256 * 1024);

	/* the same bomb with a size the entry limit allows: the ratio stops it mid-stream */
	run_free(&R);
	o.max_entry_bytes = (uint64_t)4 << 30;
	run1(&R, &o, "bomb2g.tar.zst");
	assert_int_equal(R.n, 0);
	assert_int_equal(reason(&R, "compression_ratio"), 1);
	assert_true(R.seconds < 10.0);
	run_free(&R);
}

/* ---- hostile input ------------------------------------------------------------------------- */

/* A compressed member of a plain tar is judged on its own ratio: refused, its siblings load. A
 * compressed file of zeros is no "empty tar": it is read as what its name says, and judged. */
static void test_bomb_member_refused_siblings_load(void **state)
{
	(void)state;
	struct run R = { 0 };
	struct read_opts o = opts_default();

	sh("mkdir -p mb && cd mb && printf before > before.txt && printf after > after.txt && "
	   "head -c 300000000 /dev/zero | zstd -q -1 > zeros.txt.zst && "
	   "bsdtar -cf ../member.tar before.txt zeros.txt.zst after.txt && "
	   "head -c 100000000 /dev/zero | xz -0 -T1 > ../zeros.txt.xz && "
	   "head -c 100000 /dev/zero | gzip > ../small-zeros.txt.gz");
	run1(&R, &o, "member.tar");
	assert_int_equal(R.rc, 0);
	expect_item(&R, "member.tar!before.txt", "before.txt", "before");
	expect_item(&R, "member.tar!after.txt", "after.txt", "after");
	assert_int_equal(R.n, 2);
	assert_int_equal(reason(&R, "compression_ratio"), 1);
	assert_true(log_has(&R, "member.tar!zeros.txt.zst: refused at "));
	assert_true(R.seconds < 10.0);
	run_free(&R);

	run1(&R, &o, "zeros.txt.xz");
	assert_int_equal(R.n, 0);
	assert_int_equal(reason(&R, "compression_ratio"), 1);
	assert_true(log_has(&R, "zeros.txt.xz: stopped at zeros.txt.xz: "));
	run_free(&R);

	/* small enough to pass the limits: a file of zeros, for normalize to call binary */
	run1(&R, &o, "small-zeros.txt.gz");
	assert_int_equal(R.n, 1);
	assert_int_equal(R.items[0]->len, 100000);
	assert_string_equal(R.items[0]->name, "small-zeros.txt");
	run_free(&R);
}

/* Keys are unique in a run: "x" and "./x" in one tar, or one file named twice. */
static void test_duplicate_keys_counted(void **state)
{
	(void)state;
	struct run R = { 0 };
	struct read_opts o = opts_default();
	const struct wentry tar[] = {
		{ .name = "x.txt", .data = "first" },
		{ .name = "./x.txt", .data = "second" },
		{ .name = "/x.txt", .data = "third" },
		{ .name = "y.txt", .data = "other" },
	};
	char p1[512];

	write_tar("dups.tar", 0, tar, RL_ARRAY_LEN(tar));
	snprintf(p1, sizeof(p1), "%s/dups.tar", tmp);
	char *paths[] = { p1, p1 };
	run_paths(&R, &o, paths, 2);
	assert_int_equal(R.rc, 0);
	assert_int_equal(R.n, 2);
	expect_item(&R, "dups.tar!x.txt", "x.txt", "first");
	expect_item(&R, "dups.tar!y.txt", "y.txt", "other");
	assert_int_equal(reason(&R, "duplicate_entry"), 2 + 4);  /* then all four again */
	assert_true(log_has(&R, "dups.tar!x.txt: an earlier item"));
	run_free(&R);
}

/* cpio "odc" stores a hard link's data under each name: loaded once, the link counted. */
static void test_hardlink_data_loaded_once(void **state)
{
	(void)state;
	struct run R = { 0 };
	struct read_opts o = opts_default();

	sh("mkdir -p hl && cd hl && printf data > a.txt && ln -f a.txt b.txt && "
	   "bsdtar --format=odc -cf ../hl.cpio a.txt b.txt");
	run1(&R, &o, "hl.cpio");
	assert_int_equal(R.rc, 0);
	assert_int_equal(R.n, 1);
	expect_item(&R, "hl.cpio!a.txt", "a.txt", "data");
	assert_int_equal(ignored(&R, "hardlink"), 1);
	assert_int_equal(R.c.total, 0);
	assert_true(log_has(&R, "hl.cpio!b.txt [hardlink]"));
	run_free(&R);
}

/* JSONL repairs: unpaired surrogates and raw invalid UTF-8 cost a character, not the row;
 * NULs leave titles, metadata and keys (PostgreSQL refuses them). */
static void test_jsonl_repairs(void **state)
{
	(void)state;
	struct run R = { 0 };
	struct read_opts o = opts_default();

	put("fix.jsonl",
	    "{\"_id\":\"s\",\"text\":\"lone \\ud800 and \\udc00, pair \\ud83d\\ude00, \\\\ud800 text\"}\n"
	    "{\"_id\":\"u\",\"text\":\"bad \xff\xfe bytes\",\"title\":\"caf\xe9\"}\n"
	    "{\"_id\":\"n\",\"text\":\"t\",\"title\":\"a\\u0000b\",\"metadata\":{\"k\":\"v\\u0000w\",\"l\":[\"\\u0000\"]}}\n"
	    "{\"_id\":\"k\",\"text\":\"t\",\"metadata\":{\"x\\u0000\":1}}\n"
	    "{\"_id\":\"c\\u0001\",\"text\":\"control in id\"}\n"
	    "{\"_id\":\"c\\u0002\",\"text\":\"same key\"}\n");
	run1(&R, &o, "fix.jsonl");
	assert_int_equal(R.rc, 0);
	assert_int_equal(R.n, 5);
	struct read_item *it = find(&R, "fix.jsonl#s");
	assert_non_null(it);
	assert_string_equal(it->data, "lone \xef\xbf\xbd and \xef\xbf\xbd, pair \xf0\x9f\x98\x80, \\ud800 text");
	assert_non_null(strstr(it->metadata_json, "\"unpaired_surrogates\":2"));
	it = find(&R, "fix.jsonl#u");
	assert_string_equal(it->data, "bad \xef\xbf\xbd\xef\xbf\xbd bytes");
	assert_string_equal(it->title, "caf\xef\xbf\xbd");
	assert_non_null(strstr(it->metadata_json, "\"invalid_utf8\":3"));
	it = find(&R, "fix.jsonl#n");
	assert_string_equal(it->title, "ab");
	assert_null(strstr(it->metadata_json, "\\u0000"));
	assert_non_null(strstr(it->metadata_json, "\"k\":\"vw\""));
	it = find(&R, "fix.jsonl#k");
	assert_non_null(it);
	assert_non_null(strstr(it->metadata_json, "\"x\xef\xbf\xbd\":1"));
	assert_non_null(find(&R, "fix.jsonl#c?"));
	assert_int_equal(reason(&R, "duplicate_id"), 1);
	assert_int_equal(counts_total(&R.c), 1);
	run_free(&R);
}

/* ---- the emit contract --------------------------------------------------------------------- */

static void test_emit_error_stops_everything(void **state)
{
	(void)state;
	struct run R = { .stop_after = 2 };
	struct read_opts o = opts_default();

	sh("mkdir -p stop && for i in 1 2 3 4; do printf $i > stop/s$i.txt; done");
	run1(&R, &o, "stop");
	assert_int_equal(R.rc, 42);
	assert_int_equal(R.n, 2);
	run_free(&R);
}

static void test_missing_input_counted(void **state)
{
	(void)state;
	struct run R = { 0 };
	struct read_opts o = opts_default();

	run1(&R, &o, "does-not-exist.txt");
	assert_int_equal(R.rc, 0);
	assert_int_equal(R.n, 0);
	assert_int_equal(reason(&R, "unreadable"), 1);
	run_free(&R);
}

/* ---- main ---------------------------------------------------------------------------------- */

static int setup(void **state)
{
	(void)state;
	const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	snprintf(tmp, sizeof(tmp), "%s/test_read.XXXXXX", base);
	return mkdtemp(tmp) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[512];
	if (getenv("KEEP_FIXTURES"))
		return 0;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dir_walk_order_and_relative_keys),
		cmocka_unit_test(test_same_keys_from_another_working_directory),
		cmocka_unit_test(test_plain_txt_and_empty_files),
		cmocka_unit_test(test_archive_formats_have_entry_keys),
		cmocka_unit_test(test_nested_tar_one_level_works_two_refused),
		cmocka_unit_test(test_compressed_single_files),
		cmocka_unit_test(test_entry_names_cleaned_whatever_the_locale),
		cmocka_unit_test(test_symlink_and_hardlink_entries_skipped),
		cmocka_unit_test(test_encrypted_zip_entry),
		cmocka_unit_test(test_truncated_tar_zst_keeps_early_entries),
		cmocka_unit_test(test_truncated_zip_and_garbage_archive),
		cmocka_unit_test(test_jsonl_rows),
		cmocka_unit_test(test_jsonl_malformed_lines_counted_with_numbers),
		cmocka_unit_test(test_jsonl_duplicate_id),
		cmocka_unit_test(test_jsonl_many_ids_and_long_line),
		cmocka_unit_test(test_entry_too_large),
		cmocka_unit_test(test_input_too_large),
		cmocka_unit_test(test_compression_bomb_refused_quickly),
		cmocka_unit_test(test_compression_bomb_2gb),
		cmocka_unit_test(test_bomb_member_refused_siblings_load),
		cmocka_unit_test(test_duplicate_keys_counted),
		cmocka_unit_test(test_hardlink_data_loaded_once),
		cmocka_unit_test(test_jsonl_repairs),
		cmocka_unit_test(test_emit_error_stops_everything),
		cmocka_unit_test(test_sniff_signatures),
		cmocka_unit_test(test_zip_documents_not_walked),
		cmocka_unit_test(test_ignored_inside_archives),
		cmocka_unit_test(test_include_exclude_globs),
		cmocka_unit_test(test_damage_reported_per_place),
		cmocka_unit_test(test_missing_input_counted),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
