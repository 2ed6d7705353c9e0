/* SPDX-License-Identifier: MIT */
#include "unit.h"
#include "buf.h"
#include "dkim.h"
#include "spf-test-dns.h"

#include <sys/stat.h>
#include <unistd.h>

/* The shared DKIM samples, streaming in any piece size, one-byte changes,
 * signing round trips, and interoperability with Debian's dkimpy both
 * ways. */

static char *read_file(const char *path, size_t *len_r)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return NULL;
	struct buf b = BUF_INIT;
	char tmp[8192];
	size_t n;
	while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0)
		buf_append(&b, tmp, n);
	fclose(f);
	return (char *)buf_steal(&b, len_r);
}

static char *shared_path(const char *name)
{
	return i_strdup_printf("%s/corpus/dkim/%s", SHARED_DIR, name);
}

static bool have_shared(void)
{
	struct stat st;
	char *p = shared_path("gmail.msg");
	bool ok = stat(p, &st) == 0;
	free(p);
	if (!ok)
		print_message("notice: %s/corpus/dkim absent, samples skipped\n",
			      SHARED_DIR);
	return ok;
}

/* "v=DKIM1; p=..." from a PEM public key file */
static char *pem_record(const char *pem)
{
	struct buf b = BUF_INIT;
	buf_append_str(&b, "v=DKIM1; k=rsa; p=");
	const char *p = strstr(pem, "-----\n");
	assert_non_null(p);
	for (p += 6; *p != '\0' && *p != '-'; p++) {
		if (*p != '\n' && *p != '\r')
			buf_append_byte(&b, (uint8_t)*p);
	}
	size_t len;
	return (char *)buf_steal(&b, &len);
}

static void on_verified(struct dkim_verify *v, void *ctx)
{
	*(bool *)ctx = true;
}

/* Verifies data fed in pieces of chunk bytes; returns the verifier (done). */
static struct dkim_verify *verify(struct test_dns *dns, const char *data,
				  size_t len, size_t chunk)
{
	struct dkim_verify_settings set = { .now = 1700000000 };
	struct dkim_verify *v = dkim_verify_create(test_dns_iface(dns), &set);
	for (size_t i = 0; i < len; i += chunk)
		dkim_verify_feed(v, data + i, MIN(chunk, len - i));
	bool done = false;
	if (dkim_verify_finish(v, on_verified, &done))
		done = true;
	test_dns_run(dns);
	assert_true(done);
	return v;
}

static enum dkim_result verify_first(struct test_dns *dns, const char *data,
				     size_t len, size_t chunk)
{
	struct dkim_verify *v = verify(dns, data, len, chunk);
	enum dkim_result r = dkim_verify_count(v) == 0 ? DKIM_RESULT_NONE :
		dkim_verify_get(v, 0)->result;
	if (r != DKIM_RESULT_PASS && dkim_verify_count(v) > 0)
		print_message("dkim: %s (%s)\n", dkim_result_name(r),
			      dkim_verify_get(v, 0)->reason);
	dkim_verify_destroy(&v);
	return r;
}

static void add_gmail_key(struct test_dns *dns)
{
	char *path = shared_path("gmail.pub");
	size_t len;
	char *pem = read_file(path, &len);
	assert_non_null(pem);
	char *rec = pem_record(pem);
	test_dns_add(dns, "20120113._domainkey.gmail.com", "TXT", rec, strlen(rec));
	free(rec);
	free(pem);
	free(path);
}

