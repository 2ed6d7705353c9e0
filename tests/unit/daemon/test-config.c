/* SPDX-License-Identifier: MIT */
#include "../unit.h"
#include "buf.h"
#include "config.h"

#include <unistd.h>

static struct config *load_ok(const char *text)
{
	struct buf errors = BUF_INIT;
	struct config *c = NULL;
	int ret = config_load_string("t.conf", text, &c, &errors);
	if (ret != 1)
		fprintf(stderr, "unexpected errors:\n%s", buf_cstr(&errors));
	assert_int_equal(ret, 1);
	assert_non_null(c);
	assert_int_equal(errors.len, 0);
	buf_free(&errors);
	return c;
}

static void test_defaults(void **state)
{
	struct config *c = load_ok("");
	assert_false(c->embedded);
	assert_string_equal(c->file, "t.conf");
	assert_string_equal(c->server.data_dir, "/var/lib/posthorn");
	assert_string_equal(c->server.user, "");
	assert_true(c->server.hostname[0] != '\0');
	assert_int_equal(c->server.log_level, LOG_LEVEL_INFO);
	assert_int_equal(c->server.io_threads, 0);
	for (unsigned l = 0; l < CONFIG_LISTEN_COUNT; l++)
		assert_int_equal(c->listen[l].count, 0);
	assert_string_equal(c->tls.cert, "");
	assert_int_equal(c->outbound.mx_port, 25);
	assert_int_equal(c->limits.max_connections, 1000);
	assert_int_equal(c->limits.max_connections_per_ip, 20);
	assert_int_equal(c->limits.smtp_idle_timeout, 300);
	assert_int_equal(c->limits.imap_idle_timeout, 1800);
	assert_int_equal(c->limits.pop3_idle_timeout, 600);
	assert_true(c->smtp.max_message_size == 50 * 1024 * 1024);
	assert_int_equal(c->smtp.max_recipients, 100);
	assert_string_equal(c->smtp.recipient_delimiter, "+");
	assert_int_equal(c->smtp.vrfy, CONFIG_VERIFY_AMBIGUOUS);
	assert_int_equal(c->smtp.expn, CONFIG_VERIFY_OFF);
	assert_true(c->auth.spf && c->auth.dkim_verify && c->auth.dmarc);
	assert_int_equal(c->auth.spf_reject, CONFIG_SPF_REJECT_DATA);
	assert_int_equal(c->auth.dmarc_policy, CONFIG_DMARC_ENFORCE);
	assert_int_equal(c->auth.temperror, CONFIG_AUTH_TEMPERROR_ACCEPT);
	assert_true(c->auth.dkim_sign && c->auth.dmarc_reports);
	assert_int_equal(c->auth.report_interval, 86400);
	assert_int_equal(c->dns.resolver, CONFIG_DNS_SYSTEM);
	config_unref(&c);
	assert_null(c);
}

static void test_embedded(void **state)
{
	struct buf errors = BUF_INIT;
	struct config *c = NULL;
	assert_int_equal(config_load(NULL, &c, &errors), 1);
	assert_true(c->embedded);
	assert_string_equal(c->file, "<embedded>");
	assert_string_equal(c->server.hostname, "localhost");
	assert_string_equal(c->server.data_dir, "./posthorn-data");
	static const unsigned ports[CONFIG_LISTEN_COUNT] = {
		2525, 2587, 2465, 2143, 2993, 2110, 2995 };
	for (unsigned l = 0; l < CONFIG_LISTEN_COUNT; l++) {
		assert_int_equal(c->listen[l].count, 1);
		assert_int_equal(c->listen[l].addrs[0].port, ports[l]);
		assert_string_equal(c->listen[l].addrs[0].host, "127.0.0.1");
	}
	assert_true(config_listener_implicit_tls(CONFIG_LISTEN_IMAPS));
	assert_false(config_listener_implicit_tls(CONFIG_LISTEN_IMAP));
	assert_string_equal(config_listener_name(CONFIG_LISTEN_SUBMISSIONS),
			    "submissions");
	config_unref(&c);
	buf_free(&errors);
}

