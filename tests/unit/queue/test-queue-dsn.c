/* SPDX-License-Identifier: MIT */
#include "unit.h"
#include "buf.h"
#include "queue-dsn.h"
#include "queue.h"
#include "pool.h"
#include "strutil.h"
#include "mime-parser.h"

/* DSNs parsed back into their parts and fields and compared structurally. */

static const char original[] =
	"From: alice@a.test\r\nTo: bob@b.test\r\nSubject: hello\r\n"
	"Message-ID: <m1@a.test>\r\n\r\nBody line\r\n";

struct part {
	char headers[2048];
	char body[4096];
};

/* Splits a multipart body at --boundary lines. Returns the part count. */
static unsigned split_parts(const char *msg, const char *boundary,
			    struct part *parts, unsigned max)
{
	char delim[128], close_delim[128];
	unsigned n = 0;

	snprintf(delim, sizeof(delim), "\r\n--%s\r\n", boundary);
	snprintf(close_delim, sizeof(close_delim), "\r\n--%s--\r\n", boundary);
	const char *p = strstr(msg, delim);
	assert_non_null(p);
	const char *end = strstr(msg, close_delim);
	assert_non_null(end);
	assert_string_equal(end + strlen(close_delim), "");
	while (p != NULL && p < end && n < max) {
		const char *start = p + strlen(delim);
		const char *next = strstr(start, delim);
		const char *stop = next != NULL && next < end ? next : end;
		const char *hdr_end = strstr(start, "\r\n\r\n");
		assert_non_null(hdr_end);
		assert_true(hdr_end < stop);
		snprintf(parts[n].headers, sizeof(parts[n].headers), "%.*s",
			 (int)(hdr_end - start + 2), start);
		snprintf(parts[n].body, sizeof(parts[n].body), "%.*s",
			 (int)(stop - (hdr_end + 4)), hdr_end + 4);
		n++;
		p = next != NULL && next < end ? next : NULL;
	}
	return n;
}

/* The value of field name in a block of "Name: value" lines, or NULL. */
static const char *field(const char *block, const char *name, char *out,
			 size_t size)
{
	char key[64];

	snprintf(key, sizeof(key), "%s: ", name);
	for (const char *p = block; p != NULL && *p != '\0';) {
		if (strncmp(p, key, strlen(key)) == 0) {
			const char *v = p + strlen(key);
			size_t len = strcspn(v, "\r");
			snprintf(out, size, "%.*s", (int)len, v);
			return out;
		}
		p = strstr(p, "\r\n");
		if (p != NULL)
			p += 2;
	}
	return NULL;
}

/* The n-th (0 = per-message) block of a delivery-status body. */
static const char *status_block(const char *body, unsigned n, char *out,
				size_t size)
{
	const char *p = body;

	for (unsigned i = 0; i < n; i++) {
		p = strstr(p, "\r\n\r\n");
		if (p == NULL)
			return NULL;
		p += 4;
	}
	const char *e = strstr(p, "\r\n\r\n");
	size_t len = e != NULL ? (size_t)(e - p + 2) : strlen(p);
	snprintf(out, size, "%.*s", (int)len, p);
	return out;
}

