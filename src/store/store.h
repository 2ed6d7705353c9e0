/* SPDX-License-Identifier: MIT */
#ifndef POSTHORN_STORE_H
#define POSTHORN_STORE_H

/* The mail store: accounts, domains, aliases, mailboxes, messages and the
 * outbound queue. Every protocol reaches mail only through this API;
 * nothing above it may assume SQLite (the SQLite backend is one
 * implementation of a table of function pointers; see store-private.h).
 *
 * Threads
 * -------
 * - Writes are built as a transaction (struct store_txn) on any thread and
 *   handed to the store's single writer thread with store_txn_commit(). The
 *   writer commits many transactions in one batch with one sync, then posts
 *   each caller's callback to the caller's completion_target. The callback
 *   runs on the caller's thread after the batch holding the change is
 *   durable: answer the peer (250 after DATA, OK after APPEND) only then.
 *   A transaction is atomic: all its operations apply or none does.
 * - Reads (lookups, resolver, listings, body reads) are synchronous and run
 *   on the calling thread, on a read connection taken from a small pool.
 *   SQLite WAL readers never wait for the writer or for fsync; they only
 *   read pages (normally from the page cache), so they are fine on an event
 *   loop. A read sees every transaction whose callback has already run.
 * - Functions documented "blocking" wait for the writer and must not be
 *   called on an event-loop thread (they are for the admin command, tests
 *   and start-up).
 *
 * Strings and memory
 * ------------------
 * - Addresses and domain names are compared case-insensitively (ASCII);
 *   the store keeps them lower-cased. Mailbox names are UTF-8 with '/' as
 *   the hierarchy separator; "INBOX" is case-insensitive. (IMAP's modified
 *   UTF-7 is the IMAP layer's business.)
 * - Read results are allocated from the pool the caller passes and live
 *   as long as it. Error strings returned through error_r are valid until
 *   the next store call on the same thread.
 *
 * Return values follow the house style: 1 ok/found, 0 not found, -1 error,
 * unless an enum store_error is returned. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

struct pool;
struct completion_target;

struct store;
struct store_txn;

/* Outcomes callers must branch on (protocols map them to their codes). */
enum store_error {
	STORE_OK = 0,
	/* Temporary failure (I/O, locking, internal): SMTP 451, IMAP NO
	 * [UNAVAILABLE]/[SERVERBUG]. Nothing of the transaction applied. */
	STORE_ERR_TEMP,
	/* The disk is full (SQLITE_FULL/ENOSPC): temporary, SMTP 452. */
	STORE_ERR_DISK_FULL,
	/* Quota would be exceeded: SMTP 552, IMAP NO [OVERQUOTA]. */
	STORE_ERR_OVER_QUOTA,
	/* The named domain/account/alias/mailbox/message does not exist
	 * (IMAP NO [NONEXISTENT], SMTP 550). */
	STORE_ERR_NOT_FOUND,
	/* It exists already (IMAP NO [ALREADYEXISTS]). */
	STORE_ERR_EXISTS,
	/* Bad name or argument (empty, too long, bad characters, renaming
	 * into itself, deleting INBOX, deleting a domain still in use...). */
	STORE_ERR_INVALID,
	/* Mailbox still has children: delete them first (IMAP NO). */
	STORE_ERR_HAS_CHILDREN,
};
/* "temporary failure", "over quota", ... (static string). */
const char *store_error_str(enum store_error error);
/* True for errors worth retrying later (TEMP, DISK_FULL). */
bool store_error_is_temporary(enum store_error error);

/* ------------------------------------------------------------------ */
/* Opening                                                              */

struct store_settings {
	/* Data directory; created 0700 if missing. Files in it are 0600. */
	const char *data_dir;
	/* "sqlite" (default when NULL). */
	const char *backend;
	/* Bodies up to this many bytes live in the database, larger ones in
	 * their own file. 0 = default (1 MB). */
	size_t body_inline_max;
	/* Subaddress separator for user+tag@domain; 0 = default '+'. Set
	 * no_subaddress to disable it. */
	char subaddress_separator;
	bool no_subaddress;
	/* Account (address) that postmaster@<every local domain> resolves to
	 * when no explicit alias or account exists; NULL = none. */
	const char *postmaster_account;
	/* Most transactions per commit; 0 = default (256). */
	unsigned batch_max;
	/* Alias expansion depth limit; 0 = default (8). */
	unsigned alias_depth_max;
};

/* Opens (creating if needed) the store in set->data_dir, creating or
 * upgrading the schema, and starts the writer thread. Blocking. Returns 1
 * and *store_r, or -1 with *error_r. */
int store_open(const struct store_settings *set, struct store **store_r,
	       const char **error_r);