static void test_gmail_samples(void **state)
{
	if (!have_shared())
		skip();
	static const char *const msgs[] = {
		"gmail.msg", "related.msg", "multipart-no-end-boundary.msg",
	};
	struct test_dns *dns = test_dns_create();
	add_gmail_key(dns);
	for (size_t i = 0; i < N_ELEMENTS(msgs); i++) {
		char *path = shared_path(msgs[i]);
		size_t len;
		char *data = read_file(path, &len);
		assert_non_null(data);
		static const size_t chunks[] = { 1, 7, 4096, 1 << 30 };
		for (size_t c = 0; c < N_ELEMENTS(chunks); c++) {
			if (chunks[c] == 1 && len > 20000)
				continue;
			if (verify_first(dns, data, len, chunks[c]) != DKIM_RESULT_PASS)
				fail_msg("%s in pieces of %zu", msgs[i], chunks[c]);
		}
		/* one byte changed in the body, then in a signed header */
		char *body = strstr(data, "\n\n");
		assert_non_null(body);
		body[len - (size_t)(body - data) > 40 ? 30 : 3] ^= 0x01;
		assert_int_equal(verify_first(dns, data, len, 4096), DKIM_RESULT_FAIL);
		body[len - (size_t)(body - data) > 40 ? 30 : 3] ^= 0x01;
		char *subj = strstr(data, "\nSubject: ");
		assert_non_null(subj);
		subj[11] ^= 0x01;
		assert_int_equal(verify_first(dns, data, len, 4096), DKIM_RESULT_FAIL);
		free(data);
		free(path);
	}
	test_dns_destroy(&dns);
}

static void add_rfc8463_keys(struct test_dns *dns)
{
	const char *ed = "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";
	const char *rsa = "v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDkHlOQoBTzWR"
		"iGs5V6NpP3idY6Wk08a5qhdR6wy5bdOKb2jLQiY/J16JYi0Qvx/byYzCNb3W91y3FutAC"
		"DfzwQ/BC/e/8uBsCR+yz1Lxj+PL6lHvqMKrM3rG4hstT5QjvHO9PzoxZyVYLzBfO2EeC3"
		"Ip3G+2kryOTIKT+l/K4w3QIDAQAB";
	test_dns_add(dns, "brisbane._domainkey.football.example.com", "TXT", ed, strlen(ed));
	test_dns_add(dns, "test._domainkey.football.example.com", "TXT", rsa, strlen(rsa));
}

static void test_rfc8463_example(void **state)
{
	if (!have_shared())
		skip();
	struct test_dns *dns = test_dns_create();
	add_rfc8463_keys(dns);
	char *path = shared_path("rfc8463-example.msg");
	size_t len;
	char *data = read_file(path, &len);
	assert_non_null(data);
	struct dkim_verify *v = verify(dns, data, len, 13);
	assert_int_equal(dkim_verify_count(v), 2);
	for (size_t i = 0; i < 2; i++) {
		const struct dkim_verify_result *r = dkim_verify_get(v, i);
		if (r->result != DKIM_RESULT_PASS)
			fail_msg("signature %zu (%s): %s", i, r->algorithm, r->reason);
		assert_string_equal(r->domain, "football.example.com");
	}
	assert_string_equal(dkim_verify_get(v, 0)->algorithm, "ed25519-sha256");
	assert_string_equal(dkim_verify_get(v, 0)->b_prefix, "/gCrinpc");
	dkim_verify_destroy(&v);

	/* The body changed by one byte: both fail */
	char *p = strstr(data, "We lost");
	p[0] = 'w';
	v = verify(dns, data, len, 4096);
	for (size_t i = 0; i < 2; i++)
		assert_int_equal(dkim_verify_get(v, i)->result, DKIM_RESULT_FAIL);
	dkim_verify_destroy(&v);
	p[0] = 'W';

	/* A revoked key (p= empty) is a permerror, a missing one too */
	test_dns_clear(dns);
	test_dns_add(dns, "brisbane._domainkey.football.example.com", "TXT",
		     "v=DKIM1; k=ed25519; p=", 22);
	v = verify(dns, data, len, 4096);
	assert_int_equal(dkim_verify_get(v, 0)->result, DKIM_RESULT_PERMERROR);
	assert_int_equal(dkim_verify_get(v, 1)->result, DKIM_RESULT_PERMERROR);
	dkim_verify_destroy(&v);
	/* A key lookup that times out is a temperror */
	test_dns_add(dns, "test._domainkey.football.example.com", "TIMEOUT", "", 0);
	v = verify(dns, data, len, 4096);
	assert_int_equal(dkim_verify_get(v, 1)->result, DKIM_RESULT_TEMPERROR);
	dkim_verify_destroy(&v);
	free(data);
	free(path);
	test_dns_destroy(&dns);
}

