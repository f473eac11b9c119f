/*
 * pdfworker.c — build/ragload-parse, the process that runs the PDF library (MuPDF).
 *
 * What: reads one PDF on stdin and writes what it holds on stdout in the wire format of
 * pdfwire.h: its properties, page count, outline, and per page its text blocks and lines
 * with their boxes, in the library's reading order; then an end record with a status
 * (ok, encrypted, corrupt, out of memory, failed) and the library's message.
 *
 *   ragload-parse [--cpu SECONDS] [--mem MB] [--max-text BYTES] [--ocr LANG] < file.pdf > wire
 *
 * How: before it reads a byte it limits itself: RLIMIT_CPU (SIGXCPU at SECONDS of CPU,
 * SIGKILL a second later) and RLIMIT_AS (MB of address space; not under ASan/TSan, whose
 * shadow memory needs terabytes of it). The document is read whole into memory and opened
 * with fz_open_memory; each page becomes an fz_stext_page (ligatures expanded, text outside
 * the media box dropped, no dehyphenation: pdf.c joins hyphenated words knowing the whole
 * document); every character is checked (controls, surrogates, NUL never leave this file).
 * A page the library cannot read is reported as such and the rest go on.
 * With --ocr, a page that draws images but has no text (a scan) is rendered in grey at
 * OCR_DPI and read by Tesseract (libtesseract's C API, LANG's traineddata, one thread; the
 * library is dlopen()ed at the first such page: linked in, its 60 shared objects tripled the
 * start of every worker, OCR or not, 7.6 -> 22 ms of CPU); its
 * paragraphs come back as blocks of lines flagged PDFW_PAGE_OCR, placed mid-page (Tesseract's
 * text has no boxes here, and a scan's header is not told from its body).
 *
 * Why a process: the PDF parser is the largest body of third-party code ragload runs on
 * untrusted bytes. Here a crash, a hang or a memory blow-up costs one document: pdf.c sees
 * the signal or the silence, kills it at its wall-clock deadline, counts the file and goes on.
 * This file is deliberately thin: every decision about layout (headers, hyphens, headings) is
 * made by pdf.c, which is ours, fuzzed, and unit-tested.
 *
 * The faults build (-DRAGLOAD_FAULT_INJECTION, tests only) obeys a marker in the document:
 * "%RAGLOAD-FAULT crash" (SIGSEGV), "spin" (burns CPU forever), "sleep" (sleeps forever) or
 * "hog" (allocates and touches memory as a library that never checks malloc would: past
 * RLIMIT_AS it dies on a NULL write; never more than 8 GiB, limit or not),
 * so that tests/integration/pdf.sh can show crashes and hangs are killed and counted.
 */
#include "pdfwire.h"

#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <mupdf/fitz.h>
#include <mupdf/pdf.h>
#include <tesseract/capi.h>

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define NO_AS_LIMIT 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define NO_AS_LIMIT 1
#endif
#endif

#define INPUT_MAX ((size_t)4 << 30)
#define OUTLINE_MAX 100000
#define OUTLINE_DEPTH 32

#define OCR_DPI 300

static FILE *out;
static const char *ocr_lang;      /* NULL: no OCR */
static TessBaseAPI *tess;
static int tess_failed;
static struct {
	TessBaseAPI *(*create)(void);
	int (*init3)(TessBaseAPI *, const char *, const char *);
	void (*set_image)(TessBaseAPI *, const unsigned char *, int, int, int, int);
	void (*set_resolution)(TessBaseAPI *, int);
	char *(*get_text)(TessBaseAPI *);
	void (*delete_text)(const char *);
	void (*end)(TessBaseAPI *);
	void (*destroy)(TessBaseAPI *);
} T;

