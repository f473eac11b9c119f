/*
 * test_mail.c — unit tests of the e-mail parser (stages/mail.c): transfer encodings, encoded
 * words, multipart/alternative, attachments, dates, damage. A recording sink collects the
 * events as "[charset|html]bytes", "#heading" and "@name|type|bytes" (an attachment) lines.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "../../lib/common.h"
#include "../../stages/mail.h"

struct rec {
	struct buf out;
};

static int on_text(void *ctx, const char *s, size_t n, const char *charset, enum mail_kind kind)
{
	struct rec *r = ctx;
	return buf_printf(&r->out, "[%s%s]", charset,
			  kind == MAIL_HTML ? "|html" : kind == MAIL_MARKDOWN ? "|md" : "") ||
	       buf_append(&r->out, s, n) || buf_putc(&r->out, '\n');
}

static int on_heading(void *ctx, const char *s, size_t n)
{
	struct rec *r = ctx;
	return buf_putc(&r->out, '#') || buf_append(&r->out, s, n) || buf_putc(&r->out, '\n');
}

static int on_attachment(void *ctx, const char *name, const char *type, const char *s, size_t n)
{
	struct rec *r = ctx;
	return buf_printf(&r->out, "@%s|%s|", name, type) || buf_append(&r->out, s, n) ||
	       buf_putc(&r->out, '\n');
}

static const struct mail_sink sink = { on_text, on_heading, on_attachment };

/* Parses msg; returns the events (static storage) and fills info. */
static const char *parse(const char *msg, struct mail_info *info)
{
	static char text[4096];
	struct rec r;
	buf_init(&r.out, 0);
	assert_int_equal(mail_parse(msg, strlen(msg), &sink, &r, info), 0);
	snprintf(text, sizeof(text), "%s", r.out.data ? r.out.data : "");
	buf_release(&r.out);
	return text;
}

static const char *field(const struct mail_info *info, const char *key)
{
	return json_string_value(json_object_get(info->mail, key));
}

static void test_headers_and_encoded_words(void **state)
{
	(void)state;
	struct mail_info info;
	parse("From: =?ISO-8859-1?Q?J=FCrgen?=\r\n  <j@example.org>\r\n"
	      "Subject: =?utf-8?B?R3LDvMOfZQ==?= =?utf-8?q?_und_mehr?= tail\r\n"
	      "Date: Tue, 1 Jul 2025 14:05:09 -0430\r\nMessage-ID: <a@b>\r\n\r\nbody\r\n", &info);
	assert_string_equal(info.subject, "Grüße und mehr tail");
	assert_string_equal(field(&info, "from"), "Jürgen <j@example.org>");
	assert_string_equal(field(&info, "date"), "2025-07-01T14:05:09-04:30");
	assert_string_equal(field(&info, "message_id"), "<a@b>");
	assert_null(field(&info, "cc"));
	mail_info_release(&info);
}

static void test_transfer_encodings(void **state)
{
	(void)state;
	struct mail_info info;
	const char *t = parse("Content-Type: multipart/mixed; boundary=\"b\"\n\n--b\n"
			      "Content-Type: text/plain; charset=ISO-8859-1\n"
			      "Content-Transfer-Encoding: base64\n\nR3L832U=\n--b\n"
			      "Content-Transfer-Encoding: quoted-printable\n\n"
			      "soft=\nbreak a=3Db trailing  \nnext\n--b--\n", &info);
	assert_string_equal(t, "[iso-8859-1]Gr\xfc\xdf" "e\n[]softbreak a=b trailing\nnext\n");
	assert_int_equal(info.mime_errors, 0);
	mail_info_release(&info);
}

static void test_alternative_prefers_plain(void **state)
{
	(void)state;
	struct mail_info info;
	const char *t = parse("Content-Type: multipart/alternative; boundary=a\n\n--a\n"
			      "Content-Type: text/html\n\n<p>html</p>\n--a\n"
			      "Content-Type: text/plain\n\nplain\n--a--\n", &info);
	assert_string_equal(t, "[]plain\n");
	mail_info_release(&info);
	t = parse("Content-Type: multipart/alternative; boundary=a\n\n--a\n"
		  "Content-Type: image/gif\n\nGIF\n--a\nContent-Type: text/html; charset=utf-8\n\n"
		  "<p>html</p>\n--a--\n", &info);
	assert_string_equal(t, "[utf-8|html]<p>html</p>\n");
	mail_info_release(&info);
}

