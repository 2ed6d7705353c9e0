/* SPDX-License-Identifier: MIT */
#include "lib.h"
#include "buf.h"
#include "log.h"
#include "pool.h"
#include "strutil.h"
#include "auth-sasl.h"
#include "auth-cache.h"
#include "auth-password.h"
#include "auth-private.h"
#include "auth-scram.h"
#include "auth-throttle.h"

#include <gsasl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#define SECRET_SIZE 32

enum auth_mech {
	AUTH_MECH_NONE, /* auth_session_check_password() only */
	AUTH_MECH_PLAIN,
	AUTH_MECH_LOGIN,
	AUTH_MECH_SCRAM,
	AUTH_MECH_SCRAM_PLUS,
};

static const char *const mech_names[] = {
	[AUTH_MECH_NONE] = NULL,
	[AUTH_MECH_PLAIN] = "PLAIN",
	[AUTH_MECH_LOGIN] = "LOGIN",
	[AUTH_MECH_SCRAM] = "SCRAM-SHA-256",
	[AUTH_MECH_SCRAM_PLUS] = "SCRAM-SHA-256-PLUS",
};

enum session_state {
	SESSION_STATE_NEW,
	SESSION_STATE_EXCHANGE,    /* a challenge is out; waiting for a response */
	SESSION_STATE_PENDING,     /* work is on the workpool */
	SESSION_STATE_FINAL_EMPTY, /* SCRAM's final data went out as a challenge */
	SESSION_STATE_DONE,
};

enum job_kind {
	JOB_VERIFY_PASSWORD,
	JOB_SCRAM_FIRST,
};

struct auth_server {
	Gsasl *gsasl;
	struct auth_server_settings set;
	/* Unknown users are verified against this, so that they cost as much
	 * time as known ones and cannot be told apart by it. */
	char *dummy_hash;
	/* Keys the fake SCRAM salts shown for unknown users. */
	uint8_t secret[SECRET_SIZE];
};

struct auth_session {
	struct auth_server *server;
	enum auth_mech mech;
	enum session_state state;
	Gsasl_session *gsasl;
	bool secure;
	bool final_data_with_success;
	char *ip, *sid, *service;
	struct completion_target target;
	void (*callback)(struct auth_session *session,
			 const struct auth_result *result, void *context);
	void *context;
	/* Set by auth_session_destroy() while PENDING: the completion frees. */
	bool destroyed;

	/* Identity and secret of the exchange. authcid is as the client sent
	 * it (after the mechanism's SASLprep); password is wiped when done. */
	char *authcid, *authzid, *password;
	bool scram_first_done;
	/* PLAIN: the client left the authzid empty (GNU SASL reports the
	 * authcid in its place). */
	bool plain_authzid_empty;

	/* Work on the workpool: inputs and outputs, touched by the worker
	 * only while state is PENDING. */
	enum job_kind job_kind;
	struct buf job_input;
	int job_rc;
	char *job_output;
	size_t job_output_len;
	enum auth_status job_status;
	bool job_tempfail;
	const char *job_error; /* static string or job_error_buf */
	char *job_error_buf;

	/* The account once known. */
	int64_t account_id;
	char *username; /* canonical */

	/* Storage behind the strings of the last auth_result. */
	struct buf out;
	/* Server-final data held for the empty response in FINAL_EMPTY. */
	struct buf final_data;
};

/* ---- GNU SASL callback ---- */

/* The lookup's error may live in its pool: keep a copy for the log. */
static void job_set_lookup_error(struct auth_session *s, const char *error)
{
	i_free(s->job_error_buf);
	s->job_error_buf = i_strdup_printf("credential lookup failed: %s",
					   error != NULL ? error : "?");
	s->job_error = s->job_error_buf;
}

static void scram_fake_credentials(struct auth_session *s, Gsasl_session *sctx,
				   const char *username,
				   struct auth_scram_keys *keys)
{
	uint8_t mac[EVP_MAX_MD_SIZE];
	unsigned int mac_len = 0;