static const char test_msg[] =
	"From: Alice <alice@example.com>\r\n"
	"To: Bob <bob@example.org>\r\n"
	"Subject: Hello  there\r\n"
	"Date: Mon, 30 Nov 2026 09:00:00 +0000\r\n"
	"Message-ID: <1@example.com>\r\n"
	"\r\n"
	"Hi Bob,\r\n"
	"  with   spaces \t\r\n"
	"\r\n"
	"\r\n";

static char *sign_msg(const struct dkim_key *key, const char *msg, size_t len,
		      size_t chunk)
{
	struct dkim_sign_settings set = {
		.domain = "example.com", .selector = "sel", .key = key,
		.timestamp = 1700000000,
	};
	const char *error;
	struct dkim_sign *s = dkim_sign_create(&set, &error);
	assert_non_null(s);
	for (size_t i = 0; i < len; i += chunk)
		dkim_sign_feed(s, msg + i, MIN(chunk, len - i));
	char *hdr = dkim_sign_finish(s, &error);
	assert_non_null(hdr);
	dkim_sign_destroy(&s);
	char *full = i_strdup_printf("%s\r\n%s", hdr, msg);
	free(hdr);
	return full;
}

static void test_sign_roundtrip(void **state)
{
	for (int alg = 0; alg < 2; alg++) {
		char *pem, *rec;
		const char *error;
		assert_int_equal(dkim_keygen(alg == 0 ? DKIM_ALG_RSA_SHA256 :
					     DKIM_ALG_ED25519_SHA256, 2048,
					     &pem, &rec, &error), 0);
		struct dkim_key *key = dkim_key_from_pem(pem, strlen(pem), &error);
		assert_non_null(key);
		char *rec2 = dkim_key_txt_record(key);
		assert_string_equal(rec, rec2);
		free(rec2);
		struct test_dns *dns = test_dns_create();
		test_dns_add(dns, "sel._domainkey.example.com", "TXT", rec, strlen(rec));
		char *signed_msg = sign_msg(key, test_msg, strlen(test_msg), 3);
		if (strstr(signed_msg, "h=from:from:subject:subject:date:date:to:to:message-id;") == NULL)
			fail_msg("%s", signed_msg);
		assert_int_equal(verify_first(dns, signed_msg, strlen(signed_msg), 5),
				 DKIM_RESULT_PASS);
		/* an added second From (oversigned) breaks it */
		char *added = i_strdup_printf("From: Mallory <m@evil.test>\r\n%s", signed_msg);
		assert_int_equal(verify_first(dns, added, strlen(added), 4096),
				 DKIM_RESULT_FAIL);
		free(added);
		/* relaxed: re-folding whitespace keeps it valid */
		char *p = strstr(signed_msg, "Hello  there");
		p[5] = '\t';
		assert_int_equal(verify_first(dns, signed_msg, strlen(signed_msg), 4096),
				 DKIM_RESULT_PASS);
		p[6] = 'X';
		assert_int_equal(verify_first(dns, signed_msg, strlen(signed_msg), 4096),
				 DKIM_RESULT_FAIL);
		free(signed_msg);
		dkim_key_free(&key);
		test_dns_destroy(&dns);
		free(pem);
		free(rec);
	}
}

/* Decoded keys are cached by their bytes: a rotated key record (same
 * selector, new key) is used at once, and an old signature then fails,
 * however often the old key verified before. */