/* Finishes every submitted transaction (their callbacks are still
 * posted), stops the writer, closes everything and sets *store to NULL.
 * Every watch, message iterator and open body must have been released
 * first. Blocking. NULL is allowed. */
void store_close(struct store **store);

/* Writer statistics since open, for metrics and the benchmark. */
struct store_stats {
	uint64_t batches;   /* commits (one sync each) */
	uint64_t txns;	    /* transactions committed or failed */
	unsigned batch_max; /* largest batch so far */
	unsigned queued;    /* transactions waiting now */
};
void store_get_stats(struct store *store, struct store_stats *stats_r);

/* Schema version of this build and of the open store. */
#define STORE_SCHEMA_VERSION 6
unsigned store_schema_version(struct store *store);

/* ------------------------------------------------------------------ */
/* Domains, accounts, aliases (reads)                                   */

struct store_account {
	int64_t id;
	const char *address; /* "user@domain", lower-case */
	/* crypt(3) string ("$y$..."), "" when the account has none. */
	const char *password_hash;
	/* SCRAM-SHA-256 data exactly as lib-auth handed them in (opaque
	 * here); empty strings / 0 when not set. */
	const char *scram_salt;
	unsigned scram_iterations;
	const char *scram_stored_key;
	const char *scram_server_key;
	/* Bumped on every password change: a cache key part, so cached
	 * authentications die with the old password. */
	uint64_t credentials_serial;
	uint64_t quota_bytes, quota_messages; /* 0 = unlimited */
	uint64_t used_bytes, used_messages;
	bool disabled;
};

/* Credential lookup for the auth layer, by full address (case-insensitive).
 * Returns 1 and *account_r (allocated from pool), 0 if no such account,
 * -1 on error. */
int store_account_lookup(struct store *store, const char *address,
			 struct pool *pool, struct store_account **account_r,
			 const char **error_r);
int store_account_lookup_id(struct store *store, int64_t account_id,
			    struct pool *pool, struct store_account **account_r,
			    const char **error_r);
/* All accounts, or those of one domain (domain may be NULL), sorted by
 * address. */
int store_account_list(struct store *store, const char *domain,
		       struct pool *pool, struct store_account **accounts_r,
		       unsigned *count_r, const char **error_r);

/* All local domains, sorted. */
int store_domain_list(struct store *store, struct pool *pool,
		      const char *const **domains_r, unsigned *count_r,
		      const char **error_r);
/* 1 if domain is local, 0 if not, -1 on error. */
int store_domain_exists(struct store *store, const char *domain,
			const char **error_r);

struct store_alias {
	/* "user@domain", or "@domain" for a domain's catch-all. */
	const char *source;
	/* A full address: a local account, another alias, or remote. */
	const char *target;
};
/* All aliases, or those whose source is in domain (may be NULL), sorted
 * by source then target. */
int store_alias_list(struct store *store, const char *domain, struct pool *pool,
		     struct store_alias **aliases_r, unsigned *count_r,
		     const char **error_r);

/* Recipient resolution for SMTP RCPT TO:
 *   1. domain must be local, else 0 (not ours: relay decision is the
 *      caller's);
 *   2. an exact alias for local@domain expands (recursively, up to
 *      alias_depth_max, loops cut) — else an account local@domain — else,
 *      when the local part has the subaddress separator, the same two
 *      steps for the part before it — else postmaster (RFC 5321 4.5.1) to
 *      postmaster_account — else the catch-all alias @domain;
 *   3. targets in a local domain resolve again; others are remote.
 * A bare "postmaster" (RFC 5321 4.1.1.3) is postmaster_account.
 * Comparison is case-insensitive. Returns 1 with at least one local
 * account or remote address, 0 when the address is unknown (SMTP 550),
 * -1 on error (or on an alias loop / depth limit: error_r says). */
struct store_resolution {
	int64_t *account_ids; /* distinct local accounts */
	unsigned account_count;
	const char **remote; /* distinct remote addresses */
	unsigned remote_count;
};
int store_resolve(struct store *store, const char *address, struct pool *pool,
		  struct store_resolution *res_r, const char **error_r);

/* ------------------------------------------------------------------ */
/* Mailboxes (reads)                                                    */

/* RFC 6154 special-use attributes. */
enum store_special_use {
	STORE_SPECIAL_NONE = 0,
	STORE_SPECIAL_ALL = 1 << 0,
	STORE_SPECIAL_ARCHIVE = 1 << 1,
	STORE_SPECIAL_DRAFTS = 1 << 2,
	STORE_SPECIAL_FLAGGED = 1 << 3,
	STORE_SPECIAL_JUNK = 1 << 4,
	STORE_SPECIAL_SENT = 1 << 5,
	STORE_SPECIAL_TRASH = 1 << 6,
};