	/* Fixed per user and process, so repeated probes see one salt, as
	 * they would for a real account (RFC 5802 section 9). */
	memset(keys, 0, sizeof(*keys));
	if (HMAC(EVP_sha256(), s->server->secret, sizeof(s->server->secret),
		 (const uint8_t *)username, strlen(username), mac,
		 &mac_len) == NULL)
		i_fatal("auth: HMAC failed");
	keys->salt_len = AUTH_SCRAM_SALT_SIZE;
	memcpy(keys->salt, mac, keys->salt_len);
	keys->iter = s->server->set.scram_iter;
	/* Keys no client proof can match. */
	auth_random_bytes(keys->stored_key, sizeof(keys->stored_key));
	auth_random_bytes(keys->server_key, sizeof(keys->server_key));
}

static void scram_set_properties(Gsasl_session *sctx,
				 const struct auth_scram_keys *keys)
{
	struct buf tmp = BUF_INIT;

	buf_printf(&tmp, "%u", keys->iter);
	gsasl_property_set(sctx, GSASL_SCRAM_ITER, buf_cstr(&tmp));
	buf_reset(&tmp);
	auth_base64_encode(keys->salt, keys->salt_len, &tmp);
	gsasl_property_set(sctx, GSASL_SCRAM_SALT, buf_cstr(&tmp));
	/* GNU SASL 2.2.0 decodes these as base64, although its header
	 * documents them as hex (see DESIGN.md; tested). */
	buf_reset(&tmp);
	auth_base64_encode(keys->stored_key, sizeof(keys->stored_key), &tmp);
	gsasl_property_set(sctx, GSASL_SCRAM_STOREDKEY, buf_cstr(&tmp));
	buf_reset(&tmp);
	auth_base64_encode(keys->server_key, sizeof(keys->server_key), &tmp);
	gsasl_property_set(sctx, GSASL_SCRAM_SERVERKEY, buf_cstr(&tmp));
	explicit_bzero(tmp.data, tmp.cap);
	buf_free(&tmp);
}

/* Runs on a workpool thread, inside gsasl_step() of the client-first
 * message: looks the user up and hands GNU SASL the salt, iteration count
 * and keys. Users without usable SCRAM keys get fake ones, so the exchange
 * runs to the end and fails there like a wrong password. */
static void scram_lookup(struct auth_session *s, Gsasl_session *sctx)
{
	const struct auth_lookup *lookup = &s->server->set.lookup;
	const char *username = gsasl_property_fast(sctx, GSASL_AUTHID);
	struct auth_scram_keys keys;
	struct auth_credentials creds;
	const char *error = NULL;
	bool have_keys = false;

	if (username == NULL)
		username = "";
	i_free(s->authcid);
	s->authcid = i_strndup(username, AUTH_USERNAME_MAX_LEN + 1);
	if (strlen(username) > AUTH_USERNAME_MAX_LEN || username[0] == '\0') {
		s->job_error = "bad username";
	} else {
		struct pool *pool = pool_create("auth scram lookup", 1024);
		memset(&creds, 0, sizeof(creds));
		switch (lookup->lookup(lookup->context, username, pool, &creds,
				       &error)) {
		case AUTH_LOOKUP_FOUND:
			if (creds.scram == NULL &&
			    (creds.scram_salt == NULL ||
			     creds.scram_salt[0] == '\0')) {
				s->job_error = "no SCRAM credentials";
			} else if (creds.scram != NULL ?
					   auth_scram_parse(creds.scram, &keys,
							    &error) < 0 :
					   auth_scram_from_parts(
						   creds.scram_salt,
						   creds.scram_iter,
						   creds.scram_stored_key,
						   creds.scram_server_key,
						   &keys, &error) < 0) {
				s->job_error = "unusable SCRAM credentials";
			} else {
				have_keys = true;
				s->account_id = creds.account_id;
				s->username = i_strdup(creds.username != NULL ?
						       creds.username : username);
			}
			break;
		case AUTH_LOOKUP_NOT_FOUND:
			s->job_error = "unknown user";
			break;
		case AUTH_LOOKUP_TEMPFAIL:
			s->job_tempfail = true;
			job_set_lookup_error(s, error);
			break;
		}
		pool_destroy(&pool);
	}
	if (!have_keys)
		scram_fake_credentials(s, sctx, username, &keys);
	scram_set_properties(sctx, &keys);
	explicit_bzero(&keys, sizeof(keys));
}

