/* SPDX-License-Identifier: MIT */
#include "lib.h"
#include "strutil.h"
#include "dkim-private.h"

#include <openssl/x509.h>
#include <pthread.h>
#include <time.h>

/* Key lookups start as soon as the header is complete, so they run while
 * the body is still arriving. */

struct dkim_verify_sig {
	struct dkim_verify *verify;
	struct dkim_field *field; /* the DKIM-Signature field */
	struct dkim_signature *sig;
	struct dkim_body_hash *bh; /* owned by msg.hashes */
	void *request;
	bool key_done;
	EVP_PKEY *pkey;
	bool testing, strict;
	struct dkim_verify_result result;
	char *identity, *b_prefix, *reason;
};

struct dkim_verify {
	const struct mailauth_dns *dns;
	struct dkim_verify_settings set;
	struct dkim_message msg;
	struct dkim_verify_sig sigs[DKIM_MAX_SIGNATURES];
	size_t count;
	unsigned pending;
	bool finished, done;
	dkim_verify_callback_t *callback;
	void *ctx;
};

static void set_result(struct dkim_verify_sig *s, enum dkim_result r,
		       const char *reason)
{
	if (s->result.result != DKIM_RESULT_NONE)
		return; /* the first verdict stands */
	s->result.result = r;
	s->reason = i_strdup(reason);
	s->result.reason = s->reason;
}

static void check_done(struct dkim_verify *v);

/* Decoded public keys by their p= bytes: OpenSSL 3's decoders cost several
 * times the RSA verification itself, and a receiver sees the same few
 * keys over and over. An EVP_PKEY is reference counted and safe to verify
 * with from several threads, so entries are shared. */
#define DKIM_PKEY_CACHE_SIZE 64
struct dkim_pkey_entry {
	uint8_t *der;
	size_t der_len;
	bool ed25519;
	EVP_PKEY *pkey;
	uint64_t used;
};
static struct dkim_pkey_entry pkey_cache[DKIM_PKEY_CACHE_SIZE];
static uint64_t pkey_cache_clock;
static pthread_mutex_t pkey_cache_lock = PTHREAD_MUTEX_INITIALIZER;

static EVP_PKEY *pkey_decode(const uint8_t *der, size_t len, bool ed25519)
{
	const uint8_t *p = der;
	EVP_PKEY *pkey;

	if (ed25519)
		return len != 32 ? NULL :
			EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL,
						    der, 32);
	pkey = d2i_PUBKEY(NULL, &p, (long)len);
	if (pkey == NULL) {
		/* some publish a bare RSAPublicKey */
		p = der;
		pkey = d2i_PublicKey(EVP_PKEY_RSA, NULL, &p, (long)len);
	}
	return pkey;
}

/* A reference to the key for der (the caller frees it), from the cache or
 * decoded and remembered; NULL when it does not decode. */
static EVP_PKEY *pkey_get(const uint8_t *der, size_t len, bool ed25519)
{
	struct dkim_pkey_entry *victim = &pkey_cache[0];
	EVP_PKEY *pkey;

	pthread_mutex_lock(&pkey_cache_lock);
	for (unsigned i = 0; i < DKIM_PKEY_CACHE_SIZE; i++) {
		struct dkim_pkey_entry *e = &pkey_cache[i];
		if (e->pkey != NULL && e->ed25519 == ed25519 &&
		    e->der_len == len && memcmp(e->der, der, len) == 0) {
			e->used = ++pkey_cache_clock;
			EVP_PKEY_up_ref(e->pkey);
			pkey = e->pkey;
			pthread_mutex_unlock(&pkey_cache_lock);
			return pkey;
		}
		if (e->used < victim->used)
			victim = e;
	}
	pthread_mutex_unlock(&pkey_cache_lock);

	/* Decoded outside the lock; a race only decodes a key twice. */
	pkey = pkey_decode(der, len, ed25519);
	if (pkey == NULL)
		return NULL;
	uint8_t *copy = i_malloc(len);
	memcpy(copy, der, len);
	EVP_PKEY_up_ref(pkey);
	pthread_mutex_lock(&pkey_cache_lock);
	EVP_PKEY *old_pkey = victim->pkey;
	uint8_t *old_der = victim->der;
	*victim = (struct dkim_pkey_entry){
		.der = copy, .der_len = len, .ed25519 = ed25519, .pkey = pkey,
		.used = ++pkey_cache_clock,
	};
	pthread_mutex_unlock(&pkey_cache_lock);
	EVP_PKEY_free(old_pkey);
	i_free(old_der);
	return pkey;
}

