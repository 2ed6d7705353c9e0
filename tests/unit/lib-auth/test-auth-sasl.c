/* SPDX-License-Identifier: MIT */
#include "../unit.h"
#include "auth-cache.h"
#include "auth-password.h"
#include "auth-sasl.h"
#include "auth-scram.h"
#include "auth-throttle.h"
#include "log.h"

#include <fcntl.h>
#include <gsasl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

/* ---- A completion target drained by the test thread ---- */

struct fake_loop {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct {
		void (*fn)(void *);
		void *ctx;
	} items[64];
	unsigned int count;
};

static struct fake_loop loop = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.cond = PTHREAD_COND_INITIALIZER,
};

static void fake_post(void *owner, void (*fn)(void *ctx), void *ctx)
{
	struct fake_loop *l = owner;
	pthread_mutex_lock(&l->lock);
	i_assert(l->count < N_ELEMENTS(l->items));
	l->items[l->count].fn = fn;
	l->items[l->count].ctx = ctx;
	l->count++;
	pthread_cond_signal(&l->cond);
	pthread_mutex_unlock(&l->lock);
}

static const struct completion_target target = { fake_post, &loop };

/* Waits (at most 30 s, so a bug fails instead of hanging) for posted
 * completions and runs them on this thread. */
static void loop_run_once(void)
{
	struct timespec deadline;
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += 30;

	pthread_mutex_lock(&loop.lock);
	while (loop.count == 0) {
		int rc = pthread_cond_timedwait(&loop.cond, &loop.lock,
						&deadline);
		if (rc != 0) {
			pthread_mutex_unlock(&loop.lock);
			fail_msg("no completion posted within 30 s");
		}
	}
	unsigned int n = loop.count;
	__typeof__(loop.items) items;
	memcpy(items, loop.items, sizeof(items));
	loop.count = 0;
	pthread_mutex_unlock(&loop.lock);
	for (unsigned int i = 0; i < n; i++)
		items[i].fn(items[i].ctx);
}

/* ---- An in-memory account table as the lookup ---- */

struct user {
	const char *name, *canonical, *password;
	int64_t id;
	bool with_hash, with_scram;
	const char *hash_prefix;
	char *hash, *scram;
	/* Hand SCRAM over as the store keeps it: four separate values. */
	bool scram_as_parts;
	struct auth_scram_parts parts;
};

static struct user users[] = {
	{ "alice", "alice@example.org", "wonderland", 1, true, true, "$5$",
	  NULL, NULL },
	{ "yves", NULL, "slow but sure", 2, true, true, "$y$", NULL, NULL },
	{ "noscram", NULL, "pw", 3, true, false, "$5$", NULL, NULL },
	{ "u\xc3\xa9", NULL, "p\xc3\xa9", 4, true, true, "$5$", NULL, NULL },
	{ "stored", NULL, "kept apart", 5, false, true, NULL, NULL, NULL, true },
};

static atomic_int lookups;
static pthread_t test_thread;
static atomic_bool lookup_on_test_thread;

static enum auth_lookup_result
test_lookup(void *context, const char *username, struct pool *pool,
	    struct auth_credentials *creds_r, const char **error_r)
{
	atomic_fetch_add(&lookups, 1);
	if (pthread_equal(pthread_self(), test_thread))
		atomic_store(&lookup_on_test_thread, true);
	if (strcmp(username, "tempfail") == 0) {
		*error_r = "database is locked";
		return AUTH_LOOKUP_TEMPFAIL;
	}
	for (unsigned int i = 0; i < N_ELEMENTS(users); i++) {
		if (strcmp(users[i].name, username) != 0)
			continue;
		creds_r->account_id = users[i].id;
		creds_r->username = users[i].canonical;
		/* The store's "none" is an empty string. */
		creds_r->password_hash = users[i].hash != NULL ?
			users[i].hash : "";
		if (users[i].scram_as_parts) {
			creds_r->scram_salt = users[i].parts.salt;
			creds_r->scram_iter = users[i].parts.iter;
			creds_r->scram_stored_key = users[i].parts.stored_key;
			creds_r->scram_server_key = users[i].parts.server_key;
		} else {
			creds_r->scram = users[i].scram;
		}
		return AUTH_LOOKUP_FOUND;
	}
	return AUTH_LOOKUP_NOT_FOUND;
}

