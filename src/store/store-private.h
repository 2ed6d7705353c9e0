/* SPDX-License-Identifier: MIT */
#ifndef POSTHORN_STORE_PRIVATE_H
#define POSTHORN_STORE_PRIVATE_H

/* Inside the store: the backend function table, transactions as the writer
 * sees them, and helpers shared by the generic layer and the backends.
 * Nothing outside src/store/ includes this. */

#include "lib.h"
#include "store.h"
#include "workpool.h"

#include <pthread.h>

struct pool;

enum store_op_type {
	STORE_OP_DOMAIN_ADD,
	STORE_OP_DOMAIN_DEL,
	STORE_OP_ACCOUNT_ADD,
	STORE_OP_ACCOUNT_DEL,
	STORE_OP_ACCOUNT_SET_CREDENTIALS,
	STORE_OP_ACCOUNT_SET_QUOTA,
	STORE_OP_ACCOUNT_SET_DISABLED,
	STORE_OP_ALIAS_ADD,
	STORE_OP_ALIAS_DEL,
	STORE_OP_MAILBOX_CREATE,
	STORE_OP_MAILBOX_RENAME,
	STORE_OP_MAILBOX_DELETE,
	STORE_OP_SUBSCRIBE,
	STORE_OP_CLAIM_RECENT,
	STORE_OP_DELIVER,
	STORE_OP_APPEND,
	STORE_OP_COPY,
	STORE_OP_FLAGS,
	STORE_OP_EXPUNGE,
	STORE_OP_ENQUEUE,
	STORE_OP_QUEUE_UPDATE,
	STORE_OP_QUEUE_DELETE,
	STORE_OP_QUEUE_RESCHEDULE,
	STORE_OP_DMARC_RECORD,
	STORE_OP_DMARC_PERIOD_CLOSE,
	STORE_OP_DMARC_REPORT_DONE,
};

/* A message body on its way in: converted and parsed on the submitter's
 * thread, written by the writer. */
struct store_new_body {
	uint8_t *data; /* i_malloc'd, freed with the transaction */
	size_t size;
	uint64_t header_size, lines;
	char *envelope, *bodystructure, *body; /* i_malloc'd, never NULL */
	char *search_headers; /* i_malloc'd, never NULL; "" = none */
	/* Set by the backend's prepare step when the body goes to a file. */
	char *file_name;
	bool used;   /* this operation carries a body */
	bool parsed; /* store_new_body_parse() done */
};

struct store_op {
	enum store_op_type type;
	const char *s1, *s2; /* domain/address/source/name ; target/new name */
	struct store_credentials cred;
	uint64_t n1, n2;
	bool b;
	int64_t account_id, mailbox_id, dst_mailbox_id;
	uint32_t flags, uid;
	const char *keywords; /* NULL = not given */
	enum store_flag_mode mode;
	uint64_t unchangedsince;
	struct store_uid_range *ranges; /* NULL = all */
	unsigned range_count;
	struct store_delivery_rcpt *rcpts;
	unsigned rcpt_count;
	time_t internaldate;
	struct store_new_body body;
	/* Queue operations. */
	struct store_queue_envelope env;
	struct store_queue_rcpt *qrcpts;
	unsigned qrcpt_count;
	int64_t rcpt_id, queue_id;
	bool shared_body;
	unsigned body_op; /* with shared_body */
	/* DMARC report rows (store-dmarc.c), copied into txn->pool. */
	struct store_dmarc_row *dmarc_row;
	/* Set by the writer: the body this operation stored (for sharing). */
	int64_t stored_body_id;
	struct store_op_result result;
};

/* One change for watchers, tagged with its mailbox. */
struct store_txn_change {
	int64_t mailbox_id;
	struct store_change change;
};

struct store_txn {
	struct store *store;
	struct pool *pool;	  /* arguments */
	struct pool *result_pool; /* results and changes; cleared on rollback */
	struct store_op *ops;
	unsigned op_count, op_alloc;

	enum store_error error;
	const char *error_text;

	struct store_txn_change *changes;
	unsigned change_count, change_alloc;

	/* Submission. */
	struct store_txn *next;
	struct completion_target target;
	store_txn_callback_t *callback;
	void *ctx;
	bool keep; /* commit_wait: the caller destroys it */
	bool submitted;
};

/* The backend function table. The writer functions run only on the
 * writer thread; the read functions on any thread, concurrently. */