static void on_key(const struct dns_answer *a, const char *error, void *ctx)
{
	struct dkim_verify_sig *s = ctx;
	struct dkim_verify *v = s->verify;
	s->request = NULL;
	s->key_done = true;
	v->pending--;

	if (error != NULL) {
		set_result(s, DKIM_RESULT_TEMPERROR, "key lookup failed");
	} else if (a->rcode != 0 || a->count == 0) {
		set_result(s, DKIM_RESULT_PERMERROR, "no key record");
	} else {
		/* section 3.6.2.2: a TXT answer must hold one key record;
		 * take the first that parses */
		struct dkim_key_record rec;
		const char *err = "bad key record";
		bool ok = false;
		for (size_t i = 0; i < a->count && !ok; i++) {
			if (a->rrs[i].type == DNS_TYPE_TXT &&
			    dkim_key_record_parse((const char *)a->rrs[i].txt_or_data,
						  a->rrs[i].txt_len, &rec, &err) > 0)
				ok = true;
		}
		bool ed = s->sig->algorithm == DKIM_ALG_ED25519_SHA256;
		if (!ok) {
			set_result(s, DKIM_RESULT_PERMERROR, err);
		} else if (rec.revoked) {
			set_result(s, DKIM_RESULT_PERMERROR, "key revoked");
		} else if (rec.key_ed25519 != ed || !rec.sha256_allowed) {
			set_result(s, DKIM_RESULT_PERMERROR,
				   "key type does not match the algorithm");
		} else {
			s->pkey = pkey_get(rec.pubkey, rec.pubkey_len, ed);
			if (s->pkey == NULL) {
				set_result(s, DKIM_RESULT_PERMERROR,
					   "unusable public key");
			} else if (!ed && EVP_PKEY_get_base_id(s->pkey) != EVP_PKEY_RSA) {
				set_result(s, DKIM_RESULT_PERMERROR,
					   "key is not RSA");
			} else if (!ed && EVP_PKEY_get_bits(s->pkey) <
				   (int)(v->set.min_rsa_bits != 0 ?
					 v->set.min_rsa_bits : 1024)) {
				set_result(s, DKIM_RESULT_PERMERROR,
					   "RSA key too short");
			}
			s->testing = rec.testing;
			s->strict = rec.strict;
		}
		if (ok)
			dkim_key_record_free(&rec);
	}
	check_done(v);
}

/* The DKIM-Signature value with b='s value removed (section 3.7). */
static void signature_field_canon(const struct dkim_verify_sig *s,
				  struct buf *out)
{
	const char *raw = s->field->raw, *end = raw + s->field->len;
	const char *colon = memchr(raw, ':', s->field->len);
	struct buf stripped = BUF_INIT;
	buf_append(&stripped, raw, (size_t)(colon + 1 - raw));
	const char *p = colon + 1;
	while (p < end) {
		const char *tag = p;
		while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
			p++;
		const char *name = p;
		while (p < end && *p != '=' && *p != ';')
			p++;
		const char *ne = p;
		while (ne > name && (ne[-1] == ' ' || ne[-1] == '\t' ||
				     ne[-1] == '\r' || ne[-1] == '\n'))
			ne--;
		bool is_b = ne - name == 1 && *name == 'b';
		if (p < end && *p == '=') {
			p++;
			if (is_b) {
				buf_append(&stripped, tag, (size_t)(p - tag));
				while (p < end && *p != ';')
					p++;
				tag = p;
			}
			while (p < end && *p != ';')
				p++;
		}
		if (p < end)
			p++; /* ';' */
		buf_append(&stripped, tag, (size_t)(p - tag));
	}
	dkim_canon_header(s->sig->header_canon, (const char *)stripped.data,
			  stripped.len, true, out);
	buf_free(&stripped);
}

static void verify_one(struct dkim_verify *v, struct dkim_verify_sig *s)
{
	if (s->result.result != DKIM_RESULT_NONE)
		return;
	if (v->msg.overflow) {
		set_result(s, DKIM_RESULT_NEUTRAL, "header too large");
		return;
	}
	s->result.testing = s->testing;
	if (s->strict && s->sig->identity != NULL) {
		/* t=s: the i= domain must be d= itself (section 3.6.1) */
		const char *at = strrchr(s->sig->identity, '@');
		if (at == NULL || !str_ascii_eq_ci(at + 1, s->sig->domain)) {
			set_result(s, DKIM_RESULT_PERMERROR,
				   "key has t=s but i= is a subdomain");
			return;
		}
	}
	uint8_t digest[32];
	dkim_body_hash_result(s->bh, digest);
	if (s->sig->have_length && dkim_body_hash_total(s->bh) < s->sig->length) {
		set_result(s, DKIM_RESULT_FAIL, "body shorter than l=");
		return;
	}
	if (s->sig->bh_len != 32 ||
	    !mem_equals_timing_safe(s->sig->bh, digest, 32)) {
		set_result(s, DKIM_RESULT_FAIL, "body hash did not verify");
		return;
	}
	struct buf data = BUF_INIT;
	dkim_canon_signed_headers(&v->msg, s->sig->header_canon,
				  s->sig->headers, s->sig->header_count, &data);
	signature_field_canon(s, &data);
	int ret = dkim_crypto_verify(s->pkey,
				     s->sig->algorithm == DKIM_ALG_ED25519_SHA256,
				     data.data, data.len, s->sig->b, s->sig->b_len);
	buf_free(&data);
	if (ret == 1) {
		s->result.result = DKIM_RESULT_PASS;
		s->reason = i_strdup("signature verified");
		s->result.reason = s->reason;
	} else {
		set_result(s, DKIM_RESULT_FAIL, "signature did not verify");
	}
}

