/*
 * pdf.h — private to the normalize stage (only normalize.c, the unit tests and the fuzz
 * target include it): a PDF to the same stream of text events office.c sends, read by a
 * worker process (build/ragload-parse, stages/pdfworker.c) under CPU and memory limits.
 */
#ifndef RAGLOAD_PDF_H
#define RAGLOAD_PDF_H

#include <stddef.h>

#include <jansson.h>

#include "office.h"

struct pdf_opts {
	int parse_seconds;        /* CPU seconds of the worker ([limits] parse_seconds); its wall
	                             clock gets 2 * parse_seconds + 5 */
	int parse_memory_mb;      /* its address space ([limits] parse_memory_mb) */
	size_t max_text;          /* the worker stops after this much text (0: no limit) */
	const char *ocr;          /* Tesseract language(s) for pages without text ("eng");
	                             NULL: no OCR ([documents] ocr) */
	const char *worker;       /* the worker's path; NULL: $RAGLOAD_PARSE, else
	                             ragload-parse next to this executable (or one level up) */
};

/*
 * What pdf_parse() learnt besides the text. properties: a JSON object the caller owns
 * (json_decref; NULL when it has none): "title", "author", "subject", "keywords",
 * "creator", "producer", "created", "modified" (ISO 8601 when the PDF date parses), "pages".
 * pages: the document's page count; no_text_pages: pages that draw images but carry no text
 * (scans) and, with OCR, that Tesseract found no text on; ocr_pages: pages read by OCR;
 * failed_pages: pages the library could not read (the rest are sent); truncated:
 * the worker stopped at max_text. reason/message: why the document was rejected, when
 * pdf_parse() returns RL_SKIP: "corrupt_document", "encrypted", "parse_failed" (the worker
 * crashed, ran out of memory or said something malformed), "parse_timeout" (it used up its
 * CPU time or its wall clock and was killed).
 */
struct pdf_info {
	json_t *properties;
	int pages, no_text_pages, ocr_pages, failed_pages, truncated, repaired, headers_dropped;
	int toc_pages;   /* table-of-contents pages whose text was dropped */
	const char *reason;
	char message[200];
};

/*
 * pdf_parse — reads the PDF data/n in a worker process and drives sink with ctx (text, para,
 * heading_begin/end from the outline, page; never html). info is filled (zero it first; the
 * caller releases info->properties). Returns 0 (also when a callback stopped the walk),
 * RL_SKIP when the document is not read (info->reason and info->message say why; what was
 * sent is to be dropped), or a negative error (RL_ENOMEM, RL_EIO when the worker cannot be
 * started, a callback's error). Blocks until the worker is done or killed. Thread-safe.
 */
int pdf_parse(const char *data, size_t n, const struct pdf_opts *o,
	      const struct office_sink *sink, void *ctx, struct pdf_info *info);

/*
 * pdf_from_wire — the second half of pdf_parse(): the worker's output w/n (pdfwire.h) to sink
 * events. w/n are untrusted: anything malformed is RL_SKIP with reason "parse_failed".
 * Returns as pdf_parse(). Pure apart from the sink; thread-safe.
 */
int pdf_from_wire(const char *w, size_t n, const struct office_sink *sink, void *ctx,
		  struct pdf_info *info);

#endif
