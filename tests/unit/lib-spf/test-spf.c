/* SPDX-License-Identifier: MIT */
#include "unit.h"
#include "buf.h"
#include "spf.h"
#include "spf-test-dns.h"

#include <arpa/inet.h>
#include <sys/stat.h>
#include <strings.h>

/* The openspf RFC 7208 suite (../shared/corpus/spf/rfc7208-tests.yml),
 * converted to lines by spf-yaml-convert.py, with every DNS answer taken
 * from the suite's zone data. */

static char *unhex(const char *s, size_t *len_r)
{
	size_t n = strcmp(s, "-") == 0 ? 0 : strlen(s) / 2;
	char *r = i_malloc(n + 1);
	for (size_t i = 0; i < n; i++) {
		unsigned v;
		sscanf(s + 2 * i, "%2x", &v);
		r[i] = (char)v;
	}
	*len_r = n;
	return r;
}

static void set_ip(struct spf_request *req, const char *ip)
{
	memset(&req->client_ip, 0, sizeof(req->client_ip));
	struct sockaddr_in *sin = (void *)&req->client_ip;
	struct sockaddr_in6 *sin6 = (void *)&req->client_ip;
	if (inet_pton(AF_INET, ip, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
	} else {
		assert_int_equal(inet_pton(AF_INET6, ip, &sin6->sin6_addr), 1);
		sin6->sin6_family = AF_INET6;
	}
}

static void on_done(struct spf_check *check, void *ctx)
{
	*(struct spf_check **)ctx = check;
}

static enum spf_result run_check(struct test_dns *dns, struct spf_request *req,
				 struct spf_check **check_r)
{
	struct spf_check *done = NULL;
	struct spf_check *check = spf_check_start(test_dns_iface(dns), req,
						  on_done, &done);
	assert_false(spf_check_done(check)); /* never inside start */
	test_dns_run(dns);
	assert_ptr_equal(done, check);
	*check_r = check;
	return spf_check_result(check);
}

static void test_rfc7208_suite(void **state)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/corpus/spf/rfc7208-tests.yml",
		 SHARED_DIR);
	struct stat st;
	if (stat(path, &st) < 0) {
		print_message("notice: %s absent, RFC 7208 suite skipped\n", path);
		skip();
	}
	char cmd[8192];
	snprintf(cmd, sizeof(cmd), "/usr/bin/python3 %s %s", CONVERTER, path);
	FILE *f = popen(cmd, "r");
	assert_non_null(f);

	struct test_dns *dns = test_dns_create();
	char line[16384];
	unsigned tests = 0, failed = 0;
	while (fgets(line, sizeof(line), f) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		char *fields[7];
		size_t n = 0;
		for (char *save = NULL, *tok = strtok_r(line, " ", &save);
		     tok != NULL && n < N_ELEMENTS(fields);
		     tok = strtok_r(NULL, " ", &save))
			fields[n++] = tok;
		if (n == 1 && strcmp(fields[0], "S") == 0) {
			test_dns_clear(dns);
		} else if (n >= 4 && strcmp(fields[0], "Z") == 0) {
			size_t len;
			char *data;
			const char *type = fields[2];
			if (strcmp(type, "A") == 0 || strcmp(type, "AAAA") == 0) {
				data = i_strdup(fields[3]);
				len = strlen(data);
			} else if (strcmp(type, "MX") == 0) {
				size_t hl;
				char *host = unhex(fields[4], &hl);
				data = i_strdup_printf("%s %s", fields[3], host);
				len = strlen(data);
				free(host);
			} else {
				data = unhex(fields[3], &len);
			}
			size_t nl;
			char *name = unhex(fields[1], &nl);
			test_dns_add(dns, name, type, data, len);
			free(name);
			free(data);
		} else if (n == 7 && strcmp(fields[0], "T") == 0) {
			size_t l;
			char *helo = unhex(fields[2], &l);
			char *from = unhex(fields[4], &l);
			char *exp = strcmp(fields[6], "-") == 0 ? NULL :
				unhex(fields[6], &l);
			struct spf_request req = {
				.helo = helo, .sender = from,
				.receiver = "receiver.test", .now = 1000000,
			};
			set_ip(&req, fields[3]);
			struct spf_check *check;
			enum spf_result r = run_check(dns, &req, &check);
			bool ok = false;
			char *results = fields[5];
			for (char *save = NULL, *tok = strtok_r(results, ",", &save);
			     tok != NULL; tok = strtok_r(NULL, ",", &save)) {
				if (strcmp(tok, spf_result_name(r)) == 0)
					ok = true;
			}
			const char *got_exp = spf_check_explanation(check);
			/* Case-insensitive: the suite writes one IPv6 %{i}
			 * in upper-case nibbles (as the host was given),
			 * RFC 7208 section 7.3 shows them lower-case. */
			if (ok && exp != NULL && strcmp(exp, "DEFAULT") != 0 &&
			    (got_exp == NULL || strcasecmp(got_exp, exp) != 0))
				ok = false;
			if (ok && exp != NULL && strcmp(exp, "DEFAULT") == 0 &&
			    got_exp != NULL)
				ok = false;
			/* The header renders for every result. */
			char *hdr = spf_received_header(check);
			assert_true(strncmp(hdr, "Received-SPF: ", 14) == 0);
			free(hdr);
			tests++;
			if (!ok) {
				failed++;
				print_message("FAIL %s: got %s (%s) exp=%s, want %s exp=%s\n",
					      fields[1], spf_result_name(r),
					      spf_check_reason(check),
					      got_exp != NULL ? got_exp : "(none)",
					      fields[5], exp != NULL ? exp : "-");
			}
			spf_check_destroy(&check);
			free(helo);
			free(from);
			free(exp);
		}
	}
	assert_int_equal(pclose(f), 0);
	test_dns_destroy(&dns);
	print_message("RFC 7208 suite: %u tests, %u failed\n", tests, failed);
	assert_true(tests >= 200);
	assert_int_equal(failed, 0);
}