struct store_backend {
	const char *name;
	int (*open)(struct store *store, const char **error_r);
	void (*close)(struct store *store);
	unsigned (*schema_version)(struct store *store);

	/* Writer: prepare runs outside the database transaction (large body
	 * files); apply runs each transaction atomically inside the batch
	 * (on failure it rolls back only that transaction and sets
	 * txn->error); commit makes the batch durable; abort drops it and
	 * whatever prepare wrote; after_commit does post-commit cleanup. */
	enum store_error (*txn_prepare)(struct store *store,
					struct store_txn *txn,
					const char **error_r);
	enum store_error (*batch_begin)(struct store *store,
					const char **error_r);
	void (*txn_apply)(struct store *store, struct store_txn *txn);
	enum store_error (*batch_commit)(struct store *store,
					 const char **error_r);
	void (*batch_abort)(struct store *store, struct store_txn *const *txns,
			    unsigned count);
	void (*after_commit)(struct store *store, struct store_txn *const *txns,
			     unsigned count);

	/* Reads: the public functions of the same name. */
	int (*account_lookup)(struct store *store, const char *address,
			      int64_t id, struct pool *pool,
			      struct store_account **account_r,
			      const char **error_r);
	int (*account_list)(struct store *store, const char *domain,
			    struct pool *pool,
			    struct store_account **accounts_r,
			    unsigned *count_r, const char **error_r);
	int (*domain_list)(struct store *store, struct pool *pool,
			   const char *const **domains_r, unsigned *count_r,
			   const char **error_r);
	int (*domain_exists)(struct store *store, const char *domain,
			     const char **error_r);
	int (*alias_list)(struct store *store, const char *domain,
			  struct pool *pool, struct store_alias **aliases_r,
			  unsigned *count_r, const char **error_r);
	/* Targets of exactly source ("a@b" or "@b"): 1 with some, 0 none. */
	int (*alias_targets)(struct store *store, const char *source,
			     struct pool *pool, const char *const **targets_r,
			     unsigned *count_r, const char **error_r);
	/* 1 and *id_r if the account exists, 0 if not. */
	int (*account_id)(struct store *store, const char *address,
			  int64_t *id_r, const char **error_r);
	int (*mailbox_list)(struct store *store, int64_t account_id,
			    struct pool *pool,
			    struct store_mailbox **mailboxes_r,
			    unsigned *count_r, const char **error_r);
	int (*mailbox_lookup)(struct store *store, int64_t account_id,
			      const char *name, int64_t mailbox_id,
			      struct pool *pool,
			      struct store_mailbox **mailbox_r,
			      const char **error_r);
	int (*subscription_list)(struct store *store, int64_t account_id,
				 struct pool *pool, const char *const **names_r,
				 unsigned *count_r, const char **error_r);
	int (*mailbox_status)(struct store *store, int64_t mailbox_id,
			      struct store_mailbox_status *status_r,
			      const char **error_r);
	struct store_message_iter *(*message_iter_init)(
	    struct store *store, int64_t mailbox_id, uint32_t uid_first,
	    uint32_t uid_last, uint64_t changedsince, bool with_headers);
	const char *(*message_iter_headers)(struct store_message_iter *iter);
	int (*message_uids)(struct store *store, int64_t mailbox_id,
			    uint32_t uid_first, uint32_t **uids,
			    uint32_t *count, uint32_t *cap,
			    const char **error_r);
	int (*message_iter_next)(struct store_message_iter *iter,
				 struct store_message *msg_r);
	int (*message_iter_deinit)(struct store_message_iter *iter,
				   const char **error_r);
	int (*message_get)(struct store *store, int64_t mailbox_id,
			   uint32_t uid, struct pool *pool,
			   struct store_message_info *info_r,
			   const char **error_r);
	int (*body_open)(struct store *store, int64_t body_id,
			 struct store_body **body_r, const char **error_r);
	uint64_t (*body_size)(const struct store_body *body);
	ssize_t (*body_read)(struct store_body *body, uint64_t offset,
			     void *dst, size_t size, const char **error_r);
	void (*body_close)(struct store_body *body);
	int (*queue_due)(struct store *store, time_t now, unsigned max,
			 struct pool *pool, struct store_queue_item **items_r,
			 unsigned *count_r, const char **error_r);
	int (*queue_next_due)(struct store *store, time_t *when_r,
			      const char **error_r);
	int (*mailbox_vanished)(struct store *store, int64_t mailbox_id,
				uint64_t since_modseq, struct pool *pool,
				uint32_t **uids_r, unsigned *count_r,
				const char **error_r);
	int (*dmarc_periods)(struct store *store, struct pool *pool,
			     struct store_dmarc_period **periods_r,
			     unsigned *count_r, const char **error_r);
	int (*dmarc_rows)(struct store *store, int64_t period_id,
			  const char *policy_domain, struct pool *pool,
			  struct store_dmarc_row **rows_r, unsigned *count_r,
			  const char **error_r);
};

