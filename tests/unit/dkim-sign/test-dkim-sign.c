/* SPDX-License-Identifier: MIT */
#include "unit.h"
#include "buf.h"
#include "dkim.h"
#include "dkim-sign.h"
#include "spf-test-dns.h"
#include "queue-dsn.h"

#include <dirent.h>
#include <pthread.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

/* The key cache over <data_dir>/dkim/<domain>/ (*.key files): dual signing that our
 * verifier accepts, domain selection, reloads on change, names that must
 * never become paths. */

static const char test_msg[] =
	"From: Alice <alice@example.org>\r\n"
	"To: bob@example.net\r\n"
	"Subject: hello\r\n"
	"Date: Mon, 30 Nov 2026 10:00:00 +0000\r\n"
	"Message-ID: <1@example.org>\r\n"
	"\r\n"
	"Hi Bob.\r\n";

struct fixture {
	char dir[64];
	struct test_dns *dns;
};

static void write_file(const char *path, const char *data)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, strlen(data)), (ssize_t)strlen(data));
	close(fd);
}

/* Creates <dir>/dkim/<domain>/<selector>.key and publishes its record. */
static void add_key(struct fixture *f, const char *domain,
		    const char *selector, enum dkim_algorithm alg)
{
	char *pem, *txt, *path, *name;
	const char *error;

	char *d1 = i_strdup_printf("%s/dkim", f->dir);
	char *d2 = i_strdup_printf("%s/dkim/%s", f->dir, domain);
	(void)mkdir(d1, 0700);
	(void)mkdir(d2, 0700);
	assert_int_equal(dkim_keygen(alg, 1024, &pem, &txt, &error), 0);
	path = dkim_key_path(f->dir, domain, selector);
	write_file(path, pem);
	name = i_strdup_printf("%s._domainkey.%s", selector, domain);
	test_dns_add(f->dns, name, "TXT", txt, strlen(txt));
	free(name);
	free(path);
	free(pem);
	free(txt);
	free(d1);
	free(d2);
}