/* ---- Fixture ---- */

struct fixture {
	struct workpool *workpool;
	struct auth_cache *cache;
	struct auth_throttle *throttle;
	struct auth_server *server;
};
static struct fixture fx;

struct outcome {
	unsigned int calls;
	struct auth_result result;
	char *challenge, *success_data, *username, *authzid, *error;
};
static struct outcome outcome;

static void outcome_clear(void)
{
	i_free(outcome.challenge);
	i_free(outcome.success_data);
	i_free(outcome.username);
	i_free(outcome.authzid);
	i_free(outcome.error);
	memset(&outcome, 0, sizeof(outcome));
}

static void on_result(struct auth_session *session,
		      const struct auth_result *result, void *context)
{
	assert_true(pthread_equal(pthread_self(), test_thread));
	outcome_clear();
	outcome.calls = 1;
	outcome.result = *result;
	outcome.challenge = i_strdup(result->challenge);
	outcome.success_data = i_strdup(result->success_data);
	outcome.username = i_strdup(result->username);
	outcome.authzid = i_strdup(result->authzid);
	outcome.error = i_strdup(result->error);
}

static int group_setup(void **state)
{
	const char *error = NULL;
	int fd = open("/dev/null", O_WRONLY);

	/* The auth events are expected here; keep the test output clean
	 * unless asked for them. */
	if (getenv("AUTH_TEST_LOG") == NULL)
		log_set_fd(fd);
	test_thread = pthread_self();
	for (unsigned int i = 0; i < N_ELEMENTS(users); i++) {
		if (users[i].with_hash &&
		    auth_password_hash(users[i].password, users[i].hash_prefix,
				       0, &users[i].hash, &error) < 0)
			return -1;
		if (users[i].with_scram)
			users[i].scram = auth_scram_from_password(
				users[i].password, 0, &error);
		if (users[i].scram_as_parts) {
			struct auth_scram_keys keys;
			if (auth_scram_parse(users[i].scram, &keys, &error) < 0)
				return -1;
			auth_scram_to_parts(&keys, &users[i].parts);
		}
	}
	return 0;
}

static int group_teardown(void **state)
{
	for (unsigned int i = 0; i < N_ELEMENTS(users); i++) {
		i_free(users[i].hash);
		i_free(users[i].scram);
		auth_scram_parts_free(&users[i].parts);
	}
	return 0;
}

static int setup(void **state)
{
	const char *error = NULL;

	fx.workpool = workpool_create("auth-test", 2);
	fx.cache = auth_cache_create(NULL);
	fx.throttle = auth_throttle_create(NULL);
	struct auth_server_settings set = {
		.lookup = { test_lookup, NULL },
		.workpool = fx.workpool,
		.cache = fx.cache,
		.throttle = fx.throttle,
		.max_response_len = 1024,
	};
	fx.server = auth_server_create(&set, &error);
	if (fx.server == NULL)
		return -1;
	atomic_store(&lookups, 0);
	outcome_clear();
	return 0;
}

static int teardown(void **state)
{
	workpool_destroy(&fx.workpool);
	/* Completions of jobs that finished during the destroy. */
	pthread_mutex_lock(&loop.lock);
	unsigned int n = loop.count;
	pthread_mutex_unlock(&loop.lock);
	if (n > 0)
		loop_run_once();
	auth_server_destroy(&fx.server);
	auth_cache_destroy(&fx.cache);
	auth_throttle_destroy(&fx.throttle);
	outcome_clear();
	assert_false(atomic_load(&lookup_on_test_thread));
	return 0;
}

/* ---- Helpers ---- */