static void test_failed_headers_only(void **state)
{
	struct queue_dsn_rcpt rcpts[] = {
		{.address = "bob@b.test",
		 .orcpt = "rfc822;Bob@B.test",
		 .action = QUEUE_DSN_ACTION_FAILED,
		 .status = "5.1.1",
		 .remote_mta = "mx.b.test",
		 .diag_code = 550,
		 .diag_text = "no such user\r\ninjected: x",
		 .last_attempt = 1700000000},
		{.address = "carol@b.test",
		 .action = QUEUE_DSN_ACTION_FAILED,
		 .status = "5.3.4"},
	};
	struct queue_dsn dsn = {
		.reporting_mta = "mx.a.test",
		.to = "alice@a.test",
		.envid = "ENV123",
		.arrival_date = 1700000000 - 60,
		.original = (const uint8_t *)original,
		.original_size = sizeof(original) - 1,
		.rcpts = rcpts,
		.rcpt_count = 2,
		.boundary = "BOUNDARY",
		.now = 1700000000,
	};
	struct buf out = BUF_INIT;
	struct part parts[4];
	char v[512], block[2048];

	queue_dsn_build(&dsn, &out);
	const char *msg = buf_cstr(&out);
	const char *body = strstr(msg, "\r\n\r\n");
	assert_non_null(body);
	char top[4096];
	snprintf(top, sizeof(top), "%.*s", (int)(body - msg + 2), msg);
	assert_string_equal(field(top, "To", v, sizeof(v)), "<alice@a.test>");
	assert_string_equal(field(top, "From", v, sizeof(v)),
			    "Mail Delivery System <MAILER-DAEMON@mx.a.test>");
	assert_string_equal(field(top, "Auto-Submitted", v, sizeof(v)),
			    "auto-replied");
	assert_non_null(strstr(top, "Content-Type: multipart/report; "
				    "report-type=delivery-status;\r\n\t"
				    "boundary=\"BOUNDARY\"\r\n"));
	assert_non_null(strstr(field(top, "Subject", v, sizeof(v)),
			       "Undelivered"));

	assert_int_equal(split_parts(msg, "BOUNDARY", parts, 4), 3);
	assert_non_null(strstr(parts[0].headers, "Content-Type: text/plain"));
	assert_non_null(strstr(parts[0].body, "<bob@b.test>"));
	assert_non_null(strstr(parts[0].body, "550 5.1.1 no such user"));

	assert_string_equal(field(parts[1].headers, "Content-Type", v, sizeof(v)),
			    "message/delivery-status");
	status_block(parts[1].body, 0, block, sizeof(block));
	assert_string_equal(field(block, "Reporting-MTA", v, sizeof(v)),
			    "dns; mx.a.test");
	assert_string_equal(field(block, "Original-Envelope-Id", v, sizeof(v)),
			    "ENV123");
	assert_non_null(field(block, "Arrival-Date", v, sizeof(v)));

	status_block(parts[1].body, 1, block, sizeof(block));
	assert_string_equal(field(block, "Original-Recipient", v, sizeof(v)),
			    "rfc822;Bob@B.test");
	assert_string_equal(field(block, "Final-Recipient", v, sizeof(v)),
			    "rfc822;bob@b.test");
	assert_string_equal(field(block, "Action", v, sizeof(v)), "failed");
	assert_string_equal(field(block, "Status", v, sizeof(v)), "5.1.1");
	assert_string_equal(field(block, "Remote-MTA", v, sizeof(v)),
			    "dns; mx.b.test");
	/* The peer's CR LF can't start a field of its own. */
	assert_string_equal(field(block, "Diagnostic-Code", v, sizeof(v)),
			    "smtp; 550 5.1.1 no such user  injected: x");
	assert_null(field(block, "injected", v, sizeof(v)));
	assert_non_null(field(block, "Last-Attempt-Date", v, sizeof(v)));
	assert_null(field(block, "Will-Retry-Until", v, sizeof(v)));

	status_block(parts[1].body, 2, block, sizeof(block));
	assert_string_equal(field(block, "Final-Recipient", v, sizeof(v)),
			    "rfc822;carol@b.test");
	assert_string_equal(field(block, "Status", v, sizeof(v)), "5.3.4");
	assert_null(field(block, "Diagnostic-Code", v, sizeof(v)));
	assert_null(field(block, "Original-Recipient", v, sizeof(v)));

	assert_string_equal(field(parts[2].headers, "Content-Type", v, sizeof(v)),
			    "text/rfc822-headers");
	/* Headers only, with their blank line, no body. */
	assert_int_equal(strncmp(parts[2].body, original,
				 strstr(original, "\r\n\r\n") - original + 4),
			 0);
	assert_null(strstr(parts[2].body, "Body line"));
	buf_free(&out);
}