static void test_received_header(void **state)
{
	struct test_dns *dns = test_dns_create();
	const char *rec = "v=spf1 ip4:192.0.2.0/24 -all";
	test_dns_add(dns, "b.test", "TXT", rec, strlen(rec));
	struct spf_request req = {
		.helo = "mail.b.test", .sender = "a@b.test",
		.receiver = "mx.example.org",
	};
	set_ip(&req, "192.0.2.1");
	struct spf_check *check;
	assert_int_equal(run_check(dns, &req, &check), SPF_RESULT_PASS);
	char *hdr = spf_received_header(check);
	assert_string_equal(hdr,
		"Received-SPF: pass (mx.example.org: domain of a@b.test designates "
		"192.0.2.1 as permitted sender)\r\n\tclient-ip=192.0.2.1;"
		"\r\n\tenvelope-from=\"a@b.test\";\r\n\thelo=mail.b.test;"
		"\r\n\tidentity=mailfrom;\r\n\treceiver=mx.example.org;");
	free(hdr);
	assert_string_equal(spf_check_domain(check), "b.test");
	spf_check_destroy(&check);

	/* v4-mapped IPv6 is IPv4; a different address fails */
	set_ip(&req, "::ffff:198.51.100.1");
	assert_int_equal(run_check(dns, &req, &check), SPF_RESULT_FAIL);
	spf_check_destroy(&check);
	test_dns_destroy(&dns);
}