static int auth_gsasl_callback(Gsasl *ctx, Gsasl_session *sctx,
			       Gsasl_property prop)
{
	struct auth_session *s = gsasl_session_hook_get(sctx);
	const char *value;

	if (s == NULL)
		return GSASL_NO_CALLBACK;
	switch (prop) {
	case GSASL_VALIDATE_SIMPLE:
		/* PLAIN and LOGIN: only capture the credentials here. The
		 * verification (crypt) must not run inside gsasl_step() on
		 * the event loop; it runs on the workpool afterwards. */
		value = gsasl_property_fast(sctx, GSASL_AUTHID);
		s->authcid = i_strdup(value != NULL ? value : "");
		value = gsasl_property_fast(sctx, GSASL_AUTHZID);
		if (s->plain_authzid_empty)
			value = NULL;
		s->authzid = i_strdup(value != NULL ? value : "");
		value = gsasl_property_fast(sctx, GSASL_PASSWORD);
		s->password = i_strdup(value != NULL ? value : "");
		gsasl_property_set(sctx, GSASL_PASSWORD, NULL);
		return GSASL_OK;
	case GSASL_SCRAM_ITER:
		scram_lookup(s, sctx);
		return GSASL_OK;
	default:
		return GSASL_NO_CALLBACK;
	}
}

/* ---- Server ---- */

struct auth_server *auth_server_create(const struct auth_server_settings *set,
				       const char **error_r)
{
	struct auth_server *server;
	Gsasl *gsasl;
	int rc;

	i_assert(set->lookup.lookup != NULL);
	i_assert(set->workpool != NULL);
	if ((rc = gsasl_init(&gsasl)) != GSASL_OK) {
		*error_r = gsasl_strerror(rc);
		return NULL;
	}
	for (unsigned int i = AUTH_MECH_PLAIN; i < N_ELEMENTS(mech_names); i++) {
		if (gsasl_server_support_p(gsasl, mech_names[i]) == 0) {
			gsasl_done(gsasl);
			*error_r = "GNU SASL lacks a required mechanism";
			return NULL;
		}
	}
	server = i_new(struct auth_server, 1);
	server->gsasl = gsasl;
	server->set = *set;
	if (server->set.max_response_len == 0)
		server->set.max_response_len = AUTH_RESPONSE_DEFAULT_MAX;
	if (server->set.scram_iter == 0)
		server->set.scram_iter = AUTH_SCRAM_DEFAULT_ITER;
	auth_random_bytes(server->secret, sizeof(server->secret));
	char dummy_password[33];
	uint8_t rnd[16];
	auth_random_bytes(rnd, sizeof(rnd));
	for (unsigned int i = 0; i < sizeof(rnd); i++) {
		dummy_password[2 * i] = "0123456789abcdef"[rnd[i] >> 4];
		dummy_password[2 * i + 1] = "0123456789abcdef"[rnd[i] & 15];
	}
	dummy_password[32] = '\0';
	if (auth_password_hash(dummy_password, NULL, 0, &server->dummy_hash,
			       error_r) < 0) {
		gsasl_done(gsasl);
		i_free(server);
		return NULL;
	}
	gsasl_callback_set(gsasl, auth_gsasl_callback);
	gsasl_callback_hook_set(gsasl, server);
	return server;
}

void auth_server_destroy(struct auth_server **_server)
{
	struct auth_server *server = *_server;

	if (server == NULL)
		return;
	*_server = NULL;
	gsasl_done(server->gsasl);
	i_free(server->dummy_hash);
	explicit_bzero(server->secret, sizeof(server->secret));
	i_free(server);
}