static void test_ret_full_and_delayed(void **state)
{
	struct queue_dsn_rcpt rcpt = {
		.address = "bob@b.test",
		.action = QUEUE_DSN_ACTION_FAILED,
		.status = "4.4.1",
	};
	struct queue_dsn dsn = {
		.reporting_mta = "mx.a.test",
		.to = "alice@a.test",
		.ret = QUEUE_DSN_RET_FULL,
		.original = (const uint8_t *)original,
		.original_size = sizeof(original) - 1,
		.rcpts = &rcpt,
		.rcpt_count = 1,
		.boundary = "B2",
	};
	struct buf out = BUF_INIT;
	struct part parts[4];
	char v[512], block[1024];

	queue_dsn_build(&dsn, &out);
	assert_int_equal(split_parts(buf_cstr(&out), "B2", parts, 4), 3);
	assert_string_equal(field(parts[2].headers, "Content-Type", v, sizeof(v)),
			    "message/rfc822");
	assert_string_equal(parts[2].body, original);
	assert_null(strstr(buf_cstr(&out), "Original-Envelope-Id"));
	buf_reset(&out);

	/* A delay notice: headers only even under RET=FULL, and when it
	 * will stop trying. */
	rcpt.action = QUEUE_DSN_ACTION_DELAYED;
	rcpt.will_retry_until = 1700000000;
	queue_dsn_build(&dsn, &out);
	assert_int_equal(split_parts(buf_cstr(&out), "B2", parts, 4), 3);
	assert_string_equal(field(parts[2].headers, "Content-Type", v, sizeof(v)),
			    "text/rfc822-headers");
	status_block(parts[1].body, 1, block, sizeof(block));
	assert_string_equal(field(block, "Action", v, sizeof(v)), "delayed");
	assert_non_null(field(block, "Will-Retry-Until", v, sizeof(v)));
	assert_non_null(strstr(buf_cstr(&out), "Subject: Delayed Mail"));
	buf_free(&out);
}

static const char *param(const struct mime_part *part, const char *name)
{
	for (unsigned i = 0; i < part->content_type_params_count; i++) {
		if (str_ascii_eq_ci(part->content_type_params[i].name, name))
			return part->content_type_params[i].value;
	}
	return NULL;
}

static void assert_type(const struct mime_part *part, const char *type,
			const char *subtype)
{
	assert_non_null(part);
	assert_non_null(part->content_type);
	assert_true(str_ascii_eq_ci(part->content_type, type));
	assert_true(str_ascii_eq_ci(part->content_subtype, subtype));
}

static void test_mime_structure(void **state)
{
	/* The DSN read back by lib-mail's MIME parser, as a client's would
	 * read it (RFC 3462 multipart/report, RFC 3464 parts). */
	struct queue_dsn_rcpt rcpt = {
		.address = "bob@b.test",
		.action = QUEUE_DSN_ACTION_FAILED,
		.status = "5.1.1",
		.diag_code = 550,
		.diag_text = "no",
	};
	struct queue_dsn dsn = {
		.reporting_mta = "mx.a.test",
		.to = "alice@a.test",
		.original = (const uint8_t *)original,
		.original_size = sizeof(original) - 1,
		.rcpts = &rcpt,
		.rcpt_count = 1,
	};
	struct pool *pool = pool_create("t", 4096);
	struct buf out = BUF_INIT;

	for (unsigned full = 0; full < 2; full++) {
		dsn.ret = full ? QUEUE_DSN_RET_FULL : QUEUE_DSN_RET_HDRS;
		buf_reset(&out);
		queue_dsn_build(&dsn, &out);
		struct mime_part *root = mime_parse(pool, out.data, out.len,
						    NULL);
		assert_type(root, "multipart", "report");
		assert_string_equal(param(root, "report-type"),
				    "delivery-status");
		assert_non_null(param(root, "boundary"));
		assert_non_null(root->envelope);
		assert_non_null(strstr(root->envelope->subject, "Undelivered"));
		assert_int_equal(mime_part_count(root), full ? 5 : 4);

		const struct mime_part *human = root->children;
		assert_type(human, "text", "plain");
		const struct mime_part *status = human->next;
		assert_type(status, "message", "delivery-status");
		const char *body = (const char *)out.data + status->body_offset;
		assert_int_equal(strncmp(body, "Reporting-MTA: dns; mx.a.test\r\n",
					 31), 0);
		const struct mime_part *orig = status->next;
		assert_non_null(orig);
		assert_null(orig->next);
		if (full) {
			/* The whole message, parsed as one. */
			assert_type(orig, "message", "rfc822");
			assert_non_null(orig->children);
			assert_string_equal(orig->children->envelope->subject,
					    "hello");
			assert_int_equal(orig->body_size,
					 sizeof(original) - 1);
		} else {
			assert_type(orig, "text", "rfc822-headers");
			assert_int_equal(
				orig->body_size,
				strstr(original, "\r\n\r\n") - original + 4);
		}
	}
	buf_free(&out);
	pool_destroy(&pool);
}

