/* SPDX-License-Identifier: MIT */
#include "unit.h"
#include "dmarc.h"
#include "spf-test-dns.h"
#include "spf.h"
#include "dkim.h"

#include <arpa/inet.h>

static void test_record_parse(void **state)
{
	static const struct {
		const char *txt;
		int ret;
		enum dmarc_policy p, sp;
		unsigned pct;
		bool adkim_strict, aspf_strict;
	} cases[] = {
		{ "v=DMARC1; p=reject", 1, DMARC_POLICY_REJECT, 0, 100, false, false },
		{ "v=DMARC1;p=quarantine;sp=none;pct=20;adkim=s;aspf=r;rua=mailto:r@a.test",
		  1, DMARC_POLICY_QUARANTINE, DMARC_POLICY_NONE, 20, true, false },
		{ "v=DMARC1; p=none;", 1, DMARC_POLICY_NONE, 0, 100, false, false },
		{ "v=DMARC1; rua=mailto:x@a.test", 1, DMARC_POLICY_NONE, 0, 100, false, false },
		{ "v=DMARC1; p=bogus; rua=mailto:x@a.test", 1, DMARC_POLICY_NONE, 0, 100, false, false },
		{ "v=DMARC1; p=bogus", -1, 0, 0, 0, false, false },
		{ "v=DMARC1", -1, 0, 0, 0, false, false },
		{ "v=DMARC1; p=reject; pct=101", -1, 0, 0, 0, false, false },
		{ "v=DMARC1; p=reject; adkim=x", -1, 0, 0, 0, false, false },
		{ "p=reject; v=DMARC1", 0, 0, 0, 0, false, false },
		{ "v=spf1 -all", 0, 0, 0, 0, false, false },
		{ "", 0, 0, 0, 0, false, false },
	};
	for (size_t i = 0; i < N_ELEMENTS(cases); i++) {
		struct dmarc_record rec;
		const char *error = NULL;
		int ret = dmarc_record_parse(cases[i].txt, strlen(cases[i].txt), &rec, &error);
		if (ret != cases[i].ret)
			fail_msg("%s: %d", cases[i].txt, ret);
		if (ret <= 0)
			continue;
		assert_int_equal(rec.p, cases[i].p);
		assert_int_equal(rec.sp, cases[i].sp);
		assert_int_equal(rec.pct, cases[i].pct);
		assert_int_equal(rec.adkim_strict, cases[i].adkim_strict);
		assert_int_equal(rec.aspf_strict, cases[i].aspf_strict);
		dmarc_record_free(&rec);
	}
}

static void test_org_domain(void **state)
{
	static const char *const cases[][2] = {
		{ "mail.example.com", "example.com" },
		{ "example.com", "example.com" },
		{ "a.b.example.co.uk", "example.co.uk" },
		{ "Sub.Example.ORG.", "example.org" },
	};
	for (size_t i = 0; i < N_ELEMENTS(cases); i++) {
		char *org = dmarc_org_domain(cases[i][0]);
		assert_string_equal(org, cases[i][1]);
		free(org);
	}
	assert_true(dmarc_aligned("mail.example.com", "example.com", false));
	assert_false(dmarc_aligned("mail.example.com", "example.com", true));
	assert_true(dmarc_aligned("EXAMPLE.com", "example.com", true));
	assert_false(dmarc_aligned("example.co.uk", "other.co.uk", false));
}

static void on_done(struct dmarc_check *c, void *ctx)
{
	*(int *)ctx += 1;
}

static struct dmarc_check *run(struct test_dns *dns, const char *from,
			       const char *spf, const char *spf_domain,
			       const char *dkim_domain, unsigned roll)
{
	struct dmarc_dkim_input dkim[] = { { "fail", "evil.test" },
					   { "pass", dkim_domain } };
	struct dmarc_input in = {
		.from_domain = from, .spf_result = spf, .spf_domain = spf_domain,
		.dkim = dkim, .dkim_count = dkim_domain != NULL ? 2 : 1,
		.pct_roll = roll,
	};
	int calls = 0;
	struct dmarc_check *c = dmarc_check_start(test_dns_iface(dns), &in,
						  on_done, &calls);
	assert_int_equal(calls, 0);
	test_dns_run(dns);
	assert_int_equal(calls, 1);
	return c;
}

