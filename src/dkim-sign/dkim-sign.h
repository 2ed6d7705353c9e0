/* SPDX-License-Identifier: MIT */
#ifndef POSTHORN_DKIM_SIGN_H
#define POSTHORN_DKIM_SIGN_H

#include <stdbool.h>
#include <stddef.h>

/* DKIM signing of the mail we send (RFC 6376, RFC 8463), with the keys
 * `posthorn dkim keygen` keeps at <data_dir>/dkim/<domain>/<selector>.key.
 *
 * A key cache (struct dkimsign_keys) loads every *.key of a domain on first
 * use (RSA and/or Ed25519) and notices changes cheaply: at most once per
 * check interval (default 2 s) per domain it stats the domain's directory
 * and each key file, and rereads only when an mtime, size or inode moved
 * (a new key, a deleted one, a key replaced by rename). SIGHUP needs no
 * hook; dkimsign_keys_invalidate() forces a reread on next use anyway.
 * Every function is thread-safe: signing runs on worker threads while the
 * event loops look keys up.
 *
 * Typical use (one per key, RFC 8463 section 6 recommends both kinds):
 *
 *   struct dkimsign_keys *keys = dkimsign_keys_shared(config->server.data_dir);
 *   struct buf sig = BUF_INIT;
 *   ret = dkimsign_message(keys, "example.org", msg, msg_len, &sig, &error);
 *   if (ret > 0)  send sig.data/sig.len, then msg  (sig ends in CRLF)
 *
 * dkimsign_message costs about one RSA private-key operation per RSA key
 * (~1 ms for 2048 bits) and far less per Ed25519 key: event-loop code runs
 * it on the worker pool (src/lib/workpool.h). */

struct buf;
struct dkim_key;
struct dkimsign_keys;

/* A cache of the keys under <data_dir>/dkim/. check_interval_ms: how long
 * a domain's keys are trusted before the next stat check (0 = check on
 * every use; tests). */
struct dkimsign_keys *dkimsign_keys_create(const char *data_dir,
					   unsigned check_interval_ms);
void dkimsign_keys_destroy(struct dkimsign_keys **keys);

/* The process-wide cache for data_dir (created on the first call, with the
 * default interval, never freed): what posthornd's services share. Every
 * call must pass the same data_dir. */
struct dkimsign_keys *dkimsign_keys_shared(const char *data_dir);

/* Drops what is cached: the next use of any domain rereads its keys. */
void dkimsign_keys_invalidate(struct dkimsign_keys *keys);

/* True when domain has at least one usable key (case-insensitive; a name
 * that is not a plain domain, e.g. with "/" or "..", has none). */
bool dkimsign_keys_have(struct dkimsign_keys *keys, const char *domain);

/* The signing domain for a message: from_domain (the RFC5322.From domain)
 * when it has keys, else mail_from_domain (the envelope sender's) when it
 * has keys, else NULL. Either may be NULL. Returns one of the two
 * pointers. */
const char *dkimsign_select_domain(struct dkimsign_keys *keys,
				   const char *from_domain,
				   const char *mail_from_domain);

/* The signing domain for mail from an address at host (our DSNs are From
 * MAILER-DAEMON@<hostname>): host itself, else its nearest parent domain
 * of at least two labels that has keys ("mx.a.example" -> "a.example"),
 * else NULL. The result is a suffix of host. */
const char *dkimsign_select_host_domain(struct dkimsign_keys *keys,
					const char *host);

/* Signs msg (the complete message as it will be sent: header, empty line,
 * body; CRLF or bare LF line ends, taken as CRLF) once per key of domain,
 * d=domain, s=the key file's name, relaxed/relaxed, the RFC 6376 section
 * 5.4.1 header set with From, To, Subject, Date oversigned. Ed25519
 * signatures come first. Appends the DKIM-Signature field(s) to
 * headers_out, each folded and ending in CRLF, to be put above the
 * message's first line.
 * Returns 1 (signed), 0 when domain has no key (nothing appended), -1 with
 * *error_r (static text; nothing appended). */
int dkimsign_message(struct dkimsign_keys *keys, const char *domain,
		     const void *msg, size_t len, struct buf *headers_out,
		     const char **error_r);

/* Signs mail from an address at host with dkimsign_select_host_domain()'s
 * domain (host itself or its nearest parent with keys); keys is a struct
 * dkimsign_keys. Returns as dkimsign_message(), logging a failure itself.
 * The shape of queue_dsn_set_signer()'s hook and of
 * dmarc_report_settings.sign (pass the From domain as host):
 *   queue_dsn_set_signer(dkimsign_host_signer, keys);
 *   set.sign = dkimsign_host_signer; set.sign_ctx = keys; */
int dkimsign_host_signer(void *keys, const char *host, const void *msg,
			 size_t len, struct buf *headers_out);

/* Calls fn for each key of domain, ordered by selector. Returns how many
 * (0 = none). For `posthorn dns`. */
unsigned dkimsign_keys_foreach(struct dkimsign_keys *keys, const char *domain,
			       void (*fn)(const char *selector,
					  const struct dkim_key *key,
					  void *ctx),
			       void *ctx);

#endif