#define STORE_HIERARCHY_SEP '/'
#define STORE_MAILBOX_NAME_MAX 1000

struct store_mailbox {
	int64_t id;
	int64_t account_id;
	const char *name; /* "INBOX", "Archive/2026" */
	enum store_special_use special_use;
	bool subscribed;
	bool has_children;
	uint32_t uidvalidity;
	uint32_t uidnext;
	uint64_t highestmodseq;
};

/* Mailboxes of an account sorted by name (INBOX first). */
int store_mailbox_list(struct store *store, int64_t account_id,
		       struct pool *pool, struct store_mailbox **mailboxes_r,
		       unsigned *count_r, const char **error_r);
/* 1 and *mailbox_r, 0 if none by that name. */
int store_mailbox_lookup(struct store *store, int64_t account_id,
			 const char *name, struct pool *pool,
			 struct store_mailbox **mailbox_r,
			 const char **error_r);
int store_mailbox_lookup_id(struct store *store, int64_t mailbox_id,
			    struct pool *pool, struct store_mailbox **mailbox_r,
			    const char **error_r);
/* Subscribed names of an account (they need not exist), sorted. */
int store_subscription_list(struct store *store, int64_t account_id,
			    struct pool *pool, const char *const **names_r,
			    unsigned *count_r, const char **error_r);

struct store_mailbox_status {
	uint32_t messages;
	uint32_t unseen;	   /* without \Seen */
	uint32_t recent;	   /* uid >= first_recent_uid */
	uint32_t first_unseen_uid; /* 0 when none */
	uint32_t first_recent_uid;
	uint64_t size; /* sum of stored message sizes */
	uint32_t uidvalidity;
	uint32_t uidnext;
	uint64_t highestmodseq;
};
/* 1 and *status_r, 0 if the mailbox does not exist. */
int store_mailbox_status(struct store *store, int64_t mailbox_id,
			 struct store_mailbox_status *status_r,
			 const char **error_r);

/* ------------------------------------------------------------------ */
/* Messages (reads)                                                     */

/* System flags (RFC 9051 2.3.2). \Recent is not a stored flag: see
 * first_recent_uid. */
enum store_flags {
	STORE_FLAG_SEEN = 1 << 0,
	STORE_FLAG_ANSWERED = 1 << 1,
	STORE_FLAG_FLAGGED = 1 << 2,
	STORE_FLAG_DELETED = 1 << 3,
	STORE_FLAG_DRAFT = 1 << 4,
};
#define STORE_FLAGS_ALL 0x1f
/* Keywords are given and returned as one string of space-separated atoms,
 * "" for none; at most STORE_KEYWORDS_MAX bytes per message. */
#define STORE_KEYWORDS_MAX 1024

struct store_message {
	uint32_t uid;
	uint32_t flags;	      /* enum store_flags */
	const char *keywords; /* "" when none */
	uint64_t modseq;
	uint64_t size; /* exact stored (CRLF) size */
	time_t internaldate;
	int64_t body_id; /* shared between copies */
};

/* Iterates a mailbox's messages in ascending UID order without loading
 * bodies; memory stays flat whatever the mailbox size. uid_last 0 = no
 * upper bound; changedsince > 0 yields only messages with a greater
 * modseq (CONDSTORE). The iterator holds a read snapshot: finish it
 * promptly (don't keep it across waits on a peer). */
struct store_message_iter;
struct store_message_iter *store_message_iter_init(struct store *store,
						   int64_t mailbox_id,
						   uint32_t uid_first,
						   uint32_t uid_last,
						   uint64_t changedsince);
/* 1 and *msg_r (valid until the next call), 0 at the end, -1 on error. */
int store_message_iter_next(struct store_message_iter *iter,
			    struct store_message *msg_r);
/* Returns -1 with *error_r if the iteration failed, else 1. Sets *iter
 * to NULL. */
int store_message_iter_deinit(struct store_message_iter **iter,
			      const char **error_r);

/* Appends the UIDs >= uid_first of a mailbox, ascending, to the array
 * *uids of *count entries and *cap capacity (grown with i_realloc(); the
 * caller frees it). Reads the UIDs alone from the index, so loading an
 * IMAP sequence map costs 4 bytes and one index entry per message.
 * Returns 1, or -1 with *error_r (the array then holds what was read). */
int store_message_uids(struct store *store, int64_t mailbox_id,
		       uint32_t uid_first, uint32_t **uids, uint32_t *count,
		       uint32_t *cap, const char **error_r);