/* libtesseract's C API, looked up at run time. Returns 0 or -1 (not installed). */
static int tess_load(void)
{
	void *h = dlopen("libtesseract.so.5", RTLD_NOW | RTLD_LOCAL);
	if (!h)
		return -1;
	*(void **)&T.create = dlsym(h, "TessBaseAPICreate");
	*(void **)&T.init3 = dlsym(h, "TessBaseAPIInit3");
	*(void **)&T.set_image = dlsym(h, "TessBaseAPISetImage");
	*(void **)&T.set_resolution = dlsym(h, "TessBaseAPISetSourceResolution");
	*(void **)&T.get_text = dlsym(h, "TessBaseAPIGetUTF8Text");
	*(void **)&T.delete_text = dlsym(h, "TessDeleteText");
	*(void **)&T.end = dlsym(h, "TessBaseAPIEnd");
	*(void **)&T.destroy = dlsym(h, "TessBaseAPIDelete");
	return T.create && T.init3 && T.set_image && T.set_resolution && T.get_text &&
	       T.delete_text && T.end && T.destroy ? 0 : -1;
}
static size_t text_bytes, text_max = SIZE_MAX;
static int truncated;

/* ---- wire writing -------------------------------------------------------------------------- */

static void put32(uint32_t v)
{
	unsigned char b[4] = { v >> 24, v >> 16, v >> 8, v };
	fwrite(b, 1, 4, out);
}

static void rec(int tag, uint32_t len)
{
	fputc(tag, out);
	put32(len);
}

static int32_t tenths(float v)
{
	if (!(v > -1e8f))   /* NaN too */
		return -1000000000;
	if (v > 1e8f)
		return 1000000000;
	return (int32_t)(v * 10.0f);
}

static void put_box(fz_rect r)
{
	put32((uint32_t)tenths(r.x0));
	put32((uint32_t)tenths(r.y0));
	put32((uint32_t)tenths(r.x1));
	put32((uint32_t)tenths(r.y1));
}

static void end(uint32_t status, const char *msg)
{
	size_t n = msg ? strnlen(msg, 500) : 0;
	if (truncated)
		rec(PDFW_TRUNCATED, 0);
	rec(PDFW_END, 4 + (uint32_t)n);
	put32(status);
	fwrite(msg ? msg : "", 1, n, out);
	fflush(out);
}

/* Appends c as UTF-8 to b when it is text: no controls but tab (a space), no surrogates, no
 * noncharacters' neighbours beyond U+10FFFF. Returns the bytes written (0 = dropped). */
static int utf8_put(unsigned char *b, int c)
{
	if (c == '\t')
		c = ' ';
	if (c < 0x20 || (c >= 0x7F && c < 0xA0) || (c >= 0xD800 && c < 0xE000) || c > 0x10FFFF ||
	    c == 0xFFFE || c == 0xFFFF)
		return 0;
	if (c < 0x80) {
		b[0] = (unsigned char)c;
		return 1;
	}
	if (c < 0x800) {
		b[0] = 0xC0 | (c >> 6);
		b[1] = 0x80 | (c & 0x3F);
		return 2;
	}
	if (c < 0x10000) {
		b[0] = 0xE0 | (c >> 12);
		b[1] = 0x80 | ((c >> 6) & 0x3F);
		b[2] = 0x80 | (c & 0x3F);
		return 3;
	}
	b[0] = 0xF0 | (c >> 18);
	b[1] = 0x80 | ((c >> 12) & 0x3F);
	b[2] = 0x80 | ((c >> 6) & 0x3F);
	b[3] = 0x80 | (c & 0x3F);
	return 4;
}

/* One string record (property value, outline title): invalid UTF-8 cannot come from MuPDF's
 * own conversions, but a title is cut at 1000 bytes on a character boundary. */
static size_t clean_len(const char *s, size_t cap)
{
	size_t n = strnlen(s, cap);
	if (n == cap)
		while (n && ((unsigned char)s[n] & 0xC0) == 0x80)
			n--;
	return n;
}

/* ---- document ------------------------------------------------------------------------------ */

static void put_prop(fz_context *ctx, fz_document *doc, const char *key, const char *name)
{
	char v[1024];
	int n = -1;
	fz_var(n);
	fz_try(ctx)
		n = fz_lookup_metadata(ctx, doc, key, v, sizeof(v));
	fz_catch(ctx)
		n = -1;
	if (n <= 1)
		return;
	v[sizeof(v) - 1] = '\0';
	size_t vn = clean_len(v, sizeof(v) - 1), kn = strlen(name);
	rec(PDFW_PROP, (uint32_t)(kn + 1 + vn));
	fwrite(name, 1, kn + 1, out);
	fwrite(v, 1, vn, out);
}

