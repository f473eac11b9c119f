/*
 * fuzz_mail.c — one e-mail message through mail_parse() (stages/mail.c: header fields and
 * their folding, RFC 2047 encoded words, Content-Type parameters, multipart boundaries,
 * base64, quoted-printable, dates) and its sink contract, then the same bytes as an "eml"
 * item through normalize_item(), then as an mbox file through read_inputs() (its split).
 *
 * Input: any bytes, all of them the message (so .eml files are seeds as they are). The
 * input's length picks a stop mode: for size % 7 == 5 the sink stops quietly after a few
 * events, for size % 7 == 6 it fails with RL_ENOMEM there; both must end the parse cleanly.
 *
 * Checks: the parse returns 0 unless the sink stopped it; decoded parts stay linear in the
 * input; headings are UTF-8; the metadata is a JSON object whose strings are UTF-8 without
 * NUL; attachment names are UTF-8 without controls; the normalized document keeps the
 * normalize contract; every item read from the mbox is an "eml" keyed "fuzz.mbox#<n>" or an
 * attachment read under one ("fuzz.mbox#<n>!name", its metadata naming the message).
 */
#include "fuzz_doc.h"
#include "../../stages/mail.h"

#include <jansson.h>

struct state {
	size_t events, stop_at;  /* stop_at 0: never */
	int fail;
	size_t bytes;
};

static int tick(struct state *st)
{
	if (st->stop_at && ++st->events >= st->stop_at)
		return st->fail ? RL_ENOMEM : 1;
	return 0;
}

static int on_text(void *ctx, const char *s, size_t n, const char *charset, enum mail_kind kind)
{
	struct state *st = ctx;
	FUZZ_CHECK(s != NULL && n > 0 && charset != NULL);
	FUZZ_CHECK(kind == MAIL_PLAIN || kind == MAIL_HTML || kind == MAIL_MARKDOWN);
	for (const char *c = charset; *c; c++)
		FUZZ_CHECK(*c > ' ' && *c < 127 && !(*c >= 'A' && *c <= 'Z'));
	st->bytes += n;
	return tick(st);
}

static int on_heading(void *ctx, const char *s, size_t n)
{
	struct state *st = ctx;
	FUZZ_CHECK(s != NULL && n > 0 && fuzz_utf8_valid(s, n));
	return tick(st);
}

static int on_attachment(void *ctx, const char *name, const char *type, const char *s, size_t n)
{
	struct state *st = ctx;
	FUZZ_CHECK(name != NULL && type != NULL && s != NULL);
	FUZZ_CHECK(fuzz_utf8_valid(name, strlen(name)) && strchr(type, '/'));
	for (const char *c = name; *c; c++)
		FUZZ_CHECK((unsigned char)*c >= 0x20 && *c != 0x7f);
	st->bytes += n;
	return tick(st);
}

static const struct mail_sink sink = { on_text, on_heading, on_attachment };

static int strings_ok(json_t *v)
{
	size_t i;
	const char *k;
	json_t *x;
	if (json_is_string(v))
		return strlen(json_string_value(v)) == json_string_length(v) &&
		       fuzz_utf8_valid(json_string_value(v), json_string_length(v));
	json_array_foreach(v, i, x)
		if (!strings_ok(x))
			return 0;
	json_object_foreach(v, k, x)
		if (!strings_ok(x))
			return 0;
	return 1;
}

/* The message through normalize (fuzz_doc.h), and what mail adds: a "mail" metadata object. */
static void check_normalize(const uint8_t *data, size_t size)
{
	json_t *m;
	struct doc *d = fuzz_normalize("fuzz.eml", "eml", data, size, &m);
	if (!d)
		return;
	FUZZ_CHECK(json_is_object(json_object_get(m, "mail")));
	json_decref(m);
	doc_free(d);
}

struct items {
	const char *key;         /* the file's key: "fuzz.mbox" or "fuzz.eml" */
	size_t n;
};