const char *auth_server_mechanisms(const struct auth_server *server,
				   bool secure, bool channel_binding)
{
	if (secure)
		return channel_binding ?
			"SCRAM-SHA-256-PLUS SCRAM-SHA-256 PLAIN LOGIN" :
			"SCRAM-SHA-256 PLAIN LOGIN";
	return channel_binding ? "SCRAM-SHA-256-PLUS SCRAM-SHA-256" :
				 "SCRAM-SHA-256";
}

void auth_server_drop_account(struct auth_server *server, int64_t account_id)
{
	if (server->set.cache != NULL)
		auth_cache_drop_account(server->set.cache, account_id);
}

/* ---- Session results ---- */

static const char *status_name(enum auth_status status)
{
	switch (status) {
	case AUTH_STATUS_PENDING: return "pending";
	case AUTH_STATUS_CONTINUE: return "continue";
	case AUTH_STATUS_SUCCESS: return "ok";
	case AUTH_STATUS_FAILURE: return "fail";
	case AUTH_STATUS_TEMPFAIL: return "tempfail";
	case AUTH_STATUS_ABORTED: return "aborted";
	case AUTH_STATUS_BAD_RESPONSE: return "bad-response";
	}
	return "?";
}

static void session_wipe_password(struct auth_session *s)
{
	auth_secret_free(&s->password);
}

/* Ends the exchange with a final status: records it with the throttle and
 * in the log. */
static enum auth_status session_finish(struct auth_session *s,
				       enum auth_status status,
				       const char *error,
				       struct auth_result *result)
{
	struct auth_throttle *throttle = s->server->set.throttle;
	char quser[256], qerr[128];

	i_assert(status != AUTH_STATUS_CONTINUE && status != AUTH_STATUS_PENDING);
	session_wipe_password(s);
	s->state = SESSION_STATE_DONE;
	memset(result, 0, sizeof(*result));
	result->status = status;
	if (status == AUTH_STATUS_SUCCESS) {
		if (s->username == NULL)
			s->username = i_strdup(s->authcid);
		result->username = s->username;
		result->authzid = s->authzid != NULL && s->authzid[0] != '\0' ?
					  s->username : "";
		result->account_id = s->account_id;
		if (throttle != NULL)
			auth_throttle_success(throttle, s->ip, s->authcid);
	} else {
		result->error = error != NULL ? error : status_name(status);
	}
	if (status == AUTH_STATUS_FAILURE && throttle != NULL) {
		auth_throttle_failure(throttle, s->ip, s->authcid);
		result->delay_ms = auth_throttle_delay(throttle, s->ip, s->authcid);
	}
	log_event(status == AUTH_STATUS_SUCCESS || status == AUTH_STATUS_ABORTED ?
			  LOG_LEVEL_INFO : LOG_LEVEL_WARN,
		  s->sid, "auth",
		  "service=%s mech=%s user=%s ip=%s result=%s account=%lld "
		  "reason=%s delay_ms=%u",
		  s->service != NULL ? s->service : "-",
		  s->mech == AUTH_MECH_NONE ? "password" : mech_names[s->mech],
		  log_quote(quser, sizeof(quser),
			    status == AUTH_STATUS_SUCCESS ? s->username :
			    s->authcid != NULL ? s->authcid : "-"),
		  s->ip != NULL ? s->ip : "-", status_name(status),
		  status == AUTH_STATUS_SUCCESS ? (long long)s->account_id : -1LL,
		  log_quote(qerr, sizeof(qerr),
			    result->error != NULL ? result->error : "-"),
		  result->delay_ms);
	return status;
}

static enum auth_status session_challenge(struct auth_session *s,
					  const void *data, size_t len,
					  struct auth_result *result)
{
	buf_reset(&s->out);
	auth_base64_encode(data, len, &s->out);
	memset(result, 0, sizeof(*result));
	result->status = AUTH_STATUS_CONTINUE;
	result->challenge = buf_cstr(&s->out);
	s->state = SESSION_STATE_EXCHANGE;
	return AUTH_STATUS_CONTINUE;
}

/* ---- Password verification on the workpool ---- */

