/* SPDX-License-Identifier: MIT */
#include "lib.h"
#include "pool.h"
#include "store-sqlite-write.h"

/* The writer's outbound queue operations. A queue message holds one
 * reference on its body, like a mailbox message. */

/* RFC 5321 4.5.3.1.3: a path is at most 256 octets. */
#define QUEUE_ADDRESS_MAX 256

static bool w_queue_address_valid(const char *address, bool empty_ok)
{
	size_t len = strlen(address);
	if (len == 0)
		return empty_ok;
	if (len > QUEUE_ADDRESS_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = address[i];
		if (c < 0x20 || c == 0x7f)
			return false;
	}
	return true;
}

bool w_enqueue(struct wctx *w, struct store_op *op)
{
	if (op->qrcpt_count == 0)
		return w_fail(w, STORE_ERR_INVALID, "no recipients to queue");
	if (!w_queue_address_valid(op->env.sender, true))
		return w_fail(w, STORE_ERR_INVALID, "invalid sender");
	for (unsigned i = 0; i < op->qrcpt_count; i++) {
		if (op->qrcpts[i].address == NULL ||
		    !w_queue_address_valid(op->qrcpts[i].address, false))
			return w_fail(w, STORE_ERR_INVALID,
				      "invalid queue recipient");
	}

	int64_t body_id;
	uint64_t size;
	if (op->shared_body) {
		const struct store_op *src = &w->txn->ops[op->body_op];
		if (src->stored_body_id == 0)
			return w_fail(w, STORE_ERR_INVALID,
				      "the shared operation stored no body");
		body_id = src->stored_body_id;
		size = src->body.size;
		if (!w_body_ref(w, body_id, 1))
			return false;
	} else {
		if (!w_body_insert(w, &op->body, 1, &body_id))
			return false;
		size = op->body.size;
	}
	op->stored_body_id = body_id;

	sqlite3_stmt *stmt =
	    w_stmt(w, "INSERT INTO queue_message(body_id, sender, envid, ret, "
		      "body_type, smtputf8, account_id, size, created) "
		      "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)");
	if (stmt == NULL)
		return false;
	sqlite3_bind_int64(stmt, 1, body_id);
	sqlite3_bind_text(stmt, 2, op->env.sender, -1, SQLITE_STATIC);
	if (op->env.envid != NULL)
		sqlite3_bind_text(stmt, 3, op->env.envid, -1, SQLITE_STATIC);
	sqlite3_bind_int(stmt, 4, op->env.ret);
	sqlite3_bind_int(stmt, 5, op->env.body_type);
	sqlite3_bind_int(stmt, 6, op->env.smtputf8 ? 1 : 0);
	sqlite3_bind_int64(stmt, 7, op->env.account_id);
	sqlite3_bind_int64(stmt, 8, (int64_t)size);
	sqlite3_bind_int64(stmt, 9, (int64_t)time(NULL));
	if (!w_done(w, stmt))
		return false;
	int64_t queue_id = sqlite3_last_insert_rowid(w->conn->db);

	stmt = w_stmt(w, "INSERT INTO queue_recipient(queue_id, address, "
			 "orcpt, notify) VALUES(?1, ?2, ?3, ?4)");
	if (stmt == NULL)
		return false;
	for (unsigned i = 0; i < op->qrcpt_count; i++) {
		sqlite3_reset(stmt);
		sqlite3_clear_bindings(stmt);
		sqlite3_bind_int64(stmt, 1, queue_id);
		sqlite3_bind_text(stmt, 2, op->qrcpts[i].address, -1,
				  SQLITE_STATIC);
		if (op->qrcpts[i].orcpt != NULL)
			sqlite3_bind_text(stmt, 3, op->qrcpts[i].orcpt, -1,
					  SQLITE_STATIC);
		sqlite3_bind_int(stmt, 4, (int)op->qrcpts[i].notify);
		if (!w_done(w, stmt))
			return false;
	}
	op->result.id = queue_id;
	op->result.count = op->qrcpt_count;
	return true;
}

/* Removes a queue message, its recipients and its body reference.
 * 1 done, 0 no such message, -1 failed. */