/* Like store_message_iter_init(), and store_message_iter_headers() gives
 * each message's search_headers (see store_message_info): SEARCH over
 * header fields without opening bodies. */
struct store_message_iter *
store_message_iter_init_headers(struct store *store, int64_t mailbox_id,
				uint32_t uid_first, uint32_t uid_last,
				uint64_t changedsince);
/* The current message's search headers ("" unless the iterator came from
 * store_message_iter_init_headers()); valid until the next call. */
const char *store_message_iter_headers(struct store_message_iter *iter);

/* One message's metadata plus the strings cached at arrival. Fields the
 * parser could not produce (or before lib-mail is linked) are "". */
struct store_message_info {
	struct store_message msg;
	const char *envelope;	   /* IMAP ENVELOPE, rendered */
	const char *bodystructure; /* IMAP BODYSTRUCTURE, rendered */
	const char *body;	   /* IMAP BODY (non-extensible) */
	uint64_t header_size;	   /* bytes of header incl. blank line */
	uint64_t lines;
	/* CRLF count of the whole message */ /* The SEARCH header index:
					       * one "name: value\n" line
					       * per field of the top-level
					       * header, name lower-cased,
					       * value unfolded and RFC 2047
					       * decoded (UTF-8); "" when
					       * not indexed. */
	const char *search_headers;
};
#define STORE_SEARCH_HEADERS_MAX (64 * 1024)
/* 1 and *info_r, 0 if no such message. */
int store_message_get(struct store *store, int64_t mailbox_id, uint32_t uid,
		      struct pool *pool, struct store_message_info *info_r,
		      const char **error_r);

/* Incremental body reads: a partial FETCH never reads the whole body.
 * An open body holds a read snapshot (for bodies in the database) or a
 * file descriptor: read what you can send now and close it; reopen by
 * body_id for the next chunk. */
struct store_body;
/* 1 and *body_r, 0 if the body no longer exists, -1 on error. */
int store_body_open(struct store *store, int64_t body_id,
		    struct store_body **body_r, const char **error_r);
uint64_t store_body_size(const struct store_body *body);
/* Reads up to size bytes at offset into dst. Returns the bytes read (0 at
 * or past the end) or -1 with *error_r. */
ssize_t store_body_read(struct store_body *body, uint64_t offset, void *dst,
			size_t size, const char **error_r);
void store_body_close(struct store_body **body);

/* ------------------------------------------------------------------ */
/* Writes: transactions, group-committed                                */

/* Creates an empty transaction. Build it on one thread; it is not shared
 * until committed. */
struct store_txn *store_txn_create(struct store *store);
/* Frees a transaction that was never committed, or one completed by
 * store_txn_commit_wait(). Sets *txn to NULL. */
void store_txn_destroy(struct store_txn **txn);

/* Each store_txn_add_*() appends one operation and returns its index,
 * for store_txn_result() after completion. Arguments are copied. */

/* Admin operations. Addresses are "local@domain"; the domain must exist.
 * Adding an account creates INBOX, Sent, Drafts, Trash, Junk and Archive
 * with their special-use attributes, subscribed. Deleting an account
 * deletes its mailboxes and messages; deleting a domain fails with
 * STORE_ERR_INVALID while accounts or aliases use it. Result id: the new
 * account's id. */
unsigned store_txn_domain_add(struct store_txn *txn, const char *domain);
unsigned store_txn_domain_del(struct store_txn *txn, const char *domain);
struct store_credentials {
	const char *password_hash; /* crypt string; NULL/"" = none */
	const char *scram_salt;	   /* NULL = none */
	unsigned scram_iterations;
	const char *scram_stored_key;
	const char *scram_server_key;
};
unsigned store_txn_account_add(struct store_txn *txn, const char *address,
			       const struct store_credentials *cred);
unsigned store_txn_account_del(struct store_txn *txn, const char *address);
unsigned
store_txn_account_set_credentials(struct store_txn *txn, const char *address,
				  const struct store_credentials *cred);
unsigned store_txn_account_set_quota(struct store_txn *txn, const char *address,
				     uint64_t bytes, uint64_t messages);
unsigned store_txn_account_set_disabled(struct store_txn *txn,
					const char *address, bool disabled);
/* source "user@domain" or "@domain" (catch-all; the domain must be
 * local); target any full address. */
unsigned store_txn_alias_add(struct store_txn *txn, const char *source,
			     const char *target);
/* target NULL removes every target of source. */
unsigned store_txn_alias_del(struct store_txn *txn, const char *source,
			     const char *target);