static struct auth_session *session_new(const char *mech, bool secure,
					const uint8_t *cb, size_t cb_len)
{
	struct auth_session_params params = {
		.mechanism = mech,
		.secure = secure,
		.cb_data = cb,
		.cb_len = cb_len,
		.remote_ip = "192.0.2.10",
		.sid = "testsid00001",
		.service = "smtp",
		.target = &target,
		.callback = on_result,
	};
	struct auth_session *session = NULL;
	const char *error = NULL;

	assert_int_equal(auth_session_create(fx.server, &params, &session,
					     &error), 1);
	return session;
}

/* Resolves PENDING by running the loop until the callback came. */
static enum auth_status settle(enum auth_status status,
			       struct auth_result *result)
{
	if (status != AUTH_STATUS_PENDING)
		return status;
	outcome_clear();
	while (outcome.calls == 0)
		loop_run_once();
	*result = outcome.result;
	result->challenge = outcome.challenge;
	result->success_data = outcome.success_data;
	result->username = outcome.username;
	result->authzid = outcome.authzid;
	result->error = outcome.error;
	return result->status;
}

static char *b64(const void *data, size_t len)
{
	char *out = NULL;
	assert_int_equal(gsasl_base64_to(data, len, &out, NULL), GSASL_OK);
	char *copy = i_strdup(out);
	gsasl_free(out);
	return copy;
}

static char *plain_msg(const char *authzid, const char *authcid,
		       const char *password)
{
	char raw[512];
	size_t a = strlen(authzid), c = strlen(authcid), p = strlen(password);
	memcpy(raw, authzid, a);
	raw[a] = '\0';
	memcpy(raw + a + 1, authcid, c);
	raw[a + 1 + c] = '\0';
	memcpy(raw + a + c + 2, password, p);
	return b64(raw, a + c + 2 + p);
}

static enum auth_status plain_login(const char *authzid, const char *authcid,
				    const char *password,
				    struct auth_result *result)
{
	struct auth_session *s = session_new("PLAIN", true, NULL, 0);
	char *msg = plain_msg(authzid, authcid, password);
	enum auth_status st = settle(auth_session_start(s, msg, result), result);
	i_free(msg);
	auth_session_destroy(&s);
	return st;
}

/* ---- Mechanism lists and creation ---- */

static void test_mechanisms(void **state)
{
	assert_string_equal(auth_server_mechanisms(fx.server, true, true),
			    "SCRAM-SHA-256-PLUS SCRAM-SHA-256 PLAIN LOGIN");
	assert_string_equal(auth_server_mechanisms(fx.server, true, false),
			    "SCRAM-SHA-256 PLAIN LOGIN");
	assert_string_equal(auth_server_mechanisms(fx.server, false, false),
			    "SCRAM-SHA-256");

	struct auth_session_params params = {
		.mechanism = "plain", .secure = false,
		.target = &target, .callback = on_result,
	};
	struct auth_session *s = NULL;
	const char *error = NULL;
	assert_int_equal(auth_session_create(fx.server, &params, &s, &error), 0);
	assert_null(s);
	params.mechanism = "SCRAM-SHA-256-PLUS";
	params.secure = true;
	assert_int_equal(auth_session_create(fx.server, &params, &s, &error), 0);
	params.mechanism = "CRAM-MD5";
	assert_int_equal(auth_session_create(fx.server, &params, &s, &error), -1);
	params.mechanism = "scram-sha-256";
	params.secure = false;
	assert_int_equal(auth_session_create(fx.server, &params, &s, &error), 1);
	assert_string_equal(auth_session_mechanism(s), "SCRAM-SHA-256");
	auth_session_destroy(&s);
	assert_null(s);
}

/* ---- PLAIN ---- */

