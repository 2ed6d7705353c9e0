/* SPDX-License-Identifier: MIT */
#include "lib.h"
#include "pool.h"
#include "strutil.h"
#include "store-sqlite.h"
#include "store-sqlite-write.h"

/* The writer thread's side: each transaction of a batch runs inside its own
 * SAVEPOINT, so one failing transaction rolls back alone while the batch
 * still commits with one sync. */

/* ------------------------------------------------------------------ */
/* Statement helpers: on failure they fail the transaction. */

bool w_fail(struct wctx *w, enum store_error err, const char *fmt, ...)
{
	char text[512];
	va_list args;
	va_start(args, fmt);
	vsnprintf(text, sizeof(text), fmt, args);
	va_end(args);
	store_txn_fail(w->txn, err, "%s", text);
	return false;
}

sqlite3_stmt *w_stmt(struct wctx *w, const char *sql)
{
	const char *error;
	sqlite3_stmt *stmt = sqlite_conn_stmt(w->conn, sql, &error);
	if (stmt == NULL)
		w_fail(w, STORE_ERR_TEMP, "%s", error);
	return stmt;
}

/* SQLITE_ROW, SQLITE_DONE, or -1 with the transaction failed. A
 * constraint violation maps to constraint_err. */
int w_step_err(struct wctx *w, sqlite3_stmt *stmt,
	       enum store_error constraint_err)
{
	int rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW || rc == SQLITE_DONE)
		return rc;
	enum store_error err = sqlite_store_error(rc);
	if (err == STORE_ERR_EXISTS)
		err = constraint_err;
	w_fail(w, err, "%s", sqlite_conn_errmsg(w->conn, rc));
	sqlite3_reset(stmt);
	/* Some errors (disk full, I/O) make SQLite roll back the whole
	 * transaction; the batch cannot commit then. */
	if (sqlite3_get_autocommit(w->conn->db)) {
		w->ss->batch_broken = true;
		w->ss->batch_error = err == STORE_ERR_DISK_FULL
					 ? STORE_ERR_DISK_FULL
					 : STORE_ERR_TEMP;
	}
	return -1;
}

int w_step(struct wctx *w, sqlite3_stmt *stmt)
{
	return w_step_err(w, stmt, STORE_ERR_TEMP);
}

/* Runs a statement to completion: true on success. */
bool w_done(struct wctx *w, sqlite3_stmt *stmt)
{
	int rc = w_step(w, stmt);
	sqlite3_reset(stmt);
	return rc == SQLITE_DONE || rc == SQLITE_ROW;
}

int w_changes(struct wctx *w)
{
	return sqlite3_changes(w->conn->db);
}

/* ------------------------------------------------------------------ */
/* Lookups inside the writer's transaction */

int w_domain_id(struct wctx *w, const char *domain, int64_t *id_r)
{
	sqlite3_stmt *stmt = w_stmt(w, "SELECT id FROM domain WHERE name=?1");
	if (stmt == NULL)
		return -1;
	sqlite3_bind_text(stmt, 1, domain, -1, SQLITE_STATIC);
	int rc = w_step(w, stmt);
	if (rc == SQLITE_ROW)
		*id_r = sqlite3_column_int64(stmt, 0);
	sqlite3_reset(stmt);
	return rc < 0 ? -1 : rc == SQLITE_ROW ? 1 : 0;
}

int w_account_id(struct wctx *w, const char *address, int64_t *id_r)
{
	sqlite3_stmt *stmt =
	    w_stmt(w, "SELECT id FROM account WHERE address=?1");
	if (stmt == NULL)
		return -1;
	sqlite3_bind_text(stmt, 1, address, -1, SQLITE_STATIC);
	int rc = w_step(w, stmt);
	if (rc == SQLITE_ROW)
		*id_r = sqlite3_column_int64(stmt, 0);
	sqlite3_reset(stmt);
	return rc < 0 ? -1 : rc == SQLITE_ROW ? 1 : 0;
}

#define WMBOX_COLS                                                             \
	"id, account_id, uidvalidity, uidnext, highestmodseq, messages, "      \
	"unseen, size"

static void w_mailbox_row(sqlite3_stmt *stmt, struct wmbox *mb)
{
	mb->id = sqlite3_column_int64(stmt, 0);
	mb->account_id = sqlite3_column_int64(stmt, 1);
	mb->uidvalidity = sqlite3_column_int64(stmt, 2);
	mb->uidnext = sqlite3_column_int64(stmt, 3);
	mb->modseq = sqlite3_column_int64(stmt, 4);
	mb->messages = sqlite3_column_int64(stmt, 5);
	mb->unseen = sqlite3_column_int64(stmt, 6);
	mb->size = sqlite3_column_int64(stmt, 7);
}