/* Mailbox operations. Creating "a/b/c" creates missing parents. Renaming
 * moves the children along ("a" -> "x" makes "a/b" "x/b"); renaming INBOX
 * moves its messages to a new mailbox and leaves INBOX empty (RFC 9051
 * 6.3.6). Deleting fails for INBOX (INVALID) and for a mailbox with
 * children (HAS_CHILDREN). Result id: the new mailbox's id. */
unsigned store_txn_mailbox_create(struct store_txn *txn, int64_t account_id,
				  const char *name,
				  enum store_special_use special_use);
unsigned store_txn_mailbox_rename(struct store_txn *txn, int64_t account_id,
				  const char *old_name, const char *new_name);
unsigned store_txn_mailbox_delete(struct store_txn *txn, int64_t account_id,
				  const char *name);
unsigned store_txn_subscribe(struct store_txn *txn, int64_t account_id,
			     const char *name, bool subscribed);
/* The caller saw messages up to uid (exclusive) as \Recent: moves the
 * mailbox's first_recent_uid forward to uid (never back). */
unsigned store_txn_mailbox_claim_recent(struct store_txn *txn,
					int64_t mailbox_id, uint32_t uid);

/* Message operations. */

/* Delivery of one message to local recipients (SMTP). data is the whole
 * message with CRLF line ends as received (dot-unstuffed); with
 * STORE_DELIVER_CONVERT_LF bare LFs become CRLF first. The message is
 * copied here; it is parsed (ENVELOPE, BODYSTRUCTURE, SEARCH headers) once,
 * before the writer sees it: by store_txn_commit() on the calling thread
 * for small transactions, on the store's parse thread from 128 KB of
 * message data on, so a big message never holds up an event loop. The
 * writer still commits transactions in submission order. The body is stored
 * once, referenced by every recipient. Each recipient's outcome is
 * separate: an over-quota recipient gets STORE_ERR_OVER_QUOTA in its slot
 * while the others receive the message; the operation itself fails only
 * if no recipient could receive it, or on a temporary error.
 * Result: rcpt_errors[i] and uids[i] per recipient, in order. */
struct store_delivery_rcpt {
	int64_t account_id;
	/* Target mailbox; NULL or missing = INBOX. */
	const char *mailbox;
	uint32_t flags;	      /* initial enum store_flags */
	const char *keywords; /* NULL = none */
};
enum store_deliver_flags {
	STORE_DELIVER_CONVERT_LF = 1 << 0,
};
unsigned store_txn_deliver(struct store_txn *txn, const void *data, size_t size,
			   time_t internaldate,
			   const struct store_delivery_rcpt *rcpts,
			   unsigned rcpt_count, enum store_deliver_flags flags);
/* APPEND (and import): one message into one mailbox. Fails the
 * transaction with OVER_QUOTA if the owner's quota would be exceeded.
 * Result: uidvalidity, uid, modseq. */
unsigned store_txn_append(struct store_txn *txn, int64_t mailbox_id,
			  const void *data, size_t size, time_t internaldate,
			  uint32_t flags, const char *keywords,
			  enum store_deliver_flags dflags);

/* UID sets are given as sorted or unsorted inclusive ranges; uid 0 and
 * UIDs beyond uidnext are ignored. */
struct store_uid_range {
	uint32_t first, last;
};

/* COPY/MOVE: the destination gets new UIDs, ascending in source UID
 * order; the body is shared, never copied. Quota is checked against the
 * destination's account (MOVE within one account never exceeds it).
 * Result: uidvalidity (of dst), count, src_uids[], uids[] (the new ones),
 * modseq. Non-existent source UIDs are skipped. */
unsigned store_txn_copy(struct store_txn *txn, int64_t src_mailbox_id,
			const struct store_uid_range *ranges,
			unsigned range_count, int64_t dst_mailbox_id,
			bool move);

enum store_flag_mode {
	STORE_FLAGS_REPLACE,
	STORE_FLAGS_ADD,
	STORE_FLAGS_REMOVE,
};
/* STORE: changes system flags and keywords (keywords NULL = leave them
 * alone in REPLACE mode, "" = clear). Messages whose flags really change
 * get a new modseq. unchangedsince > 0 (CONDSTORE): messages with a
 * greater modseq are left alone and reported in modified_uids[].
 * Result: count/uids[] of the changed messages, modseq. */
unsigned store_txn_flags(struct store_txn *txn, int64_t mailbox_id,
			 const struct store_uid_range *ranges,
			 unsigned range_count, enum store_flag_mode mode,
			 uint32_t flags, const char *keywords,
			 uint64_t unchangedsince);

/* EXPUNGE: removes the messages in ranges (ranges NULL = the whole
 * mailbox); with only_deleted, only those flagged \Deleted. Frees bodies
 * with their last reference. Result: count/uids[] of expunged messages,
 * modseq. */
