/* SPDX-License-Identifier: MIT */
#ifndef POSTHORN_STORE_SQLITE_WRITE_H
#define POSTHORN_STORE_SQLITE_WRITE_H

/* The SQLite writer's helpers (prefix w_), shared by store-sqlite-write.c
 * (messages, the savepoint bracket) and store-sqlite-admin.c (domains,
 * accounts, aliases, mailboxes). Writer thread only. */

#include "store-sqlite.h"

struct wctx {
	struct store *store;
	struct sqlite_store *ss;
	struct sqlite_conn *conn;
	struct store_txn *txn;
	struct pool *scratch; /* per transaction */
};

struct wmbox {
	int64_t id, account_id;
	uint32_t uidvalidity;
	uint64_t uidnext; /* 64 bits: detects exhaustion past 2^32-1 */
	uint64_t modseq;
	uint32_t messages, unseen;
	uint64_t size;
};

struct wmsg {
	uint32_t uid;
	int64_t body_id;
	uint32_t flags;
	const char *keywords;
	uint64_t modseq;
	int64_t internaldate;
	uint64_t size;
};

/* Statement helpers: on failure they fail the transaction (and return
 * false / NULL / -1). */
bool w_fail(struct wctx *w, enum store_error err, const char *fmt, ...)
    ATTR_FORMAT(3, 4);
sqlite3_stmt *w_stmt(struct wctx *w, const char *sql);
/* SQLITE_ROW, SQLITE_DONE or -1; a constraint violation maps to
 * constraint_err. */
int w_step_err(struct wctx *w, sqlite3_stmt *stmt,
	       enum store_error constraint_err);
int w_step(struct wctx *w, sqlite3_stmt *stmt);
bool w_done(struct wctx *w, sqlite3_stmt *stmt);
int w_changes(struct wctx *w);

/* Lookups: 1 found, 0 not, -1 failed. */
int w_domain_id(struct wctx *w, const char *domain, int64_t *id_r);
int w_account_id(struct wctx *w, const char *address, int64_t *id_r);
int w_mailbox_by_id(struct wctx *w, int64_t id, struct wmbox *mb);
int w_mailbox_by_name(struct wctx *w, int64_t account_id, const char *name,
		      struct wmbox *mb);
bool w_mailbox_save(struct wctx *w, const struct wmbox *mb);
bool w_account_usage(struct wctx *w, int64_t account_id, int64_t bytes,
		     int64_t messages);
/* The messages of mailbox_id in op's UID ranges (all when NULL). */
bool w_messages_collect(struct wctx *w, int64_t mailbox_id,
			const struct store_op *op, struct wmsg **msgs_r,
			unsigned *count_r);
bool w_body_unref(struct wctx *w, int64_t body_id);
bool w_message_delete(struct wctx *w, int64_t mailbox_id, uint32_t uid,
		      uint64_t modseq);

/* Admin operations (store-sqlite-admin.c). */
bool w_domain_add(struct wctx *w, struct store_op *op);
bool w_domain_del(struct wctx *w, struct store_op *op);
bool w_account_add(struct wctx *w, struct store_op *op);
bool w_account_del(struct wctx *w, struct store_op *op);
bool w_account_update(struct wctx *w, struct store_op *op);
bool w_alias_add(struct wctx *w, struct store_op *op);
bool w_alias_del(struct wctx *w, struct store_op *op);
bool w_mailbox_create(struct wctx *w, struct store_op *op);
bool w_mailbox_rename(struct wctx *w, struct store_op *op);
bool w_mailbox_delete(struct wctx *w, struct store_op *op);
bool w_subscribe_op(struct wctx *w, struct store_op *op);
bool w_claim_recent(struct wctx *w, struct store_op *op);

/* Queue operations (store-sqlite-queue.c). */
bool w_enqueue(struct wctx *w, struct store_op *op);
bool w_queue_update(struct wctx *w, struct store_op *op);
bool w_queue_delete(struct wctx *w, struct store_op *op);
bool w_queue_reschedule(struct wctx *w, struct store_op *op);
/* DMARC report rows (store-sqlite-dmarc.c). */
bool w_dmarc_record(struct wctx *w, struct store_op *op);
bool w_dmarc_period_close(struct wctx *w, struct store_op *op);
bool w_dmarc_report_done(struct wctx *w, struct store_op *op);
/* Bodies (store-sqlite-write.c). */
bool w_body_insert(struct wctx *w, const struct store_new_body *b,
		   int64_t refcount, int64_t *id_r);
bool w_body_ref(struct wctx *w, int64_t body_id, int64_t delta);

#endif