static void test_key_rotation(void **state)
{
	char *pem[2], *rec[2];
	struct dkim_key *key[2];
	const char *error;

	for (int i = 0; i < 2; i++) {
		assert_int_equal(dkim_keygen(DKIM_ALG_RSA_SHA256, 1024, &pem[i],
					     &rec[i], &error), 0);
		key[i] = dkim_key_from_pem(pem[i], strlen(pem[i]), &error);
		assert_non_null(key[i]);
	}
	char *by0 = sign_msg(key[0], test_msg, strlen(test_msg), 4096);
	char *by1 = sign_msg(key[1], test_msg, strlen(test_msg), 4096);
	struct test_dns *dns = test_dns_create();
	test_dns_add(dns, "sel._domainkey.example.com", "TXT", rec[0],
		     strlen(rec[0]));
	for (int round = 0; round < 3; round++)
		assert_int_equal(verify_first(dns, by0, strlen(by0), 4096),
				 DKIM_RESULT_PASS);
	assert_int_equal(verify_first(dns, by1, strlen(by1), 4096),
			 DKIM_RESULT_FAIL);
	test_dns_clear(dns);
	test_dns_add(dns, "sel._domainkey.example.com", "TXT", rec[1],
		     strlen(rec[1]));
	assert_int_equal(verify_first(dns, by1, strlen(by1), 4096),
			 DKIM_RESULT_PASS);
	assert_int_equal(verify_first(dns, by0, strlen(by0), 4096),
			 DKIM_RESULT_FAIL);
	test_dns_destroy(&dns);
	for (int i = 0; i < 2; i++) {
		dkim_key_free(&key[i]);
		free(pem[i]);
		free(rec[i]);
	}
	i_free(by0);
	i_free(by1);
}

static void test_parsers(void **state)
{
	static const struct { const char *v; int ret; } sigs[] = {
		{ "v=1; a=rsa-sha256; d=a.test; s=s; h=from; bh=AAAA; b=AAAA", 1 },
		{ "v=1; a=rsa-sha256; d=a.test; s=s; h=to; bh=AAAA; b=AAAA", -1 },
		{ "v=1; a=rsa-sha256; d=a.test; s=s; h=from; bh=AAAA", -1 },
		{ "v=1; a=rsa-sha256; d=a.test; d=b.test; s=s; h=from; bh=AAAA; b=AAAA", -1 },
		{ "v=1; a=rsa-md5; d=a.test; s=s; h=from; bh=AAAA; b=AAAA", -1 },
		{ "v=1; a=rsa-sha256; d=a.test; s=s; h=from; bh=AAAA; b=AAAA; i=@b.test", -1 },
		{ "v=1; a=rsa-sha256; d=a.test; s=s; h=from; bh=AAAA; b=AAAA; i=x@sub.a.test; l=10; t=5; x=6", 1 },
		{ "v=1; a=rsa-sha256; d=a.test; s=s; h=from; bh=AAAA; b=AAAA; t=7; x=6", -1 },
		{ "v=1; a=rsa-sha256; c=relaxed/bogus; d=a.test; s=s; h=from; bh=AAAA; b=AAAA", -1 },
		{ "", -1 },
		{ "=;;", -1 },
	};
	for (size_t i = 0; i < N_ELEMENTS(sigs); i++) {
		struct dkim_signature *sig = NULL;
		const char *error = NULL;
		int ret = dkim_signature_parse(sigs[i].v, strlen(sigs[i].v), &sig, &error);
		if (ret != sigs[i].ret)
			fail_msg("%s: %d (%s)", sigs[i].v, ret, error);
		dkim_signature_free(&sig);
	}
	static const struct { const char *v; int ret; bool revoked, ed, strict; } keys[] = {
		{ "v=DKIM1; p=AAAA", 1, false, false, false },
		{ "v=DKIM1; k=ed25519; t=y:s; p=", 1, true, true, true },
		{ "p=AAAA; v=DKIM1", -1, false, false, false },
		{ "v=DKIM1; k=dsa; p=AAAA", -1, false, false, false },
		{ "v=DKIM1", -1, false, false, false },
		{ "v=DKIM1; s=web; p=AAAA", -1, false, false, false },
	};
	for (size_t i = 0; i < N_ELEMENTS(keys); i++) {
		struct dkim_key_record rec;
		const char *error = NULL;
		int ret = dkim_key_record_parse(keys[i].v, strlen(keys[i].v), &rec, &error);
		if (ret != keys[i].ret)
			fail_msg("%s: %d", keys[i].v, ret);
		if (ret > 0) {
			assert_int_equal(rec.revoked, keys[i].revoked);
			assert_int_equal(rec.key_ed25519, keys[i].ed);
			assert_int_equal(rec.strict, keys[i].strict);
			dkim_key_record_free(&rec);
		}
	}
}