int w_mailbox_by_id(struct wctx *w, int64_t id, struct wmbox *mb)
{
	sqlite3_stmt *stmt =
	    w_stmt(w, "SELECT " WMBOX_COLS " FROM mailbox WHERE id=?1");
	if (stmt == NULL)
		return -1;
	sqlite3_bind_int64(stmt, 1, id);
	int rc = w_step(w, stmt);
	if (rc == SQLITE_ROW)
		w_mailbox_row(stmt, mb);
	sqlite3_reset(stmt);
	return rc < 0 ? -1 : rc == SQLITE_ROW ? 1 : 0;
}

int w_mailbox_by_name(struct wctx *w, int64_t account_id, const char *name,
		      struct wmbox *mb)
{
	sqlite3_stmt *stmt = w_stmt(w, "SELECT " WMBOX_COLS " FROM mailbox "
				       "WHERE account_id=?1 AND name=?2");
	if (stmt == NULL)
		return -1;
	sqlite3_bind_int64(stmt, 1, account_id);
	sqlite3_bind_text(stmt, 2, name, -1, SQLITE_STATIC);
	int rc = w_step(w, stmt);
	if (rc == SQLITE_ROW)
		w_mailbox_row(stmt, mb);
	sqlite3_reset(stmt);
	return rc < 0 ? -1 : rc == SQLITE_ROW ? 1 : 0;
}

/* Writes back a mailbox's counters after changes made in memory. */
bool w_mailbox_save(struct wctx *w, const struct wmbox *mb)
{
	sqlite3_stmt *stmt =
	    w_stmt(w, "UPDATE mailbox SET uidnext=?2, highestmodseq=?3, "
		      "messages=?4, unseen=?5, size=?6 WHERE id=?1");
	if (stmt == NULL)
		return false;
	sqlite3_bind_int64(stmt, 1, mb->id);
	sqlite3_bind_int64(stmt, 2, (int64_t)mb->uidnext);
	sqlite3_bind_int64(stmt, 3, (int64_t)mb->modseq);
	sqlite3_bind_int64(stmt, 4, mb->messages);
	sqlite3_bind_int64(stmt, 5, mb->unseen);
	sqlite3_bind_int64(stmt, 6, (int64_t)mb->size);
	return w_done(w, stmt);
}

bool w_account_usage(struct wctx *w, int64_t account_id, int64_t bytes,
		     int64_t messages)
{
	if (bytes == 0 && messages == 0)
		return true;
	sqlite3_stmt *stmt =
	    w_stmt(w, "UPDATE account SET used_bytes=max(0, used_bytes+?2), "
		      "used_messages=max(0, used_messages+?3) WHERE id=?1");
	if (stmt == NULL)
		return false;
	sqlite3_bind_int64(stmt, 1, account_id);
	sqlite3_bind_int64(stmt, 2, bytes);
	sqlite3_bind_int64(stmt, 3, messages);
	return w_done(w, stmt);
}

/* 1 if account_id can take bytes/messages more, 0 if over quota (or the
 * account is gone: *exists_r false), -1 on error. */
static int w_quota_check(struct wctx *w, int64_t account_id, uint64_t bytes,
			 uint64_t messages, bool *exists_r)
{
	sqlite3_stmt *stmt =
	    w_stmt(w, "SELECT quota_bytes, quota_messages, used_bytes, "
		      "used_messages FROM account WHERE id=?1");
	if (stmt == NULL)
		return -1;
	sqlite3_bind_int64(stmt, 1, account_id);
	int rc = w_step(w, stmt);
	if (rc < 0)
		return -1;
	*exists_r = rc == SQLITE_ROW;
	int ret = 0;
	if (rc == SQLITE_ROW) {
		uint64_t qb = sqlite3_column_int64(stmt, 0);
		uint64_t qm = sqlite3_column_int64(stmt, 1);
		uint64_t ub = sqlite3_column_int64(stmt, 2);
		uint64_t um = sqlite3_column_int64(stmt, 3);
		ret = (qb == 0 || ub + bytes <= qb) &&
		      (qm == 0 || um + messages <= qm);
	}
	sqlite3_reset(stmt);
	return ret;
}

/* ------------------------------------------------------------------ */
/* Bodies and messages */