unsigned store_txn_expunge(struct store_txn *txn, int64_t mailbox_id,
			   const struct store_uid_range *ranges,
			   unsigned range_count, bool only_deleted);

/* Outcome of one operation. Arrays live as long as the transaction. */
struct store_op_result {
	enum store_error error;
	const char *error_text; /* human readable; "" when OK */
	int64_t id;		/* account_add, mailbox_create */
	uint32_t uidvalidity;	/* append, copy */
	uint32_t uid;		/* append */
	uint64_t modseq;	/* message operations */
	unsigned count;
	const uint32_t *src_uids; /* copy */
	const uint32_t *uids;	  /* deliver(per rcpt), append, copy, flags,
				     expunge */
	const enum store_error *rcpt_errors; /* deliver, count = rcpts */
	unsigned modified_count;
	const uint32_t *modified_uids; /* flags with unchangedsince */
	uint64_t src_modseq; /* move: the source's modseq of the expunge */
};

/* Called on the submitter's thread once the transaction's batch is
 * durable (or failed). The store destroys txn after the callback returns. */
typedef void store_txn_callback_t(struct store_txn *txn, void *ctx);

/* Submits txn to the writer; never blocks on I/O. callback runs later on
 * target's thread. The caller must not touch txn until the callback. Once
 * store_close() has begun, the callback reports STORE_ERR_TEMP. */
void store_txn_commit(struct store_txn *txn,
		      const struct completion_target *target,
		      store_txn_callback_t *callback, void *ctx);
/* Blocking variant: submits txn and waits for its batch. Returns the
 * transaction's outcome; txn stays valid for store_txn_result() until
 * store_txn_destroy(). Not for event-loop threads. */
enum store_error store_txn_commit_wait(struct store_txn *txn);

/* After completion: the transaction's outcome (STORE_OK only if every
 * operation succeeded; otherwise the first failure, and nothing applied),
 * its text, and each operation's result. */
enum store_error store_txn_error(const struct store_txn *txn,
				 const char **text_r);
const struct store_op_result *store_txn_result(const struct store_txn *txn,
					       unsigned op);
unsigned store_txn_op_count(const struct store_txn *txn);

/* Blocking one-operation helpers for the admin command and tests: each
 * builds a transaction with that one operation and waits. Return STORE_OK
 * or the error, with text in *error_r. */
enum store_error store_domain_add(struct store *store, const char *domain,
				  const char **error_r);
enum store_error store_account_add(struct store *store, const char *address,
				   const struct store_credentials *cred,
				   int64_t *account_id_r, const char **error_r);
enum store_error store_alias_add(struct store *store, const char *source,
				 const char *target, const char **error_r);

/* ------------------------------------------------------------------ */
/* Change notifications                                                 */

enum store_change_type {
	STORE_CHANGE_NEW,	   /* a message arrived (deliver/append/copy) */
	STORE_CHANGE_FLAGS,	   /* flags or keywords changed */
	STORE_CHANGE_EXPUNGE,	   /* a message was expunged */
	STORE_CHANGE_MAILBOX_GONE, /* the mailbox was deleted or renamed
				      away (INBOX rename empties instead) */
};
struct store_change {
	enum store_change_type type;
	uint32_t uid;
	uint64_t modseq;
	uint32_t flags;	      /* NEW, FLAGS: the flags after the change */
	const char *keywords; /* NEW, FLAGS: after the change */
};

/* Called on the watcher's thread after the commit holding the changes,
 * with all of one batch's changes to the mailbox in commit order. The
 * array lives only during the call. */
typedef void store_watch_callback_t(void *ctx, int64_t mailbox_id,
				    const struct store_change *changes,
				    unsigned count);
struct store_watch;
/* Watches a mailbox (any thread may create one). Changes committed after
 * this call are reported through target; the session's own changes too
 * (it can skip those by UID/modseq if it already knows them). */
struct store_watch *store_watch_create(struct store *store, int64_t mailbox_id,
				       const struct completion_target *target,
				       store_watch_callback_t *callback,
				       void *ctx);
/* Stops the watch: from the return on, callback is never called again,
 * even for events already posted. Call on the target's thread. Sets
 * *watch to NULL. */
void store_watch_destroy(struct store_watch **watch);

/* ------------------------------------------------------------------ */
/* Outbound queue                                                        */

/* Messages waiting for remote delivery, one state per recipient, with the
 * DSN parameters of RFC 3461. The body is shared like a mailbox message's:
 * a message for local and remote recipients is stored once. A queued
 * message disappears (and drops its body reference) once none of its
 * recipients is pending any more. */

