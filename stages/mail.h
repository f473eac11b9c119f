/*
 * mail.h — e-mail (RFC 5322 + MIME) to text events; private to normalize.
 *
 * mail_parse() walks one message: its header fields become metadata, its body parts are
 * undone of their transfer encoding (base64, quoted-printable) and handed to a sink in their
 * declared charset, which the sink (normalize.c) converts, repairs and counts like any text.
 */
#ifndef RAGLOAD_MAIL_H
#define RAGLOAD_MAIL_H

#include <stddef.h>

#include <jansson.h>

/*
 * Events of one message, in document order. A callback returns 0 to go on, a positive value
 * to stop quietly (the text is full), a negative error to stop with it. The bytes are only
 * lent for the call.
 * text:    a body part's bytes, transfer encoding undone: charset is its declared charset
 *          (lower case, "" when none or unusable), kind what it is written in.
 * heading: the file name (UTF-8) of a named inline text part whose text follows.
 * attachment: an attached file: a part with Content-Disposition "attachment", or one that is
 *          not text and has a file name. name: its decoded file name (UTF-8 without controls,
 *          "" when none), type: its Content-Type (lower case), s/n: its bytes with the transfer
 *          encoding undone. Its text is never sent to text(): an attachment is a document of
 *          its own (the read stage reads it as a nested entry). May be NULL.
 */
enum mail_kind { MAIL_PLAIN, MAIL_HTML, MAIL_MARKDOWN };

struct mail_sink {
	int (*text)(void *ctx, const char *s, size_t n, const char *charset, enum mail_kind kind);
	int (*heading)(void *ctx, const char *s, size_t n);
	int (*attachment)(void *ctx, const char *name, const char *type, const char *s, size_t n);
};

/*
 * What mail_parse() learned beside the text. The caller owns it: mail_info_release().
 * subject: the decoded Subject (UTF-8, NULL when none). mail: {"from", "to", "cc", "date"
 * (ISO 8601 when parseable, else as written), "message_id", "in_reply_to", "subject"}, only
 * the fields present. attachments: [{"name", "type", "bytes"}] for the attachments and the
 * parts not read as text, NULL when none. mime_errors: damage met (a missing boundary, bad base64...), 0 when none.
 */
struct mail_info {
	char *subject;
	json_t *mail;
	json_t *attachments;
	size_t mime_errors;
	size_t parts;
};

/*
 * mail_parse — parses the message s/n (any bytes; need not be NUL-terminated) and drives sink.
 * Returns 0 (also for a damaged message: what could be read was), a positive value when the
 * sink stopped the walk, or a negative error (RL_ENOMEM, or the sink's). info is filled in all
 * cases and must be released. Bounded: MIME nesting, parts and header fields have hard caps.
 * Pure apart from iconv; thread-safe.
 */
int mail_parse(const char *s, size_t n, const struct mail_sink *sink, void *ctx,
	       struct mail_info *info);

void mail_info_release(struct mail_info *info);

#endif
