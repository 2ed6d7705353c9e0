/* SPDX-License-Identifier: MIT */
#ifndef POSTHORN_STORE_SQLITE_H
#define POSTHORN_STORE_SQLITE_H

/* The SQLite backend's internals, shared by store-sqlite*.c. */

#include "store-private.h"

#include <sqlite3.h>

#define SQLITE_STORE_STMT_CACHE 128

/* One connection and its prepared statements, keyed by the address of the
 * SQL text (always a string literal). Used by one thread at a time. */
struct sqlite_conn {
	sqlite3 *db;
	struct sqlite_conn *next; /* in the reader free list */
	unsigned stmt_count;
	struct {
		const char *sql;
		sqlite3_stmt *stmt;
	} stmts[SQLITE_STORE_STMT_CACHE];
};

struct sqlite_store {
	char *db_path;
	char *bodies_dir;
	struct sqlite_conn *writer;
	unsigned schema_version;

	/* Checkpoints run on their own thread and connection, so the writer
	 * never copies the WAL back into the database on a commit's path. */
	struct sqlite_conn *checkpointer;
	pthread_t checkpoint_thread;
	bool checkpoint_started;
	pthread_mutex_t checkpoint_lock;
	pthread_cond_t checkpoint_cond;
	bool checkpoint_wanted, checkpoint_stopping;
	uint64_t checkpoints; /* completed, for tests */

	pthread_mutex_t readers_lock;
	struct sqlite_conn *readers; /* idle read connections */

	/* Writer state for the batch in progress. */
	bool batch_broken;	      /* SQLite rolled the batch back itself */
	enum store_error batch_error; /* why */
	char **unlink_paths;	      /* body files freed by this batch */
	unsigned unlink_count, unlink_alloc;
};

static inline struct sqlite_store *sqlite_store_get(struct store *store)
{
	return store->backend_ctx;
}

/* Opens a connection with the store's pragmas. */
int sqlite_conn_open(struct sqlite_store *ss, bool writer,
		     struct sqlite_conn **conn_r, const char **error_r);
void sqlite_conn_close(struct sqlite_conn **conn);
/* The cached statement for sql (a string literal), reset and with its
 * bindings cleared; NULL with *error_r if it does not prepare. */
sqlite3_stmt *sqlite_conn_stmt(struct sqlite_conn *conn, const char *sql,
			       const char **error_r);

/* A read connection from the pool (opened on demand), and its return. */
struct sqlite_conn *sqlite_reader_get(struct store *store,
				      const char **error_r);
void sqlite_reader_put(struct store *store, struct sqlite_conn *conn);

/* SQLite result code -> store error. */
enum store_error sqlite_store_error(int rc);
const char *sqlite_conn_errmsg(struct sqlite_conn *conn, int rc);

/* Runs a statement without results (BEGIN, SAVEPOINT, ...). */
int sqlite_conn_exec(struct sqlite_conn *conn, const char *sql,
		     const char **error_r);

/* Column helpers: text never NULL. */
const char *sqlite_column_pstr(struct pool *pool, sqlite3_stmt *stmt, int col);

/* Writer: store-sqlite-write.c */
void sqlite_store_txn_apply(struct store *store, struct store_txn *txn);

/* Readers: store-sqlite-read.c (the backend table's read functions) */
int sqlite_store_account_lookup(struct store *store, const char *address,
				int64_t id, struct pool *pool,
				struct store_account **account_r,
				const char **error_r);
int sqlite_store_account_list(struct store *store, const char *domain,
			      struct pool *pool,
			      struct store_account **accounts_r,
			      unsigned *count_r, const char **error_r);
int sqlite_store_domain_list(struct store *store, struct pool *pool,
			     const char *const **domains_r, unsigned *count_r,
			     const char **error_r);
int sqlite_store_domain_exists(struct store *store, const char *domain,
			       const char **error_r);
int sqlite_store_alias_list(struct store *store, const char *domain,
			    struct pool *pool, struct store_alias **aliases_r,
			    unsigned *count_r, const char **error_r);
int sqlite_store_alias_targets(struct store *store, const char *source,
			       struct pool *pool, const char *const **targets_r,
			       unsigned *count_r, const char **error_r);
int sqlite_store_account_id(struct store *store, const char *address,
			    int64_t *id_r, const char **error_r);
int sqlite_store_mailbox_list(struct store *store, int64_t account_id,
			      struct pool *pool,
			      struct store_mailbox **mailboxes_r,
			      unsigned *count_r, const char **error_r);
int sqlite_store_mailbox_lookup(struct store *store, int64_t account_id,
				const char *name, int64_t mailbox_id,
				struct pool *pool,
				struct store_mailbox **mailbox_r,
				const char **error_r);
int sqlite_store_subscription_list(struct store *store, int64_t account_id,
				   struct pool *pool,
				   const char *const **names_r,
				   unsigned *count_r, const char **error_r);
int sqlite_store_mailbox_status(struct store *store, int64_t mailbox_id,
				struct store_mailbox_status *status_r,
				const char **error_r);
struct store_message_iter *
sqlite_store_message_iter_init(struct store *store, int64_t mailbox_id,
			       uint32_t uid_first, uint32_t uid_last,
			       uint64_t changedsince, bool with_headers);
const char *sqlite_store_message_iter_headers(struct store_message_iter *iter);
int sqlite_store_message_uids(struct store *store, int64_t mailbox_id,
			      uint32_t uid_first, uint32_t **uids,
			      uint32_t *count, uint32_t *cap,
			      const char **error_r);
int sqlite_store_message_iter_next(struct store_message_iter *iter,
				   struct store_message *msg_r);
int sqlite_store_message_iter_deinit(struct store_message_iter *iter,
				     const char **error_r);
int sqlite_store_message_get(struct store *store, int64_t mailbox_id,
			     uint32_t uid, struct pool *pool,
			     struct store_message_info *info_r,
			     const char **error_r);
int sqlite_store_body_open(struct store *store, int64_t body_id,
			   struct store_body **body_r, const char **error_r);
uint64_t sqlite_store_body_size(const struct store_body *body);
ssize_t sqlite_store_body_read(struct store_body *body, uint64_t offset,
			       void *dst, size_t size, const char **error_r);
void sqlite_store_body_close(struct store_body *body);

/* Queue and QRESYNC reads: store-sqlite-read.c */
int sqlite_store_queue_due(struct store *store, time_t now, unsigned max,
			   struct pool *pool, struct store_queue_item **items_r,
			   unsigned *count_r, const char **error_r);
int sqlite_store_queue_next_due(struct store *store, time_t *when_r,
				const char **error_r);
int sqlite_store_mailbox_vanished(struct store *store, int64_t mailbox_id,
				  uint64_t since_modseq, struct pool *pool,
				  uint32_t **uids_r, unsigned *count_r,
				  const char **error_r);

/* DMARC report rows: store-sqlite-dmarc.c */
int sqlite_store_dmarc_periods(struct store *store, struct pool *pool,
			       struct store_dmarc_period **periods_r,
			       unsigned *count_r, const char **error_r);
int sqlite_store_dmarc_rows(struct store *store, int64_t period_id,
			    const char *policy_domain, struct pool *pool,
			    struct store_dmarc_row **rows_r, unsigned *count_r,
			    const char **error_r);

#endif