static void test_attachments(void **state)
{
	(void)state;
	struct mail_info info;
	const char *t = parse("Content-Type: multipart/mixed; boundary=m\n\n--m\n\nbody\n--m\n"
			      "Content-Type: application/pdf; name=\"r.pdf\"\n"
			      "Content-Transfer-Encoding: base64\n\nJVBERi0x\n--m\n"
			      "Content-Type: text/plain\nContent-Disposition: attachment; "
			      "filename*=utf-8''n%C3%B6tes.txt\n\nattached\n--m\n"
			      "Content-Type: text/x-markdown; name=a.md\n\n# md\n--m--\n", &info);
	/* attached files go to the attachment callback (decoded), never to the text; a named
	 * inline text part stays text after its heading */
	assert_string_equal(t, "[]body\n@r.pdf|application/pdf|%PDF-1\n"
			       "@nötes.txt|text/plain|attached\n#a.md\n[|md]# md\n");
	char *js = json_dumps(info.attachments, JSON_COMPACT);
	assert_string_equal(js, "[{\"name\":\"r.pdf\",\"type\":\"application/pdf\",\"bytes\":6},"
				"{\"name\":\"nötes.txt\",\"type\":\"text/plain\",\"bytes\":8}]");
	free(js);
	mail_info_release(&info);
	/* an attachment without a name; a forwarded message as an attachment; inline image
	 * without a name is listed only */
	t = parse("Content-Type: multipart/mixed; boundary=m\n\n--m\n"
		  "Content-Type: application/octet-stream\nContent-Disposition: attachment\n"
		  "Content-Transfer-Encoding: quoted-printable\n\nx=3Dy\n--m\n"
		  "Content-Type: message/rfc822\nContent-Disposition: attachment; filename=\"fw.eml\"\n\n"
		  "Subject: inner\n\ninner body\n--m\nContent-Type: image/png\n\nPNG\n--m--\n", &info);
	assert_string_equal(t, "@|application/octet-stream|x=y\n"
			       "@fw.eml|message/rfc822|Subject: inner\n\ninner body\n");
	js = json_dumps(info.attachments, JSON_COMPACT);
	assert_string_equal(js, "[{\"name\":\"\",\"type\":\"application/octet-stream\",\"bytes\":3},"
				"{\"name\":\"fw.eml\",\"type\":\"message/rfc822\",\"bytes\":26},"
				"{\"name\":\"\",\"type\":\"image/png\",\"bytes\":3}]");
	free(js);
	mail_info_release(&info);
}

static void test_damage_keeps_text(void **state)
{
	(void)state;
	struct mail_info info;
	/* no closing boundary; a multipart without boundary; a header line that is no field */
	const char *t = parse("Content-Type: multipart/mixed; boundary=z\n\n--z\n\nkept\n", &info);
	assert_string_equal(t, "[]kept\n\n");  /* the part runs to the end */
	assert_int_equal(info.mime_errors, 1);
	mail_info_release(&info);
	t = parse("Subject: x\nContent-Type: multipart/mixed\n\ntext\n", &info);
	assert_string_equal(t, "[]text\n\n");
	assert_true(info.mime_errors >= 1);
	mail_info_release(&info);
	t = parse("Subject: y\nnot a header line\nrest\n", &info);
	assert_string_equal(t, "[]not a header line\nrest\n\n");
	mail_info_release(&info);
	/* a boundary declared but never used (a mailer that flattened the message): its body is
	 * still the text */
	t = parse("Content-Type: multipart/mixed; boundary=\"B\"\n\nHi there,\n\nthe fish.\n", &info);
	assert_string_equal(t, "[]Hi there,\n\nthe fish.\n\n");
	assert_int_equal(info.mime_errors, 1);
	mail_info_release(&info);
	/* message/external-body names a file elsewhere: listed, never handed on as one */
	t = parse("Content-Type: multipart/mixed; boundary=b\n\n--b\n\nbody\n--b\n"
		  "Content-Type: message/external-body; name=\"d.txt\"; access-type=anon-ftp\n\n"
		  "Content-Type: text/plain\n\n--b--\n", &info);
	assert_string_equal(t, "[]body\n");
	mail_info_release(&info);
	t = parse("Subject: only a header\n", &info);
	assert_string_equal(t, "");
	assert_string_equal(info.subject, "only a header");
	mail_info_release(&info);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_headers_and_encoded_words),
		cmocka_unit_test(test_transfer_encodings),
		cmocka_unit_test(test_alternative_prefers_plain),
		cmocka_unit_test(test_attachments),
		cmocka_unit_test(test_damage_keeps_text),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