static void verify_work(void *context)
{
	struct auth_session *s = context;
	const struct auth_lookup *lookup = &s->server->set.lookup;
	struct pool *pool = pool_create("auth verify", 1024);
	struct auth_credentials creds;
	const char *error = NULL;

	memset(&creds, 0, sizeof(creds));
	switch (lookup->lookup(lookup->context, s->authcid, pool, &creds,
			       &error)) {
	case AUTH_LOOKUP_TEMPFAIL:
		s->job_status = AUTH_STATUS_TEMPFAIL;
		job_set_lookup_error(s, error);
		break;
	case AUTH_LOOKUP_NOT_FOUND:
		(void)auth_password_verify(s->server->dummy_hash, s->password);
		s->job_status = AUTH_STATUS_FAILURE;
		s->job_error = "unknown user";
		break;
	case AUTH_LOOKUP_FOUND:
		if (creds.password_hash == NULL ||
		    creds.password_hash[0] == '\0') {
			(void)auth_password_verify(s->server->dummy_hash,
						   s->password);
			s->job_status = AUTH_STATUS_FAILURE;
			s->job_error = "no password set";
			break;
		}
		switch (auth_password_verify(creds.password_hash, s->password)) {
		case 1:
			s->job_status = AUTH_STATUS_SUCCESS;
			s->account_id = creds.account_id;
			s->username = i_strdup(creds.username != NULL ?
					       creds.username : s->authcid);
			if (s->server->set.cache != NULL)
				auth_cache_insert(s->server->set.cache,
						  s->authcid, s->password,
						  s->account_id, s->username);
			break;
		case 0:
			s->job_status = AUTH_STATUS_FAILURE;
			s->job_error = "wrong password";
			break;
		default:
			s->job_status = AUTH_STATUS_FAILURE;
			s->job_error = "unusable password hash";
			break;
		}
		break;
	}
	pool_destroy(&pool);
	session_wipe_password(s);
}

static void session_free(struct auth_session *s);
static void session_deliver(struct auth_session *s,
			    const struct auth_result *result);

static void verify_done(void *context)
{
	struct auth_session *s = context;
	struct auth_result result;

	if (s->destroyed) {
		session_free(s);
		return;
	}
	session_finish(s, s->job_status, s->job_error, &result);
	session_deliver(s, &result);
}

static void session_deliver(struct auth_session *s,
			    const struct auth_result *result)
{
	s->callback(s, result, s->context);
}

static enum auth_status verify_begin(struct auth_session *s,
				     struct auth_result *result)
{
	struct auth_cache *cache = s->server->set.cache;
	int64_t account_id;
	char *canonical = NULL;

	if (s->authcid[0] == '\0' || strlen(s->authcid) > AUTH_USERNAME_MAX_LEN)
		return session_finish(s, AUTH_STATUS_FAILURE, "bad username",
				      result);
	if (strlen(s->password) > AUTH_PASSWORD_MAX_LEN)
		return session_finish(s, AUTH_STATUS_FAILURE,
				      "password too long", result);
	/* RFC 4616 section 2: an authzid other than the authcid asks to act
	 * as someone else, which no account may (yet). */
	if (s->authzid != NULL && s->authzid[0] != '\0' &&
	    strcmp(s->authzid, s->authcid) != 0)
		return session_finish(s, AUTH_STATUS_FAILURE,
				      "authorization identity not allowed",
				      result);
	if (cache != NULL && auth_cache_lookup(cache, s->authcid, s->password,
					       &account_id, &canonical) > 0) {
		s->account_id = account_id;
		s->username = canonical;
		return session_finish(s, AUTH_STATUS_SUCCESS, NULL, result);
	}
	s->job_kind = JOB_VERIFY_PASSWORD;
	s->state = SESSION_STATE_PENDING;
	workpool_submit(s->server->set.workpool, verify_work, verify_done, s,
			&s->target);
	memset(result, 0, sizeof(*result));
	result->status = AUTH_STATUS_PENDING;
	return AUTH_STATUS_PENDING;
}

/* ---- SASL steps ---- */

static enum auth_status session_gsasl_result(struct auth_session *s, int rc,
					     const char *out, size_t out_len,
					     struct auth_result *result);