static void test_good_file(void **state)
{
	struct config *c = load_ok(
		"\xEF\xBB\xBF; a comment\n"
		"# another\n"
		"[server]\n"
		"  hostname = mx.example.com\n"
		"data_dir = /srv/mail\r\n"
		"user = posthorn\n"
		"log_level = debug\n"
		"io_threads = 4\n"
		"postmaster = admin@example.com\n"
		"\n"
		"[listen]             ; ADDR:PORT, comma-separated\n"
		"smtp = 0.0.0.0:25, [::]:25\n"
		"submission = *:587\n"
		"imaps = [::1]:993\n"
		"pop3 =\n"
		"[tls]\n"
		"cert = /etc/posthorn/cert.pem\n"
		"key = /etc/posthorn/key.pem\n"
		"[dns]\n"
		"static = /etc/posthorn/static.zone  ; optional\n"
		"[outbound]\n"
		"mx_port = 2525\n"
		"source = 192.0.2.10\n"
		"[limits]\n"
		"max_connections = 50\n"
		"smtp_idle_timeout = 10m\n"
		"handshake_timeout = 45\n"
		"[smtp]\n"
		"max_message_size = 25M\n"
		"recipient_delimiter = -\n"
		"vrfy = off\n"
		"expn = on\n");
	assert_string_equal(c->server.hostname, "mx.example.com");
	assert_string_equal(c->server.data_dir, "/srv/mail");
	assert_string_equal(c->server.user, "posthorn");
	assert_string_equal(c->server.postmaster, "admin@example.com");
	assert_int_equal(c->server.log_level, LOG_LEVEL_DEBUG);
	assert_int_equal(c->server.io_threads, 4);
	const struct config_addr_list *smtp = &c->listen[CONFIG_LISTEN_SMTP];
	assert_int_equal(smtp->count, 2);
	assert_string_equal(smtp->addrs[0].str, "0.0.0.0:25");
	assert_false(smtp->addrs[0].ipv6);
	assert_string_equal(smtp->addrs[1].str, "[::]:25");
	assert_string_equal(smtp->addrs[1].host, "::");
	assert_true(smtp->addrs[1].ipv6);
	assert_string_equal(c->listen[CONFIG_LISTEN_SUBMISSION].addrs[0].str,
			    "0.0.0.0:587");
	assert_int_equal(c->listen[CONFIG_LISTEN_IMAPS].addrs[0].port, 993);
	assert_int_equal(c->listen[CONFIG_LISTEN_POP3].count, 0);
	assert_int_equal(c->listen[CONFIG_LISTEN_IMAP].count, 0);
	assert_string_equal(c->tls.key, "/etc/posthorn/key.pem");
	assert_string_equal(c->dns.static_zone, "/etc/posthorn/static.zone");
	assert_int_equal(c->outbound.mx_port, 2525);
	assert_string_equal(c->outbound.source, "192.0.2.10");
	assert_int_equal(c->limits.max_connections, 50);
	assert_int_equal(c->limits.smtp_idle_timeout, 600);
	assert_int_equal(c->limits.handshake_timeout, 45);
	assert_true(c->smtp.max_message_size == 25 * 1024 * 1024);
	assert_string_equal(c->smtp.recipient_delimiter, "-");
	assert_int_equal(c->smtp.vrfy, CONFIG_VERIFY_OFF);
	assert_int_equal(c->smtp.expn, CONFIG_VERIFY_ON);
	config_unref(&c);
}

struct bad_case {
	const char *text;
	const char *errors;
};

