/* SPDX-License-Identifier: MIT */
#include "../unit.h"
#include "buf.h"
#include "pool.h"
#include "store.h"
#include "dmarc-report.h"

#include <zlib.h>

/* rua parsing, XML escaping and generation, gzip and the message. */

static void test_rua_parse(void **state)
{
	struct pool *pool = pool_create("test", 1024);
	struct dmarc_report_uri *uris;
	unsigned skipped;
	unsigned n = dmarc_report_rua_parse(
	    "mailto:dmarc@A.Test, MAILTO:agg@d.example!10m,"
	    "https://x.test/r,mailto:bad,mailto:e@f.test?subject=x,"
	    "mailto:h@i.test!0,mailto:j@k.test!5x,mailto:dmarc@a.test,"
	    "mailto:p%2Bq@r.test!512,mailto:x@y.test!2k,,  ",
	    pool, &uris, &skipped);
	assert_int_equal(n, 4);
	assert_int_equal(skipped, 5);
	assert_string_equal(uris[0].address, "dmarc@a.test");
	assert_string_equal(uris[0].domain, "a.test");
	assert_int_equal(uris[0].max_size, 0);
	assert_string_equal(uris[1].address, "agg@d.example");
	assert_int_equal(uris[1].max_size, 10 * 1024 * 1024);
	assert_string_equal(uris[2].address, "p+q@r.test");
	assert_int_equal(uris[2].max_size, 512);
	assert_int_equal(uris[3].max_size, 2048);

	assert_int_equal(dmarc_report_rua_parse("", pool, &uris, NULL), 0);
	assert_int_equal(
	    dmarc_report_rua_parse("mailto:a@b.test!99999999999999999999t",
				   pool, &uris, &skipped),
	    0);
	assert_int_equal(skipped, 1);
	/* Bad characters and percent escapes. */
	assert_int_equal(dmarc_report_rua_parse("mailto:a%0d%0aBcc:x@y.test",
						pool, &uris, &skipped),
			 0);
	assert_int_equal(
	    dmarc_report_rua_parse("mailto:a@b_c.test,mailto:%zz@b.test,"
				   "mailto:a@@b.test,mailto:@b.test,mailto:a@",
				   pool, &uris, &skipped),
	    0);
	assert_int_equal(skipped, 5);

	/* At most DMARC_REPORT_URI_MAX destinations. */
	struct buf many = BUF_INIT;
	for (unsigned i = 0; i < DMARC_REPORT_URI_MAX + 3; i++)
		buf_printf(&many, "%smailto:r%u@a.test", i > 0 ? "," : "", i);
	assert_int_equal(dmarc_report_rua_parse(buf_cstr(&many), pool, &uris,
						&skipped),
			 DMARC_REPORT_URI_MAX);
	assert_int_equal(skipped, 3);
	buf_free(&many);
	pool_destroy(&pool);
}

static void test_xml_escape(void **state)
{
	struct buf b = BUF_INIT;
	dmarc_report_xml_escape(&b, "a&b<c>\"'\x01\t\xff\xc3\xa9\xe2\x82"
				    "\xed\xa0\x80z");
	assert_string_equal(buf_cstr(&b), "a&amp;b&lt;c&gt;&quot;&apos;??"
					  "?\xc3\xa9?????z");
	buf_free(&b);
}

static struct store_dmarc_row row(int64_t id, const char *ip, uint64_t count)
{
	struct store_dmarc_row r = {
	    .id = id,
	    .policy_domain = "a.test",
	    .source_ip = ip,
	    .disposition = "quarantine",
	    .dkim_eval = "fail",
	    .spf_eval = "pass",
	    .header_from = "a.test",
	    .envelope_from = "bounce.a.test",
	    .envelope_to = "b.test",
	    .dkim_auth = "a.test s1 fail\nother.test - pass",
	    .spf_domain = "bounce.a.test",
	    .spf_scope = "mfrom",
	    .spf_result = "pass",
	    .p = "none",
	    .sp = "none",
	    .adkim = "r",
	    .aspf = "r",
	    .fo = "0",
	    .rua = "mailto:d@a.test",
	    .pct = 100,
	    .count = count,
	};
	return r;
}