static bool have_dkimpy(void)
{
	if (system("/usr/bin/python3 -c 'import dkim, nacl' 2>/dev/null") != 0) {
		print_message("notice: python3-dkim/python3-nacl missing, interop skipped\n");
		return false;
	}
	return true;
}

static char *write_temp(const char *data, size_t len)
{
	char *path = i_strdup("/tmp/posthorn-dkim-XXXXXX");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
	return path;
}

static char *run(const char *cmd, size_t *len_r)
{
	FILE *f = popen(cmd, "r");
	assert_non_null(f);
	struct buf b = BUF_INIT;
	char tmp[4096];
	size_t n;
	while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0)
		buf_append(&b, tmp, n);
	assert_int_equal(pclose(f), 0);
	return (char *)buf_steal(&b, len_r);
}

static void test_dkimpy_verifies_ours(void **state)
{
	if (!have_dkimpy())
		skip();
	for (int alg = 0; alg < 2; alg++) {
		char *pem, *rec;
		const char *error;
		assert_int_equal(dkim_keygen(alg == 0 ? DKIM_ALG_RSA_SHA256 :
					     DKIM_ALG_ED25519_SHA256, 2048,
					     &pem, &rec, &error), 0);
		struct dkim_key *key = dkim_key_from_pem(pem, strlen(pem), &error);
		char *signed_msg = sign_msg(key, test_msg, strlen(test_msg), 4096);
		for (int change = 0; change < 2; change++) {
			if (change == 1)
				strstr(signed_msg, "Hi Bob")[1] = 'I';
			char *path = write_temp(signed_msg, strlen(signed_msg));
			char *cmd = i_strdup_printf("%s verify '%s' %s", HELPER, rec, path);
			size_t len;
			char *out = run(cmd, &len);
			assert_string_equal(out, change == 0 ? "pass\n" : "fail\n");
			free(out);
			free(cmd);
			unlink(path);
			free(path);
		}
		free(signed_msg);
		dkim_key_free(&key);
		free(pem);
		free(rec);
	}
}

static void test_ours_verifies_dkimpy(void **state)
{
	if (!have_dkimpy() || !have_shared())
		skip();
	char *pem_path = shared_path("example.pem");
	char *pub_path = shared_path("example.pub");
	size_t len;
	char *pub = read_file(pub_path, &len);
	char *rsa_rec = pem_record(pub);
	char *msg_path = write_temp(test_msg, strlen(test_msg));
	static const char *const canons[] = {
		"simple/simple", "relaxed/relaxed", "relaxed/simple", "simple/relaxed",
	};
	for (int alg = 0; alg < 2; alg++) {
		for (size_t c = 0; c < N_ELEMENTS(canons); c++) {
			char *cmd = i_strdup_printf("%s sign %s %s %s %s", HELPER,
						    alg == 0 ? "rsa" : "ed25519",
						    canons[c], msg_path, pem_path);
			char *out = run(cmd, &len);
			char *nl = strchr(out, '\n');
			assert_non_null(nl);
			*nl = '\0';
			const char *rec = alg == 0 ? rsa_rec : out;
			struct test_dns *dns = test_dns_create();
			test_dns_add(dns, "sel._domainkey.example.com", "TXT", rec, strlen(rec));
			char *msg = nl + 1;
			size_t mlen = len - (size_t)(msg - out);
			if (verify_first(dns, msg, mlen, 11) != DKIM_RESULT_PASS)
				fail_msg("dkimpy %s %s", alg == 0 ? "rsa" : "ed25519",
					 canons[c]);
			/* one byte of the body changed */
			strstr(msg, "Hi Bob")[0] = 'h';
			assert_int_equal(verify_first(dns, msg, mlen, 4096),
					 DKIM_RESULT_FAIL);
			test_dns_destroy(&dns);
			free(out);
			free(cmd);
		}
	}
	unlink(msg_path);
	free(msg_path);
	free(rsa_rec);
	free(pub);
	free(pub_path);
	free(pem_path);
}