bool w_body_insert(struct wctx *w, const struct store_new_body *b,
		   int64_t refcount, int64_t *id_r)
{
	i_assert(b->parsed);
	sqlite3_stmt *stmt =
	    w_stmt(w, "INSERT INTO body(refcount, size, header_size, lines, "
		      "envelope, bodystructure, body, path, data) "
		      "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)");
	if (stmt == NULL)
		return false;
	sqlite3_bind_int64(stmt, 1, refcount);
	sqlite3_bind_int64(stmt, 2, (int64_t)b->size);
	sqlite3_bind_int64(stmt, 3, (int64_t)b->header_size);
	sqlite3_bind_int64(stmt, 4, (int64_t)b->lines);
	sqlite3_bind_text(stmt, 5, b->envelope, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 6, b->bodystructure, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 7, b->body, -1, SQLITE_STATIC);
	if (b->file_name != NULL) {
		sqlite3_bind_text(stmt, 8, b->file_name, -1, SQLITE_STATIC);
		sqlite3_bind_null(stmt, 9);
	} else {
		sqlite3_bind_null(stmt, 8);
		sqlite3_bind_blob64(stmt, 9, b->data, b->size, SQLITE_STATIC);
	}
	if (!w_done(w, stmt))
		return false;
	*id_r = sqlite3_last_insert_rowid(w->conn->db);
	if (b->search_headers[0] == '\0')
		return true;
	stmt = w_stmt(w, "INSERT INTO body_search(body_id, headers) "
			 "VALUES(?1, ?2)");
	if (stmt == NULL)
		return false;
	sqlite3_bind_int64(stmt, 1, *id_r);
	sqlite3_bind_text(stmt, 2, b->search_headers, -1, SQLITE_STATIC);
	return w_done(w, stmt);
}

bool w_body_ref(struct wctx *w, int64_t body_id, int64_t delta)
{
	sqlite3_stmt *stmt =
	    w_stmt(w, "UPDATE body SET refcount=refcount+?2 WHERE id=?1");
	if (stmt == NULL)
		return false;
	sqlite3_bind_int64(stmt, 1, body_id);
	sqlite3_bind_int64(stmt, 2, delta);
	return w_done(w, stmt);
}

/* Drops one reference; the last one deletes the row, and the body file
 * (if any) is unlinked once the batch has committed. */
bool w_body_unref(struct wctx *w, int64_t body_id)
{
	sqlite3_stmt *stmt =
	    w_stmt(w, "UPDATE body SET refcount=refcount-1 WHERE id=?1 "
		      "RETURNING refcount, path");
	if (stmt == NULL)
		return false;
	sqlite3_bind_int64(stmt, 1, body_id);
	int rc = w_step(w, stmt);
	if (rc < 0)
		return false;
	if (rc == SQLITE_DONE) {
		sqlite3_reset(stmt);
		return true; /* already gone: nothing to free */
	}
	int64_t refcount = sqlite3_column_int64(stmt, 0);
	const char *path = (const char *)sqlite3_column_text(stmt, 1);
	char *path_copy = path == NULL ? NULL : i_strdup(path);
	/* Finish the RETURNING statement before the next write. */
	while (rc == SQLITE_ROW)
		rc = sqlite3_step(stmt);
	sqlite3_reset(stmt);
	if (refcount > 0) {
		i_free(path_copy);
		return true;
	}
	static const char *const deletes[] = {
	    "DELETE FROM body WHERE id=?1",
	    "DELETE FROM body_search WHERE body_id=?1",
	};
	for (unsigned i = 0; i < N_ELEMENTS(deletes); i++) {
		stmt = w_stmt(w, deletes[i]);
		if (stmt == NULL) {
			i_free(path_copy);
			return false;
		}
		sqlite3_bind_int64(stmt, 1, body_id);
		if (!w_done(w, stmt)) {
			i_free(path_copy);
			return false;
		}
	}
	if (path_copy != NULL) {
		struct sqlite_store *ss = w->ss;
		if (ss->unlink_count == ss->unlink_alloc) {
			ss->unlink_alloc =
			    ss->unlink_alloc == 0 ? 8 : ss->unlink_alloc * 2;
			ss->unlink_paths = i_realloc(
			    ss->unlink_paths,
			    i_size_mul(ss->unlink_alloc, sizeof(char *)));
		}
		ss->unlink_paths[ss->unlink_count++] = path_copy;
	}
	return true;
}