static const struct bad_case bad_cases[] = {
	{ "[server]\nhostnme = x\n", "t.conf:2: server.hostnme: unknown key\n" },
	{ "[lisen]\nsmtp = 127.0.0.1:25\n[server]\nuser = a\n",
	  "t.conf:1: [lisen]: unknown section\n" },
	{ "user = a\n", "t.conf:1: user: key outside any section\n" },
	{ "[server]\nuser = a\n\nuser = b\n",
	  "t.conf:4: server.user: set twice (first on line 2)\n" },
	{ "[server]\nio_threads = many\n",
	  "t.conf:2: server.io_threads: expected a number from 0 to 256, got \"many\"\n" },
	{ "[server]\nio_threads = 257\n",
	  "t.conf:2: server.io_threads: expected a number from 0 to 256, got \"257\"\n" },
	{ "[server]\nlog_level = loud\n",
	  "t.conf:2: server.log_level: expected debug, info, warn or error, got \"loud\"\n" },
	{ "[server]\ndata_dir =\n", "t.conf:2: server.data_dir: must not be empty\n" },
	{ "[server]\nhostname = -bad-.example\n",
	  "t.conf:2: server.hostname: not a valid host name: \"-bad-.example\"\n" },
	{ "[server]\npostmaster = nobody\n",
	  "t.conf:2: server.postmaster: expected an address such as postmaster@example.com, got \"nobody\"\n" },
	{ "[listen]\nsmtp = 127.0.0.1\n",
	  "t.conf:2: listen.smtp: bad address \"127.0.0.1\": missing port\n" },
	{ "[listen]\nsmtp = 127.0.0.1:99999\n",
	  "t.conf:2: listen.smtp: bad address \"127.0.0.1:99999\": bad port (expected 1-65535)\n" },
	{ "[listen]\nimap = mail.example.com:143\n",
	  "t.conf:2: listen.imap: bad address \"mail.example.com:143\": not a numeric IP address\n" },
	{ "[listen]\nimap = ::1:143\n",
	  "t.conf:2: listen.imap: bad address \"::1:143\": IPv6 address must be in brackets\n" },
	{ "[listen]\nimap = [::1:143\n",
	  "t.conf:2: listen.imap: bad address \"[::1:143\": missing ']'\n" },
	{ "[listen]\nimap = 127.0.0.1:143,,127.0.0.2:143\n",
	  "t.conf:2: listen.imap: empty address in list\n" },
	{ "[listen]\nsmtp = 127.0.0.1:25\nsubmission = 127.0.0.1:25\n",
	  "t.conf:3: listen.submission: address 127.0.0.1:25 already used by listen.smtp\n" },
	{ "[tls]\ncert = /c.pem\n", "t.conf:2: tls.cert: set without tls.key\n" },
	{ "[tls]\n\nkey = /k.pem\n", "t.conf:3: tls.key: set without tls.cert\n" },
	{ "[outbound]\nsource = example.com\n",
	  "t.conf:2: outbound.source: expected a numeric IP address, got \"example.com\"\n" },
	{ "[outbound]\nmx_port = 0\n",
	  "t.conf:2: outbound.mx_port: expected a number from 1 to 65535, got \"0\"\n" },
	{ "[smtp]\nmax_message_size = 3T\n",
	  "t.conf:2: smtp.max_message_size: expected a size from 1K to 2G (suffix K, M or G), got \"3T\"\n" },
	{ "[smtp]\nmax_message_size = 3G\n",
	  "t.conf:2: smtp.max_message_size: expected a size from 1K to 2G (suffix K, M or G), got \"3G\"\n" },
	{ "[limits]\nsmtp_idle_timeout = 5x\n",
	  "t.conf:2: limits.smtp_idle_timeout: expected a duration from 1s to 1d (suffix s, m, h or d), got \"5x\"\n" },
	{ "[smtp]\nvrfy = maybe\n",
	  "t.conf:2: smtp.vrfy: expected off, ambiguous or on, got \"maybe\"\n" },
	{ "[auth]\nspf_reject = maybe\n",
	  "t.conf:2: auth.spf_reject: expected no, data or rcpt, got \"maybe\"\n" },
	{ "[auth]\ntemperror = retry\n",
	  "t.conf:2: auth.temperror: expected accept or defer, got \"retry\"\n" },
	{ "[auth]\nreport_interval = 10m\n",
	  "t.conf:2: auth.report_interval: expected a duration from 1h to 7d (suffix s, m, h or d), got \"10m\"\n" },
	{ "[auth]\nreport_sender = nobody\n",
	  "t.conf:2: auth.report_sender: expected an address such as postmaster@example.com, got \"nobody\"\n" },
	{ "[dns]\nresolver = google\n",
	  "t.conf:2: dns.resolver: expected system, recursive or static, got \"google\"\n" },
	{ "[smtp]\nrecipient_delimiter = ab\n",
	  "t.conf:2: smtp.recipient_delimiter: expected one punctuation character such as + or -, got \"ab\"\n" },
	{ "[server]\njust some words\n", "t.conf:2: line: expected key = value\n" },
	{ "[server]\nuser: x\n", "t.conf:2: line: expected key = value\n" },
	{ "[server\nuser = x\n", "t.conf:1: line: expected ']' after section name\n" },
	{ "[server] x\n", "t.conf:1: line: unexpected text after ']'\n" },
	{ "[server]\n= x\n", "t.conf:2: line: missing key name before '='\n" },
	{ "[smtp]\nrecipient_delimiter = +-\n",
	  "t.conf:2: smtp.recipient_delimiter: expected one punctuation character such as + or -, got \"+-\"\n" },
	{ "[smtp]\nrecipient_delimiter = @\n",
	  "t.conf:2: smtp.recipient_delimiter: expected one punctuation character such as + or -, got \"@\"\n" },
	{ "[server]\nuser = \x01x\n",
	  "" /* control characters are fine in a user name here; checked by getpwnam */ },
	/* Every problem is reported, not just the first. */
	{ "[server]\nio_threads = x\nfoo = 1\n[nope]\nbar = 2\n[smtp]\nvrfy = x\n",
	  "t.conf:2: server.io_threads: expected a number from 0 to 256, got \"x\"\n"
	  "t.conf:3: server.foo: unknown key\n"
	  "t.conf:4: [nope]: unknown section\n"
	  "t.conf:7: smtp.vrfy: expected off, ambiguous or on, got \"x\"\n" },
};