static void test_plain_success_and_cache(void **state)
{
	struct auth_result r;

	struct auth_session *s = session_new("PLAIN", true, NULL, 0);
	char *msg = plain_msg("", "alice", "wonderland");
	assert_int_equal(auth_session_start(s, msg, &r), AUTH_STATUS_PENDING);
	assert_true(auth_session_is_pending(s));
	assert_int_equal(settle(AUTH_STATUS_PENDING, &r), AUTH_STATUS_SUCCESS);
	assert_false(auth_session_is_pending(s));
	assert_string_equal(r.username, "alice@example.org");
	assert_string_equal(r.authzid, "");
	assert_int_equal(r.account_id, 1);
	assert_int_equal(atomic_load(&lookups), 1);
	auth_session_destroy(&s);

	/* The second login is a cache hit: answered at once, no lookup, no
	 * crypt. */
	s = session_new("PLAIN", true, NULL, 0);
	assert_int_equal(auth_session_start(s, msg, &r), AUTH_STATUS_SUCCESS);
	assert_string_equal(r.username, "alice@example.org");
	assert_int_equal(r.account_id, 1);
	assert_int_equal(atomic_load(&lookups), 1);
	auth_session_destroy(&s);

	/* Until the admin changes the account. */
	auth_server_drop_account(fx.server, 1);
	assert_int_equal(plain_login("", "alice", "wonderland", &r),
			 AUTH_STATUS_SUCCESS);
	assert_int_equal(atomic_load(&lookups), 2);
	i_free(msg);
}

static void test_plain_without_initial_response(void **state)
{
	struct auth_result r;
	struct auth_session *s = session_new("PLAIN", true, NULL, 0);

	assert_int_equal(auth_session_start(s, NULL, &r), AUTH_STATUS_CONTINUE);
	assert_string_equal(r.challenge, "");
	char *msg = plain_msg("alice", "alice", "wonderland");
	assert_int_equal(settle(auth_session_continue(s, msg, &r), &r),
			 AUTH_STATUS_SUCCESS);
	/* An authzid equal to the authcid is fine. */
	assert_string_equal(r.authzid, "alice@example.org");
	i_free(msg);
	auth_session_destroy(&s);
}

static void test_plain_failures(void **state)
{
	struct auth_result r;

	assert_int_equal(plain_login("", "alice", "wonderlanD", &r),
			 AUTH_STATUS_FAILURE);
	assert_string_equal(r.error, "wrong password");
	assert_int_equal(r.delay_ms, 0);
	/* Failures are never cached: the same attempt is verified again. */
	int before = atomic_load(&lookups);
	assert_int_equal(plain_login("", "alice", "wonderlanD", &r),
			 AUTH_STATUS_FAILURE);
	assert_int_equal(atomic_load(&lookups), before + 1);
	assert_int_equal(r.delay_ms, 0);
	/* Third failure from this IP: now throttled. */
	assert_int_equal(plain_login("", "nobody", "x", &r), AUTH_STATUS_FAILURE);
	assert_string_equal(r.error, "unknown user");
	assert_int_equal(r.delay_ms, 1000);

	/* Someone else's authzid: refused without even a lookup. */
	before = atomic_load(&lookups);
	assert_int_equal(plain_login("bob", "alice", "wonderland", &r),
			 AUTH_STATUS_FAILURE);
	assert_string_equal(r.error, "authorization identity not allowed");
	assert_int_equal(atomic_load(&lookups), before);

	assert_int_equal(plain_login("", "tempfail", "x", &r),
			 AUTH_STATUS_TEMPFAIL);
	assert_string_equal(r.error,
			    "credential lookup failed: database is locked");
	assert_int_equal(plain_login("", "noscram", "pw", &r),
			 AUTH_STATUS_SUCCESS);
}