static void test_xml_document(void **state)
{
	struct store_dmarc_row rows[2] = {row(7, "192.0.2.1", 5),
					  row(3, "2001:db8::1", 1)};
	rows[0].p = "reject";
	rows[0].sp = "bogus";
	rows[0].pct = 50;
	rows[1].header_from = "<evil>&\"x\"";
	rows[1].envelope_to = "";
	rows[1].dkim_auth = "";
	rows[1].spf_scope = "helo";
	rows[1].spf_result = "nonsense";
	struct dmarc_report_meta meta = {
	    .org_name = "Org & Co",
	    .email = "postmaster@mx.b.test",
	    .report_id = "1.2.a.test",
	    .begin = 1000,
	    .end = 2000,
	};
	struct buf b = BUF_INIT;
	dmarc_report_xml(&meta, rows, 2, &b);
	const char *x = buf_cstr(&b);
	assert_non_null(strstr(x, "<org_name>Org &amp; Co</org_name>"));
	assert_non_null(strstr(x, "<begin>1000</begin>"));
	assert_non_null(strstr(x, "<end>2000</end>"));
	/* Policy from the newest row (id 7); a bad sp falls back to p. */
	assert_non_null(strstr(x, "<p>reject</p>"));
	assert_non_null(strstr(x, "<sp>reject</sp>"));
	assert_non_null(strstr(x, "<pct>50</pct>"));
	assert_non_null(strstr(x, "<source_ip>192.0.2.1</source_ip>\n"
				  "      <count>5</count>"));
	assert_non_null(strstr(x, "<disposition>quarantine</disposition>"));
	assert_non_null(strstr(x, "<header_from>&lt;evil&gt;&amp;&quot;x"
				  "&quot;</header_from>"));
	assert_non_null(strstr(x, "<selector>s1</selector>"));
	assert_non_null(strstr(x, "<domain>other.test</domain>\n"
				  "        <result>pass</result>"));
	assert_non_null(strstr(x, "<scope>helo</scope>\n"
				  "        <result>none</result>"));
	/* No envelope_to when unknown; envelope_from always. */
	const char *second = strstr(x, "2001:db8::1");
	assert_non_null(second);
	assert_null(strstr(second, "<envelope_to>"));
	assert_non_null(strstr(second, "<envelope_from>"));
	assert_null(strchr(x, '\r'));

	/* gzip round trip. */
	struct buf gz = BUF_INIT;
	const char *error;
	assert_int_equal(dmarc_report_gzip(b.data, b.len, &gz, &error), 0);
	assert_true(gz.len > 18);
	assert_int_equal(gz.data[0], 0x1f);
	assert_int_equal(gz.data[1], 0x8b);
	uint8_t out[8192];
	z_stream zs;
	memset(&zs, 0, sizeof(zs));
	assert_int_equal(inflateInit2(&zs, 15 + 16), Z_OK);
	zs.next_in = gz.data;
	zs.avail_in = (uInt)gz.len;
	zs.next_out = out;
	zs.avail_out = sizeof(out);
	assert_int_equal(inflate(&zs, Z_FINISH), Z_STREAM_END);
	assert_int_equal(zs.total_out, b.len);
	assert_memory_equal(out, b.data, b.len);
	inflateEnd(&zs);

	/* The message. */
	const char *to[] = {"d@a.test", "e@c.test"};
	struct dmarc_report_mail mail = {
	    .from = "postmaster@mx.b.test",
	    .to = to,
	    .to_count = 2,
	    .policy_domain = "a.test",
	    .org_name = "Org\r\nBcc: x",
	    .receiver = "mx.b.test",
	    .report_id = "1.2.a.test",
	    .begin = 1000,
	    .end = 2000,
	    .gz = gz.data,
	    .gz_size = gz.len,
	    .boundary = "BOUNDARY",
	    .now = 1700000000,
	};
	struct buf m = BUF_INIT;
	dmarc_report_message(&mail, &m);
	const char *msg = buf_cstr(&m);
	assert_non_null(strstr(msg, "From: <postmaster@mx.b.test>\r\n"));
	assert_non_null(strstr(msg, "To: <d@a.test>,\r\n <e@c.test>\r\n"));
	assert_non_null(strstr(msg, "Subject: Report Domain: a.test "
				    "Submitter: Org??Bcc: x Report-ID: "
				    "<1.2.a.test>\r\n"));
	assert_null(strstr(msg, "\r\nBcc:"));
	assert_non_null(strstr(msg, "Content-Type: multipart/mixed; "
				    "boundary=\"BOUNDARY\""));
	assert_non_null(strstr(msg, "Content-Type: application/gzip; "
				    "name=\"mx.b.test!a.test!1000!2000.xml.gz"
				    "\""));
	assert_non_null(strstr(msg, "\r\n--BOUNDARY--\r\n"));
	/* Every line ends in CRLF; base64 lines are 76 characters. */
	const char *line = msg;
	while (*line != '\0') {
		const char *nl = strstr(line, "\r\n");
		assert_non_null(nl);
		assert_true(nl - line <= 998);
		assert_null(memchr(line, '\n', (size_t)(nl - line)));
		line = nl + 2;
	}
	const char *b64 = strstr(msg, "filename=");
	assert_non_null(b64);
	b64 = strstr(b64, "\r\n\r\n") + 4;
	if (gz.len > 57)
		assert_int_equal(strstr(b64, "\r\n") - b64, 76);
	buf_free(&m);
	buf_free(&gz);
	buf_free(&b);
}

