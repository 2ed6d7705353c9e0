/* SPDX-License-Identifier: MIT */
#ifndef POSTHORN_DKIM_PRIVATE_H
#define POSTHORN_DKIM_PRIVATE_H

#include "dkim.h"
#include "buf.h"

#include <openssl/evp.h>

/* SHA-256, fetched once per process. */
const EVP_MD *dkim_sha256(void);

/* base64 (RFC 4648), whitespace ignored when decoding. -1 on bad input. */
int dkim_base64_decode(const char *s, size_t len, uint8_t **data_r,
		       size_t *len_r);
char *dkim_base64_encode(const uint8_t *data, size_t len);

/* Tag lists (RFC 6376 section 3.2): calls cb for each tag with the value
 * trimmed of surrounding FWS. -1 + *error_r on bad syntax or a duplicate
 * tag (cb may also fail: return -1 with *error_r). */
typedef int dkim_tag_cb_t(const char *name, size_t name_len,
			  const char *value, size_t value_len, void *ctx,
			  const char **error_r);
int dkim_tag_list_parse(const char *s, size_t len, dkim_tag_cb_t *cb,
			void *ctx, const char **error_r);

/* The message header, collected from the stream: the raw fields (with
 * their folding, CRLF line ends, no final CRLF) and where the body starts.
 * Feeding normalises bare LF to CRLF. */
struct dkim_field {
	char *raw;       /* "Name: value\r\n folded" without final CRLF */
	size_t len;
	size_t name_len; /* up to the colon, trailing WSP excluded */
};

struct dkim_body_hash;

struct dkim_message {
	struct buf header;   /* raw header bytes so far */
	bool header_done, overflow, last_cr;
	struct dkim_field *fields;
	size_t field_count;
	/* body hashers fed once the header is done */
	struct dkim_body_hash **hashes;
	size_t hash_count;
	/* called once when the header is complete (hashers may be added) */
	void (*header_cb)(struct dkim_message *msg, void *ctx);
	void *header_ctx;
};

void dkim_message_init(struct dkim_message *msg);
void dkim_message_free(struct dkim_message *msg);
void dkim_message_feed(struct dkim_message *msg, const uint8_t *data, size_t len);
/* End of message: completes a header without body and flushes hashers. */
void dkim_message_finish(struct dkim_message *msg);

struct dkim_body_hash *dkim_body_hash_create(enum dkim_canon canon,
					     bool have_limit, uint64_t limit);
void dkim_body_hash_destroy(struct dkim_body_hash **bh);
/* After dkim_message_finish: the SHA-256 digest (32 bytes). */
void dkim_body_hash_result(struct dkim_body_hash *bh, uint8_t digest[32]);
/* Canonical body bytes hashed (for l= checks: l > this is a fail). */
uint64_t dkim_body_hash_total(const struct dkim_body_hash *bh);

/* Appends the canonical form of one raw header field (with CRLF unless
 * no_crlf). */
void dkim_canon_header(enum dkim_canon canon, const char *raw, size_t len,
		       bool no_crlf, struct buf *out);
/* Appends the fields named by h= (bottom-up instance selection, section
 * 5.4.2) in canonical form. */
void dkim_canon_signed_headers(const struct dkim_message *msg,
			       enum dkim_canon canon, char *const *names,
			       size_t count, struct buf *out);

/* Signs or verifies data (the canonical header stream): rsa-sha256 is
 * RSASSA-PKCS1-v1_5 over SHA-256(data); ed25519-sha256 is Ed25519 over
 * SHA-256(data) (RFC 8463 section 3). */
int dkim_crypto_verify(EVP_PKEY *pkey, bool ed25519, const uint8_t *data,
		       size_t len, const uint8_t *sig, size_t sig_len);
int dkim_crypto_sign(EVP_PKEY *pkey, bool ed25519, const uint8_t *data,
		     size_t len, uint8_t **sig_r, size_t *sig_len_r);

#endif