static void test_bad_files(void **state)
{
	for (size_t i = 0; i < N_ELEMENTS(bad_cases); i++) {
		struct buf errors = BUF_INIT;
		struct config *c = NULL;
		int ret = config_load_string("t.conf", bad_cases[i].text, &c,
					     &errors);
		if (bad_cases[i].errors[0] == '\0') {
			assert_int_equal(ret, 1);
			config_unref(&c);
			continue;
		}
		if (strcmp(buf_cstr(&errors), bad_cases[i].errors) != 0)
			fprintf(stderr, "case %zu: got:\n%s", i, buf_cstr(&errors));
		assert_int_equal(ret, -1);
		assert_null(c);
		assert_string_equal(buf_cstr(&errors), bad_cases[i].errors);
		buf_free(&errors);
	}
}

static void test_long_line(void **state)
{
	struct buf text = BUF_INIT, errors = BUF_INIT;
	struct config *c = NULL;
	buf_append_str(&text, "[server]\nhostname = ");
	for (int i = 0; i < 300; i++)
		buf_append_byte(&text, 'a');
	buf_append_str(&text, "\nuser = x\nfoo = 1\n");
	assert_int_equal(config_load_string("t.conf", buf_cstr(&text), &c, &errors), -1);
	assert_string_equal(buf_cstr(&errors),
			    "t.conf:2: line: line too long (max 199 characters)\n"
			    "t.conf:4: server.foo: unknown key\n");
	buf_free(&text);
	buf_free(&errors);
}

static void test_file(void **state)
{
	char path[] = "/tmp/posthorn-test-config-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	const char text[] = "[server]\ndata_dir = /x\nbogus = 1\n";
	assert_int_equal(write(fd, text, sizeof(text) - 1), (ssize_t)sizeof(text) - 1);
	close(fd);

	struct buf errors = BUF_INIT, expect = BUF_INIT;
	struct config *c = NULL;
	assert_int_equal(config_load(path, &c, &errors), -1);
	buf_printf(&expect, "%s:3: server.bogus: unknown key\n", path);
	assert_string_equal(buf_cstr(&errors), buf_cstr(&expect));
	unlink(path);

	buf_reset(&errors);
	buf_reset(&expect);
	assert_int_equal(config_load(path, &c, &errors), -1);
	buf_printf(&expect, "%s: cannot open: No such file or directory\n", path);
	assert_string_equal(buf_cstr(&errors), buf_cstr(&expect));
	buf_free(&errors);
	buf_free(&expect);
}

static void test_size_duration(void **state)
{
	uint64_t v;
	unsigned s;
	const char *error;
	assert_int_equal(config_parse_size("0", &v, &error), 0);
	assert_true(v == 0);
	assert_int_equal(config_parse_size("512", &v, &error), 0);
	assert_true(v == 512);
	assert_int_equal(config_parse_size("512K", &v, &error), 0);
	assert_true(v == 512 * 1024);
	assert_int_equal(config_parse_size("10m", &v, &error), 0);
	assert_true(v == 10 * 1024 * 1024);
	assert_int_equal(config_parse_size("2G", &v, &error), 0);
	assert_true(v == 2ULL * 1024 * 1024 * 1024);
	assert_int_equal(config_parse_size("3 M", &v, &error), 0);
	assert_true(v == 3 * 1024 * 1024);
	assert_int_equal(config_parse_size("", &v, &error), -1);
	assert_int_equal(config_parse_size("M", &v, &error), -1);
	assert_int_equal(config_parse_size("1X", &v, &error), -1);
	assert_int_equal(config_parse_size("1MB", &v, &error), -1);
	assert_int_equal(config_parse_size("-1", &v, &error), -1);
	assert_int_equal(config_parse_size("99999999999999999999", &v, &error), -1);
	assert_int_equal(config_parse_size("17179869184G", &v, &error), -1);

	assert_int_equal(config_parse_duration("45", &s, &error), 0);
	assert_int_equal(s, 45);
	assert_int_equal(config_parse_duration("45s", &s, &error), 0);
	assert_int_equal(s, 45);
	assert_int_equal(config_parse_duration("5m", &s, &error), 0);
	assert_int_equal(s, 300);
	assert_int_equal(config_parse_duration("2h", &s, &error), 0);
	assert_int_equal(s, 7200);
	assert_int_equal(config_parse_duration("1D", &s, &error), 0);
	assert_int_equal(s, 86400);
	assert_int_equal(config_parse_duration("1w", &s, &error), -1);
	assert_int_equal(config_parse_duration("m", &s, &error), -1);
	assert_int_equal(config_parse_duration("99999999d", &s, &error), -1);

	bool b;
	assert_int_equal(config_parse_bool("Yes", &b, &error), 0);
	assert_true(b);
	assert_int_equal(config_parse_bool("off", &b, &error), 0);
	assert_false(b);
	assert_int_equal(config_parse_bool("maybe", &b, &error), -1);
}