static int outline_page(fz_context *ctx, fz_document *doc, fz_location loc)
{
	int page = 0;
	fz_var(page);
	fz_try(ctx)
		page = fz_page_number_from_location(ctx, doc, loc) + 1;
	fz_catch(ctx)
		page = 0;
	return page;
}

static void put_outline(fz_context *ctx, fz_document *doc, fz_outline *o, int level, int *count)
{
	for (; o && *count < OUTLINE_MAX; o = o->next) {
		int page = o->title && o->page.page >= 0 ? outline_page(ctx, doc, o->page) : 0;
		if (o->title) {
			size_t n = clean_len(o->title, 1000);
			rec(PDFW_OUTLINE, 12 + (uint32_t)n);
			put32((uint32_t)level);
			put32((uint32_t)(page > 0 ? page : 0));
			put32((uint32_t)(page > 0 && o->y > 0 ? tenths(o->y) : -1));
			fwrite(o->title, 1, n, out);
			(*count)++;
		}
		if (o->down && level < OUTLINE_DEPTH)
			put_outline(ctx, doc, o->down, level + 1, count);
	}
}

/* Appends the valid, printable characters of UTF-8 s/n to lb as utf8_put() would. */
static size_t clean_utf8(const char *s, size_t n, unsigned char *lb, size_t cap)
{
	size_t k = 0;
	for (size_t i = 0; i < n && k + 4 <= cap;) {
		int c;
		size_t m = (size_t)fz_chartorune(&c, s + i);
		if (m == 0 || i + m > n)
			break;
		if (c == FZ_REPLACEMENT_CHARACTER && (unsigned char)s[i] != 0xEF)
			c = -1;
		i += m;
		if (c >= 0)
			k += (size_t)utf8_put(lb + k, c);
	}
	return k;
}

/* Renders page at OCR_DPI in grey and writes Tesseract's text as blocks (paragraphs) of
 * lines. Returns 1 when text was written, 0 when none (or OCR is unavailable). */
static int ocr_page(fz_context *ctx, fz_page *page, fz_rect box, unsigned char *lb, size_t lcap)
{
	fz_pixmap *pix = NULL;
	char *text = NULL;
	int wrote = 0;

	if (!tess && !tess_failed) {
		setenv("OMP_THREAD_LIMIT", "1", 1);
		if (tess_load() || !(tess = T.create()) || T.init3(tess, NULL, ocr_lang) != 0)
			tess_failed = 1;
	}
	if (tess_failed)
		return 0;
	fz_var(pix);
	fz_var(wrote);
	fz_var(text);
	fz_try(ctx) {
		pix = fz_new_pixmap_from_page(ctx, page, fz_scale(OCR_DPI / 72.0f, OCR_DPI / 72.0f),
					      fz_device_gray(ctx), 0);
		T.set_image(tess, fz_pixmap_samples(ctx, pix), fz_pixmap_width(ctx, pix),
			    fz_pixmap_height(ctx, pix), 1, (int)fz_pixmap_stride(ctx, pix));
		T.set_resolution(tess, OCR_DPI);
		text = T.get_text(tess);
	}
	fz_always(ctx)
		fz_drop_pixmap(ctx, pix);
	fz_catch(ctx) {
		if (fz_caught(ctx) == FZ_ERROR_MEMORY)
			fz_rethrow(ctx);
		return 0;
	}
	if (!text)
		return 0;
	int32_t mid = tenths((box.y1 - box.y0) / 2), y = mid;
	int in_block = 0;
	for (char *p = text; *p;) {
		char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		size_t k = clean_utf8(p, n, lb, lcap);
		while (k && lb[k - 1] == ' ')
			k--;
		if (!k) {
			in_block = 0;  /* a blank line ends a paragraph */
		} else {
			fz_rect r = { 0, (float)y / 10, box.x1 - box.x0, (float)y / 10 + 1 };
			if (!in_block) {
				rec(PDFW_BLOCK, 16);
				put_box(r);
				in_block = 1;
			}
			rec(PDFW_LINE, 16 + (uint32_t)k);
			put_box(r);
			fwrite(lb, 1, k, out);
			text_bytes += k + 1;
			wrote = 1;
			if (y < mid + 10)
				y++;
		}
		p += n + (nl != NULL);
	}
	T.delete_text(text);
	return wrote;
}