static void check_done(struct dkim_verify *v)
{
	if (!v->finished || v->pending > 0 || v->done)
		return;
	for (size_t i = 0; i < v->count; i++)
		verify_one(v, &v->sigs[i]);
	v->done = true;
	if (v->callback != NULL)
		v->callback(v, v->ctx);
}

static void on_header(struct dkim_message *msg, void *ctx)
{
	struct dkim_verify *v = ctx;
	int64_t now = v->set.now != 0 ? v->set.now : (int64_t)time(NULL);
	size_t nsigs = 0;
	for (size_t i = 0; i < msg->field_count; i++) {
		struct dkim_field *f = &msg->fields[i];
		if (f->name_len == 14 &&
		    str_ascii_ncmp_ci(f->raw, "DKIM-Signature", 14) == 0)
			nsigs++;
	}
	msg->hashes = i_new(struct dkim_body_hash *, nsigs + 1);
	for (size_t i = 0; i < msg->field_count && v->count < DKIM_MAX_SIGNATURES; i++) {
		struct dkim_field *f = &msg->fields[i];
		if (f->name_len != 14 ||
		    str_ascii_ncmp_ci(f->raw, "DKIM-Signature", 14) != 0)
			continue;
		struct dkim_verify_sig *s = &v->sigs[v->count++];
		s->verify = v;
		s->field = f;
		const char *colon = memchr(f->raw, ':', f->len);
		const char *error;
		if (dkim_signature_parse(colon + 1, f->len - (size_t)(colon + 1 - f->raw),
					 &s->sig, &error) < 0) {
			set_result(s, DKIM_RESULT_NEUTRAL, error);
			s->result.reason = s->reason;
			continue;
		}
		struct dkim_signature *sig = s->sig;
		s->result.domain = sig->domain;
		s->result.selector = sig->selector;
		s->identity = sig->identity != NULL ? i_strdup(sig->identity) :
			i_strdup_printf("@%s", sig->domain);
		s->result.identity = s->identity;
		s->result.algorithm = sig->algorithm == DKIM_ALG_ED25519_SHA256 ?
			"ed25519-sha256" : sig->algorithm == DKIM_ALG_RSA_SHA256 ?
			"rsa-sha256" : "rsa-sha1";
		s->b_prefix = i_strndup(sig->b_text, 8);
		s->result.b_prefix = s->b_prefix;
		if (sig->algorithm == DKIM_ALG_RSA_SHA1) {
			/* RFC 8301: rsa-sha1 MUST NOT be accepted */
			set_result(s, DKIM_RESULT_NEUTRAL, "rsa-sha1 not accepted");
			continue;
		}
		if (sig->have_expiry && sig->expiry < now) {
			set_result(s, DKIM_RESULT_NEUTRAL, "signature expired");
			continue;
		}
		s->bh = dkim_body_hash_create(sig->body_canon, sig->have_length,
					      sig->length);
		msg->hashes[msg->hash_count++] = s->bh;
		char *name = i_strdup_printf("%s._domainkey.%s", sig->selector,
					     sig->domain);
		v->pending++;
		s->request = v->dns->lookup(v->dns->dns_ctx, name, DNS_TYPE_TXT,
					    on_key, s);
		free(name);
	}
}

struct dkim_verify *dkim_verify_create(const struct mailauth_dns *dns,
				       const struct dkim_verify_settings *set)
{
	struct dkim_verify *v = i_new(struct dkim_verify, 1);
	v->dns = dns;
	if (set != NULL)
		v->set = *set;
	dkim_message_init(&v->msg);
	v->msg.header_cb = on_header;
	v->msg.header_ctx = v;
	return v;
}

void dkim_verify_destroy(struct dkim_verify **_v)
{
	struct dkim_verify *v = *_v;
	if (v == NULL)
		return;
	*_v = NULL;
	for (size_t i = 0; i < v->count; i++) {
		struct dkim_verify_sig *s = &v->sigs[i];
		if (s->request != NULL)
			v->dns->cancel(v->dns->dns_ctx, s->request);
		dkim_signature_free(&s->sig);
		EVP_PKEY_free(s->pkey);
		free(s->identity);
		free(s->b_prefix);
		free(s->reason);
	}
	dkim_message_free(&v->msg);
	free(v);
}

void dkim_verify_feed(struct dkim_verify *v, const void *data, size_t len)
{
	i_assert(!v->finished);
	dkim_message_feed(&v->msg, data, len);
}

bool dkim_verify_finish(struct dkim_verify *v, dkim_verify_callback_t *callback,
			void *ctx)
{
	i_assert(!v->finished);
	dkim_message_finish(&v->msg);
	v->finished = true;
	if (v->pending == 0) {
		check_done(v);
		return true;
	}
	v->callback = callback;
	v->ctx = ctx;
	return false;
}

size_t dkim_verify_count(const struct dkim_verify *v)
{
	return v->count;
}

const struct dkim_verify_result *dkim_verify_get(const struct dkim_verify *v,
						 size_t idx)
{
	i_assert(idx < v->count);
	return &v->sigs[idx].result;
}