static int on_item(void *ctx, struct read_item *it)
{
	struct items *x = ctx;
	size_t kl = strlen(x->key);
	FUZZ_CHECK(strncmp(it->source, x->key, kl) == 0);
	if (strchr(it->source, '!')) {
		/* an attachment, read as a nested entry (a file, or a row of a collection in an
		 * attached archive): a file names its message */
		FUZZ_CHECK(it->kind == READ_ROW ||
			   (it->metadata_json && strstr(it->metadata_json, "\"attachment\"") &&
			    it->data && it->data[it->len] == '\0' && it->len <= 4096));
		FUZZ_CHECK(fuzz_utf8_valid(it->source, strlen(it->source)));
		read_item_free(it);
		return 0;
	}
	FUZZ_CHECK(it->kind == READ_FILE);
	FUZZ_CHECK(it->data && it->data[it->len] == '\0' && it->len <= 4096);
	/* a message may be skipped (too large), so numbers only grow */
	x->n++;
	FUZZ_CHECK(it->source[kl] == (strcmp(x->key, "fuzz.eml") ? '#' : '\0'));
	/* the .eml is mail only when the bytes go on as a header (read.c judges by content) */
	FUZZ_CHECK(it->type ? strcmp(it->type, "eml") == 0 : strcmp(x->key, "fuzz.eml") == 0);
	read_item_free(it);
	return 0;
}

/* The same bytes behind a From_ line and a header, read as an mbox with a small message
 * limit: the bytes are the first message's body and whatever messages follow in them. Then
 * the bytes as they are, an .eml file (a From: line first, so that it is mail): its
 * attachments are read as nested entries, one level deep. */
static void check_read(const uint8_t *data, size_t size)
{
	static const char from[] = "From a@b.c Mon Jan  1 00:00:00 2024\nFrom: a@b.c\n\n";
	struct read_opts o = { .max_entry_bytes = 4096, .max_line_bytes = 1 << 20,
			       .max_nesting = 1 };
	uint8_t *buf = malloc(sizeof(from) + size);
	struct counts c;
	struct items x = { .key = "fuzz.mbox" };

	FUZZ_CHECK(buf != NULL);
	memcpy(buf, from, sizeof(from) - 1);
	memcpy(buf + sizeof(from) - 1, data, size);
	char *path = strdup(fuzz_file("fuzz.mbox", buf, sizeof(from) - 1 + size));
	FUZZ_CHECK(path != NULL);
	counts_init(&c, 1);
	FUZZ_CHECK(read_inputs(&o, &path, 1, on_item, &x, &c) == 0);
	counts_release(&c);
	free(path);
	/* "From: a@b.c\n" then the bytes */
	size_t skip = sizeof("From a@b.c Mon Jan  1 00:00:00 2024\n") - 1;
	memmove(buf + sizeof(from) - 2, data, size);  /* the header goes on into the bytes */
	path = strdup(fuzz_file("fuzz.eml", buf + skip, sizeof(from) - 2 - skip + size));
	FUZZ_CHECK(path != NULL);
	x.key = "fuzz.eml";
	counts_init(&c, 1);
	FUZZ_CHECK(read_inputs(&o, &path, 1, on_item, &x, &c) == 0);
	counts_release(&c);
	free(path);
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct state st = { 0 };
	struct mail_info info;

	if (size % 7 >= 5) {
		st.stop_at = size / 7 % 64 + 1;
		st.fail = size % 7 == 6;
	}
	int rc = mail_parse(size ? (const char *)data : "", size, &sink, &st, &info);
	if (st.fail && st.events >= st.stop_at)
		FUZZ_CHECK(rc == RL_ENOMEM);
	else if (st.stop_at && st.events >= st.stop_at)
		FUZZ_CHECK(rc == 1);
	else
		FUZZ_CHECK(rc == 0);
	/* a part is decoded once per level it sits under (MAX_DEPTH 16) */
	FUZZ_CHECK(st.bytes <= 17 * (size + 1));
	FUZZ_CHECK(info.mail != NULL && strings_ok(info.mail));
	FUZZ_CHECK(!info.attachments || strings_ok(info.attachments));
	FUZZ_CHECK(!info.subject || fuzz_utf8_valid(info.subject, strlen(info.subject)));
	mail_info_release(&info);
	check_normalize(data, size);
	check_read(data, size);
	return 0;
}