enum store_dsn_notify { /* RFC 3461 4.1; 0 = NOTIFY not given */
			STORE_DSN_NOTIFY_NEVER = 1 << 0,
			STORE_DSN_NOTIFY_SUCCESS = 1 << 1,
			STORE_DSN_NOTIFY_FAILURE = 1 << 2,
			STORE_DSN_NOTIFY_DELAY = 1 << 3,
};
enum store_dsn_ret { /* RFC 3461 4.3 */
		     STORE_DSN_RET_DEFAULT = 0,
		     STORE_DSN_RET_FULL,
		     STORE_DSN_RET_HDRS,
};
enum store_queue_body { /* what the body needs from the next hop */
			STORE_QUEUE_BODY_7BIT = 0,
			STORE_QUEUE_BODY_8BITMIME,
			STORE_QUEUE_BODY_BINARYMIME,
};
enum store_queue_state {
	STORE_QUEUE_PENDING = 0, /* waiting for (another) attempt */
	STORE_QUEUE_DELIVERED,	 /* final: accepted by the next hop */
	STORE_QUEUE_FAILED,	 /* final: bounced */
};

struct store_queue_envelope {
	const char *sender; /* reverse-path, "" for the null sender <> */
	const char *envid;  /* ENVID (xtext decoded) or NULL */
	enum store_dsn_ret ret;
	enum store_queue_body body_type;
	bool smtputf8;
	int64_t account_id; /* submitting account, 0 = none (relayed) */
};
struct store_queue_rcpt {
	const char *address; /* forward-path */
	const char *orcpt;   /* ORCPT as received ("rfc822;a@b"), or NULL */
	unsigned notify;     /* enum store_dsn_notify bits */
};

/* Queues a message for remote recipients. data as for store_txn_deliver;
 * the first attempt is due at once. Result id: the queue id. */
unsigned store_txn_enqueue(struct store_txn *txn, const void *data, size_t size,
			   const struct store_queue_envelope *env,
			   const struct store_queue_rcpt *rcpts,
			   unsigned rcpt_count, enum store_deliver_flags flags);
/* The same, sharing the body of an earlier deliver/append/enqueue
 * operation of this transaction (that operation must succeed). */
unsigned store_txn_enqueue_shared(struct store_txn *txn, unsigned body_op,
				  const struct store_queue_envelope *env,
				  const struct store_queue_rcpt *rcpts,
				  unsigned rcpt_count);
/* Records an attempt's outcome for one recipient: the state, when the next
 * attempt is due (PENDING only) and the error text (NULL = none). Counts
 * an attempt and stamps it with the commit's time (last_attempt).
 * NOT_FOUND if the recipient is gone. */
unsigned store_txn_queue_update(struct store_txn *txn, int64_t rcpt_id,
				enum store_queue_state state,
				time_t next_attempt, const char *last_error);
/* Drops a queued message with all its recipients (admin). */
unsigned store_txn_queue_delete(struct store_txn *txn, int64_t queue_id);
/* Makes deferred recipients due (admin flush and retry): every pending
 * recipient of queue_id (0 = of every queued message) whose next attempt
 * is later than when gets next_attempt = when; attempts and the last
 * error are kept. Result count: the recipients changed. NOT_FOUND when
 * queue_id is given and no such message is queued. */
unsigned store_txn_queue_reschedule(struct store_txn *txn, int64_t queue_id,
				    time_t when);

/* One recipient of a queued message, with the message's envelope. */
struct store_queue_item {
	int64_t queue_id, rcpt_id;
	struct store_queue_envelope env;
	struct store_queue_rcpt rcpt;
	enum store_queue_state state;
	unsigned attempts;
	time_t created, next_attempt;
	time_t last_attempt;	/* 0 = never tried, or not recorded */
	const char *last_error; /* "" when none */
	int64_t body_id;	/* for store_body_open() */
	uint64_t size;
};
/* Pending recipients due at or before now (now 0 = all pending), oldest
 * due first, at most max (0 = no limit); recipients of one message are
 * adjacent when they are due together. */
int store_queue_due(struct store *store, time_t now, unsigned max,
		    struct pool *pool, struct store_queue_item **items_r,
		    unsigned *count_r, const char **error_r);
/* When the next pending recipient is due: 1 and *when_r, 0 if the queue
 * is empty. */
int store_queue_next_due(struct store *store, time_t *when_r,
			 const char **error_r);

/* ------------------------------------------------------------------ */
/* QRESYNC and other processes                                           */

/* UIDs expunged from a mailbox with a modseq above since (RFC 7162
 * VANISHED), ascending, from pool. */
int store_mailbox_vanished(struct store *store, int64_t mailbox_id,
			   uint64_t since_modseq, struct pool *pool,
			   uint32_t **uids_r, unsigned *count_r,
			   const char **error_r);