static void scram_first_work(void *context)
{
	struct auth_session *s = context;

	s->job_output = NULL;
	s->job_output_len = 0;
	s->job_rc = gsasl_step(s->gsasl, (const char *)s->job_input.data,
			       s->job_input.len, &s->job_output,
			       &s->job_output_len);
}

static void scram_first_done(void *context)
{
	struct auth_session *s = context;
	struct auth_result result;

	if (s->destroyed) {
		session_free(s);
		return;
	}
	buf_reset(&s->job_input);
	s->state = SESSION_STATE_EXCHANGE;
	s->scram_first_done = true;
	if (s->job_tempfail) {
		session_finish(s, AUTH_STATUS_TEMPFAIL, s->job_error, &result);
	} else {
		session_gsasl_result(s, s->job_rc, s->job_output,
				     s->job_output_len, &result);
	}
	gsasl_free(s->job_output);
	s->job_output = NULL;
	session_deliver(s, &result);
}

static enum auth_status scram_success(struct auth_session *s, const char *out,
				      size_t out_len,
				      struct auth_result *result)
{
	const char *authzid = gsasl_property_fast(s->gsasl, GSASL_AUTHZID);

	if (s->job_error != NULL)
		return session_finish(s, AUTH_STATUS_FAILURE, s->job_error,
				      result);
	s->authzid = i_strdup(authzid != NULL ? authzid : "");
	if (s->authzid[0] != '\0' && strcmp(s->authzid, s->authcid) != 0)
		return session_finish(s, AUTH_STATUS_FAILURE,
				      "authorization identity not allowed",
				      result);
	buf_reset(&s->final_data);
	auth_base64_encode(out, out_len, &s->final_data);
	if (!s->final_data_with_success && out_len > 0) {
		/* RFC 4422 section 5: without room for additional data in
		 * the success reply, it goes out as a challenge that the
		 * client answers empty. */
		session_challenge(s, out, out_len, result);
		s->state = SESSION_STATE_FINAL_EMPTY;
		return AUTH_STATUS_CONTINUE;
	}
	session_finish(s, AUTH_STATUS_SUCCESS, NULL, result);
	result->success_data = out_len > 0 ? buf_cstr(&s->final_data) : NULL;
	return AUTH_STATUS_SUCCESS;
}

static enum auth_status session_gsasl_result(struct auth_session *s, int rc,
					     const char *out, size_t out_len,
					     struct auth_result *result)
{
	switch (rc) {
	case GSASL_NEEDS_MORE:
		return session_challenge(s, out, out_len, result);
	case GSASL_OK:
		if (s->mech == AUTH_MECH_SCRAM || s->mech == AUTH_MECH_SCRAM_PLUS)
			return scram_success(s, out, out_len, result);
		if (s->password == NULL || s->authcid == NULL)
			return session_finish(s, AUTH_STATUS_FAILURE,
					      "no credentials", result);
		return verify_begin(s, result);
	case GSASL_MECHANISM_PARSE_ERROR:
	case GSASL_MECHANISM_CALLED_TOO_MANY_TIMES:
	case GSASL_BASE64_ERROR:
		return session_finish(s, AUTH_STATUS_BAD_RESPONSE,
				      gsasl_strerror_name(rc), result);
	default:
		if (s->job_error != NULL && rc == GSASL_AUTHENTICATION_ERROR)
			return session_finish(s, AUTH_STATUS_FAILURE,
					      s->job_error, result);
		return session_finish(s, AUTH_STATUS_FAILURE,
				      gsasl_strerror_name(rc), result);
	}
}

static enum auth_status session_feed(struct auth_session *s,
				     const uint8_t *data, size_t len,
				     struct auth_result *result)
{
	char *out = NULL;
	size_t out_len = 0;