static void test_bad_responses(void **state)
{
	static const char *const bad[] = {
		"abc", "AA=A", "=AAA", "AAAA=", "AB==CD==", "QQ= =", "QR==",
		"a b=", "\xff\xfe==",
	};
	struct auth_result r;

	for (unsigned int i = 0; i < N_ELEMENTS(bad); i++) {
		struct auth_session *s = session_new("PLAIN", true, NULL, 0);
		assert_int_equal(auth_session_start(s, NULL, &r),
				 AUTH_STATUS_CONTINUE);
		assert_int_equal(auth_session_continue(s, bad[i], &r),
				 AUTH_STATUS_BAD_RESPONSE);
		assert_non_null(r.error);
		auth_session_destroy(&s);
	}
	/* As initial response too. */
	struct auth_session *s = session_new("PLAIN", true, NULL, 0);
	assert_int_equal(auth_session_start(s, "%%%%", &r),
			 AUTH_STATUS_BAD_RESPONSE);
	auth_session_destroy(&s);

	/* Too long. */
	char *big = i_malloc(2001);
	memset(big, 'A', 2000);
	s = session_new("PLAIN", true, NULL, 0);
	assert_int_equal(auth_session_start(s, big, &r),
			 AUTH_STATUS_BAD_RESPONSE);
	assert_string_equal(r.error, "response too long");
	auth_session_destroy(&s);
	i_free(big);

	/* Not a PLAIN message (no NULs). */
	char *msg = b64("alice", 5);
	s = session_new("PLAIN", true, NULL, 0);
	assert_int_equal(auth_session_start(s, msg, &r),
			 AUTH_STATUS_BAD_RESPONSE);
	auth_session_destroy(&s);
	i_free(msg);
}

static void test_cancel(void **state)
{
	struct auth_result r;
	struct auth_session *s = session_new("PLAIN", true, NULL, 0);

	assert_int_equal(auth_session_start(s, "*", &r), AUTH_STATUS_ABORTED);
	auth_session_destroy(&s);

	s = session_new("LOGIN", true, NULL, 0);
	assert_int_equal(auth_session_start(s, NULL, &r), AUTH_STATUS_CONTINUE);
	assert_int_equal(auth_session_continue(s, "*", &r), AUTH_STATUS_ABORTED);
	auth_session_destroy(&s);
}

/* ---- LOGIN ---- */

static void test_login(void **state)
{
	struct auth_result r;
	char *user = b64("alice", 5), *pass = b64("wonderland", 10);

	struct auth_session *s = session_new("LOGIN", true, NULL, 0);
	assert_int_equal(auth_session_start(s, NULL, &r), AUTH_STATUS_CONTINUE);
	assert_string_equal(r.challenge, "VXNlciBOYW1l"); /* "User Name" */
	assert_int_equal(auth_session_continue(s, user, &r),
			 AUTH_STATUS_CONTINUE);
	assert_string_equal(r.challenge, "UGFzc3dvcmQ="); /* "Password" */
	assert_int_equal(settle(auth_session_continue(s, pass, &r), &r),
			 AUTH_STATUS_SUCCESS);
	assert_string_equal(r.username, "alice@example.org");
	auth_session_destroy(&s);

	/* "AUTH LOGIN <user>": the initial response is the user name. */
	s = session_new("LOGIN", true, NULL, 0);
	assert_int_equal(auth_session_start(s, user, &r), AUTH_STATUS_CONTINUE);
	assert_string_equal(r.challenge, "UGFzc3dvcmQ=");
	char *wrong = b64("nope", 4);
	assert_int_equal(settle(auth_session_continue(s, wrong, &r), &r),
			 AUTH_STATUS_FAILURE);
	auth_session_destroy(&s);
	i_free(wrong);
	i_free(user);
	i_free(pass);
}

/* ---- USER/PASS style ---- */

static void test_check_password(void **state)
{
	struct auth_result r;
	struct auth_session *s = session_new(NULL, true, NULL, 0);

	assert_null(auth_session_mechanism(s));
	assert_int_equal(settle(auth_session_check_password(s, "yves",
							    "slow but sure",
							    &r), &r),
			 AUTH_STATUS_SUCCESS);
	assert_string_equal(r.username, "yves");
	assert_int_equal(r.account_id, 2);
	auth_session_destroy(&s);

	/* Shares the cache with SASL PLAIN. */
	struct auth_session *p = session_new("PLAIN", true, NULL, 0);
	char *msg = plain_msg("", "yves", "slow but sure");
	assert_int_equal(auth_session_start(p, msg, &r), AUTH_STATUS_SUCCESS);
	i_free(msg);
	auth_session_destroy(&p);

	s = session_new(NULL, true, NULL, 0);
	assert_int_equal(settle(auth_session_check_password(s, "yves", "slow",
							    &r), &r),
			 AUTH_STATUS_FAILURE);
	auth_session_destroy(&s);

	s = session_new(NULL, true, NULL, 0);
	assert_int_equal(settle(auth_session_check_password(s, "tempfail", "x",
							    &r), &r),
			 AUTH_STATUS_TEMPFAIL);
	auth_session_destroy(&s);

	s = session_new(NULL, true, NULL, 0);
	assert_int_equal(auth_session_check_password(s, "", "x", &r),
			 AUTH_STATUS_FAILURE);
	auth_session_destroy(&s);
}

