/*
 * pdfwire.h — the byte format in which build/ragload-parse (stages/pdfworker.c, the process
 * that runs the PDF library) tells pdf.c what a PDF holds. Shared by the two sides only.
 *
 * The stream: PDFWIRE_MAGIC (8 bytes), then records, each a tag byte, a big-endian uint32
 * payload length and the payload; integers in payloads are big-endian 32-bit, coordinates in
 * tenths of a point with the origin at the page's top left (y grows downwards). Text is UTF-8
 * without NUL. The worker writes records in document order and ends with PDFW_END; the
 * reader (pdf.c) trusts none of it: every length, count, number and string is checked.
 */
#ifndef RAGLOAD_PDFWIRE_H
#define RAGLOAD_PDFWIRE_H

#define PDFWIRE_MAGIC "RLPDFW1\n"
#define PDFWIRE_MAGIC_LEN 8
#define PDFWIRE_RECORD_MAX (16u << 20)   /* payload bytes of one record */

enum pdfwire_tag {
	/* a document property: key (ASCII: "title", "author", "subject", "keywords", "creator",
	 * "producer", "created", "modified"), NUL, value (UTF-8) */
	PDFW_PROP = 'I',
	PDFW_PAGES = 'N',    /* u32 the document's page count; once, before the first page */
	/* a page: u32 number (1-based), i32 width, i32 height, u32 flags (PDFW_PAGE_*); the
	 * blocks and lines that follow, up to the next page, are on it */
	PDFW_PAGE = 'P',
	PDFW_BLOCK = 'B',    /* a text block (a paragraph, a column's piece): i32 x0 y0 x1 y1 */
	PDFW_LINE = 'L',     /* a line of the current block: i32 x0 y0 x1 y1, then its text */
	/* an outline (bookmark) entry, in outline order: u32 level (1 = top), i32 page (1-based,
	 * 0 when it points nowhere in the document), i32 y on that page (-1 unknown), title */
	PDFW_OUTLINE = 'O',
	PDFW_TRUNCATED = 'T', /* no payload: the worker stopped at its text limit */
	PDFW_END = 'Z',      /* u32 status (PDFW_OK...), then a message (may be empty) */
};

#define PDFW_PAGE_IMAGES 1u      /* the page draws images (without text: a scan) */
#define PDFW_PAGE_FAILED 2u      /* the library could not read this page */
#define PDFW_PAGE_OCR 4u         /* a scan whose lines are Tesseract's reading */

enum pdfwire_status {
	PDFW_OK = 0,
	PDFW_ENCRYPTED = 1,   /* needs a password (an empty one did not open it) */
	PDFW_CORRUPT = 2,     /* not a PDF the library can open, or no page readable */
	PDFW_NOMEM = 3,       /* ran out of memory (its limit) */
	PDFW_FAILED = 4,      /* any other library error */
};

#endif