static void test_addr(void **state)
{
	struct config_addr a;
	const char *error;
	assert_int_equal(config_parse_addr("[fe80::1%lo]:143", &a, &error), 0);
	assert_string_equal(a.host, "fe80::1%lo");
	assert_int_equal(a.port, 143);
	config_addr_free(&a);
	assert_int_equal(config_parse_addr("*:25", &a, &error), 0);
	assert_string_equal(a.str, "0.0.0.0:25");
	config_addr_free(&a);
	assert_int_equal(config_parse_addr("127.0.0.1:0", &a, &error), -1);
	assert_int_equal(config_parse_addr("[::1]143", &a, &error), -1);
	assert_string_equal(error, "missing port");
	assert_int_equal(config_parse_addr(":25", &a, &error), -1);
	assert_int_equal(config_parse_addr("[]:25", &a, &error), -1);
	assert_int_equal(config_parse_addr("1.2.3.4:25x", &a, &error), -1);
	assert_int_equal(config_parse_addr("256.1.1.1:25", &a, &error), -1);
}

static void test_restart_changes(void **state)
{
	struct config *a = load_ok("[listen]\nsmtp = 127.0.0.1:25\n[server]\nlog_level = info\n");
	struct config *b = load_ok("[listen]\nsmtp = 127.0.0.1:26\n[server]\nlog_level = debug\nuser = x\n");
	struct buf keys = BUF_INIT;
	assert_int_equal(config_restart_changes(a, a, &keys), 0);
	assert_int_equal(config_restart_changes(a, b, &keys), 2);
	assert_string_equal(buf_cstr(&keys), "server.user listen.smtp");
	struct config *a2 = a;
	config_ref(a2);
	config_unref(&a);
	assert_null(a);
	assert_int_equal(a2->listen[CONFIG_LISTEN_SMTP].addrs[0].port, 25);
	config_unref(&a2);
	config_unref(&b);
	buf_free(&keys);
}

static void test_format_roundtrip(void **state)
{
	static const char *const texts[] = {
		"",
		"[server]\nhostname = mx.example.com\nlog_level = warn\n"
		"[listen]\nsmtp = 0.0.0.0:25, [::]:25\nimaps = *:993\n"
		"[tls]\ncert = /c\nkey = /k\n[limits]\nsmtp_idle_timeout = 90\n"
		"[smtp]\nmax_message_size = 1536K\nvrfy = on\nrecipient_delimiter =\n",
	};
	for (size_t i = 0; i < N_ELEMENTS(texts); i++) {
		struct config *a = load_ok(texts[i]);
		struct buf out = BUF_INIT;
		config_format(a, &out);
		struct config *b = load_ok(buf_cstr(&out));
		assert_true(config_equal(a, b));
		if (i == 1) {
			assert_non_null(strstr(buf_cstr(&out),
				"[listen]\nsmtp = 0.0.0.0:25, [::]:25\n"));
			assert_non_null(strstr(buf_cstr(&out),
				"smtp_idle_timeout = 90s\n"));
			assert_non_null(strstr(buf_cstr(&out),
				"max_message_size = 1536K\n"));
			assert_non_null(strstr(buf_cstr(&out), "submission =\n"));
		}
		config_unref(&a);
		config_unref(&b);
		buf_free(&out);
	}
	struct config *a = load_ok("[server]\nlog_level = warn\n");
	struct config *b = load_ok("[server]\nlog_level = error\n");
	assert_false(config_equal(a, b));
	config_unref(&a);
	config_unref(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_embedded),
		cmocka_unit_test(test_good_file),
		cmocka_unit_test(test_bad_files),
		cmocka_unit_test(test_long_line),
		cmocka_unit_test(test_file),
		cmocka_unit_test(test_size_duration),
		cmocka_unit_test(test_addr),
		cmocka_unit_test(test_restart_changes),
		cmocka_unit_test(test_format_roundtrip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
