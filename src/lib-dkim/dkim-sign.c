/* SPDX-License-Identifier: MIT */
#include "lib.h"
#include "strutil.h"
#include "dkim-private.h"

#include <ctype.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <time.h>

struct dkim_key {
	EVP_PKEY *pkey;
	bool ed25519;
};

static struct dkim_key *key_wrap(EVP_PKEY *pkey, const char **error_r)
{
	int id = EVP_PKEY_get_base_id(pkey);
	if (id != EVP_PKEY_RSA && id != EVP_PKEY_ED25519) {
		EVP_PKEY_free(pkey);
		*error_r = "key is neither RSA nor Ed25519";
		return NULL;
	}
	struct dkim_key *key = i_new(struct dkim_key, 1);
	key->pkey = pkey;
	key->ed25519 = id == EVP_PKEY_ED25519;
	return key;
}

struct dkim_key *dkim_key_from_pem(const char *pem, size_t len,
				   const char **error_r)
{
	BIO *bio = BIO_new_mem_buf(pem, (int)len);
	if (bio == NULL) {
		*error_r = "out of memory";
		return NULL;
	}
	EVP_PKEY *pkey = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	BIO_free(bio);
	if (pkey == NULL) {
		*error_r = "not a PEM private key";
		return NULL;
	}
	return key_wrap(pkey, error_r);
}

struct dkim_key *dkim_key_load(const char *path, const char **error_r)
{
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		*error_r = strerror(errno);
		return NULL;
	}
	EVP_PKEY *pkey = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if (pkey == NULL) {
		*error_r = "not a PEM private key";
		return NULL;
	}
	return key_wrap(pkey, error_r);
}

void dkim_key_free(struct dkim_key **_key)
{
	struct dkim_key *key = *_key;
	if (key == NULL)
		return;
	*_key = NULL;
	EVP_PKEY_free(key->pkey);
	free(key);
}

enum dkim_algorithm dkim_key_algorithm(const struct dkim_key *key)
{
	return key->ed25519 ? DKIM_ALG_ED25519_SHA256 : DKIM_ALG_RSA_SHA256;
}

char *dkim_key_txt_record(const struct dkim_key *key)
{
	uint8_t *der = NULL;
	size_t len;
	char *b64;
	if (key->ed25519) {
		uint8_t raw[32];
		len = sizeof(raw);
		if (EVP_PKEY_get_raw_public_key(key->pkey, raw, &len) != 1)
			return NULL;
		b64 = dkim_base64_encode(raw, len);
	} else {
		int l = i2d_PUBKEY(key->pkey, &der);
		if (l <= 0)
			return NULL;
		b64 = dkim_base64_encode(der, (size_t)l);
		OPENSSL_free(der);
	}
	char *rec = i_strdup_printf("v=DKIM1; k=%s; p=%s",
				    key->ed25519 ? "ed25519" : "rsa", b64);
	free(b64);
	return rec;
}

int dkim_keygen(enum dkim_algorithm algorithm, unsigned bits, char **pem_r,
		char **txt_record_r, const char **error_r)
{
	EVP_PKEY *pkey;
	if (algorithm == DKIM_ALG_ED25519_SHA256) {
		pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	} else if (algorithm == DKIM_ALG_RSA_SHA256) {
		if (bits < 1024 || bits > 8192) {
			*error_r = "RSA bits must be 1024..8192";
			return -1;
		}
		pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)bits);
	} else {
		*error_r = "unsupported algorithm";
		return -1;
	}
	if (pkey == NULL) {
		*error_r = "key generation failed";
		return -1;
	}
	BIO *bio = BIO_new(BIO_s_mem());
	if (bio == NULL ||
	    PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0, NULL, NULL) != 1) {
		BIO_free(bio);
		EVP_PKEY_free(pkey);
		*error_r = "cannot write the key";
		return -1;
	}
	char *data;
	long len = BIO_get_mem_data(bio, &data);
	*pem_r = i_strndup(data, (size_t)len);
	BIO_free(bio);
	struct dkim_key key = { .pkey = pkey,
				.ed25519 = algorithm == DKIM_ALG_ED25519_SHA256 };
	*txt_record_r = dkim_key_txt_record(&key);
	EVP_PKEY_free(pkey);
	return 0;
}

