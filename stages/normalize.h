/*
 * normalize.h — raw entry -> document: binary detection, charset decoding (declared, else
 * detected; repairs warned about), HTML main content / Markdown to text with headings and code
 * blocks kept, utf8proc NFC, control characters and NUL removed, whitespace tidied.
 */
#ifndef RAGLOAD_NORMALIZE_H
#define RAGLOAD_NORMALIZE_H

#include "../lib/common.h"
#include "../lib/config.h"
#include "read.h"

/*
 * normalize_item — builds *out (a new doc the caller owns, freed with doc_free()) from it.
 * it is only read; the caller still owns it.
 * Returns 0 (doc built), RL_SKIP (binary or empty: counted in c under its reason, *out NULL),
 * 0 with *out NULL (not a document: a manual page that only includes another, ".so", counted
 * as ignored, "man_link"; a split Info manual's index file, "info_index"), or a negative error
 * (out of memory). Thread-safe for distinct items. A doc built may still
 * be counted in c: "truncated_doc" (cut at max_doc_bytes), "decoding_repaired" (a file whose
 * bytes needed U+FFFD replacements).
 *
 * The doc gets: source_name, input, title, text (NFC, NUL/control-free but '\n', paragraphs
 * separated by one blank line, other whitespace runs collapsed to one space except inside code
 * blocks, which keep their lines and indentation), headings (offsets into text), code (byte
 * ranges of the code blocks, in order), metadata_json (an object: the row's metadata and "_id"
 * for collection rows; "format" ("text"|"markdown"|"html"|"mail"|"man": a manual page's roff,
 * formatted by mandoc into HTML and read as such, man.h; "pod": Perl's POD, pod.h; "info":
 * a GNU Info manual, info.h, whose index file alone is 0 with *out NULL, "info_index"), "title" when known, "encoding" and
 * "encoding_source" when not UTF-8, "invalid_utf8"/"undecodable" counts when repaired, "front_matter" (an object) for Markdown
 * with YAML/TOML front matter, whose title, author and date are also "properties": title,
 * author, created; an HTML page's <meta> author and dates with its title likewise), "mail"
 * (header fields), "attachments" and "properties" (title: the
 * subject, author: From, created: Date) for e-mail; an item's own metadata_json (a mail
 * attachment's "attachment", naming its message) is kept;
 * for an office document or e-book (it->type set): "format"
 * is the type, "properties" (title, author, created, modified, pages/slides) and
 * "truncated_sheets" when any, and the doc's pages/page_unit mark its slides (pptx, odp).
 * A package office.c cannot open is RL_SKIP, counted as "corrupt_document" or "encrypted".
 * A PDF (it->type "pdf") is read by pdf.c's worker process under o->parse_seconds and
 * o->parse_memory_mb: "format" "pdf", "properties", "ocr_pages", "pages_without_text",
 * "unreadable_pages" and "repaired" when so, page marks ("pages"); RL_SKIP counted as
 * "corrupt_document", "encrypted", "parse_failed", "parse_timeout" or "no_text_layer" (no page
 * with text); a PDF loaded with scanned or unreadable pages is also counted ("no_text_layer",
 * "unreadable_pages").
 */
int normalize_item(const struct normalize_opts *o, const struct read_item *it, struct doc **out,
		   struct counts *c);

/*
 * normalize_utf8 — repairs invalid UTF-8 (each invalid byte -> U+FFFD), drops NUL and C0/C1
 * controls except \n and \t, applies NFC. Appends to out. *n_invalid gets the count of
 * replaced bytes. Returns 0 or negative. Exposed for tests and for query text.
 */
int normalize_utf8(const char *s, size_t n, struct buf *out, size_t *n_invalid);

#endif