static void test_destroy_while_pending(void **state)
{
	struct auth_result r;
	struct auth_session *s = session_new(NULL, true, NULL, 0);

	assert_int_equal(auth_session_check_password(s, "alice", "wonderland",
						     &r),
			 AUTH_STATUS_PENDING);
	auth_session_destroy(&s);
	assert_null(s);
	/* The completion still arrives, frees the session, calls nobody. */
	outcome_clear();
	loop_run_once();
	assert_int_equal(outcome.calls, 0);

	/* Same for a SCRAM step on the workpool. */
	s = session_new("SCRAM-SHA-256", true, NULL, 0);
	char *first = b64("n,,n=alice,r=abcdefghijkl", 25);
	assert_int_equal(auth_session_start(s, first, &r), AUTH_STATUS_PENDING);
	auth_session_destroy(&s);
	loop_run_once();
	assert_int_equal(outcome.calls, 0);
	i_free(first);
}

/* ---- SCRAM, driven by GNU SASL's client ---- */

struct scram_client {
	Gsasl *ctx;
	Gsasl_session *session;
};

static int client_cb(Gsasl *ctx, Gsasl_session *sctx, Gsasl_property prop)
{
	return GSASL_NO_CALLBACK;
}

static void scram_client_init(struct scram_client *c, const char *mech,
			      const char *user, const char *password,
			      const uint8_t *cb, size_t cb_len)
{
	assert_int_equal(gsasl_init(&c->ctx), GSASL_OK);
	gsasl_callback_set(c->ctx, client_cb);
	assert_int_equal(gsasl_client_start(c->ctx, mech, &c->session), GSASL_OK);
	gsasl_property_set(c->session, GSASL_AUTHID, user);
	gsasl_property_set(c->session, GSASL_PASSWORD, password);
	if (cb != NULL) {
		char *cb64 = b64(cb, cb_len);
		gsasl_property_set(c->session, GSASL_CB_TLS_EXPORTER, cb64);
		i_free(cb64);
	}
}

static void scram_client_deinit(struct scram_client *c)
{
	gsasl_finish(c->session);
	gsasl_done(c->ctx);
}

/* A whole exchange, as a protocol would run it: client-first as SASL-IR,
 * server-first, client-final, then the server's final data as a last
 * challenge answered empty. Returns the final status. */