static void test_policy(void **state)
{
	struct test_dns *dns = test_dns_create();
	const char *rej = "v=DMARC1; p=reject; sp=quarantine; pct=50";
	const char *strict = "v=DMARC1; p=quarantine; adkim=s; aspf=s";
	test_dns_add(dns, "_dmarc.a.test", "TXT", rej, strlen(rej));
	test_dns_add(dns, "_dmarc.s.test", "TXT", strict, strlen(strict));
	test_dns_add(dns, "_dmarc.t.test", "TIMEOUT", "", 0);

	struct dmarc_check *c;
	/* aligned SPF pass from a subdomain (relaxed) */
	c = run(dns, "a.test", "pass", "bounce.a.test", NULL, 0);
	assert_int_equal(dmarc_check_result(c), DMARC_RESULT_PASS);
	assert_true(dmarc_check_spf_aligned(c));
	assert_int_equal(dmarc_check_disposition(c), DMARC_POLICY_NONE);
	dmarc_check_destroy(&c);
	/* aligned DKIM only */
	c = run(dns, "a.test", "fail", "a.test", "mail.a.test", 0);
	assert_int_equal(dmarc_check_result(c), DMARC_RESULT_PASS);
	assert_true(dmarc_check_dkim_aligned(c));
	dmarc_check_destroy(&c);
	/* unaligned: reject, sampled in; sampled out falls to quarantine */
	c = run(dns, "a.test", "pass", "other.test", "other.test", 10);
	assert_int_equal(dmarc_check_result(c), DMARC_RESULT_FAIL);
	assert_int_equal(dmarc_check_disposition(c), DMARC_POLICY_REJECT);
	assert_string_equal(dmarc_check_policy_domain(c), "a.test");
	dmarc_check_destroy(&c);
	c = run(dns, "a.test", "pass", "other.test", NULL, 60);
	assert_int_equal(dmarc_check_disposition(c), DMARC_POLICY_QUARANTINE);
	dmarc_check_destroy(&c);
	/* a subdomain without its own record: the org record, sp= */
	c = run(dns, "x.y.a.test", "none", NULL, NULL, 0);
	assert_int_equal(dmarc_check_result(c), DMARC_RESULT_FAIL);
	assert_int_equal(dmarc_check_disposition(c), DMARC_POLICY_QUARANTINE);
	assert_string_equal(dmarc_check_policy_domain(c), "a.test");
	dmarc_check_destroy(&c);
	/* strict alignment refuses a subdomain */
	c = run(dns, "s.test", "pass", "mail.s.test", "mail.s.test", 0);
	assert_int_equal(dmarc_check_result(c), DMARC_RESULT_FAIL);
	assert_int_equal(dmarc_check_disposition(c), DMARC_POLICY_QUARANTINE);
	dmarc_check_destroy(&c);
	/* no record; DNS failure; no From domain */
	c = run(dns, "n.test", "pass", "n.test", NULL, 0);
	assert_int_equal(dmarc_check_result(c), DMARC_RESULT_NONE);
	assert_null(dmarc_check_record(c));
	dmarc_check_destroy(&c);
	c = run(dns, "t.test", "pass", "t.test", NULL, 0);
	assert_int_equal(dmarc_check_result(c), DMARC_RESULT_TEMPERROR);
	dmarc_check_destroy(&c);
	c = run(dns, "", "pass", "t.test", NULL, 0);
	assert_int_equal(dmarc_check_result(c), DMARC_RESULT_PERMERROR);
	dmarc_check_destroy(&c);
	/* two records: none */
	test_dns_add(dns, "_dmarc.d.test", "TXT", rej, strlen(rej));
	test_dns_add(dns, "_dmarc.d.test", "TXT", strict, strlen(strict));
	c = run(dns, "d.test", "fail", "d.test", NULL, 0);
	assert_int_equal(dmarc_check_result(c), DMARC_RESULT_NONE);
	dmarc_check_destroy(&c);
	test_dns_destroy(&dns);
}

static void test_authentication_results(void **state)
{
	struct mailauth_ar_entry e[] = {
		{ "spf", "pass", NULL, { { "smtp.mailfrom", "a@a.test" } } },
		{ "dkim", "pass", NULL, { { "header.d", "a.test" },
					  { "header.s", "sel" },
					  { "header.b", "abc/+def" } } },
		{ "dmarc", "fail", "p=reject dis=REJECT",
		  { { "header.from", "a.test" } } },
	};
	char *h = mailauth_authentication_results("mx.b.test", e, 3);
	assert_string_equal(h,
		"Authentication-Results: mx.b.test;\r\n"
		"\tspf=pass smtp.mailfrom=a@a.test;\r\n"
		"\tdkim=pass header.d=a.test header.s=sel header.b=abc/+def;\r\n"
		"\tdmarc=fail reason=\"p=reject dis=REJECT\" header.from=a.test");
	free(h);
	h = mailauth_authentication_results("mx.b.test", NULL, 0);
	assert_string_equal(h, "Authentication-Results: mx.b.test; none");
	free(h);
	const char *v1 = " (comment) MX.b.test; spf=pass";
	assert_true(mailauth_ar_is_ours(v1, strlen(v1), "mx.b.test"));
	const char *v2 = " mx.b.test.evil; spf=pass";
	assert_false(mailauth_ar_is_ours(v2, strlen(v2), "mx.b.test"));
	const char *v3 = "mx.b.test";
	assert_true(mailauth_ar_is_ours(v3, strlen(v3), "mx.b.test"));
}

static void on_spf(struct spf_check *c, void *ctx) { *(int *)ctx += 1; }
static void on_dkim(struct dkim_verify *v, void *ctx) { *(int *)ctx += 1; }

/* The three checks as smtpd runs them: SPF at MAIL FROM, DKIM while DATA
 * streams, DMARC at the end, then one Authentication-Results field. */
