/* SPDX-License-Identifier: MIT */
#ifndef POSTHORN_DKIM_H
#define POSTHORN_DKIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include "mailauth-dns.h"

/* DomainKeys Identified Mail, RFC 6376, with Ed25519 (RFC 8463), on
 * OpenSSL 3 EVP. Verification and signing both stream: the message is fed
 * in arbitrary pieces as it arrives (after SMTP dot-unstuffing; CRLF or
 * bare LF line ends, bare LF is taken as CRLF), the header is parsed at the
 * blank line and body hashes are updated incrementally, so no second pass
 * over the message is ever needed.
 *
 * Verifying in smtpd:
 *   DATA starts:   v = dkim_verify_create(&dns, NULL);
 *   each chunk:    dkim_verify_feed(v, data, len);   (key lookups start as
 *                                                     soon as the header is
 *                                                     complete)
 *   end of DATA:   if (dkim_verify_finish(v, on_dkim_done, session))
 *                      on_dkim_done(v, session);  (already complete)
 *   on_dkim_done:  for i < dkim_verify_count(v): dkim_verify_get(v, i)
 *                  ...; then dkim_verify_destroy(&v).
 * Signing (queue/submission):
 *   s = dkim_sign_create(&set, &error);  dkim_sign_feed(s, ...) ...;
 *   header = dkim_sign_finish(s, &error);  prepend header + CRLF.
 */

enum dkim_algorithm {
	DKIM_ALG_RSA_SHA256,
	DKIM_ALG_ED25519_SHA256,
	DKIM_ALG_RSA_SHA1, /* parsed, verified never (RFC 8301) */
};

enum dkim_canon {
	DKIM_CANON_SIMPLE,
	DKIM_CANON_RELAXED,
};

/* RFC 8601 section 2.7.1 result names. */
enum dkim_result {
	DKIM_RESULT_NONE,
	DKIM_RESULT_PASS,
	DKIM_RESULT_FAIL,     /* signature or body hash did not verify */
	DKIM_RESULT_NEUTRAL,  /* signature not checkable (syntax, expired,
				 unsupported algorithm) */
	DKIM_RESULT_TEMPERROR,
	DKIM_RESULT_PERMERROR, /* key record missing, malformed or revoked */
};

#define DKIM_MAX_SIGNATURES 8 /* verified per message; the rest ignored */
#define DKIM_MAX_HEADER_SIZE (256 * 1024)
#define DKIM_MAX_HEADER_FIELDS 1000

/* A parsed DKIM-Signature value (RFC 6376 section 3.5). Strings are
 * NUL-terminated, owned by the struct. */
struct dkim_signature {
	enum dkim_algorithm algorithm;
	enum dkim_canon header_canon, body_canon;
	char *domain;     /* d= (lower case) */
	char *selector;   /* s= */
	char *identity;   /* i= or NULL */
	char **headers;   /* h=, lower case, in order (duplicates kept) */
	size_t header_count;
	uint8_t *bh; size_t bh_len; /* decoded body hash */
	uint8_t *b; size_t b_len;   /* decoded signature */
	char *b_text;     /* b= as written, whitespace removed */
	bool have_length; uint64_t length; /* l= */
	bool have_timestamp; int64_t timestamp; /* t= */
	bool have_expiry; int64_t expiry;       /* x= */
};

/* Parses a DKIM-Signature field value (after "DKIM-Signature:"). Returns 1
 * with *sig_r (free with dkim_signature_free), or -1 with *error_r. */
int dkim_signature_parse(const char *value, size_t len,
			 struct dkim_signature **sig_r, const char **error_r);
void dkim_signature_free(struct dkim_signature **sig);

/* A parsed key record (RFC 6376 section 3.6.1). */
struct dkim_key_record {
	bool key_ed25519;   /* k=ed25519 (else rsa) */
	bool revoked;       /* p= empty */
	bool testing;       /* t=y */
	bool strict;        /* t=s: i= domain must equal d= */
	bool sha256_allowed; /* h= absent or lists sha256 */
	uint8_t *pubkey; size_t pubkey_len; /* decoded p= */
};
/* 1 with *rec_r filled (free with dkim_key_record_free), -1 with *error_r. */
int dkim_key_record_parse(const char *txt, size_t len,
			  struct dkim_key_record *rec_r, const char **error_r);
void dkim_key_record_free(struct dkim_key_record *rec);

/* ---- verification ---- */

struct dkim_verify_settings {
	/* Seconds since epoch for x=/t= checks; 0 = now. */
	int64_t now;
	/* Smallest RSA key accepted (RFC 8301: 1024). 0 = 1024. */
	unsigned min_rsa_bits;
};