static enum auth_status
scram_exchange(const char *mech, const char *user, const char *password,
	       const uint8_t *server_cb, const uint8_t *client_cb,
	       bool final_data_with_success, struct auth_result *r)
{
	struct scram_client c;
	struct auth_session_params params = {
		.mechanism = mech,
		.secure = true,
		.cb_data = server_cb,
		.cb_len = server_cb != NULL ? 32 : 0,
		.remote_ip = "198.51.100.20",
		.service = "imap",
		.final_data_with_success = final_data_with_success,
		.target = &target,
		.callback = on_result,
	};
	struct auth_session *s = NULL;
	const char *error = NULL;
	char *out = NULL;
	enum auth_status st;

	scram_client_init(&c, mech, user, password, client_cb, 32);
	assert_int_equal(auth_session_create(fx.server, &params, &s, &error), 1);

	assert_int_equal(gsasl_step64(c.session, "", &out), GSASL_NEEDS_MORE);
	st = auth_session_start(s, out, r);
	gsasl_free(out);
	assert_int_equal(st, AUTH_STATUS_PENDING);
	st = settle(st, r);
	if (st != AUTH_STATUS_CONTINUE)
		goto done;
	/* server-first */
	assert_int_equal(gsasl_step64(c.session, r->challenge, &out),
			 GSASL_NEEDS_MORE);
	st = settle(auth_session_continue(s, out, r), r);
	gsasl_free(out);
	if (final_data_with_success) {
		if (st == AUTH_STATUS_SUCCESS) {
			assert_non_null(r->success_data);
			assert_int_equal(gsasl_step64(c.session, r->success_data,
						      &out), GSASL_OK);
			gsasl_free(out);
		}
		goto done;
	}
	if (st != AUTH_STATUS_CONTINUE)
		goto done;
	/* server-final "v=...": the client checks the server's signature */
	assert_int_equal(gsasl_step64(c.session, r->challenge, &out), GSASL_OK);
	assert_string_equal(out, "");
	gsasl_free(out);
	st = auth_session_continue(s, "", r);
done:
	/* Keep the strings alive past the destroy for the caller. */
	if (st == AUTH_STATUS_SUCCESS) {
		i_free(outcome.username);
		outcome.username = i_strdup(r->username);
		r->username = outcome.username;
	}
	if (r->error != NULL && r->error != outcome.error) {
		i_free(outcome.error);
		outcome.error = i_strdup(r->error);
		r->error = outcome.error;
	}
	r->challenge = NULL;
	r->success_data = NULL;
	auth_session_destroy(&s);
	scram_client_deinit(&c);
	return st;
}

static void test_scram_success(void **state)
{
	struct auth_result r;

	assert_int_equal(scram_exchange("SCRAM-SHA-256", "alice", "wonderland",
					NULL, NULL, false, &r),
			 AUTH_STATUS_SUCCESS);
	assert_string_equal(r.username, "alice@example.org");
	assert_int_equal(r.account_id, 1);
	/* A protocol that carries success data gets it with SUCCESS. */
	assert_int_equal(scram_exchange("SCRAM-SHA-256", "alice", "wonderland",
					NULL, NULL, true, &r),
			 AUTH_STATUS_SUCCESS);
	/* A non-ASCII name and password (SASLprep'd on both sides). */
	assert_int_equal(scram_exchange("SCRAM-SHA-256", "u\xc3\xa9",
					"p\xc3\xa9", NULL, NULL, false, &r),
			 AUTH_STATUS_SUCCESS);
	assert_int_equal(r.account_id, 4);
	/* Keys given as the store's separate values. */
	assert_int_equal(scram_exchange("SCRAM-SHA-256", "stored", "kept apart",
					NULL, NULL, false, &r),
			 AUTH_STATUS_SUCCESS);
	assert_int_equal(r.account_id, 5);
	/* That account has no crypt hash (""): PLAIN fails cleanly. */
	assert_int_equal(plain_login("", "stored", "kept apart", &r),
			 AUTH_STATUS_FAILURE);
	assert_string_equal(r.error, "no password set");
}

static void test_scram_failures(void **state)
{
	struct auth_result r;

	assert_int_equal(scram_exchange("SCRAM-SHA-256", "alice", "wonderlanD",
					NULL, NULL, false, &r),
			 AUTH_STATUS_FAILURE);
	/* Unknown users and users without SCRAM keys run the whole exchange
	 * (a server-first with a plausible salt) and fail at the end. */
	assert_int_equal(scram_exchange("SCRAM-SHA-256", "nobody", "x", NULL,
					NULL, false, &r),
			 AUTH_STATUS_FAILURE);
	assert_string_equal(r.error, "unknown user");
	assert_int_equal(scram_exchange("SCRAM-SHA-256", "noscram", "pw", NULL,
					NULL, false, &r),
			 AUTH_STATUS_FAILURE);
	assert_string_equal(r.error, "no SCRAM credentials");
	assert_int_equal(r.delay_ms, 1000); /* third failure from this IP */
	assert_int_equal(scram_exchange("SCRAM-SHA-256", "tempfail", "x", NULL,
					NULL, false, &r),
			 AUTH_STATUS_TEMPFAIL);
}