/* One page: its record, then its text blocks and lines. Returns 0, 1 when the library could
 * not read it (reported as such), or -1 at the text limit. */
static int put_page(fz_context *ctx, fz_document *doc, int i, unsigned char *lb, size_t lcap)
{
	fz_page *page = NULL;
	fz_stext_page *sp = NULL;
	fz_rect box = fz_empty_rect;
	uint32_t flags = 0;
	int rc = 0;

	fz_var(flags);
	fz_var(page);
	fz_var(sp);
	fz_try(ctx) {
		fz_stext_options opts = { .flags = FZ_STEXT_MEDIABOX_CLIP | FZ_STEXT_PRESERVE_IMAGES };
		page = fz_load_page(ctx, doc, i);
		box = fz_bound_page(ctx, page);
		sp = fz_new_stext_page_from_page(ctx, page, &opts);
	}
	fz_catch(ctx) {
		fz_drop_stext_page(ctx, sp);
		fz_drop_page(ctx, page);
		if (fz_caught(ctx) == FZ_ERROR_MEMORY)
			fz_rethrow(ctx);
		rec(PDFW_PAGE, 16);
		put32((uint32_t)i + 1);
		put32(0);
		put32(0);
		put32(PDFW_PAGE_FAILED);
		return 1;
	}
	int has_text = 0;
	for (fz_stext_block *b = sp->first_block; b; b = b->next) {
		if (b->type == FZ_STEXT_BLOCK_IMAGE)
			flags |= PDFW_PAGE_IMAGES;
		else
			for (fz_stext_line *l = b->u.t.first_line; l && !has_text; l = l->next)
				for (fz_stext_char *c = l->first_char; c && !has_text; c = c->next)
					has_text = c->c > ' ';
	}
	if (ocr_lang && !has_text && (flags & PDFW_PAGE_IMAGES)) {
		/* a scan: its record first, then what Tesseract reads on it */
		rec(PDFW_PAGE, 16);
		put32((uint32_t)i + 1);
		put32((uint32_t)tenths(box.x1 - box.x0));
		put32((uint32_t)tenths(box.y1 - box.y0));
		put32(flags | PDFW_PAGE_OCR);
		fz_try(ctx)
			ocr_page(ctx, page, box, lb, lcap);
		fz_always(ctx) {
			fz_drop_stext_page(ctx, sp);
			fz_drop_page(ctx, page);
		}
		fz_catch(ctx)
			fz_rethrow(ctx);
		return text_bytes > text_max ? (truncated = 1, -1) : 0;
	}
	rec(PDFW_PAGE, 16);
	put32((uint32_t)i + 1);
	put32((uint32_t)tenths(box.x1 - box.x0));
	put32((uint32_t)tenths(box.y1 - box.y0));
	put32(flags);
	for (fz_stext_block *b = sp->first_block; b && !rc; b = b->next) {
		if (b->type != FZ_STEXT_BLOCK_TEXT)
			continue;
		int opened = 0;
		for (fz_stext_line *l = b->u.t.first_line; l && !rc; l = l->next) {
			size_t n = 0;
			for (fz_stext_char *c = l->first_char; c && n + 4 <= lcap; c = c->next)
				n += (size_t)utf8_put(lb + n, c->c);
			while (n && lb[n - 1] == ' ')
				n--;
			if (!n)
				continue;
			if (!opened) {
				rec(PDFW_BLOCK, 16);
				put_box(fz_translate_rect(b->bbox, -box.x0, -box.y0));
				opened = 1;
			}
			rec(PDFW_LINE, 16 + (uint32_t)n);
			put_box(fz_translate_rect(l->bbox, -box.x0, -box.y0));
			fwrite(lb, 1, n, out);
			text_bytes += n + 1;
			if (text_bytes > text_max) {
				truncated = 1;
				rc = -1;
			}
		}
	}
	fz_drop_stext_page(ctx, sp);
	fz_drop_page(ctx, page);
	return rc;
}