static void test_expansion_limit(void **state)
{
	struct test_dns *dns = test_dns_create();
	struct buf rec = BUF_INIT;
	buf_append_str(&rec, "v=spf1 exists:");
	for (int i = 0; i < 600; i++)
		buf_append_str(&rec, "%{s}");
	buf_append_str(&rec, ".x.test -all");
	test_dns_add(dns, "b.test", "TXT", (const char *)rec.data, rec.len);
	struct spf_request req = { .helo = "h.test",
				   .sender = "somebody.with.a.long.name@b.test" };
	set_ip(&req, "192.0.2.1");
	struct spf_check *check;
	assert_int_equal(run_check(dns, &req, &check), SPF_RESULT_PERMERROR);
	spf_check_destroy(&check);
	buf_free(&rec);
	test_dns_destroy(&dns);
}

/* Each call is 15 seconds later: the second answer comes past the 20 s
 * limit. */
static int64_t slow_clock_now;
static int64_t slow_clock(void)
{
	slow_clock_now += 15000;
	return slow_clock_now;
}

static void test_time_limit(void **state)
{
	struct test_dns *dns = test_dns_create();
	const char *rec = "v=spf1 include:c.test -all";
	const char *inc = "v=spf1 ip4:192.0.2.0/24 -all";
	test_dns_add(dns, "b.test", "TXT", rec, strlen(rec));
	test_dns_add(dns, "c.test", "TXT", inc, strlen(inc));
	struct spf_request req = { .helo = "h.test", .sender = "a@b.test" };
	set_ip(&req, "192.0.2.1");
	struct spf_check *check;
	assert_int_equal(run_check(dns, &req, &check), SPF_RESULT_PASS);
	spf_check_destroy(&check);

	slow_clock_now = 0;
	req.clock_ms = slow_clock;
	assert_int_equal(run_check(dns, &req, &check), SPF_RESULT_TEMPERROR);
	assert_string_equal(spf_check_reason(check), "time limit exceeded");
	spf_check_destroy(&check);
	/* A larger limit lets the same evaluation finish. */
	slow_clock_now = 0;
	req.time_limit_ms = 60000;
	assert_int_equal(run_check(dns, &req, &check), SPF_RESULT_PASS);
	spf_check_destroy(&check);
	test_dns_destroy(&dns);
}

static void test_destroy_pending(void **state)
{
	struct test_dns *dns = test_dns_create();
	struct spf_request req = { .helo = "h.test", .sender = "a@b.test" };
	set_ip(&req, "192.0.2.1");
	struct spf_check *done = NULL;
	struct spf_check *check = spf_check_start(test_dns_iface(dns), &req,
						  on_done, &done);
	spf_check_destroy(&check);
	assert_null(check);
	test_dns_run(dns);
	assert_null(done); /* cancelled: the callback never ran */
	assert_int_equal(test_dns_queries(dns), 0);
	test_dns_destroy(&dns);
}

static void test_record_check(void **state)
{
	static const struct { const char *rec; int ret; } cases[] = {
		{ "v=spf1 -all", 1 },
		{ "v=spf1 a/24//64 mx:%{d}.x.test ip6:2001:db8::/32 ~all", 1 },
		{ "v=spf1 include:_spf.example.com redirect=x.test", 1 },
		{ "v=spf10", 0 },
		{ "spf2.0/pra", 0 },
		{ "v=spf1 ip4:1.2.3.4/33", -1 },
		{ "v=spf1 a:foo", -1 },
		{ "v=spf1 %{z}.test", -1 },
		{ "v=spf1 exp=a.test exp=b.test", -1 },
		{ "v=spf1 foo:bar", -1 },
		{ "v=spf1 ip4:1.2.3.4/024", -1 },
	};
	for (size_t i = 0; i < N_ELEMENTS(cases); i++) {
		const char *error = NULL;
		int ret = spf_record_check(cases[i].rec, strlen(cases[i].rec), &error);
		if (ret != cases[i].ret)
			fail_msg("%s: %d", cases[i].rec, ret);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_record_check),
		cmocka_unit_test(test_received_header),
		cmocka_unit_test(test_destroy_pending),
		cmocka_unit_test(test_time_limit),
		cmocka_unit_test(test_expansion_limit),
		cmocka_unit_test(test_rfc7208_suite),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