static void test_scram_bad_final_answer(void **state)
{
	struct auth_result r;
	struct scram_client c;
	char *out = NULL;
	struct auth_session *s = session_new("SCRAM-SHA-256", true, NULL, 0);

	scram_client_init(&c, "SCRAM-SHA-256", "alice", "wonderland", NULL, 0);
	/* No initial response: an empty challenge first. */
	assert_int_equal(auth_session_start(s, NULL, &r), AUTH_STATUS_CONTINUE);
	assert_string_equal(r.challenge, "");
	assert_int_equal(gsasl_step64(c.session, "", &out), GSASL_NEEDS_MORE);
	assert_int_equal(settle(auth_session_continue(s, out, &r), &r),
			 AUTH_STATUS_CONTINUE);
	gsasl_free(out);
	assert_int_equal(gsasl_step64(c.session, r.challenge, &out),
			 GSASL_NEEDS_MORE);
	assert_int_equal(auth_session_continue(s, out, &r), AUTH_STATUS_CONTINUE);
	gsasl_free(out);
	/* The answer to the final data must be empty. */
	assert_int_equal(auth_session_continue(s, "AAAA", &r),
			 AUTH_STATUS_BAD_RESPONSE);
	auth_session_destroy(&s);
	scram_client_deinit(&c);

	/* Garbage instead of a client-first message. */
	s = session_new("SCRAM-SHA-256", true, NULL, 0);
	char *junk = b64("hello", 5);
	assert_int_equal(settle(auth_session_start(s, junk, &r), &r),
			 AUTH_STATUS_BAD_RESPONSE);
	auth_session_destroy(&s);
	i_free(junk);
}

static void test_scram_plus(void **state)
{
	uint8_t cb[32], other[32];
	struct auth_result r;

	memset(cb, 0x11, sizeof(cb));
	memset(other, 0x22, sizeof(other));
	assert_int_equal(scram_exchange("SCRAM-SHA-256-PLUS", "alice",
					"wonderland", cb, cb, false, &r),
			 AUTH_STATUS_SUCCESS);
	assert_string_equal(r.username, "alice@example.org");
	/* A different TLS channel (a man in the middle) on the client's
	 * side: the binding does not match. */
	assert_int_equal(scram_exchange("SCRAM-SHA-256-PLUS", "alice",
					"wonderland", cb, other, false, &r),
			 AUTH_STATUS_FAILURE);
	/* A client that supports binding but believes the server does not
	 * says so with the "y" flag (RFC 5802 section 6); when the server did
	 * offer -PLUS, someone removed it from the list: a downgrade. GNU
	 * SASL's client never sends "y", so the message is written here. */
	char *first = b64("y,,n=alice,r=0123456789abcdef", 29);
	struct auth_session *s = session_new("SCRAM-SHA-256", true, cb, 32);
	assert_int_equal(settle(auth_session_start(s, first, &r), &r),
			 AUTH_STATUS_FAILURE);
	auth_session_destroy(&s);
	/* Without binding data on the server, "y" is honest and fine. */
	s = session_new("SCRAM-SHA-256", true, NULL, 0);
	assert_int_equal(settle(auth_session_start(s, first, &r), &r),
			 AUTH_STATUS_CONTINUE);
	auth_session_destroy(&s);
	i_free(first);
	/* A -PLUS client naming a binding type we do not provide. */
	first = b64("p=tls-unique,,n=alice,r=0123456789abcdef", 40);
	s = session_new("SCRAM-SHA-256-PLUS", true, cb, 32);
	assert_int_equal(settle(auth_session_start(s, first, &r), &r),
			 AUTH_STATUS_FAILURE);
	auth_session_destroy(&s);
	i_free(first);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_mechanisms),
		T(test_plain_success_and_cache),
		T(test_plain_without_initial_response),
		T(test_plain_failures),
		T(test_bad_responses),
		T(test_cancel),
		T(test_login),
		T(test_check_password),
		T(test_destroy_while_pending),
		T(test_scram_success),
		T(test_scram_failures),
		T(test_scram_bad_final_answer),
		T(test_scram_plus),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