static char *flow(struct test_dns *dns, const char *ip, const char *msg,
		  enum dmarc_result *result_r, enum dmarc_policy *disp_r)
{
	struct spf_request req = { .helo = "mail.a.test", .sender = "alice@a.test",
				   .receiver = "mx.b.test" };
	struct sockaddr_in *sin = (void *)&req.client_ip;
	sin->sin_family = AF_INET;
	inet_pton(AF_INET, ip, &sin->sin_addr);
	int calls = 0;
	struct spf_check *spf = spf_check_start(test_dns_iface(dns), &req, on_spf, &calls);
	struct dkim_verify *dkim = dkim_verify_create(test_dns_iface(dns), NULL);
	for (size_t i = 0; msg[i] != '\0'; i += 10)
		dkim_verify_feed(dkim, msg + i, MIN(10, strlen(msg + i)));
	if (dkim_verify_finish(dkim, on_dkim, &calls))
		calls++;
	test_dns_run(dns);
	assert_int_equal(calls, 2);

	struct dmarc_dkim_input d[DKIM_MAX_SIGNATURES];
	size_t nd = dkim_verify_count(dkim);
	for (size_t i = 0; i < nd; i++) {
		d[i].result = dkim_result_name(dkim_verify_get(dkim, i)->result);
		d[i].domain = dkim_verify_get(dkim, i)->domain;
	}
	struct dmarc_input in = {
		.from_domain = "a.test",
		.spf_result = spf_result_name(spf_check_result(spf)),
		.spf_domain = spf_check_domain(spf), .dkim = d, .dkim_count = nd,
	};
	struct dmarc_check *dmarc = dmarc_check_start(test_dns_iface(dns), &in,
						      on_done, &calls);
	test_dns_run(dns);
	assert_int_equal(calls, 3);
	*result_r = dmarc_check_result(dmarc);
	*disp_r = dmarc_check_disposition(dmarc);
	char *ar = mailauth_ar_from_checks("mx.b.test", spf, dkim, dmarc, "a.test");
	dmarc_check_destroy(&dmarc);
	dkim_verify_destroy(&dkim);
	spf_check_destroy(&spf);
	return ar;
}

static void test_full_flow(void **state)
{
	struct test_dns *dns = test_dns_create();
	const char *spf = "v=spf1 ip4:192.0.2.1 -all";
	const char *pol = "v=DMARC1; p=reject";
	test_dns_add(dns, "a.test", "TXT", spf, strlen(spf));
	test_dns_add(dns, "_dmarc.a.test", "TXT", pol, strlen(pol));
	char *pem, *rec;
	const char *error;
	assert_int_equal(dkim_keygen(DKIM_ALG_ED25519_SHA256, 0, &pem, &rec, &error), 0);
	test_dns_add(dns, "sel._domainkey.a.test", "TXT", rec, strlen(rec));
	struct dkim_key *key = dkim_key_from_pem(pem, strlen(pem), &error);
	const char *msg = "From: Alice <alice@a.test>\r\nTo: bob@b.test\r\n"
		"Subject: hi\r\n\r\nHello\r\n";
	struct dkim_sign_settings set = { .domain = "a.test", .selector = "sel",
					  .key = key };
	struct dkim_sign *s = dkim_sign_create(&set, &error);
	dkim_sign_feed(s, msg, strlen(msg));
	char *sig = dkim_sign_finish(s, &error);
	dkim_sign_destroy(&s);
	char *signed_msg = i_strdup_printf("%s\r\n%s", sig, msg);

	enum dmarc_result r;
	enum dmarc_policy disp;
	char *ar = flow(dns, "192.0.2.1", signed_msg, &r, &disp);
	assert_int_equal(r, DMARC_RESULT_PASS);
	assert_int_equal(disp, DMARC_POLICY_NONE);
	char *b = strstr(sig, "\tb=");
	assert_non_null(b);
	b++;
	char *want = i_strdup_printf(
		"Authentication-Results: mx.b.test;\r\n"
		"\tspf=pass smtp.mailfrom=a.test;\r\n"
		"\tdkim=pass header.d=a.test header.s=sel header.b=%.8s;\r\n"
		"\tdmarc=pass header.from=a.test", b + 2);
	assert_string_equal(ar, want);
	free(want);
	free(ar);

	/* forged: wrong IP, no signature: reject */
	ar = flow(dns, "198.51.100.9", msg, &r, &disp);
	assert_int_equal(r, DMARC_RESULT_FAIL);
	assert_int_equal(disp, DMARC_POLICY_REJECT);
	assert_string_equal(ar, "Authentication-Results: mx.b.test;\r\n"
			    "\tspf=fail smtp.mailfrom=a.test;\r\n"
			    "\tdkim=none;\r\n"
			    "\tdmarc=fail header.from=a.test");
	free(ar);
	free(signed_msg);
	free(sig);
	dkim_key_free(&key);
	free(pem);
	free(rec);
	test_dns_destroy(&dns);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_record_parse),
		cmocka_unit_test(test_org_domain),
		cmocka_unit_test(test_policy),
		cmocka_unit_test(test_authentication_results),
		cmocka_unit_test(test_full_flow),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