char *dkim_key_path(const char *data_dir, const char *domain,
		    const char *selector)
{
	return i_strdup_printf("%s/dkim/%s/%s.key", data_dir, domain, selector);
}

char *dkim_key_zone_line(const char *domain, const char *selector,
			 const char *txt_record)
{
	struct buf out = BUF_INIT;
	buf_printf(&out, "%s._domainkey.%s. IN TXT (", selector, domain);
	size_t len = strlen(txt_record);
	for (size_t i = 0; i < len; i += 250)
		buf_printf(&out, " \"%.*s\"", (int)MIN(250, len - i), txt_record + i);
	buf_append_str(&out, " )");
	size_t l;
	return (char *)buf_steal(&out, &l);
}

/* ---- signing ---- */

struct dkim_sign {
	struct dkim_sign_settings set;
	char *domain, *selector;
	char **headers; /* NULL-terminated copy, or NULL for the default */
	struct dkim_message msg;
};

/* RFC 6376 section 5.4.1's list, plus the MIME fields whose change would
 * alter how the body is shown. */
static const char *const default_headers[] = {
	"from", "reply-to", "subject", "date", "to", "cc", "resent-date",
	"resent-from", "resent-to", "resent-cc", "in-reply-to", "references",
	"list-id", "list-help", "list-unsubscribe", "list-subscribe",
	"list-post", "list-owner", "list-archive", "message-id",
	"mime-version", "content-type", "content-transfer-encoding", NULL
};
static const char *const oversign[] = DKIM_SIGN_OVERSIGN;

static void on_sign_header(struct dkim_message *msg, void *ctx)
{
	msg->hashes = i_new(struct dkim_body_hash *, 1);
	msg->hashes[0] = dkim_body_hash_create(DKIM_CANON_RELAXED, false, 0);
	msg->hash_count = 1;
}

static bool valid_token(const char *s)
{
	if (s == NULL || *s == '\0')
		return false;
	for (; *s != '\0'; s++) {
		if (!(isalnum((unsigned char)*s) || *s == '.' || *s == '-' ||
		      *s == '_'))
			return false;
	}
	return true;
}

struct dkim_sign *dkim_sign_create(const struct dkim_sign_settings *set,
				   const char **error_r)
{
	if (!valid_token(set->domain) || !valid_token(set->selector)) {
		*error_r = "bad domain or selector";
		return NULL;
	}
	if (set->key == NULL) {
		*error_r = "no key";
		return NULL;
	}
	struct dkim_sign *s = i_new(struct dkim_sign, 1);
	s->set = *set;
	s->domain = i_strdup(set->domain);
	str_ascii_lower(s->domain);
	s->selector = i_strdup(set->selector);
	if (set->headers != NULL) {
		size_t n = 0;
		while (set->headers[n] != NULL)
			n++;
		s->headers = i_new(char *, n + 1);
		for (size_t i = 0; i < n; i++) {
			s->headers[i] = i_strdup(set->headers[i]);
			str_ascii_lower(s->headers[i]);
		}
	}
	dkim_message_init(&s->msg);
	s->msg.header_cb = on_sign_header;
	s->msg.header_ctx = s;
	return s;
}

void dkim_sign_destroy(struct dkim_sign **_s)
{
	struct dkim_sign *s = *_s;
	if (s == NULL)
		return;
	*_s = NULL;
	dkim_message_free(&s->msg);
	for (size_t i = 0; s->headers != NULL && s->headers[i] != NULL; i++)
		free(s->headers[i]);
	free(s->headers);
	free(s->domain);
	free(s->selector);
	free(s);
}