static int w_queue_remove(struct wctx *w, int64_t queue_id)
{
	sqlite3_stmt *stmt =
	    w_stmt(w, "SELECT body_id FROM queue_message WHERE id=?1");
	if (stmt == NULL)
		return -1;
	sqlite3_bind_int64(stmt, 1, queue_id);
	int rc = w_step(w, stmt);
	if (rc < 0)
		return -1;
	if (rc == SQLITE_DONE) {
		sqlite3_reset(stmt);
		return 0;
	}
	int64_t body_id = sqlite3_column_int64(stmt, 0);
	sqlite3_reset(stmt);

	static const char *const sqls[] = {
	    "DELETE FROM queue_recipient WHERE queue_id=?1",
	    "DELETE FROM queue_message WHERE id=?1",
	};
	for (unsigned i = 0; i < N_ELEMENTS(sqls); i++) {
		stmt = w_stmt(w, sqls[i]);
		if (stmt == NULL)
			return -1;
		sqlite3_bind_int64(stmt, 1, queue_id);
		if (!w_done(w, stmt))
			return -1;
	}
	return w_body_unref(w, body_id) ? 1 : -1;
}

bool w_queue_update(struct wctx *w, struct store_op *op)
{
	enum store_queue_state state = op->flags;
	if (state > STORE_QUEUE_FAILED)
		return w_fail(w, STORE_ERR_INVALID, "invalid queue state");
	sqlite3_stmt *stmt =
	    w_stmt(w, "UPDATE queue_recipient SET state=?2, next_attempt=?3, "
		      "last_error=?4, attempts=attempts+1, "
		      "last_attempt=CAST(strftime('%s','now') AS INTEGER) "
		      "WHERE id=?1 RETURNING queue_id");
	if (stmt == NULL)
		return false;
	sqlite3_bind_int64(stmt, 1, op->rcpt_id);
	sqlite3_bind_int(stmt, 2, state);
	sqlite3_bind_int64(stmt, 3, op->internaldate);
	sqlite3_bind_text(stmt, 4, op->s1, -1, SQLITE_STATIC);
	int rc = w_step(w, stmt);
	if (rc < 0)
		return false;
	if (rc == SQLITE_DONE) {
		sqlite3_reset(stmt);
		return w_fail(w, STORE_ERR_NOT_FOUND,
			      "no such queue recipient");
	}
	int64_t queue_id = sqlite3_column_int64(stmt, 0);
	while (rc == SQLITE_ROW)
		rc = sqlite3_step(stmt);
	sqlite3_reset(stmt);
	op->result.id = queue_id;
	if (state == STORE_QUEUE_PENDING)
		return true;

	/* The last final recipient takes the message with it. */
	stmt = w_stmt(w, "SELECT EXISTS(SELECT 1 FROM queue_recipient WHERE "
			 "queue_id=?1 AND state=0)");
	if (stmt == NULL)
		return false;
	sqlite3_bind_int64(stmt, 1, queue_id);
	if (w_step(w, stmt) != SQLITE_ROW)
		return false;
	bool pending = sqlite3_column_int(stmt, 0) != 0;
	sqlite3_reset(stmt);
	if (pending)
		return true;
	return w_queue_remove(w, queue_id) >= 0;
}

bool w_queue_delete(struct wctx *w, struct store_op *op)
{
	int ret = w_queue_remove(w, op->queue_id);
	if (ret == 0)
		return w_fail(w, STORE_ERR_NOT_FOUND, "no such queued message");
	return ret > 0;
}

bool w_queue_reschedule(struct wctx *w, struct store_op *op)
{
	if (op->queue_id != 0) {
		sqlite3_stmt *stmt =
		    w_stmt(w, "SELECT 1 FROM queue_message WHERE id=?1");
		if (stmt == NULL)
			return false;
		sqlite3_bind_int64(stmt, 1, op->queue_id);
		int rc = w_step(w, stmt);
		sqlite3_reset(stmt);
		if (rc < 0)
			return false;
		if (rc == SQLITE_DONE)
			return w_fail(w, STORE_ERR_NOT_FOUND,
				      "no such queued message");
	}
	/* Only the schedule changes: the attempt count drives the backoff
	 * and must survive an early retry. */
	sqlite3_stmt *stmt =
	    w_stmt(w, "UPDATE queue_recipient SET next_attempt=?2 WHERE "
		      "state=0 AND next_attempt>?2 AND (?1=0 OR queue_id=?1)");
	if (stmt == NULL)
		return false;
	sqlite3_bind_int64(stmt, 1, op->queue_id);
	sqlite3_bind_int64(stmt, 2, (int64_t)op->internaldate);
	if (!w_done(w, stmt))
		return false;
	op->result.count = (unsigned)w_changes(w);
	op->result.id = op->queue_id;
	return true;
}
