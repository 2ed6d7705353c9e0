/* SPDX-License-Identifier: MIT */
#include "../unit.h"
#include "dns-zone.h"

static void test_good_zone(void **state)
{
	const char *text =
		"; test zone\n"
		"$ORIGIN example.org.\n"
		"$TTL 300\n"
		"@          IN MX 10 mx1\n"
		"           IN MX 20 mx2.example.net.\n"
		"mx1        60 IN A 127.0.0.2\n"
		"mx1        AAAA ::1\n"
		"@          TXT \"v=spf1 ip4:127.0.0.2 \" \"-all\"\n"
		"sel._domainkey IN TXT ( \"v=DKIM1; k=rsa; \"\n"
		"                        \"p=MIGf\" ) ; comment\n"
		"null.test. 3600 IN MX 0 .\n"
		"Upper.Example.COM. IN 42 A 10.0.0.1\n"
		"_25._tcp.mx1 TLSA 3 1 1 ABCDEF 0123\n";
	struct dns_zone zone;
	char *errors = NULL;
	assert_int_equal(dns_zone_parse(text, "t.zone", 1000, &zone, &errors), 0);
	assert_null(errors);
	assert_int_equal(zone.count, 9);
	const char *expect[] = {
		"example.org. 300 IN MX 10 mx1.example.org.",
		"example.org. 300 IN MX 20 mx2.example.net.",
		"mx1.example.org. 60 IN A 127.0.0.2",
		"mx1.example.org. 300 IN AAAA ::1",
		"example.org. 300 IN TXT \"v=spf1 ip4:127.0.0.2 \" \"-all\"",
		"sel._domainkey.example.org. 300 IN TXT \"v=DKIM1; k=rsa; \" \"p=MIGf\"",
		"null.test. 3600 IN MX 0 .",
		"upper.example.com. 42 IN A 10.0.0.1",
		"_25._tcp.mx1.example.org. 300 IN TLSA 3 1 1 ABCDEF0123",
	};
	for (size_t i = 0; i < zone.count; i++) {
		char *line = dns_zone_record_line(&zone.records[i]);
		assert_string_equal(line, expect[i]);
		free(line);
	}
	assert_int_equal(zone.records[1].line, 5);
	assert_int_equal(zone.records[5].line, 9);
	dns_zone_free(&zone);
}

static void test_no_origin_names_absolute(void **state)
{
	struct dns_zone zone;
	char *errors = NULL;
	assert_int_equal(dns_zone_parse("a.test A 127.0.0.1\n", "z", 10, &zone,
					&errors), 0);
	assert_string_equal(zone.records[0].owner, "a.test.");
	dns_zone_free(&zone);
}

static const struct {
	const char *text;
	const char *error;
} bad_cases[] = {
	{"a.test. A 999.1.1.1\n", "z:1: invalid A address '999.1.1.1'\n"},
	{"\n\na.test. AAAA nope\n", "z:3: invalid AAAA address 'nope'\n"},
	{"a.test. MX x host.\n", "z:1: MX needs a preference (0-65535) and a host\n"},
	{"a.test. MX 70000 host.\n", "z:1: MX needs a preference (0-65535) and a host\n"},
	{"a.test. WKS 1\n", "z:1: unsupported record type 'WKS'\n"},
	{"a.test. CH A 1.2.3.4\n", "z:1: only class IN is supported\n"},
	{"a.test. TXT \"open\n", "z:1: unterminated quoted string\n"},
	{"a.test. TXT ( \"x\"\n", "z:2: unbalanced '(' at end of file\n"},
	{"@ A 1.2.3.4\n", "z:1: '@' used without $ORIGIN\n"},
	{"  A 1.2.3.4\n", "z:1: record without owner name\n"},
	{"$INCLUDE other\n", "z:1: unsupported directive '$INCLUDE'\n"},
	{"a..test. A 1.2.3.4\n", "z:1: invalid domain name 'a..test.'\n"},
	{"a.test. 10\n", "z:1: record without type\n"},
	{"a.test. A\n", "z:1: A record without data\n"},
	{"a.test. TLSA 3 1 1 XYZ\n", "z:1: TLSA data is not hex\n"},
	{"a.test. A 1.1.1.1\nb.test. A 1.1.1.2\nc.test. A 1.1.1.3\n",
	 "z:3: too many records (limit 2)\n"},
};

static void test_bad_zones(void **state)
{
	for (size_t i = 0; i < N_ELEMENTS(bad_cases); i++) {
		struct dns_zone zone;
		char *errors = NULL;
		int ret = dns_zone_parse(bad_cases[i].text, "z", 2, &zone, &errors);
		if (ret != -1 || errors == NULL ||
		    strcmp(errors, bad_cases[i].error) != 0)
			fail_msg("case %zu: got %d '%s', want '%s'", i, ret,
				 errors == NULL ? "(none)" : errors,
				 bad_cases[i].error);
		free(errors);
	}
}

static void test_long_txt(void **state)
{
	char text[700];
	char s[300];
	memset(s, 'a', 256);
	s[256] = '\0';
	snprintf(text, sizeof(text), "a.test. TXT \"%s\"\n", s);
	struct dns_zone zone;
	char *errors = NULL;
	assert_int_equal(dns_zone_parse(text, "z", 10, &zone, &errors), -1);
	assert_non_null(strstr(errors, "longer than 255"));
	free(errors);
	s[255] = '\0';
	snprintf(text, sizeof(text), "a.test. TXT \"%s\"\n", s);
	assert_int_equal(dns_zone_parse(text, "z", 10, &zone, &errors), 0);
	dns_zone_free(&zone);
}

static void test_all_errors_reported(void **state)
{
	struct dns_zone zone;
	char *errors = NULL;
	assert_int_equal(dns_zone_parse("a.test. A x\nok.test. A 1.2.3.4\n"
					"b.test. MX\n", "f", 10, &zone, &errors), -1);
	assert_string_equal(errors, "f:1: invalid A address 'x'\n"
				    "f:3: MX record without data\n");
	free(errors);
}

static void test_missing_file(void **state)
{
	struct dns_zone zone;
	char *errors = NULL;
	assert_int_equal(dns_zone_parse_file("/nonexistent/zone", &zone, &errors), -1);
	assert_non_null(strstr(errors, "/nonexistent/zone:0: cannot read"));
	free(errors);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_zone),
		cmocka_unit_test(test_no_origin_names_absolute),
		cmocka_unit_test(test_bad_zones),
		cmocka_unit_test(test_long_txt),
		cmocka_unit_test(test_all_errors_reported),
		cmocka_unit_test(test_missing_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