	if ((s->mech == AUTH_MECH_SCRAM || s->mech == AUTH_MECH_SCRAM_PLUS) &&
	    !s->scram_first_done && len > 0) {
		/* The client-first message needs the user's keys: the lookup
		 * runs inside gsasl_step(), so the step runs on the
		 * workpool. */
		buf_reset(&s->job_input);
		buf_append(&s->job_input, data, len);
		s->job_kind = JOB_SCRAM_FIRST;
		s->state = SESSION_STATE_PENDING;
		workpool_submit(s->server->set.workpool, scram_first_work,
				scram_first_done, s, &s->target);
		memset(result, 0, sizeof(*result));
		result->status = AUTH_STATUS_PENDING;
		return AUTH_STATUS_PENDING;
	}
	if (s->mech == AUTH_MECH_PLAIN)
		s->plain_authzid_empty = len > 0 && data[0] == '\0';
	int rc = gsasl_step(s->gsasl, (const char *)data, len, &out, &out_len);
	enum auth_status status = session_gsasl_result(s, rc, out, out_len,
						       result);
	gsasl_free(out);
	return status;
}

/* Decodes one client response into decoded: 0, or -1 when it is too long
 * or not strict base64. */
static int session_decode(struct auth_session *s, const char *response,
			  struct buf *decoded)
{
	size_t len = strlen(response);

	if (len > s->server->set.max_response_len)
		return -1;
	return auth_base64_decode(response, len, decoded);
}

static enum auth_status session_input(struct auth_session *s,
				      const char *response,
				      struct auth_result *result)
{
	struct buf decoded = BUF_INIT;
	enum auth_status status;

	if (strcmp(response, "*") == 0)
		return session_finish(s, AUTH_STATUS_ABORTED,
				      "cancelled by client", result);
	if (session_decode(s, response, &decoded) < 0) {
		buf_free(&decoded);
		return session_finish(s, AUTH_STATUS_BAD_RESPONSE,
				      strlen(response) >
						      s->server->set.max_response_len ?
					      "response too long" :
					      "malformed base64",
				      result);
	}
	if (s->state == SESSION_STATE_FINAL_EMPTY) {
		status = decoded.len == 0 ?
			session_finish(s, AUTH_STATUS_SUCCESS, NULL, result) :
			session_finish(s, AUTH_STATUS_BAD_RESPONSE,
				       "non-empty response to final data",
				       result);
	} else {
		status = session_feed(s, decoded.data, decoded.len, result);
	}
	if (decoded.data != NULL)
		explicit_bzero(decoded.data, decoded.len);
	buf_free(&decoded);
	return status;
}

/* ---- Session API ---- */

static enum auth_mech mech_lookup(const char *name)
{
	for (unsigned int i = AUTH_MECH_PLAIN; i < N_ELEMENTS(mech_names); i++) {
		if (str_ascii_eq_ci(name, mech_names[i]))
			return (enum auth_mech)i;
	}
	return AUTH_MECH_NONE;
}

int auth_session_create(struct auth_server *server,
			const struct auth_session_params *params,
			struct auth_session **session_r, const char **error_r)
{
	enum auth_mech mech = AUTH_MECH_NONE;
	bool have_cb = params->cb_data != NULL && params->cb_len > 0;

	*session_r = NULL;
	i_assert(params->target != NULL && params->callback != NULL);
	i_assert(params->cb_len <= AUTH_CB_DATA_MAX);
	if (params->mechanism != NULL) {
		mech = mech_lookup(params->mechanism);
		if (mech == AUTH_MECH_NONE) {
			*error_r = "unknown mechanism";
			return -1;
		}
		if ((mech == AUTH_MECH_PLAIN || mech == AUTH_MECH_LOGIN) &&
		    !params->secure) {
			*error_r = "mechanism needs an encrypted connection";
			return 0;
		}
		if (mech == AUTH_MECH_SCRAM_PLUS && !have_cb) {
			*error_r = "mechanism needs channel binding";
			return 0;
		}
	}