/* Another process (the admin command) changed the mailbox: every watch
 * on it gets the changes it has not seen yet (NEW for UIDs it has not
 * seen, FLAGS, EXPUNGE), read back from the database. Any thread. */
void store_mailbox_notify_external(struct store *store, int64_t mailbox_id);

/* ------------------------------------------------------------------ */
/* DMARC aggregate report rows (RFC 7489 section 7.2)                    */

/* Evaluated messages are counted per reporting period. Exactly one period
 * is open at a time: rows always go into it (the writer picks it, so a row
 * can never land in a period that was already closed). Closing it opens
 * the next one, which begins where the closed one ends. A closed period's
 * rows never change again; they are read, turned into reports and then
 * deleted per policy domain in the same transaction that queues the
 * reports (store_txn_dmarc_report_done), so a crash neither sends a
 * period twice nor loses one. Identical rows are aggregated at insert
 * time: same policy domain, source IP, disposition, evaluated DKIM/SPF,
 * identifiers and auth results add to one row's count. */

/* Strings are copied; NULL counts as "". Each is cut at
 * STORE_DMARC_FIELD_MAX bytes (rua at STORE_DMARC_RUA_MAX). */
struct store_dmarc_row {
	const char *policy_domain; /* where the record was found */
	const char *source_ip;
	const char *disposition; /* "none", "quarantine", "reject" */
	const char *dkim_eval;	 /* policy_evaluated: "pass" or "fail" */
	const char *spf_eval;
	const char *header_from, *envelope_from, *envelope_to;
	/* auth_results: one "domain selector result" line per signature,
	 * '\n'-separated, selector "-" when unknown; "" for none. */
	const char *dkim_auth;
	const char *spf_domain, *spf_scope, *spf_result;
	/* The policy published: p, sp ("" = as p), pct, adkim and aspf
	 * ("r"/"s"), fo and the rua= text. The newest row's values win. */
	const char *p, *sp, *adkim, *aspf, *fo, *rua;
	unsigned pct;
	uint64_t count; /* messages; 0 counts as 1 when recording */
	/* Reads only: the row's id. */
	int64_t id;
};
#define STORE_DMARC_FIELD_MAX 255
#define STORE_DMARC_RUA_MAX 1024
/* Rows kept per period; a new distinct row beyond it is dropped (the
 * recording transaction fails with STORE_ERR_OVER_QUOTA), while rows
 * that exist keep counting. */
#define STORE_DMARC_ROWS_MAX 20000

struct store_dmarc_period {
	int64_t id;
	time_t begin;
	time_t end;	/* 0 while open */
	unsigned rows;	/* distinct rows held now */
};

/* Counts one message (row->count of them) in the open period, opening one
 * that begins at when if none is open. */
unsigned store_txn_dmarc_record(struct store_txn *txn,
				const struct store_dmarc_row *row, time_t when);
/* Closes the open period at end and opens the next one (begins at end).
 * period_id 0 closes whatever is open; otherwise only that period, and
 * NOT_FOUND when it is no longer the open one (someone else closed it).
 * NOT_FOUND too when no period is open. A closed period without rows is
 * dropped at once. Result id: the closed period; count: its rows. */
unsigned store_txn_dmarc_period_close(struct store_txn *txn, int64_t period_id,
				      time_t end);
/* The reports of policy_domain for a closed period are queued: deletes
 * its rows (and the period once it holds none). NOT_FOUND when there are
 * none any more, so a second reporter's transaction fails as a whole and
 * queues nothing. Put it in the transaction that enqueues the report. */
unsigned store_txn_dmarc_report_done(struct store_txn *txn, int64_t period_id,
				     const char *policy_domain);

/* Every period (the open one last), oldest first. */
int store_dmarc_periods(struct store *store, struct pool *pool,
			struct store_dmarc_period **periods_r,
			unsigned *count_r, const char **error_r);
/* The rows of a period, of one policy domain (or all when NULL), sorted
 * by policy domain, then id. */
int store_dmarc_rows(struct store *store, int64_t period_id,
		     const char *policy_domain, struct pool *pool,
		     struct store_dmarc_row **rows_r, unsigned *count_r,
		     const char **error_r);

/* Fire and forget: submits txn with no completion target; nobody waits
 * and the store destroys txn after its batch. A failure is logged (event
 * store_txn_detached_failed what=<what>, at warn for OVER_QUOTA, else
 * error). For writes whose outcome no peer waits for, such as DMARC report
 * rows recorded from an event loop. Any thread; never blocks on I/O. what
 * must be a string literal (it is kept until the batch). */
void store_txn_commit_detached(struct store_txn *txn, const char *what);

#endif