static void test_utf8_recipient(void **state)
{
	struct queue_dsn_rcpt rcpt = {
		.address = "bj\xc3\xb8rn@b.test",
		.action = QUEUE_DSN_ACTION_FAILED,
		.status = "5.6.7",
	};
	struct queue_dsn dsn = {
		.reporting_mta = "mx.a.test",
		.to = "alice@a.test",
		.rcpts = &rcpt,
		.rcpt_count = 1,
	};
	struct buf out = BUF_INIT;

	queue_dsn_build(&dsn, &out);
	assert_non_null(strstr(buf_cstr(&out),
			       "Content-Type: message/global-delivery-status\r\n"));
	assert_non_null(strstr(buf_cstr(&out),
			       "Final-Recipient: utf-8;bj\xc3\xb8rn@b.test\r\n"));
	buf_free(&out);
}

static void test_notify(void **state)
{
	/* RFC 3461 section 4.1. */
	assert_true(queue_dsn_wanted(NULL, QUEUE_DSN_ACTION_FAILED));
	assert_true(queue_dsn_wanted(NULL, QUEUE_DSN_ACTION_DELAYED));
	assert_false(queue_dsn_wanted(NULL, QUEUE_DSN_ACTION_RELAYED));
	assert_false(queue_dsn_wanted("NEVER", QUEUE_DSN_ACTION_FAILED));
	assert_false(queue_dsn_wanted("NEVER", QUEUE_DSN_ACTION_DELAYED));
	assert_true(queue_dsn_wanted("SUCCESS", QUEUE_DSN_ACTION_RELAYED));
	assert_true(queue_dsn_wanted("SUCCESS", QUEUE_DSN_ACTION_DELIVERED));
	assert_false(queue_dsn_wanted("SUCCESS", QUEUE_DSN_ACTION_FAILED));
	assert_true(queue_dsn_wanted("success,failure", QUEUE_DSN_ACTION_FAILED));
	assert_false(queue_dsn_wanted("FAILURE", QUEUE_DSN_ACTION_DELAYED));
	assert_true(queue_dsn_wanted("FAILURE,DELAY", QUEUE_DSN_ACTION_DELAYED));
	assert_false(queue_dsn_wanted("FAILUREX", QUEUE_DSN_ACTION_FAILED));
}

static void test_backoff(void **state)
{
	/* Default schedule: 5 min doubling, capped at 4 h. */
	static const unsigned expect[] = {300, 600, 1200, 2400, 4800, 9600,
					  14400, 14400};
	for (unsigned i = 0; i < N_ELEMENTS(expect); i++)
		assert_int_equal(queue_backoff_delay(i + 1, 300, 14400),
				 expect[i]);
	assert_int_equal(queue_backoff_delay(1000, 300, 14400), 14400);
	assert_int_equal(queue_backoff_delay(3, 1, 3), 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_failed_headers_only),
		cmocka_unit_test(test_ret_full_and_delayed),
		cmocka_unit_test(test_mime_structure),
		cmocka_unit_test(test_utf8_recipient),
		cmocka_unit_test(test_notify),
		cmocka_unit_test(test_backoff),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