static bool w_message_insert(struct wctx *w, int64_t mailbox_id,
			     const struct wmsg *m)
{
	sqlite3_stmt *stmt =
	    w_stmt(w, "INSERT INTO message(mailbox_id, uid, body_id, flags, "
		      "keywords, modseq, internaldate, size) "
		      "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
	if (stmt == NULL)
		return false;
	sqlite3_bind_int64(stmt, 1, mailbox_id);
	sqlite3_bind_int64(stmt, 2, m->uid);
	sqlite3_bind_int64(stmt, 3, m->body_id);
	sqlite3_bind_int64(stmt, 4, m->flags);
	sqlite3_bind_text(stmt, 5, m->keywords, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 6, (int64_t)m->modseq);
	sqlite3_bind_int64(stmt, 7, m->internaldate);
	sqlite3_bind_int64(stmt, 8, (int64_t)m->size);
	return w_done(w, stmt);
}

bool w_message_delete(struct wctx *w, int64_t mailbox_id, uint32_t uid,
		      uint64_t modseq)
{
	sqlite3_stmt *stmt =
	    w_stmt(w, "DELETE FROM message WHERE mailbox_id=?1 AND uid=?2");
	if (stmt == NULL)
		return false;
	sqlite3_bind_int64(stmt, 1, mailbox_id);
	sqlite3_bind_int64(stmt, 2, uid);
	if (!w_done(w, stmt))
		return false;
	stmt = w_stmt(w, "INSERT OR REPLACE INTO expunged(mailbox_id, uid, "
			 "modseq) VALUES(?1, ?2, ?3)");
	if (stmt == NULL)
		return false;
	sqlite3_bind_int64(stmt, 1, mailbox_id);
	sqlite3_bind_int64(stmt, 2, uid);
	sqlite3_bind_int64(stmt, 3, (int64_t)modseq);
	return w_done(w, stmt);
}

/* Adds a new message to mb (in memory counters too). */
static bool w_mailbox_add(struct wctx *w, struct wmbox *mb, struct wmsg *m)
{
	if (mb->uidnext > UINT32_MAX)
		return w_fail(w, STORE_ERR_INVALID, "mailbox UIDs exhausted");
	m->uid = (uint32_t)mb->uidnext;
	m->modseq = mb->modseq;
	if (!w_message_insert(w, mb->id, m))
		return false;
	mb->uidnext++;
	mb->messages++;
	if ((m->flags & STORE_FLAG_SEEN) == 0)
		mb->unseen++;
	mb->size += m->size;
	store_txn_add_change(w->txn, mb->id, STORE_CHANGE_NEW, m->uid,
			     m->modseq, m->flags,
			     pool_strdup(w->txn->result_pool, m->keywords));
	return true;
}

static int w_range_cmp(const void *a, const void *b)
{
	const struct store_uid_range *ra = a, *rb = b;
	return ra->first < rb->first ? -1 : ra->first > rb->first ? 1 : 0;
}

/* Sorts and merges ranges; NULL means every UID. */
static struct store_uid_range *
w_ranges_normalize(struct wctx *w, const struct store_op *op, unsigned *count_r)
{
	struct store_uid_range *r;
	if (op->ranges == NULL) {
		r = p_new(w->scratch, struct store_uid_range, 1);
		r->first = 1;
		r->last = UINT32_MAX;
		*count_r = 1;
		return r;
	}
	r = p_new(w->scratch, struct store_uid_range, op->range_count + 1);
	unsigned n = 0;
	for (unsigned i = 0; i < op->range_count; i++) {
		uint32_t a = op->ranges[i].first, b = op->ranges[i].last;
		if (a > b) {
			uint32_t t = a;
			a = b;
			b = t;
		}
		if (b == 0)
			continue;
		r[n].first = a == 0 ? 1 : a;
		r[n].last = b;
		n++;
	}
	/* A client decides how many ranges there are: no quadratic sort. */
	qsort(r, n, sizeof(*r), w_range_cmp);
	unsigned m = 0;
	for (unsigned i = 0; i < n; i++) {
		if (m > 0 && (uint64_t)r[m - 1].last + 1 >= r[i].first) {
			if (r[i].last > r[m - 1].last)
				r[m - 1].last = r[i].last;
		} else {
			r[m++] = r[i];
		}
	}
	*count_r = m;
	return r;
}

/* Loads the messages of mailbox_id within the op's ranges, in UID order. */
bool w_messages_collect(struct wctx *w, int64_t mailbox_id,
			const struct store_op *op, struct wmsg **msgs_r,
			unsigned *count_r)
{
	unsigned range_count;
	struct store_uid_range *ranges =
	    w_ranges_normalize(w, op, &range_count);
	struct wmsg *msgs = NULL;
	unsigned count = 0, alloc = 0;
	sqlite3_stmt *stmt =
	    w_stmt(w, "SELECT uid, body_id, flags, keywords, modseq, "
		      "internaldate, size FROM message WHERE mailbox_id=?1 AND "
		      "uid>=?2 AND uid<=?3 ORDER BY uid");
	if (stmt == NULL)
		return false;
	for (unsigned i = 0; i < range_count; i++) {
		sqlite3_reset(stmt);
		sqlite3_bind_int64(stmt, 1, mailbox_id);
		sqlite3_bind_int64(stmt, 2, ranges[i].first);
		sqlite3_bind_int64(stmt, 3, ranges[i].last);
		int rc;
		while ((rc = w_step(w, stmt)) == SQLITE_ROW) {
			if (count == alloc) {
				unsigned n = alloc == 0 ? 64 : alloc * 2;
				struct wmsg *nm =
				    p_new(w->scratch, struct wmsg, n);
				if (count > 0)
					memcpy(nm, msgs, sizeof(*msgs) * count);
				msgs = nm;
				alloc = n;
			}
			struct wmsg *m = &msgs[count++];
			m->uid = sqlite3_column_int64(stmt, 0);
			m->body_id = sqlite3_column_int64(stmt, 1);
			m->flags = sqlite3_column_int(stmt, 2);
			m->keywords = sqlite_column_pstr(w->scratch, stmt, 3);
			m->modseq = sqlite3_column_int64(stmt, 4);
			m->internaldate = sqlite3_column_int64(stmt, 5);
			m->size = sqlite3_column_int64(stmt, 6);
		}
		if (rc < 0)
			return false;
	}
	sqlite3_reset(stmt);
	*msgs_r = msgs;
	*count_r = count;
	return true;
}

/* ------------------------------------------------------------------ */
/* Messages */

static bool w_deliver(struct wctx *w, struct store_op *op)
{
	struct store_op_result *res = &op->result;
	uint32_t *uids =
	    p_new(w->txn->result_pool, uint32_t, op->rcpt_count + 1);
	enum store_error *errs =
	    p_new(w->txn->result_pool, enum store_error, op->rcpt_count + 1);
	res->uids = uids;
	res->rcpt_errors = errs;
	res->count = op->rcpt_count;

	int64_t body_id = 0, refs = 0, initial_refs = 0;
	enum store_error first_err = STORE_OK;
	for (unsigned i = 0; i < op->rcpt_count; i++) {
		const struct store_delivery_rcpt *rcpt = &op->rcpts[i];
		bool exists;
		int ret = w_quota_check(w, rcpt->account_id, op->body.size, 1,
					&exists);
		if (ret < 0)
			return false;
		if (!exists || ret == 0) {
			errs[i] =
			    exists ? STORE_ERR_OVER_QUOTA : STORE_ERR_NOT_FOUND;
			if (first_err == STORE_OK)
				first_err = errs[i];
			continue;
		}
		const char *kw = store_keywords_normalize(
		    w->scratch, rcpt->keywords == NULL ? "" : rcpt->keywords);
		if (kw == NULL)
			kw = "";
		struct wmbox mb;
		ret = 0;
		if (rcpt->mailbox != NULL)
			ret = w_mailbox_by_name(w, rcpt->account_id,
						store_mailbox_name_canonical(
						    w->scratch, rcpt->mailbox),
						&mb);
		if (ret == 0)
			ret = w_mailbox_by_name(w, rcpt->account_id, "INBOX",
						&mb);
		if (ret < 0)
			return false;
		if (ret == 0) {
			errs[i] = STORE_ERR_NOT_FOUND;
			if (first_err == STORE_OK)
				first_err = errs[i];
			continue;
		}
		if (body_id == 0) {
			/* Counted as if every remaining recipient gets it;
			 * corrected below only when some did not. */
			initial_refs = op->rcpt_count - i;
			if (!w_body_insert(w, &op->body, initial_refs,
					   &body_id))
				return false;
			op->stored_body_id = body_id;
		}
		struct wmsg m = {
		    .body_id = body_id,
		    .flags = rcpt->flags & STORE_FLAGS_ALL,
		    .keywords = kw,
		    .internaldate = op->internaldate,
		    .size = op->body.size,
		};
		mb.modseq++;
		if (!w_mailbox_add(w, &mb, &m) || !w_mailbox_save(w, &mb) ||
		    !w_account_usage(w, rcpt->account_id,
				     (int64_t)op->body.size, 1))
			return false;
		uids[i] = m.uid;
		res->modseq = m.modseq;
		refs++;
	}
	if (refs == 0)
		return w_fail(
		    w, first_err == STORE_OK ? STORE_ERR_INVALID : first_err,
		    "no recipient could receive the message: %s",
		    first_err == STORE_OK ? "no recipients"
					  : store_error_str(first_err));
	return refs == initial_refs ||
	       w_body_ref(w, body_id, refs - initial_refs);
}

static bool w_append(struct wctx *w, struct store_op *op)
{
	struct wmbox mb;
	int ret = w_mailbox_by_id(w, op->mailbox_id, &mb);
	if (ret <= 0)
		return ret < 0
			   ? false
			   : w_fail(w, STORE_ERR_NOT_FOUND, "no such mailbox");
	const char *kw = store_keywords_normalize(
	    w->scratch, op->keywords == NULL ? "" : op->keywords);
	if (kw == NULL)
		return w_fail(w, STORE_ERR_INVALID, "invalid keywords");
	bool exists;
	ret = w_quota_check(w, mb.account_id, op->body.size, 1, &exists);
	if (ret < 0)
		return false;
	if (ret == 0)
		return w_fail(
		    w, exists ? STORE_ERR_OVER_QUOTA : STORE_ERR_NOT_FOUND,
		    "%s", exists ? "quota exceeded" : "no such account");
	int64_t body_id;
	if (!w_body_insert(w, &op->body, 1, &body_id))
		return false;
	op->stored_body_id = body_id;
	struct wmsg m = {
	    .body_id = body_id,
	    .flags = op->flags & STORE_FLAGS_ALL,
	    .keywords = kw,
	    .internaldate = op->internaldate,
	    .size = op->body.size,
	};
	mb.modseq++;
	if (!w_mailbox_add(w, &mb, &m) || !w_mailbox_save(w, &mb) ||
	    !w_account_usage(w, mb.account_id, (int64_t)op->body.size, 1))
		return false;
	op->result.uidvalidity = mb.uidvalidity;
	op->result.uid = m.uid;
	op->result.modseq = m.modseq;
	uint32_t *uids = p_new(w->txn->result_pool, uint32_t, 1);
	uids[0] = m.uid;
	op->result.uids = uids;
	op->result.count = 1;
	return true;
}

static bool w_copy(struct wctx *w, struct store_op *op)
{
	struct wmbox src, dst;
	int ret = w_mailbox_by_id(w, op->mailbox_id, &src);
	if (ret > 0)
		ret = w_mailbox_by_id(w, op->dst_mailbox_id, &dst);
	if (ret <= 0)
		return ret < 0
			   ? false
			   : w_fail(w, STORE_ERR_NOT_FOUND, "no such mailbox");
	struct wmsg *msgs;
	unsigned count;
	if (!w_messages_collect(w, src.id, op, &msgs, &count))
		return false;
	op->result.uidvalidity = dst.uidvalidity;
	if (count == 0)
		return true;

	uint64_t bytes = 0;
	for (unsigned i = 0; i < count; i++)
		bytes += msgs[i].size;
	bool same_account = src.account_id == dst.account_id;
	if (!(op->b && same_account)) {
		bool exists;
		ret = w_quota_check(w, dst.account_id, bytes, count, &exists);
		if (ret < 0)
			return false;
		if (ret == 0)
			return w_fail(w, STORE_ERR_OVER_QUOTA,
				      "quota exceeded");
	}
	if (src.id == dst.id && op->b)
		return w_fail(w, STORE_ERR_INVALID,
			      "cannot move messages into their own mailbox");

	uint32_t *src_uids = p_new(w->txn->result_pool, uint32_t, count);
	uint32_t *new_uids = p_new(w->txn->result_pool, uint32_t, count);
	dst.modseq++;
	for (unsigned i = 0; i < count; i++) {
		struct wmsg m = msgs[i];
		src_uids[i] = m.uid;
		if (!w_mailbox_add(w, &dst, &m))
			return false;
		new_uids[i] = m.uid;
		if (!op->b && !w_body_ref(w, m.body_id, 1))
			return false;
	}
	if (!w_mailbox_save(w, &dst))
		return false;
	/* A copy within one mailbox changed its counters: reload src. */
	if (src.id == dst.id)
		src = dst;
	if (op->b) {
		src.modseq++;
		for (unsigned i = 0; i < count; i++) {
			if (!w_message_delete(w, src.id, msgs[i].uid,
					      src.modseq))
				return false;
			src.messages--;
			if ((msgs[i].flags & STORE_FLAG_SEEN) == 0)
				src.unseen--;
			src.size -= msgs[i].size;
			store_txn_add_change(w->txn, src.id,
					     STORE_CHANGE_EXPUNGE, msgs[i].uid,
					     src.modseq, 0, NULL);
		}
		if (!w_mailbox_save(w, &src))
			return false;
		if (!same_account &&
		    !w_account_usage(w, src.account_id, -(int64_t)bytes,
				     -(int64_t)count))
			return false;
	}
	if (!(op->b && same_account) &&
	    !w_account_usage(w, dst.account_id, (int64_t)bytes, count))
		return false;
	op->result.count = count;
	op->result.src_uids = src_uids;
	op->result.uids = new_uids;
	op->result.modseq = dst.modseq;
	op->result.src_modseq = op->b ? src.modseq : 0;
	return true;
}

static bool w_flags(struct wctx *w, struct store_op *op)
{
	struct wmbox mb;
	int ret = w_mailbox_by_id(w, op->mailbox_id, &mb);
	if (ret <= 0)
		return ret < 0
			   ? false
			   : w_fail(w, STORE_ERR_NOT_FOUND, "no such mailbox");
	if (op->keywords != NULL &&
	    store_keywords_normalize(w->scratch, op->keywords) == NULL)
		return w_fail(w, STORE_ERR_INVALID, "invalid keywords");
	struct wmsg *msgs;
	unsigned count;
	if (!w_messages_collect(w, mb.id, op, &msgs, &count))
		return false;
	uint32_t *changed = p_new(w->txn->result_pool, uint32_t, count + 1);
	uint32_t *modified = p_new(w->txn->result_pool, uint32_t, count + 1);
	unsigned changed_count = 0, modified_count = 0;
	uint64_t modseq = mb.modseq + 1;
	sqlite3_stmt *stmt = NULL;

	for (unsigned i = 0; i < count; i++) {
		struct wmsg *m = &msgs[i];
		/* RFC 7162 3.1.3: UNCHANGEDSINCE */
		if (op->unchangedsince > 0 && m->modseq > op->unchangedsince) {
			modified[modified_count++] = m->uid;
			continue;
		}
		uint32_t flags = m->flags;
		switch (op->mode) {
		case STORE_FLAGS_REPLACE:
			flags = op->flags;
			break;
		case STORE_FLAGS_ADD:
			flags |= op->flags;
			break;
		case STORE_FLAGS_REMOVE:
			flags &= ~op->flags;
			break;
		}
		const char *kw = m->keywords;
		if (op->keywords != NULL)
			kw = store_keywords_apply(w->scratch, m->keywords,
						  op->mode, op->keywords);
		if (kw == NULL)
			return w_fail(w, STORE_ERR_INVALID,
				      "too many keywords");
		if (flags == m->flags && strcmp(kw, m->keywords) == 0)
			continue;
		if (stmt == NULL) {
			stmt = w_stmt(w, "UPDATE message SET flags=?3, "
					 "keywords=?4, modseq=?5 WHERE "
					 "mailbox_id=?1 AND uid=?2");
			if (stmt == NULL)
				return false;
		}
		sqlite3_reset(stmt);
		sqlite3_bind_int64(stmt, 1, mb.id);
		sqlite3_bind_int64(stmt, 2, m->uid);
		sqlite3_bind_int64(stmt, 3, flags);
		sqlite3_bind_text(stmt, 4, kw, -1, SQLITE_STATIC);
		sqlite3_bind_int64(stmt, 5, (int64_t)modseq);
		if (!w_done(w, stmt))
			return false;
		bool was_seen = (m->flags & STORE_FLAG_SEEN) != 0;
		bool is_seen = (flags & STORE_FLAG_SEEN) != 0;
		if (was_seen && !is_seen)
			mb.unseen++;
		else if (!was_seen && is_seen)
			mb.unseen--;
		changed[changed_count++] = m->uid;
		store_txn_add_change(w->txn, mb.id, STORE_CHANGE_FLAGS, m->uid,
				     modseq, flags,
				     pool_strdup(w->txn->result_pool, kw));
	}
	if (changed_count > 0) {
		mb.modseq = modseq;
		if (!w_mailbox_save(w, &mb))
			return false;
	}
	op->result.count = changed_count;
	op->result.uids = changed;
	op->result.modified_count = modified_count;
	op->result.modified_uids = modified;
	op->result.modseq = mb.modseq;
	return true;
}

static bool w_expunge(struct wctx *w, struct store_op *op)
{
	struct wmbox mb;
	int ret = w_mailbox_by_id(w, op->mailbox_id, &mb);
	if (ret <= 0)
		return ret < 0
			   ? false
			   : w_fail(w, STORE_ERR_NOT_FOUND, "no such mailbox");
	struct wmsg *msgs;
	unsigned count;
	if (!w_messages_collect(w, mb.id, op, &msgs, &count))
		return false;
	uint32_t *uids = p_new(w->txn->result_pool, uint32_t, count + 1);
	unsigned n = 0;
	uint64_t bytes = 0;
	uint64_t modseq = mb.modseq + 1;
	for (unsigned i = 0; i < count; i++) {
		struct wmsg *m = &msgs[i];
		if (op->b && (m->flags & STORE_FLAG_DELETED) == 0)
			continue;
		if (!w_message_delete(w, mb.id, m->uid, modseq) ||
		    !w_body_unref(w, m->body_id))
			return false;
		mb.messages--;
		if ((m->flags & STORE_FLAG_SEEN) == 0)
			mb.unseen--;
		mb.size -= m->size;
		bytes += m->size;
		uids[n++] = m->uid;
		store_txn_add_change(w->txn, mb.id, STORE_CHANGE_EXPUNGE,
				     m->uid, modseq, 0, NULL);
	}
	if (n > 0) {
		mb.modseq = modseq;
		if (!w_mailbox_save(w, &mb) ||
		    !w_account_usage(w, mb.account_id, -(int64_t)bytes,
				     -(int64_t)n))
			return false;
	}
	op->result.count = n;
	op->result.uids = uids;
	op->result.modseq = mb.modseq;
	return true;
}

/* ------------------------------------------------------------------ */

/* Runs a cached statement outside the transaction's error handling (the
 * savepoint bracket). 0 or -(SQLite result code). */
static int w_exec(struct wctx *w, const char *sql)
{
	const char *error;
	sqlite3_stmt *stmt = sqlite_conn_stmt(w->conn, sql, &error);
	if (stmt == NULL)
		return -SQLITE_ERROR;
	int rc = sqlite3_step(stmt);
	sqlite3_reset(stmt);
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : -rc;
}

static bool w_apply_op(struct wctx *w, struct store_op *op)
{
	switch (op->type) {
	case STORE_OP_DOMAIN_ADD:
		return w_domain_add(w, op);
	case STORE_OP_DOMAIN_DEL:
		return w_domain_del(w, op);
	case STORE_OP_ACCOUNT_ADD:
		return w_account_add(w, op);
	case STORE_OP_ACCOUNT_DEL:
		return w_account_del(w, op);
	case STORE_OP_ACCOUNT_SET_CREDENTIALS:
	case STORE_OP_ACCOUNT_SET_QUOTA:
	case STORE_OP_ACCOUNT_SET_DISABLED:
		return w_account_update(w, op);
	case STORE_OP_ALIAS_ADD:
		return w_alias_add(w, op);
	case STORE_OP_ALIAS_DEL:
		return w_alias_del(w, op);
	case STORE_OP_MAILBOX_CREATE:
		return w_mailbox_create(w, op);
	case STORE_OP_MAILBOX_RENAME:
		return w_mailbox_rename(w, op);
	case STORE_OP_MAILBOX_DELETE:
		return w_mailbox_delete(w, op);
	case STORE_OP_SUBSCRIBE:
		return w_subscribe_op(w, op);
	case STORE_OP_CLAIM_RECENT:
		return w_claim_recent(w, op);
	case STORE_OP_DELIVER:
		return w_deliver(w, op);
	case STORE_OP_APPEND:
		return w_append(w, op);
	case STORE_OP_COPY:
		return w_copy(w, op);
	case STORE_OP_FLAGS:
		return w_flags(w, op);
	case STORE_OP_EXPUNGE:
		return w_expunge(w, op);
	case STORE_OP_ENQUEUE:
		return w_enqueue(w, op);
	case STORE_OP_QUEUE_UPDATE:
		return w_queue_update(w, op);
	case STORE_OP_QUEUE_DELETE:
		return w_queue_delete(w, op);
	case STORE_OP_QUEUE_RESCHEDULE:
		return w_queue_reschedule(w, op);
	case STORE_OP_DMARC_RECORD:
		return w_dmarc_record(w, op);
	case STORE_OP_DMARC_PERIOD_CLOSE:
		return w_dmarc_period_close(w, op);
	case STORE_OP_DMARC_REPORT_DONE:
		return w_dmarc_report_done(w, op);
	}
	i_unreached();
}

void sqlite_store_txn_apply(struct store *store, struct store_txn *txn)
{
	struct sqlite_store *ss = sqlite_store_get(store);
	struct wctx w = {
	    .store = store,
	    .ss = ss,
	    .conn = ss->writer,
	    .txn = txn,
	};
	if (ss->batch_broken) {
		store_txn_fail(txn, ss->batch_error, "batch rolled back: %s",
			       store_error_str(ss->batch_error));
		return;
	}
	int rc = w_exec(&w, "SAVEPOINT txn");
	if (rc < 0) {
		store_txn_fail(txn, sqlite_store_error(-rc), "%s",
			       sqlite_conn_errmsg(ss->writer, -rc));
		return;
	}
	unsigned unlink_mark = ss->unlink_count;
	w.scratch = pool_create("store writer", 4096);
	for (unsigned i = 0; i < txn->op_count; i++) {
		struct store_op *op = &txn->ops[i];
		if (!w_apply_op(&w, op)) {
			i_assert(txn->error != STORE_OK);
			op->result.error = txn->error;
			op->result.error_text = txn->error_text;
			break;
		}
	}
	pool_destroy(&w.scratch);

	if (txn->error == STORE_OK) {
		rc = w_exec(&w, "RELEASE txn");
		if (rc < 0) {
			ss->batch_broken = true;
			store_txn_fail(txn, STORE_ERR_TEMP, "%s",
				       sqlite_conn_errmsg(ss->writer, -rc));
		}
		return;
	}
	if (sqlite3_get_autocommit(ss->writer->db)) {
		ss->batch_broken = true;
	} else if (w_exec(&w, "ROLLBACK TO txn") < 0 ||
		   w_exec(&w, "RELEASE txn") < 0) {
		ss->batch_broken = true;
	}
	while (ss->unlink_count > unlink_mark)
		i_free(ss->unlink_paths[--ss->unlink_count]);
	store_txn_reset_results(txn);
}