static int setup(void **state)
{
	struct fixture *f = i_new(struct fixture, 1);

	snprintf(f->dir, sizeof(f->dir), "/tmp/test-dkim-sign.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	f->dns = test_dns_create();
	*state = f;
	return 0;
}

static void rm_tree(const char *path)
{
	struct stat st;
	if (lstat(path, &st) < 0)
		return;
	if (S_ISDIR(st.st_mode)) {
		DIR *d = opendir(path);
		struct dirent *de;
		while (d != NULL && (de = readdir(d)) != NULL) {
			if (strcmp(de->d_name, ".") == 0 ||
			    strcmp(de->d_name, "..") == 0)
				continue;
			char *sub = i_strdup_printf("%s/%s", path, de->d_name);
			rm_tree(sub);
			free(sub);
		}
		if (d != NULL)
			closedir(d);
		rmdir(path);
	} else {
		unlink(path);
	}
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	rm_tree(f->dir);
	test_dns_destroy(&f->dns);
	free(f);
	return 0;
}

static void on_verified(struct dkim_verify *v, void *ctx)
{
	*(bool *)ctx = true;
}

/* Verifies sig+msg with lib-dkim; returns how many signatures passed and
 * checks each one's d= and algorithm order. */
static unsigned verify_count(struct fixture *f, const struct buf *sig,
			     const char *msg, size_t len, const char *domain)
{
	struct buf all = BUF_INIT;
	struct dkim_verify *v;
	unsigned pass = 0;
	bool done = false;

	buf_append(&all, sig->data, sig->len);
	buf_append(&all, msg, len);
	v = dkim_verify_create(test_dns_iface(f->dns), NULL);
	dkim_verify_feed(v, all.data, all.len);
	if (dkim_verify_finish(v, on_verified, &done))
		done = true;
	test_dns_run(f->dns);
	assert_true(done);
	for (size_t i = 0; i < dkim_verify_count(v); i++) {
		const struct dkim_verify_result *r = dkim_verify_get(v, i);
		if (r->result == DKIM_RESULT_PASS) {
			assert_string_equal(r->domain, domain);
			pass++;
		}
	}
	dkim_verify_destroy(&v);
	buf_free(&all);
	return pass;
}

static void test_dual_sign(void **state)
{
	struct fixture *f = *state;
	struct dkimsign_keys *keys = dkimsign_keys_create(f->dir, 0);
	struct buf sig = BUF_INIT;
	const char *error;

	add_key(f, "example.org", "rsa1", DKIM_ALG_RSA_SHA256);
	add_key(f, "example.org", "ed1", DKIM_ALG_ED25519_SHA256);
	assert_int_equal(dkimsign_message(keys, "Example.ORG", test_msg,
					  strlen(test_msg), &sig, &error), 1);
	/* Ed25519 first, each field ends in CRLF */
	assert_non_null(strstr((const char *)sig.data,
			       "DKIM-Signature: v=1; a=ed25519-sha256"));
	assert_true((const char *)sig.data ==
		    strstr((const char *)sig.data, "DKIM-Signature: v=1; a=ed25519"));
	assert_non_null(strstr((const char *)sig.data, "a=rsa-sha256"));
	assert_memory_equal(sig.data + sig.len - 2, "\r\n", 2);
	assert_int_equal(verify_count(f, &sig, test_msg, strlen(test_msg),
				      "example.org"), 2);

	/* a byte changed in the body: no signature passes */
	char *bad = i_strdup(test_msg);
	bad[strlen(bad) - 4] = 'X';
	assert_int_equal(verify_count(f, &sig, bad, strlen(bad),
				      "example.org"), 0);
	free(bad);

	/* bare LF is signed as CRLF: the stored (CRLF) form verifies */
	struct buf lf = BUF_INIT, sig2 = BUF_INIT;
	for (const char *p = test_msg; *p != '\0'; p++) {
		if (*p != '\r')
			buf_append_byte(&lf, (uint8_t)*p);
	}
	assert_int_equal(dkimsign_message(keys, "example.org", lf.data, lf.len,
					  &sig2, &error), 1);
	assert_int_equal(verify_count(f, &sig2, test_msg, strlen(test_msg),
				      "example.org"), 2);
	buf_free(&lf);
	buf_free(&sig2);
	buf_free(&sig);
	dkimsign_keys_destroy(&keys);
	assert_null(keys);
}

static void test_no_keys(void **state)
{
	struct fixture *f = *state;
	struct dkimsign_keys *keys = dkimsign_keys_create(f->dir, 0);
	struct buf sig = BUF_INIT;
	const char *error;

	assert_int_equal(dkimsign_message(keys, "example.org", test_msg,
					  strlen(test_msg), &sig, &error), 0);
	assert_int_equal(sig.len, 0);
	assert_false(dkimsign_keys_have(keys, "example.org"));
	/* names that are not plain domains never reach the file system */
	assert_false(dkimsign_keys_have(keys, "../etc"));
	assert_false(dkimsign_keys_have(keys, "a/b"));
	assert_false(dkimsign_keys_have(keys, ".."));
	assert_false(dkimsign_keys_have(keys, ""));
	assert_false(dkimsign_keys_have(keys, NULL));
	assert_int_equal(dkimsign_message(keys, "../x", test_msg,
					  strlen(test_msg), &sig, &error), 0);
	dkimsign_keys_destroy(&keys);
}

static void test_select(void **state)
{
	struct fixture *f = *state;
	struct dkimsign_keys *keys = dkimsign_keys_create(f->dir, 0);

	add_key(f, "a.example", "s", DKIM_ALG_ED25519_SHA256);
	add_key(f, "b.example", "s", DKIM_ALG_ED25519_SHA256);
	const char *from = "a.example", *mf = "b.example";
	assert_ptr_equal(dkimsign_select_domain(keys, from, mf), from);
	assert_ptr_equal(dkimsign_select_domain(keys, "c.example", mf), mf);
	assert_ptr_equal(dkimsign_select_domain(keys, NULL, mf), mf);
	assert_null(dkimsign_select_domain(keys, "c.example", "d.example"));
	assert_null(dkimsign_select_domain(keys, NULL, NULL));

	const char *host = "mx.a.example";
	assert_ptr_equal(dkimsign_select_host_domain(keys, host), host + 3);
	const char *host2 = "b.example";
	assert_ptr_equal(dkimsign_select_host_domain(keys, host2), host2);
	assert_null(dkimsign_select_host_domain(keys, "mx.c.example"));
	assert_null(dkimsign_select_host_domain(keys, "localhost"));
	dkimsign_keys_destroy(&keys);
}

static void count_key(const char *selector, const struct dkim_key *key,
		      void *ctx)
{
	struct buf *names = ctx;
	buf_printf(names, "%s:%s ", selector,
		   dkim_key_algorithm(key) == DKIM_ALG_ED25519_SHA256 ?
		   "ed25519" : "rsa");
}

/* Keys added, replaced and removed are seen on the next check; files that
 * are not keys are ignored, a broken key is skipped. */
static void test_reload(void **state)
{
	struct fixture *f = *state;
	struct dkimsign_keys *keys = dkimsign_keys_create(f->dir, 0);
	struct buf names = BUF_INIT;

	assert_int_equal(dkimsign_keys_foreach(keys, "example.org", count_key,
					       &names), 0);
	add_key(f, "example.org", "b", DKIM_ALG_RSA_SHA256);
	assert_int_equal(dkimsign_keys_foreach(keys, "example.org", count_key,
					       &names), 1);
	assert_string_equal(buf_cstr(&names), "b:rsa ");
	add_key(f, "example.org", "a", DKIM_ALG_ED25519_SHA256);
	char *junk = i_strdup_printf("%s/dkim/example.org/README", f->dir);
	write_file(junk, "not a key");
	free(junk);
	char *broken = i_strdup_printf("%s/dkim/example.org/broken.key", f->dir);
	write_file(broken, "-----BEGIN PRIVATE KEY-----\nxx\n");
	buf_reset(&names);
	assert_int_equal(dkimsign_keys_foreach(keys, "example.org", count_key,
					       &names), 2);
	assert_string_equal(buf_cstr(&names), "a:ed25519 b:rsa ");

	/* the broken file repaired in place (same name, new content) */
	char *pem, *txt;
	const char *error;
	assert_int_equal(dkim_keygen(DKIM_ALG_ED25519_SHA256, 0, &pem, &txt,
				     &error), 0);
	write_file(broken, pem);
	free(pem);
	free(txt);
	buf_reset(&names);
	assert_int_equal(dkimsign_keys_foreach(keys, "example.org", count_key,
					       &names), 3);
	assert_string_equal(buf_cstr(&names), "a:ed25519 b:rsa broken:ed25519 ");

	char *b = dkim_key_path(f->dir, "example.org", "b");
	unlink(b);
	unlink(broken);
	free(b);
	free(broken);
	buf_reset(&names);
	assert_int_equal(dkimsign_keys_foreach(keys, "example.org", count_key,
					       &names), 1);
	assert_string_equal(buf_cstr(&names), "a:ed25519 ");
	buf_free(&names);
	dkimsign_keys_destroy(&keys);
}

/* With an interval, a new key waits for the next check, or for
 * dkimsign_keys_invalidate(). */
static void test_interval(void **state)
{
	struct fixture *f = *state;
	struct dkimsign_keys *keys = dkimsign_keys_create(f->dir, 3600 * 1000);

	assert_false(dkimsign_keys_have(keys, "example.org"));
	add_key(f, "example.org", "s", DKIM_ALG_ED25519_SHA256);
	assert_false(dkimsign_keys_have(keys, "example.org"));
	dkimsign_keys_invalidate(keys);
	assert_true(dkimsign_keys_have(keys, "example.org"));
	dkimsign_keys_destroy(&keys);
}

struct signer_thread {
	struct dkimsign_keys *keys;
	unsigned signed_count;
};

static void *signer_run(void *ctx)
{
	struct signer_thread *t = ctx;
	const char *error;

	for (int i = 0; i < 60; i++) {
		struct buf sig = BUF_INIT;
		if (dkimsign_message(t->keys, "example.org", test_msg,
				     strlen(test_msg), &sig, &error) > 0)
			t->signed_count++;
		buf_free(&sig);
	}
	return NULL;
}

/* Threads sign while keys come and go under them (and the cache is
 * invalidated): every signature is whole, nothing is freed in use (the
 * sanitizer build watches). */
static void test_threads(void **state)
{
	struct fixture *f = *state;
	struct dkimsign_keys *keys = dkimsign_keys_create(f->dir, 0);
	struct signer_thread threads[4];
	pthread_t tids[4];

	add_key(f, "example.org", "base", DKIM_ALG_ED25519_SHA256);
	for (unsigned i = 0; i < N_ELEMENTS(threads); i++) {
		threads[i] = (struct signer_thread){ .keys = keys };
		assert_int_equal(pthread_create(&tids[i], NULL, signer_run,
						&threads[i]), 0);
	}
	for (int i = 0; i < 10; i++) {
		char sel[16];
		snprintf(sel, sizeof(sel), "k%d", i);
		add_key(f, "example.org", sel, DKIM_ALG_ED25519_SHA256);
		dkimsign_keys_invalidate(keys);
		if (i > 0) {
			snprintf(sel, sizeof(sel), "k%d", i - 1);
			char *path = dkim_key_path(f->dir, "example.org", sel);
			unlink(path);
			free(path);
		}
	}
	for (unsigned i = 0; i < N_ELEMENTS(threads); i++) {
		assert_int_equal(pthread_join(tids[i], NULL), 0);
		/* "base" never left: every call signed */
		assert_int_equal(threads[i].signed_count, 60);
	}
	dkimsign_keys_destroy(&keys);
}

/* DSNs from queue-dsn.c through the signer hook posthornd installs: the
 * host name's parent domain signs, the fields land below what the output
 * buffer held (a Return-Path) and above the DSN. */
static void test_dsn_signer(void **state)
{
	struct fixture *f = *state;
	struct dkimsign_keys *keys = dkimsign_keys_create(f->dir, 0);
	struct queue_dsn_rcpt rcpt = {
		.address = "bob@example.net",
		.action = QUEUE_DSN_ACTION_FAILED,
		.status = "5.1.1",
		.diag_code = 550,
		.diag_text = "no such user",
	};
	const char original[] = "From: alice@a.example\r\nSubject: x\r\n\r\nbody\r\n";
	struct queue_dsn dsn = {
		.reporting_mta = "mx.a.example",
		.to = "alice@a.example",
		.original = (const uint8_t *)original,
		.original_size = strlen(original),
		.rcpts = &rcpt,
		.rcpt_count = 1,
	};
	struct buf out = BUF_INIT;
	const char *rp = "Return-Path: <>\r\n";

	add_key(f, "a.example", "s1", DKIM_ALG_ED25519_SHA256);
	queue_dsn_set_signer(dkimsign_host_signer, keys);
	buf_append_str(&out, rp);
	queue_dsn_build(&dsn, &out);
	const char *expect = "Return-Path: <>\r\nDKIM-Signature: v=1; "
		"a=ed25519-sha256; c=relaxed/relaxed;\r\n\td=a.example; s=s1;";
	assert_true(strncmp((const char *)out.data, expect,
			    strlen(expect)) == 0);
	struct buf sig = BUF_INIT;
	const char *body = strstr((const char *)out.data, "\r\nFrom: ") + 2;
	buf_append(&sig, out.data + strlen(rp),
		   (size_t)(body - (const char *)out.data) - strlen(rp));
	assert_int_equal(verify_count(f, &sig, body,
				      out.len - (size_t)(body - (const char *)out.data),
				      "a.example"), 1);
	buf_free(&sig);

	/* a host whose domains have no key: unsigned */
	buf_reset(&out);
	dsn.reporting_mta = "mx.other.example";
	queue_dsn_build(&dsn, &out);
	assert_true(strncmp((const char *)out.data, "From: ", 6) == 0);

	/* no signer: unsigned */
	queue_dsn_set_signer(NULL, NULL);
	buf_reset(&out);
	dsn.reporting_mta = "mx.a.example";
	queue_dsn_build(&dsn, &out);
	assert_true(strncmp((const char *)out.data, "From: ", 6) == 0);
	buf_free(&out);
	dkimsign_keys_destroy(&keys);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_dual_sign, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_keys, setup, teardown),
		cmocka_unit_test_setup_teardown(test_select, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reload, setup, teardown),
		cmocka_unit_test_setup_teardown(test_interval, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dsn_signer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_threads, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