static void test_period_due(void **state)
{
	/* A day: UTC midnight after begin. */
	assert_int_equal(dmarc_report_period_due(1700000000, 86400),
			 1700006400);
	assert_int_equal(dmarc_report_period_due(1700006400, 86400),
			 1700006400 + 86400);
	assert_int_equal(dmarc_report_period_due(100, 0), 86400);
	assert_int_equal(dmarc_report_period_due(3599, 3600), 3600);
}

/* Random bytes (a fixed seed: the same run every time) never crash the
 * parsers, and the escaped text never carries markup or controls. */
static void test_random_input(void **state)
{
	struct pool *pool = pool_create("test", 4096);
	uint32_t seed = 12345;
	char in[200];
	for (unsigned round = 0; round < 3000; round++) {
		size_t len = 0, n = (seed >> 8) % sizeof(in);
		for (; len < n; len++) {
			seed = seed * 1103515245u + 12345u;
			unsigned char c = (unsigned char)(seed >> 16);
			/* Bias towards the interesting characters. */
			static const char pick[] = "mailto:@!,%k0m9 <&>\"";
			if ((seed >> 24) % 2 == 0)
				c = (unsigned char)pick[c % (sizeof(pick) - 1)];
			in[len] = c == 0 ? 'x' : (char)c;
		}
		in[len] = '\0';
		seed = seed * 1103515245u + 12345u;

		struct dmarc_report_uri *uris;
		unsigned skipped;
		unsigned count = dmarc_report_rua_parse(in, pool, &uris,
							&skipped);
		assert_true(count <= DMARC_REPORT_URI_MAX);
		for (unsigned i = 0; i < count; i++) {
			assert_non_null(strchr(uris[i].address, '@'));
			assert_null(strpbrk(uris[i].address, " ,<>\"\r\n"));
		}

		struct buf b = BUF_INIT;
		dmarc_report_xml_escape(&b, in);
		for (size_t i = 0; i < b.len; i++) {
			unsigned char c = b.data[i];
			assert_true(c >= 0x20 && c != 0x7f);
			assert_true(c != '<' && c != '>' && c != '"' &&
				    c != '\'');
		}
		buf_free(&b);
		pool_clear(pool);
	}
	pool_destroy(&pool);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rua_parse),
	    cmocka_unit_test(test_xml_escape),
	    cmocka_unit_test(test_xml_document),
	    cmocka_unit_test(test_period_due),
	    cmocka_unit_test(test_random_input),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
