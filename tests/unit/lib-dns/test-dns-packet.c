/* SPDX-License-Identifier: MIT */
#include "../unit.h"
#include "buf.h"
#include "dns.h"

/* Builds wire-format packets for the tests. */
static void put16(struct buf *b, unsigned v)
{
	buf_append_byte(b, (uint8_t)(v >> 8));
	buf_append_byte(b, (uint8_t)v);
}

static void put_name(struct buf *b, const char *dotted)
{
	while (*dotted != '\0') {
		const char *dot = strchr(dotted, '.');
		size_t l = dot == NULL ? strlen(dotted) : (size_t)(dot - dotted);
		buf_append_byte(b, (uint8_t)l);
		buf_append(b, dotted, l);
		dotted += l;
		if (*dotted == '.')
			dotted++;
	}
	buf_append_byte(b, 0);
}

static void header(struct buf *b, unsigned rcode, unsigned ancount)
{
	put16(b, 0x1234);
	put16(b, 0x8180 | rcode);
	put16(b, 1);
	put16(b, ancount);
	put16(b, 0);
	put16(b, 0);
	put_name(b, "Example.org"); /* question at offset 12 */
	put16(b, DNS_TYPE_MX);
	put16(b, 1);
}

static void rr_head(struct buf *b, unsigned type, unsigned rdlen)
{
	put16(b, 0xc00c); /* pointer to the question name */
	put16(b, type);
	put16(b, 1);
	put16(b, 0);
	put16(b, 300);
	put16(b, rdlen);
}

static void test_mx_with_compression(void **state)
{
	struct buf b = BUF_INIT;
	header(&b, 0, 3);
	rr_head(&b, DNS_TYPE_MX, 2 + 5); /* pref + "\x03mx1" + ptr */
	put16(&b, 20);
	buf_append(&b, "\x03mx1\xc0\x0c", 6);
	/* rdlen above was 7: 2 + 4 + 2 = 8; fix it */
	b.data[b.len - 8 - 1] = 8;
	rr_head(&b, DNS_TYPE_MX, 3);
	put16(&b, 0);
	buf_append_byte(&b, 0); /* null MX: root */
	rr_head(&b, DNS_TYPE_A, 4); /* other type: skipped */
	buf_append(&b, "\x7f\0\0\x01", 4);

	struct dns_answer a;
	const char *error;
	assert_int_equal(dns_packet_parse(b.data, b.len, DNS_TYPE_MX, &a, &error), 0);
	assert_int_equal(a.rcode, 0);
	assert_int_equal(a.count, 2);
	assert_string_equal(a.rrs[0].owner, "example.org.");
	assert_int_equal(a.rrs[0].u.mx.preference, 20);
	assert_string_equal(a.rrs[0].u.mx.host, "mx1.example.org.");
	assert_int_equal(a.rrs[0].ttl, 300);
	assert_string_equal(a.rrs[1].u.mx.host, ".");
	dns_mx_sort(a.rrs, a.count);
	assert_int_equal(a.rrs[0].u.mx.preference, 0);
	dns_answer_free(&a);
	buf_free(&b);
}

static void test_txt_concatenated(void **state)
{
	struct buf b = BUF_INIT;
	header(&b, 0, 1);
	rr_head(&b, DNS_TYPE_TXT, 4 + 5);
	buf_append(&b, "\x03v=s\x04pf1 ", 9);
	struct dns_answer a;
	const char *error;
	assert_int_equal(dns_packet_parse(b.data, b.len, DNS_TYPE_TXT, &a, &error), 0);
	assert_int_equal(a.count, 1);
	assert_int_equal(a.rrs[0].txt_len, 7);
	assert_memory_equal(a.rrs[0].txt_or_data, "v=spf1 ", 7);
	dns_answer_free(&a);
	buf_free(&b);
}

static void test_nxdomain(void **state)
{
	struct buf b = BUF_INIT;
	header(&b, 3, 0);
	struct dns_answer a;
	const char *error;
	assert_int_equal(dns_packet_parse(b.data, b.len, DNS_TYPE_MX, &a, &error), 0);
	assert_int_equal(a.rcode, 3);
	assert_int_equal(a.count, 0);
	dns_answer_free(&a);
	buf_free(&b);
}

static void test_malformed(void **state)
{
	struct dns_answer a;
	const char *error;
	struct buf b = BUF_INIT;

	/* short header */
	assert_int_equal(dns_packet_parse((const uint8_t *)"\0\1", 2, 1, &a, &error), -1);

	/* pointer loop in the question */
	put16(&b, 1); put16(&b, 0); put16(&b, 1); put16(&b, 0);
	put16(&b, 0); put16(&b, 0);
	put16(&b, 0xc00c);
	put16(&b, 1); put16(&b, 1);
	assert_int_equal(dns_packet_parse(b.data, b.len, 1, &a, &error), -1);
	buf_reset(&b);

	/* answer rdlength past the end */
	header(&b, 0, 1);
	rr_head(&b, DNS_TYPE_A, 40);
	buf_append(&b, "\1\2\3\4", 4);
	assert_int_equal(dns_packet_parse(b.data, b.len, DNS_TYPE_A, &a, &error), -1);
	buf_reset(&b);

	/* A record of the wrong length */
	header(&b, 0, 1);
	rr_head(&b, DNS_TYPE_A, 3);
	buf_append(&b, "\1\2\3", 3);
	assert_int_equal(dns_packet_parse(b.data, b.len, DNS_TYPE_A, &a, &error), -1);
	buf_reset(&b);

	/* TXT string running past rdata */
	static const uint8_t txt_bad[] = {9, (uint8_t)'a', (uint8_t)'b'};
	header(&b, 0, 1);
	rr_head(&b, DNS_TYPE_TXT, 3);
	buf_append(&b, txt_bad, 3);
	assert_int_equal(dns_packet_parse(b.data, b.len, DNS_TYPE_TXT, &a, &error), -1);
	buf_free(&b);

	/* every truncation of a good packet fails cleanly or parses */
	header(&b, 0, 1);
	rr_head(&b, DNS_TYPE_MX, 8);
	put16(&b, 5);
	buf_append(&b, "\x03mx1\xc0\x0c", 6);
	for (size_t len = 0; len < b.len; len++) {
		if (dns_packet_parse(b.data, len, DNS_TYPE_MX, &a, &error) == 0)
			dns_answer_free(&a);
	}
	assert_int_equal(dns_packet_parse(b.data, b.len, DNS_TYPE_MX, &a, &error), 0);
	assert_int_equal(a.count, 1);
	dns_answer_free(&a);
	buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mx_with_compression),
		cmocka_unit_test(test_txt_concatenated),
		cmocka_unit_test(test_nxdomain),
		cmocka_unit_test(test_malformed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