void dkim_sign_feed(struct dkim_sign *s, const void *data, size_t len)
{
	dkim_message_feed(&s->msg, data, len);
}

static size_t field_count(const struct dkim_message *msg, const char *name)
{
	size_t n = 0, nl = strlen(name);
	for (size_t i = 0; i < msg->field_count; i++) {
		if (msg->fields[i].name_len == nl &&
		    str_ascii_ncmp_ci(msg->fields[i].raw, name, nl) == 0)
			n++;
	}
	return n;
}

char *dkim_sign_finish(struct dkim_sign *s, const char **error_r)
{
	dkim_message_finish(&s->msg);
	if (s->msg.overflow) {
		*error_r = "header too large to sign";
		return NULL;
	}
	uint8_t bh[32];
	dkim_body_hash_result(s->msg.hashes[0], bh);

	/* h=: each present field as often as it occurs; the oversigned
	 * ones once more, so none can be added (section 8.15) */
	const char *const *names = s->headers != NULL ?
		(const char *const *)s->headers : default_headers;
	size_t cap = 64, count = 0;
	char **h = i_new(char *, cap);
	for (size_t i = 0; names[i] != NULL; i++) {
		size_t n = field_count(&s->msg, names[i]);
		for (size_t j = 0; oversign[j] != NULL; j++) {
			if (strcmp(oversign[j], names[i]) == 0)
				n++;
		}
		for (size_t j = 0; j < n && count < DKIM_MAX_HEADER_FIELDS; j++) {
			if (count == cap) {
				cap *= 2;
				h = i_realloc(h, cap * sizeof(*h));
			}
			h[count++] = (char *)names[i];
		}
	}
	if (field_count(&s->msg, "from") == 0) {
		free(h);
		*error_r = "message has no From field";
		return NULL;
	}

	int64_t t = s->set.timestamp != 0 ? s->set.timestamp : (int64_t)time(NULL);
	char *bh64 = dkim_base64_encode(bh, sizeof(bh));
	struct buf field = BUF_INIT;
	buf_printf(&field, "DKIM-Signature: v=1; a=%s; c=relaxed/relaxed;\r\n"
		   "\td=%s; s=%s; t=%lld;",
		   s->set.key->ed25519 ? "ed25519-sha256" : "rsa-sha256",
		   s->domain, s->selector, (long long)t);
	if (s->set.expire_secs > 0)
		buf_printf(&field, " x=%lld;", (long long)t + s->set.expire_secs);
	buf_append_str(&field, "\r\n\th=");
	size_t col = 3;
	for (size_t i = 0; i < count; i++) {
		size_t l = strlen(h[i]) + 1;
		if (i > 0 && col + l > 70) {
			buf_append_str(&field, "\r\n\t ");
			col = 1;
		}
		buf_printf(&field, "%s%s", h[i], i + 1 < count ? ":" : ";");
		col += l;
	}
	buf_printf(&field, "\r\n\tbh=%s;\r\n\tb=", bh64);
	free(bh64);

	struct buf data = BUF_INIT;
	dkim_canon_signed_headers(&s->msg, DKIM_CANON_RELAXED, h, count, &data);
	dkim_canon_header(DKIM_CANON_RELAXED, (const char *)field.data,
			  field.len, true, &data);
	free(h);
	uint8_t *sig;
	size_t sig_len;
	int ret = dkim_crypto_sign(s->set.key->pkey, s->set.key->ed25519,
				   data.data, data.len, &sig, &sig_len);
	buf_free(&data);
	if (ret < 0) {
		buf_free(&field);
		*error_r = "signing failed";
		return NULL;
	}
	char *b64 = dkim_base64_encode(sig, sig_len);
	free(sig);
	size_t bl = strlen(b64);
	for (size_t i = 0; i < bl; i += 72) {
		if (i > 0)
			buf_append_str(&field, "\r\n\t ");
		buf_append(&field, b64 + i, MIN(72, bl - i));
	}
	free(b64);
	size_t len;
	return (char *)buf_steal(&field, &len);
}