struct dkim_verify_result {
	enum dkim_result result;
	const char *domain;    /* d=, or NULL when the signature did not parse */
	const char *selector;
	const char *identity;  /* i= or "@"+d */
	const char *algorithm; /* "rsa-sha256", "ed25519-sha256" */
	const char *b_prefix;  /* first 8 characters of b= (RFC 6008) */
	const char *reason;    /* human-readable, never NULL */
	bool testing;          /* key has t=y */
};

struct dkim_verify;
typedef void dkim_verify_callback_t(struct dkim_verify *verify, void *ctx);

/* set may be NULL. dns must outlive the verifier. */
struct dkim_verify *dkim_verify_create(const struct mailauth_dns *dns,
				       const struct dkim_verify_settings *set);
/* Frees everything, cancelling pending lookups; sets *verify to NULL. */
void dkim_verify_destroy(struct dkim_verify **verify);
/* Feeds the next bytes of the message. Never fails: an oversized or
 * malformed header simply yields no verifiable signature. */
void dkim_verify_feed(struct dkim_verify *verify, const void *data, size_t len);
/* The message is complete. Returns true when verification finished right
 * here (every key had already answered, or there was no signature): the
 * callback is then NOT called. Otherwise returns false and callback runs
 * once, later, after the last key lookup has answered. */
bool dkim_verify_finish(struct dkim_verify *verify,
			dkim_verify_callback_t *callback, void *ctx);
/* Signatures seen (at most DKIM_MAX_SIGNATURES); valid after the
 * callback. */
size_t dkim_verify_count(const struct dkim_verify *verify);
const struct dkim_verify_result *dkim_verify_get(const struct dkim_verify *verify,
						 size_t idx);

/* ---- signing ---- */

struct dkim_key; /* a private key (RSA or Ed25519) */

/* Loads a PEM private key (PKCS#8 or traditional RSA). NULL + *error_r. */
struct dkim_key *dkim_key_load(const char *path, const char **error_r);
struct dkim_key *dkim_key_from_pem(const char *pem, size_t len,
				   const char **error_r);
void dkim_key_free(struct dkim_key **key);
enum dkim_algorithm dkim_key_algorithm(const struct dkim_key *key);

/* Creates a new key: ED25519 (bits ignored) or RSA with bits (1024..8192).
 * Returns the PKCS#8 PEM and the DNS TXT record value ("v=DKIM1; k=...;
 * p=..."), both i_malloc'd; -1 with *error_r. */
int dkim_keygen(enum dkim_algorithm algorithm, unsigned bits, char **pem_r,
		char **txt_record_r, const char **error_r);
/* Where `posthorn dkim keygen` keeps a domain's keys:
 * <data_dir>/dkim/<domain>/<selector>.key (PEM, mode 0600), so a signer
 * lists <data_dir>/dkim/<domain>/ and signs once per key found (RSA and
 * Ed25519 both = dual signing). Returns an i_malloc'd path. */
char *dkim_key_path(const char *data_dir, const char *domain,
		    const char *selector);
/* The TXT record as zone-file text, split in strings of at most 255
 * octets: `<sel>._domainkey.<domain>. IN TXT ( "v=DKIM1; ..." "..." )`. */
char *dkim_key_zone_line(const char *domain, const char *selector,
			 const char *txt_record);

/* The TXT record value publishing key's public half (i_malloc'd). */
char *dkim_key_txt_record(const struct dkim_key *key);

struct dkim_sign_settings {
	const char *domain;   /* d= */
	const char *selector; /* s= */
	const struct dkim_key *key; /* must outlive the signer */
	/* Header field names to sign, NULL-terminated; NULL = the RFC 6376
	 * section 5.4.1 set. Names in DKIM_SIGN_OVERSIGN are signed once
	 * more than they occur, so none can be added later. */
	const char *const *headers;
	/* t= value (seconds since epoch); 0 = now. x= = t + expire_secs
	 * when expire_secs > 0. */
	int64_t timestamp;
	unsigned expire_secs;
};
#define DKIM_SIGN_OVERSIGN { "from", "to", "subject", "date", NULL }

struct dkim_sign;
/* Relaxed/relaxed. NULL + *error_r on bad settings. */
struct dkim_sign *dkim_sign_create(const struct dkim_sign_settings *set,
				   const char **error_r);
void dkim_sign_destroy(struct dkim_sign **sign);
void dkim_sign_feed(struct dkim_sign *sign, const void *data, size_t len);
/* Returns the whole field "DKIM-Signature: v=1; ...", folded with CRLF SP,
 * without the final CRLF (i_malloc'd), or NULL + *error_r (header too
 * large, crypto failure). */
char *dkim_sign_finish(struct dkim_sign *sign, const char **error_r);

const char *dkim_result_name(enum dkim_result result);

#endif