extern const struct store_backend store_backend_sqlite;

struct store_watch_shared;

#define STORE_WATCH_BUCKETS 256

struct store {
	const struct store_backend *backend;
	void *backend_ctx;

	char *data_dir;
	size_t body_inline_max;
	char subaddress_separator; /* '\0' = off */
	char *postmaster_account;
	unsigned batch_max;
	unsigned alias_depth_max;

	/* The writer's queue. */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct store_txn *queue_head, *queue_tail;
	unsigned queue_len;
	bool stopping;
	pthread_t writer;
	bool writer_started;

	/* The parse stage in front of it, under the same lock. While it holds
	 * anything, every new transaction goes through it too, so the writer
	 * still sees transactions in submission order. */
	pthread_cond_t parse_cond;
	struct store_txn *parse_head, *parse_tail;
	unsigned parse_pending; /* queued or being parsed */
	bool parse_stopping, closing;
	pthread_t parser;
	bool parser_started;

	/* Watches by mailbox id. */
	pthread_mutex_t watch_lock;
	struct store_watch_shared *watches[STORE_WATCH_BUCKETS];
	unsigned watch_count;

	/* Statistics, under lock. */
	uint64_t stat_batches, stat_txns;
	unsigned stat_batch_max;
};

/* Error text for error_r: formatted into a per-thread buffer, valid until
 * the next store call on the thread. */
const char *store_error_printf(const char *fmt, ...) ATTR_FORMAT(1, 2);

/* Appends an operation of type to txn (zeroed); *idx_r its index. */
struct store_op *store_txn_op_new(struct store_txn *txn,
				  enum store_op_type type, unsigned *idx_r);

/* Sets txn's outcome (first failure wins) with formatted text. */
void store_txn_fail(struct store_txn *txn, enum store_error error,
		    const char *fmt, ...) ATTR_FORMAT(3, 4);
/* Forgets results and changes after the backend rolled txn back. */
void store_txn_reset_results(struct store_txn *txn);
void store_txn_add_change(struct store_txn *txn, int64_t mailbox_id,
			  enum store_change_type type, uint32_t uid,
			  uint64_t modseq, uint32_t flags,
			  const char *keywords);

/* Address helpers: lower-cased copy in pool; splits at the last '@'.
 * Return false for syntactically unusable input. */
bool store_address_normalize(struct pool *pool, const char *address,
			     const char **normalized_r, const char **local_r,
			     const char **domain_r);
bool store_domain_name_valid(const char *domain);
bool store_mailbox_name_valid(const char *name);
/* "inbox" in any case -> "INBOX", other names as they are. */
const char *store_mailbox_name_canonical(struct pool *pool, const char *name);

/* Keywords: normalizes a space-separated list (drops duplicates, case-
 * insensitively; checks atoms). Returns NULL if invalid or too long. */
const char *store_keywords_normalize(struct pool *pool, const char *keywords);
/* Applies mode with kw to old; returns the new normalized list. */
const char *store_keywords_apply(struct pool *pool, const char *old,
				 enum store_flag_mode mode, const char *kw);

/* Message bodies (store-message.c): init copies data, converting bare LF
 * to CRLF when asked; parsing comes after, separately. */
void store_new_body_init(struct store_new_body *body, const void *data,
			 size_t size, bool convert_lf);
/* Fills the parsed fields (header size, lines, ENVELOPE, BODYSTRUCTURE,
 * SEARCH headers); idempotent. CPU only, linear in the size. */
void store_new_body_parse(struct store_new_body *body);
/* Bodies at least this large (in total per transaction) are parsed on the
 * store's parse thread instead of the submitter's: a big message never
 * holds up an event loop. */
#define STORE_PARSE_OFFLOAD_BYTES (128 * 1024)
void store_new_body_free(struct store_new_body *body);

/* Notifies the watchers of every change in txns (writer thread). */
void store_watch_dispatch(struct store *store, struct store_txn *const *txns,
			  unsigned count);

#endif