	struct auth_session *s = i_new(struct auth_session, 1);
	s->server = server;
	s->mech = mech;
	s->secure = params->secure;
	s->final_data_with_success = params->final_data_with_success;
	s->ip = i_strdup(params->remote_ip);
	s->sid = i_strdup(params->sid);
	s->service = i_strdup(params->service);
	s->target = *params->target;
	s->callback = params->callback;
	s->context = params->context;
	if (mech != AUTH_MECH_NONE) {
		int rc = gsasl_server_start(server->gsasl, mech_names[mech],
					    &s->gsasl);
		if (rc != GSASL_OK) {
			*error_r = gsasl_strerror(rc);
			session_free(s);
			return -1;
		}
		gsasl_session_hook_set(s->gsasl, s);
		if (have_cb) {
			/* Set for plain SCRAM too: a client that says it
			 * could bind ("y") while we offered -PLUS is being
			 * downgraded (RFC 5802 section 6). */
			struct buf b64 = BUF_INIT;
			auth_base64_encode(params->cb_data, params->cb_len, &b64);
			gsasl_property_set(s->gsasl, GSASL_CB_TLS_EXPORTER,
					   buf_cstr(&b64));
			buf_free(&b64);
		}
	}
	*session_r = s;
	return 1;
}

enum auth_status auth_session_start(struct auth_session *s,
				    const char *initial_response,
				    struct auth_result *result_r)
{
	i_assert(s->state == SESSION_STATE_NEW && s->mech != AUTH_MECH_NONE);
	s->state = SESSION_STATE_EXCHANGE;
	if (initial_response == NULL)
		return session_feed(s, NULL, 0, result_r);
	if (s->mech == AUTH_MECH_LOGIN && strcmp(initial_response, "*") != 0) {
		/* LOGIN has no initial response of its own; clients that
		 * send one ("AUTH LOGIN <user>") mean the answer to the
		 * "User Name" challenge. Step past that challenge first. */
		char *out = NULL;
		size_t out_len = 0;
		int rc = gsasl_step(s->gsasl, "", 0, &out, &out_len);
		gsasl_free(out);
		if (rc != GSASL_NEEDS_MORE)
			return session_gsasl_result(s, rc, NULL, 0, result_r);
	}
	/* RFC 4959 section 3, RFC 4954 section 4: "=" is an empty one. */
	if (strcmp(initial_response, "=") == 0)
		initial_response = "";
	return session_input(s, initial_response, result_r);
}

enum auth_status auth_session_continue(struct auth_session *s,
				       const char *response,
				       struct auth_result *result_r)
{
	i_assert(s->state == SESSION_STATE_EXCHANGE ||
		 s->state == SESSION_STATE_FINAL_EMPTY);
	return session_input(s, response, result_r);
}

enum auth_status auth_session_check_password(struct auth_session *s,
					     const char *username,
					     const char *password,
					     struct auth_result *result_r)
{
	i_assert(s->state == SESSION_STATE_NEW && s->mech == AUTH_MECH_NONE);
	s->state = SESSION_STATE_EXCHANGE;
	s->authcid = i_strndup(username, AUTH_USERNAME_MAX_LEN + 1);
	s->authzid = NULL;
	s->password = i_strndup(password, AUTH_PASSWORD_MAX_LEN + 1);
	return verify_begin(s, result_r);
}

bool auth_session_is_pending(const struct auth_session *session)
{
	return session->state == SESSION_STATE_PENDING;
}

const char *auth_session_mechanism(const struct auth_session *session)
{
	return mech_names[session->mech];
}

static void session_free(struct auth_session *s)
{
	if (s->gsasl != NULL)
		gsasl_finish(s->gsasl);
	session_wipe_password(s);
	auth_secret_free(&s->authcid);
	auth_secret_free(&s->authzid);
	i_free(s->username);
	i_free(s->ip);
	i_free(s->sid);
	i_free(s->service);
	if (s->job_input.data != NULL)
		explicit_bzero(s->job_input.data, s->job_input.cap);
	buf_free(&s->job_input);
	gsasl_free(s->job_output);
	i_free(s->job_error_buf);
	buf_free(&s->out);
	buf_free(&s->final_data);
	i_free(s);
}

void auth_session_destroy(struct auth_session **_session)
{
	struct auth_session *s = *_session;

	if (s == NULL)
		return;
	*_session = NULL;
	if (s->state == SESSION_STATE_PENDING) {
		/* The worker still uses s: its completion frees it. */
		s->destroyed = true;
		return;
	}
	session_free(s);
}