static void quiet(void *user, const char *message)
{
	(void)user;
	(void)message;
}

#ifdef RAGLOAD_FAULT_INJECTION
static void fault(const char *data, size_t n)
{
	static const char mark[] = "%RAGLOAD-FAULT ";
	const char *p = memmem(data, n, mark, sizeof(mark) - 1);
	if (!p)
		return;
	p += sizeof(mark) - 1;
	size_t left = n - (size_t)(p - data);
	if (left >= 5 && !memcmp(p, "crash", 5))
		raise(SIGSEGV);
	if (left >= 4 && !memcmp(p, "spin", 4))
		for (volatile unsigned long k = 0;; k++)
			;
	if (left >= 3 && !memcmp(p, "hog", 3))
		for (int k = 0; k < 512; k++) {
			volatile char *m = malloc((size_t)16 << 20);
			for (size_t j = 0; j < ((size_t)16 << 20); j += 4096)
				m[j] = 1;  /* NULL once the limit is reached: SIGSEGV */
		}
	if (left >= 5 && !memcmp(p, "sleep", 5))
		for (;;)
			pause();
}
#endif

static __attribute__((noinline)) char *read_all(size_t *len)
{
	size_t cap = 1 << 20, n = 0;
	char *b = malloc(cap);
	while (b) {
		if (n == cap) {
			char *nb = cap < INPUT_MAX ? realloc(b, cap * 2) : NULL;
			if (!nb) {
				free(b);
				return NULL;
			}
			b = nb;
			cap *= 2;
		}
		ssize_t r = read(0, b + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			free(b);
			return NULL;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	*len = n;
	return b;
}

int main(int argc, char **argv)
{
	unsigned long cpu = 0, mem = 0;
	size_t n = 0;

	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--cpu"))
			cpu = strtoul(argv[i + 1], NULL, 10);
		else if (!strcmp(argv[i], "--mem"))
			mem = strtoul(argv[i + 1], NULL, 10);
		else if (!strcmp(argv[i], "--max-text"))
			text_max = (size_t)strtoull(argv[i + 1], NULL, 10);
		else if (!strcmp(argv[i], "--ocr"))
			ocr_lang = argv[i + 1][0] ? argv[i + 1] : NULL;
		else {
			fprintf(stderr, "usage: ragload-parse [--cpu S] [--mem MB] [--max-text B] [--ocr LANG]\n");
			return 2;
		}
	}
	if (cpu) {
		struct rlimit rl = { cpu, cpu + 1 };
		setrlimit(RLIMIT_CPU, &rl);
	}
#ifndef NO_AS_LIMIT
	if (mem) {
		struct rlimit rl = { (rlim_t)mem << 20, (rlim_t)mem << 20 };
		setrlimit(RLIMIT_AS, &rl);
	}
#endif
	out = stdout;
	static char obuf[1 << 16];
	setvbuf(out, obuf, _IOFBF, sizeof(obuf));
	fwrite(PDFWIRE_MAGIC, 1, PDFWIRE_MAGIC_LEN, out);

	char *data = read_all(&n);
	if (!data) {
		end(PDFW_NOMEM, "could not read the document into memory");
		return 1;
	}
#ifdef RAGLOAD_FAULT_INJECTION
	fault(data, n);
#endif
	size_t store = mem ? ((size_t)mem << 20) / 4 : FZ_STORE_DEFAULT;
	fz_context *ctx = fz_new_context(NULL, NULL, store);
	if (!ctx) {
		end(PDFW_NOMEM, "no memory for the PDF library");
		return 1;
	}
	fz_set_warning_callback(ctx, quiet, NULL);
	fz_set_error_callback(ctx, quiet, NULL);
	size_t lcap = 1 << 16;
	unsigned char *lb = malloc(lcap);
	fz_document *doc = NULL;
	fz_stream *stm = NULL;
	fz_outline *ol = NULL;
	int status = PDFW_OK, failed = 0, npages = 0;
	char msg[300] = "";

	fz_var(doc);
	fz_var(stm);
	fz_var(ol);
	fz_var(status);
	fz_var(failed);
	fz_var(npages);
	fz_try(ctx) {
		if (!lb)
			fz_throw(ctx, FZ_ERROR_MEMORY, "no memory for a line");
		fz_register_document_handlers(ctx);
		stm = fz_open_memory(ctx, (unsigned char *)data, n);
		fz_try(ctx)
			doc = fz_open_document_with_stream(ctx, "application/pdf", stm);
		fz_catch(ctx) {
			if (fz_caught(ctx) == FZ_ERROR_MEMORY)
				fz_rethrow(ctx);
			status = PDFW_CORRUPT;
			snprintf(msg, sizeof(msg), "%s", fz_caught_message(ctx));
			break;
		}
		if (fz_needs_password(ctx, doc) && !fz_authenticate_password(ctx, doc, "")) {
			status = PDFW_ENCRYPTED;
			snprintf(msg, sizeof(msg), "the document needs a password");
			break;
		}
		put_prop(ctx, doc, FZ_META_INFO_TITLE, "title");
		put_prop(ctx, doc, FZ_META_INFO_AUTHOR, "author");
		put_prop(ctx, doc, "info:Subject", "subject");
		put_prop(ctx, doc, "info:Keywords", "keywords");
		put_prop(ctx, doc, FZ_META_INFO_CREATOR, "creator");
		put_prop(ctx, doc, FZ_META_INFO_PRODUCER, "producer");
		put_prop(ctx, doc, FZ_META_INFO_CREATIONDATE, "created");
		put_prop(ctx, doc, FZ_META_INFO_MODIFICATIONDATE, "modified");
		fz_try(ctx)
			npages = fz_count_pages(ctx, doc);
		fz_catch(ctx) {
			if (fz_caught(ctx) == FZ_ERROR_MEMORY)
				fz_rethrow(ctx);
			npages = -1;
			snprintf(msg, sizeof(msg), "%s", fz_caught_message(ctx));
		}
		if (npages <= 0) {
			status = PDFW_CORRUPT;
			if (!msg[0])
				snprintf(msg, sizeof(msg), "the document has no pages");
			break;
		}
		rec(PDFW_PAGES, 4);
		put32((uint32_t)npages);
		fz_try(ctx) {
			int count = 0;
			ol = fz_load_outline(ctx, doc);
			put_outline(ctx, doc, ol, 1, &count);
		}
		fz_catch(ctx) {
			if (fz_caught(ctx) == FZ_ERROR_MEMORY)
				fz_rethrow(ctx);
		}
		for (int i = 0; i < npages; i++) {
			int r = put_page(ctx, doc, i, lb, lcap);
			if (r < 0)
				break;
			failed += r;
		}
		pdf_document *pdf = pdf_document_from_fz_document(ctx, doc);
		if (pdf && pdf_was_repaired(ctx, pdf)) {
			static const char k[] = "repaired\0yes";
			rec(PDFW_PROP, sizeof(k) - 1);
			fwrite(k, 1, sizeof(k) - 1, out);
		}
	}
	fz_always(ctx) {
		fz_drop_outline(ctx, ol);
		fz_drop_document(ctx, doc);
		fz_drop_stream(ctx, stm);
	}
	fz_catch(ctx) {
		status = fz_caught(ctx) == FZ_ERROR_MEMORY ? PDFW_NOMEM : PDFW_FAILED;
		snprintf(msg, sizeof(msg), "%s", fz_caught_message(ctx));
	}
	if (status == PDFW_OK && failed && failed == npages) {
		status = PDFW_CORRUPT;
		snprintf(msg, sizeof(msg), "no page could be read");
	}
	end((uint32_t)status, msg);
	fz_drop_context(ctx);
	if (tess) {
		T.end(tess);
		T.destroy(tess);
	}
	free(lb);
	free(data);
	return 0;
}