/* posthorn dkim keygen end to end: the key file (0600) signs, and the
 * printed record verifies. */
static void test_cli_keygen(void **state)
{
	struct stat st;
	if (stat(POSTHORN_BIN, &st) < 0) {
		print_message("notice: %s not built, keygen test skipped\n",
			      POSTHORN_BIN);
		skip();
	}
	char dir[] = "/tmp/posthorn-keygen-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char *cmd = i_strdup_printf("cd %s && mkdir posthorn-data && %s dkim keygen "
				    "Example.org --selector k1 --algorithm ed25519",
				    dir, POSTHORN_BIN);
	size_t len;
	char *out = run(cmd, &len);
	free(cmd);
	/* the zone line: k1._domainkey.example.org. IN TXT ( "v=DKIM1; ..." ) */
	char *line = strstr(out, "k1._domainkey.example.org. IN TXT ( \"");
	assert_non_null(line);
	char *rec = line + strlen("k1._domainkey.example.org. IN TXT ( \"");
	*strchr(rec, '"') = '\0';
	char *path = i_strdup_printf("%s/posthorn-data/dkim/example.org/k1.key", dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	const char *error;
	struct dkim_key *key = dkim_key_load(path, &error);
	assert_non_null(key);
	assert_int_equal(dkim_key_algorithm(key), DKIM_ALG_ED25519_SHA256);

	struct dkim_sign_settings set = {
		.domain = "example.org", .selector = "k1", .key = key,
	};
	struct dkim_sign *s = dkim_sign_create(&set, &error);
	dkim_sign_feed(s, test_msg, strlen(test_msg));
	char *hdr = dkim_sign_finish(s, &error);
	dkim_sign_destroy(&s);
	char *full = i_strdup_printf("%s\r\n%s", hdr, test_msg);
	struct test_dns *dns = test_dns_create();
	test_dns_add(dns, "k1._domainkey.example.org", "TXT", rec, strlen(rec));
	assert_int_equal(verify_first(dns, full, strlen(full), 4096), DKIM_RESULT_PASS);
	test_dns_destroy(&dns);

	/* a second keygen for the same selector refuses to overwrite */
	cmd = i_strdup_printf("cd %s && %s dkim keygen example.org --selector k1 "
			      "2>/dev/null", dir, POSTHORN_BIN);
	assert_int_not_equal(system(cmd), 0);
	free(cmd);
	cmd = i_strdup_printf("rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
	free(cmd);
	free(full);
	free(hdr);
	dkim_key_free(&key);
	free(path);
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parsers),
		cmocka_unit_test(test_gmail_samples),
		cmocka_unit_test(test_rfc8463_example),
		cmocka_unit_test(test_sign_roundtrip),
		cmocka_unit_test(test_key_rotation),
		cmocka_unit_test(test_dkimpy_verifies_ours),
		cmocka_unit_test(test_ours_verifies_dkimpy),
		cmocka_unit_test(test_cli_keygen),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
