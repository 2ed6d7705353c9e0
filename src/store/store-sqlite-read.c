/* SPDX-License-Identifier: MIT */
#include "lib.h"
#include "pool.h"
#include "store-sqlite.h"

#include <fcntl.h>
#include <unistd.h>

/* Reads run on the caller's thread on a pooled connection. Statements are
 * reset before the connection goes back, so no snapshot outlives a call. */

/* A growable array of fixed-size items, copied into the caller's pool at
 * the end. */
struct sqlite_rows {
	void *items;
	size_t item_size;
	unsigned count, alloc;
};

static void *sqlite_rows_add(struct sqlite_rows *rows)
{
	if (rows->count == rows->alloc) {
		rows->alloc = rows->alloc == 0 ? 16 : rows->alloc * 2;
		rows->items = i_realloc(
		    rows->items, i_size_mul(rows->alloc, rows->item_size));
	}
	void *item = (char *)rows->items + rows->count * rows->item_size;
	rows->count++;
	memset(item, 0, rows->item_size);
	return item;
}

static void *sqlite_rows_finish(struct sqlite_rows *rows, struct pool *pool,
				unsigned *count_r)
{
	void *ret = rows->count == 0
			? pool_alloc(pool, rows->item_size)
			: pool_memdup(pool, rows->items,
				      i_size_mul(rows->count, rows->item_size));
	*count_r = rows->count;
	free(rows->items);
	rows->items = NULL;
	return ret;
}

/* Steps stmt; on an error sets *error_r. SQLITE_ROW, SQLITE_DONE or -1. */
static int sqlite_step(struct sqlite_conn *conn, sqlite3_stmt *stmt,
		       const char **error_r)
{
	int rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW || rc == SQLITE_DONE)
		return rc;
	*error_r = sqlite_conn_errmsg(conn, rc);
	return -1;
}

/* ------------------------------------------------------------------ */
/* Accounts, domains, aliases */

#define ACCOUNT_COLS                                                           \
	"id, address, password_hash, scram_salt, scram_iterations, "           \
	"scram_stored_key, scram_server_key, credentials_serial, "             \
	"quota_bytes, quota_messages, used_bytes, used_messages, disabled"

static void sqlite_account_row(struct pool *pool, sqlite3_stmt *stmt,
			       struct store_account *a)
{
	a->id = sqlite3_column_int64(stmt, 0);
	a->address = sqlite_column_pstr(pool, stmt, 1);
	a->password_hash = sqlite_column_pstr(pool, stmt, 2);
	a->scram_salt = sqlite_column_pstr(pool, stmt, 3);
	a->scram_iterations = sqlite3_column_int(stmt, 4);
	a->scram_stored_key = sqlite_column_pstr(pool, stmt, 5);
	a->scram_server_key = sqlite_column_pstr(pool, stmt, 6);
	a->credentials_serial = sqlite3_column_int64(stmt, 7);
	a->quota_bytes = sqlite3_column_int64(stmt, 8);
	a->quota_messages = sqlite3_column_int64(stmt, 9);
	a->used_bytes = sqlite3_column_int64(stmt, 10);
	a->used_messages = sqlite3_column_int64(stmt, 11);
	a->disabled = sqlite3_column_int(stmt, 12) != 0;
}

int sqlite_store_account_lookup(struct store *store, const char *address,
				int64_t id, struct pool *pool,
				struct store_account **account_r,
				const char **error_r)
{
	const char *norm = NULL;
	if (address != NULL &&
	    !store_address_normalize(pool, address, &norm, NULL, NULL))
		return 0;
	struct sqlite_conn *conn = sqlite_reader_get(store, error_r);
	if (conn == NULL)
		return -1;
	sqlite3_stmt *stmt =
	    norm != NULL ? sqlite_conn_stmt(conn,
					    "SELECT " ACCOUNT_COLS
					    " FROM account WHERE address=?1",
					    error_r)
			 : sqlite_conn_stmt(conn,
					    "SELECT " ACCOUNT_COLS
					    " FROM account WHERE id=?2",
					    error_r);
	int ret = -1;
	if (stmt != NULL) {
		if (norm != NULL)
			sqlite3_bind_text(stmt, 1, norm, -1, SQLITE_STATIC);
		else
			sqlite3_bind_int64(stmt, 2, id);
		int rc = sqlite_step(conn, stmt, error_r);
		if (rc == SQLITE_ROW) {
			*account_r = p_new(pool, struct store_account, 1);
			sqlite_account_row(pool, stmt, *account_r);
			ret = 1;
		} else if (rc == SQLITE_DONE) {
			ret = 0;
		}
		sqlite3_reset(stmt);
	}
	sqlite_reader_put(store, conn);
	return ret;
}

int sqlite_store_account_list(struct store *store, const char *domain,
			      struct pool *pool,
			      struct store_account **accounts_r,
			      unsigned *count_r, const char **error_r)
{
	struct sqlite_conn *conn = sqlite_reader_get(store, error_r);
	if (conn == NULL)
		return -1;
	sqlite3_stmt *stmt =
	    domain != NULL
		? sqlite_conn_stmt(conn,
				   "SELECT " ACCOUNT_COLS
				   " FROM account WHERE domain_id=("
				   "SELECT id FROM domain WHERE "
				   "name=lower(?1)) ORDER BY address",
				   error_r)
		: sqlite_conn_stmt(conn,
				   "SELECT " ACCOUNT_COLS
				   " FROM account ORDER BY address",
				   error_r);
	int ret = -1;
	if (stmt != NULL) {
		struct sqlite_rows rows = {.item_size =
					       sizeof(struct store_account)};
		if (domain != NULL)
			sqlite3_bind_text(stmt, 1, domain, -1, SQLITE_STATIC);
		int rc;
		while ((rc = sqlite_step(conn, stmt, error_r)) == SQLITE_ROW)
			sqlite_account_row(pool, stmt, sqlite_rows_add(&rows));
		sqlite3_reset(stmt);
		*accounts_r = sqlite_rows_finish(&rows, pool, count_r);
		ret = rc == SQLITE_DONE ? 1 : -1;
	}
	sqlite_reader_put(store, conn);
	return ret;
}

/* Runs a one-parameter query whose first column is text and collects it. */
static int sqlite_text_list(struct store *store, const char *sql,
			    const char *param, int64_t iparam,
			    struct pool *pool, const char *const **list_r,
			    unsigned *count_r, const char **error_r)
{
	struct sqlite_conn *conn = sqlite_reader_get(store, error_r);
	if (conn == NULL)
		return -1;
	sqlite3_stmt *stmt = sqlite_conn_stmt(conn, sql, error_r);
	int ret = -1;
	if (stmt != NULL) {
		struct sqlite_rows rows = {.item_size = sizeof(const char *)};
		if (param != NULL)
			sqlite3_bind_text(stmt, 1, param, -1, SQLITE_STATIC);
		else
			sqlite3_bind_int64(stmt, 1, iparam);
		int rc;
		while ((rc = sqlite_step(conn, stmt, error_r)) == SQLITE_ROW) {
			const char **item = sqlite_rows_add(&rows);
			*item = sqlite_column_pstr(pool, stmt, 0);
		}
		sqlite3_reset(stmt);
		*list_r = sqlite_rows_finish(&rows, pool, count_r);
		ret = rc == SQLITE_DONE ? 1 : -1;
	}
	sqlite_reader_put(store, conn);
	return ret;
}

int sqlite_store_domain_list(struct store *store, struct pool *pool,
			     const char *const **domains_r, unsigned *count_r,
			     const char **error_r)
{
	return sqlite_text_list(store,
				"SELECT name FROM domain WHERE ?1 IS NOT NULL "
				"ORDER BY name",
				NULL, 1, pool, domains_r, count_r, error_r);
}

/* Runs a query with one text parameter: 1 if it returns a row (with the
 * first column in *value_r when not NULL), 0 if not. */
static int sqlite_exists(struct store *store, const char *sql,
			 const char *param, int64_t *value_r,
			 const char **error_r)
{
	struct sqlite_conn *conn = sqlite_reader_get(store, error_r);
	if (conn == NULL)
		return -1;
	sqlite3_stmt *stmt = sqlite_conn_stmt(conn, sql, error_r);
	int ret = -1;
	if (stmt != NULL) {
		sqlite3_bind_text(stmt, 1, param, -1, SQLITE_STATIC);
		int rc = sqlite_step(conn, stmt, error_r);
		if (rc == SQLITE_ROW) {
			if (value_r != NULL)
				*value_r = sqlite3_column_int64(stmt, 0);
			ret = 1;
		} else if (rc == SQLITE_DONE) {
			ret = 0;
		}
		sqlite3_reset(stmt);
	}
	sqlite_reader_put(store, conn);
	return ret;
}

int sqlite_store_domain_exists(struct store *store, const char *domain,
			       const char **error_r)
{
	return sqlite_exists(store,
			     "SELECT id FROM domain WHERE name=lower(?1)",
			     domain, NULL, error_r);
}

int sqlite_store_account_id(struct store *store, const char *address,
			    int64_t *id_r, const char **error_r)
{
	return sqlite_exists(store,
			     "SELECT id FROM account WHERE address=lower(?1)",
			     address, id_r, error_r);
}

int sqlite_store_alias_list(struct store *store, const char *domain,
			    struct pool *pool, struct store_alias **aliases_r,
			    unsigned *count_r, const char **error_r)
{
	struct sqlite_conn *conn = sqlite_reader_get(store, error_r);
	if (conn == NULL)
		return -1;
	sqlite3_stmt *stmt =
	    domain != NULL
		? sqlite_conn_stmt(conn,
				   "SELECT source, target FROM alias "
				   "WHERE domain_id=(SELECT id FROM "
				   "domain WHERE name=lower(?1)) "
				   "ORDER BY source, target",
				   error_r)
		: sqlite_conn_stmt(conn,
				   "SELECT source, target FROM alias "
				   "ORDER BY source, target",
				   error_r);
	int ret = -1;
	if (stmt != NULL) {
		struct sqlite_rows rows = {.item_size =
					       sizeof(struct store_alias)};
		if (domain != NULL)
			sqlite3_bind_text(stmt, 1, domain, -1, SQLITE_STATIC);
		int rc;
		while ((rc = sqlite_step(conn, stmt, error_r)) == SQLITE_ROW) {
			struct store_alias *a = sqlite_rows_add(&rows);
			a->source = sqlite_column_pstr(pool, stmt, 0);
			a->target = sqlite_column_pstr(pool, stmt, 1);
		}
		sqlite3_reset(stmt);
		*aliases_r = sqlite_rows_finish(&rows, pool, count_r);
		ret = rc == SQLITE_DONE ? 1 : -1;
	}
	sqlite_reader_put(store, conn);
	return ret;
}

int sqlite_store_alias_targets(struct store *store, const char *source,
			       struct pool *pool, const char *const **targets_r,
			       unsigned *count_r, const char **error_r)
{
	int ret =
	    sqlite_text_list(store,
			     "SELECT target FROM alias WHERE "
			     "source=lower(?1) ORDER BY target",
			     source, 0, pool, targets_r, count_r, error_r);
	if (ret < 0)
		return -1;
	return *count_r > 0 ? 1 : 0;
}

/* ------------------------------------------------------------------ */
/* Mailboxes */

/* Children of "a" are the names in ["a/", "a0"): '0' follows '/'. */
#define MAILBOX_COLS                                                           \
	"m.id, m.account_id, m.name, m.special_use, m.uidvalidity, "           \
	"m.uidnext, m.highestmodseq, "                                         \
	"EXISTS(SELECT 1 FROM subscription s WHERE "                           \
	"s.account_id=m.account_id AND s.name=m.name), "                       \
	"EXISTS(SELECT 1 FROM mailbox c WHERE c.account_id=m.account_id "      \
	"AND c.name>=m.name||'/' AND c.name<m.name||'0')"

static void sqlite_mailbox_row(struct pool *pool, sqlite3_stmt *stmt,
			       struct store_mailbox *m)
{
	m->id = sqlite3_column_int64(stmt, 0);
	m->account_id = sqlite3_column_int64(stmt, 1);
	m->name = sqlite_column_pstr(pool, stmt, 2);
	m->special_use = sqlite3_column_int(stmt, 3);
	m->uidvalidity = sqlite3_column_int64(stmt, 4);
	m->uidnext = sqlite3_column_int64(stmt, 5);
	m->highestmodseq = sqlite3_column_int64(stmt, 6);
	m->subscribed = sqlite3_column_int(stmt, 7) != 0;
	m->has_children = sqlite3_column_int(stmt, 8) != 0;
}

int sqlite_store_mailbox_list(struct store *store, int64_t account_id,
			      struct pool *pool,
			      struct store_mailbox **mailboxes_r,
			      unsigned *count_r, const char **error_r)
{
	struct sqlite_conn *conn = sqlite_reader_get(store, error_r);
	if (conn == NULL)
		return -1;
	sqlite3_stmt *stmt = sqlite_conn_stmt(
	    conn,
	    "SELECT " MAILBOX_COLS " FROM mailbox m WHERE m.account_id=?1 "
	    "ORDER BY m.name<>'INBOX', m.name",
	    error_r);
	int ret = -1;
	if (stmt != NULL) {
		struct sqlite_rows rows = {.item_size =
					       sizeof(struct store_mailbox)};
		sqlite3_bind_int64(stmt, 1, account_id);
		int rc;
		while ((rc = sqlite_step(conn, stmt, error_r)) == SQLITE_ROW)
			sqlite_mailbox_row(pool, stmt, sqlite_rows_add(&rows));
		sqlite3_reset(stmt);
		*mailboxes_r = sqlite_rows_finish(&rows, pool, count_r);
		ret = rc == SQLITE_DONE ? 1 : -1;
	}
	sqlite_reader_put(store, conn);
	return ret;
}

int sqlite_store_mailbox_lookup(struct store *store, int64_t account_id,
				const char *name, int64_t mailbox_id,
				struct pool *pool,
				struct store_mailbox **mailbox_r,
				const char **error_r)
{
	struct sqlite_conn *conn = sqlite_reader_get(store, error_r);
	if (conn == NULL)
		return -1;
	sqlite3_stmt *stmt =
	    name != NULL ? sqlite_conn_stmt(conn,
					    "SELECT " MAILBOX_COLS
					    " FROM mailbox m WHERE "
					    "m.account_id=?1 AND m.name=?2",
					    error_r)
			 : sqlite_conn_stmt(conn,
					    "SELECT " MAILBOX_COLS
					    " FROM mailbox m WHERE m.id=?3",
					    error_r);
	int ret = -1;
	if (stmt != NULL) {
		if (name != NULL) {
			sqlite3_bind_int64(stmt, 1, account_id);
			sqlite3_bind_text(
			    stmt, 2, store_mailbox_name_canonical(pool, name),
			    -1, SQLITE_STATIC);
		} else {
			sqlite3_bind_int64(stmt, 3, mailbox_id);
		}
		int rc = sqlite_step(conn, stmt, error_r);
		if (rc == SQLITE_ROW) {
			*mailbox_r = p_new(pool, struct store_mailbox, 1);
			sqlite_mailbox_row(pool, stmt, *mailbox_r);
			ret = 1;
		} else if (rc == SQLITE_DONE) {
			ret = 0;
		}
		sqlite3_reset(stmt);
	}
	sqlite_reader_put(store, conn);
	return ret;
}

int sqlite_store_subscription_list(struct store *store, int64_t account_id,
				   struct pool *pool,
				   const char *const **names_r,
				   unsigned *count_r, const char **error_r)
{
	return sqlite_text_list(store,
				"SELECT name FROM subscription WHERE "
				"account_id=?1 ORDER BY name<>'INBOX', name",
				NULL, account_id, pool, names_r, count_r,
				error_r);
}

int sqlite_store_mailbox_status(struct store *store, int64_t mailbox_id,
				struct store_mailbox_status *status_r,
				const char **error_r)
{
	struct sqlite_conn *conn = sqlite_reader_get(store, error_r);
	if (conn == NULL)
		return -1;
	memset(status_r, 0, sizeof(*status_r));
	int ret = -1, rc;
	/* One snapshot for the three queries. */
	if (sqlite_conn_exec(conn, "BEGIN", error_r) < 0)
		goto out;
	sqlite3_stmt *stmt = sqlite_conn_stmt(
	    conn,
	    "SELECT messages, unseen, size, uidvalidity, uidnext, "
	    "highestmodseq, first_recent_uid FROM mailbox WHERE id=?1",
	    error_r);
	if (stmt == NULL)
		goto out;
	sqlite3_bind_int64(stmt, 1, mailbox_id);
	rc = sqlite_step(conn, stmt, error_r);
	if (rc != SQLITE_ROW) {
		sqlite3_reset(stmt);
		ret = rc == SQLITE_DONE ? 0 : -1;
		goto out;
	}
	status_r->messages = sqlite3_column_int64(stmt, 0);
	status_r->unseen = sqlite3_column_int64(stmt, 1);
	status_r->size = sqlite3_column_int64(stmt, 2);
	status_r->uidvalidity = sqlite3_column_int64(stmt, 3);
	status_r->uidnext = sqlite3_column_int64(stmt, 4);
	status_r->highestmodseq = sqlite3_column_int64(stmt, 5);
	status_r->first_recent_uid = sqlite3_column_int64(stmt, 6);
	sqlite3_reset(stmt);

	stmt = sqlite_conn_stmt(conn,
				"SELECT count(*) FROM message WHERE "
				"mailbox_id=?1 AND uid>=?2",
				error_r);
	if (stmt == NULL)
		goto out;
	sqlite3_bind_int64(stmt, 1, mailbox_id);
	sqlite3_bind_int64(stmt, 2, status_r->first_recent_uid);
	if (sqlite_step(conn, stmt, error_r) != SQLITE_ROW)
		goto out;
	status_r->recent = sqlite3_column_int64(stmt, 0);
	sqlite3_reset(stmt);

	if (status_r->unseen > 0) {
		/* The planner would walk the primary key for the ORDER BY,
		 * past every seen message. */
		stmt = sqlite_conn_stmt(conn,
					"SELECT uid FROM message INDEXED BY "
					"message_unseen WHERE mailbox_id=?1 "
					"AND (flags&1)=0 ORDER BY uid LIMIT 1",
					error_r);
		if (stmt == NULL)
			goto out;
		sqlite3_bind_int64(stmt, 1, mailbox_id);
		rc = sqlite_step(conn, stmt, error_r);
		if (rc < 0)
			goto out;
		if (rc == SQLITE_ROW)
			status_r->first_unseen_uid =
			    sqlite3_column_int64(stmt, 0);
		sqlite3_reset(stmt);
	}
	ret = 1;
out:
	sqlite_reader_put(store, conn); /* ends the read transaction */
	return ret;
}

/* ------------------------------------------------------------------ */
/* Messages */

struct store_message_iter {
	struct store *store; /* first: the generic layer reads it */
	struct sqlite_conn *conn;
	sqlite3_stmt *stmt;
	const char *error;
	bool failed, done, with_headers;
};

struct store_message_iter *
sqlite_store_message_iter_init(struct store *store, int64_t mailbox_id,
			       uint32_t uid_first, uint32_t uid_last,
			       uint64_t changedsince, bool with_headers)
{
	struct store_message_iter *iter = i_new(struct store_message_iter, 1);
	const char *error;
	iter->store = store;
	iter->with_headers = with_headers;
	iter->conn = sqlite_reader_get(store, &error);
	if (iter->conn != NULL && !with_headers) {
		iter->stmt = sqlite_conn_stmt(
		    iter->conn,
		    "SELECT uid, flags, keywords, modseq, size, "
		    "internaldate, body_id FROM message WHERE "
		    "mailbox_id=?1 AND uid>=?2 AND uid<=?3 AND modseq>?4 "
		    "ORDER BY uid",
		    &error);
	} else if (iter->conn != NULL) {
		iter->stmt = sqlite_conn_stmt(
		    iter->conn,
		    "SELECT m.uid, m.flags, m.keywords, m.modseq, m.size, "
		    "m.internaldate, m.body_id, s.headers FROM message m "
		    "LEFT JOIN body_search s ON s.body_id=m.body_id WHERE "
		    "m.mailbox_id=?1 AND m.uid>=?2 AND m.uid<=?3 AND "
		    "m.modseq>?4 ORDER BY m.uid",
		    &error);
	}
	if (iter->stmt == NULL) {
		iter->failed = true;
		iter->error = i_strdup(error);
		return iter;
	}
	sqlite3_bind_int64(iter->stmt, 1, mailbox_id);
	sqlite3_bind_int64(iter->stmt, 2, uid_first);
	sqlite3_bind_int64(iter->stmt, 3,
			   uid_last == 0 ? UINT32_MAX : uid_last);
	sqlite3_bind_int64(iter->stmt, 4, (int64_t)changedsince);
	return iter;
}

int sqlite_store_message_iter_next(struct store_message_iter *iter,
				   struct store_message *msg_r)
{
	if (iter->failed || iter->done)
		return iter->failed ? -1 : 0;
	const char *error;
	int rc = sqlite_step(iter->conn, iter->stmt, &error);
	if (rc < 0) {
		iter->failed = true;
		iter->error = i_strdup(error);
		return -1;
	}
	if (rc == SQLITE_DONE) {
		iter->done = true;
		return 0;
	}
	sqlite3_stmt *stmt = iter->stmt;
	msg_r->uid = sqlite3_column_int64(stmt, 0);
	msg_r->flags = sqlite3_column_int(stmt, 1);
	const unsigned char *kw = sqlite3_column_text(stmt, 2);
	msg_r->keywords = kw == NULL ? "" : (const char *)kw;
	msg_r->modseq = sqlite3_column_int64(stmt, 3);
	msg_r->size = sqlite3_column_int64(stmt, 4);
	msg_r->internaldate = sqlite3_column_int64(stmt, 5);
	msg_r->body_id = sqlite3_column_int64(stmt, 6);
	return 1;
}

int sqlite_store_message_uids(struct store *store, int64_t mailbox_id,
			      uint32_t uid_first, uint32_t **uids,
			      uint32_t *count, uint32_t *cap,
			      const char **error_r)
{
	struct sqlite_conn *conn = sqlite_reader_get(store, error_r);
	if (conn == NULL)
		return -1;
	/* Only the primary key's columns: SQLite answers from the index
	 * without decoding the rest of each row. */
	sqlite3_stmt *stmt = sqlite_conn_stmt(
	    conn,
	    "SELECT uid FROM message WHERE mailbox_id=?1 AND uid>=?2 "
	    "ORDER BY uid",
	    error_r);
	int ret = -1, rc;
	if (stmt == NULL)
		goto out;
	sqlite3_bind_int64(stmt, 1, mailbox_id);
	sqlite3_bind_int64(stmt, 2, uid_first);
	while ((rc = sqlite_step(conn, stmt, error_r)) == SQLITE_ROW) {
		if (*count == *cap) {
			*cap = *cap < 16 ? 16 : *cap * 2;
			*uids = i_realloc(*uids, i_size_mul(*cap, sizeof(**uids)));
		}
		(*uids)[(*count)++] = (uint32_t)sqlite3_column_int64(stmt, 0);
	}
	sqlite3_reset(stmt);
	if (rc == SQLITE_DONE)
		ret = 1;
out:
	sqlite_reader_put(store, conn);
	return ret;
}

const char *sqlite_store_message_iter_headers(struct store_message_iter *iter)
{
	if (!iter->with_headers || iter->failed || iter->done)
		return "";
	const unsigned char *h = sqlite3_column_text(iter->stmt, 7);
	return h == NULL ? "" : (const char *)h;
}

int sqlite_store_message_iter_deinit(struct store_message_iter *iter,
				     const char **error_r)
{
	int ret = 1;
	if (iter->failed) {
		*error_r = store_error_printf("%s", iter->error);
		ret = -1;
	}
	if (iter->stmt != NULL)
		sqlite3_reset(iter->stmt);
	if (iter->conn != NULL)
		sqlite_reader_put(iter->store, iter->conn);
	free((char *)iter->error);
	free(iter);
	return ret;
}

int sqlite_store_message_get(struct store *store, int64_t mailbox_id,
			     uint32_t uid, struct pool *pool,
			     struct store_message_info *info_r,
			     const char **error_r)
{
	struct sqlite_conn *conn = sqlite_reader_get(store, error_r);
	if (conn == NULL)
		return -1;
	sqlite3_stmt *stmt = sqlite_conn_stmt(
	    conn,
	    "SELECT m.uid, m.flags, m.keywords, m.modseq, m.size, "
	    "m.internaldate, m.body_id, b.envelope, b.bodystructure, "
	    "b.body, b.header_size, b.lines, s.headers FROM message m JOIN "
	    "body b "
	    "ON b.id=m.body_id LEFT JOIN body_search s ON s.body_id=m.body_id "
	    "WHERE m.mailbox_id=?1 AND m.uid=?2",
	    error_r);
	int ret = -1;
	if (stmt != NULL) {
		sqlite3_bind_int64(stmt, 1, mailbox_id);
		sqlite3_bind_int64(stmt, 2, uid);
		int rc = sqlite_step(conn, stmt, error_r);
		if (rc == SQLITE_ROW) {
			memset(info_r, 0, sizeof(*info_r));
			info_r->msg.uid = sqlite3_column_int64(stmt, 0);
			info_r->msg.flags = sqlite3_column_int(stmt, 1);
			info_r->msg.keywords =
			    sqlite_column_pstr(pool, stmt, 2);
			info_r->msg.modseq = sqlite3_column_int64(stmt, 3);
			info_r->msg.size = sqlite3_column_int64(stmt, 4);
			info_r->msg.internaldate =
			    sqlite3_column_int64(stmt, 5);
			info_r->msg.body_id = sqlite3_column_int64(stmt, 6);
			info_r->envelope = sqlite_column_pstr(pool, stmt, 7);
			info_r->bodystructure =
			    sqlite_column_pstr(pool, stmt, 8);
			info_r->body = sqlite_column_pstr(pool, stmt, 9);
			info_r->header_size = sqlite3_column_int64(stmt, 10);
			info_r->lines = sqlite3_column_int64(stmt, 11);
			info_r->search_headers =
			    sqlite_column_pstr(pool, stmt, 12);
			ret = 1;
		} else if (rc == SQLITE_DONE) {
			ret = 0;
		}
		sqlite3_reset(stmt);
	}
	sqlite_reader_put(store, conn);
	return ret;
}

/* ------------------------------------------------------------------ */
/* Bodies */

struct store_body {
	struct store *store;	  /* first: the generic layer reads it */
	struct sqlite_conn *conn; /* held while a blob is open */
	sqlite3_blob *blob;
	int fd;
	uint64_t size;
};

int sqlite_store_body_open(struct store *store, int64_t body_id,
			   struct store_body **body_r, const char **error_r)
{
	struct sqlite_store *ss = sqlite_store_get(store);
	struct sqlite_conn *conn = sqlite_reader_get(store, error_r);
	if (conn == NULL)
		return -1;
	/* The read transaction stays open while the blob does, so the row
	 * cannot change under the reader. */
	if (sqlite_conn_exec(conn, "BEGIN", error_r) < 0) {
		sqlite_reader_put(store, conn);
		return -1;
	}
	sqlite3_stmt *stmt = sqlite_conn_stmt(
	    conn, "SELECT size, path FROM body WHERE id=?1", error_r);
	if (stmt == NULL) {
		sqlite_reader_put(store, conn);
		return -1;
	}
	sqlite3_bind_int64(stmt, 1, body_id);
	int rc = sqlite_step(conn, stmt, error_r);
	if (rc != SQLITE_ROW) {
		sqlite3_reset(stmt);
		sqlite_reader_put(store, conn);
		return rc == SQLITE_DONE ? 0 : -1;
	}
	struct store_body *body = i_new(struct store_body, 1);
	body->store = store;
	body->fd = -1;
	body->size = sqlite3_column_int64(stmt, 0);
	const char *path = (const char *)sqlite3_column_text(stmt, 1);
	if (path != NULL) {
		char *full = i_strdup_printf("%s/%s", ss->bodies_dir, path);
		body->fd = open(full, O_RDONLY | O_CLOEXEC);
		if (body->fd < 0)
			*error_r = store_error_printf("open(%s): %s", full,
						      strerror(errno));
		i_free(full);
		sqlite3_reset(stmt);
		sqlite_reader_put(store, conn);
		if (body->fd < 0) {
			free(body);
			return -1;
		}
		*body_r = body;
		return 1;
	}
	sqlite3_reset(stmt);
	rc = sqlite3_blob_open(conn->db, "main", "body", "data", body_id, 0,
			       &body->blob);
	if (rc != SQLITE_OK) {
		*error_r = sqlite_conn_errmsg(conn, rc);
		sqlite3_blob_close(body->blob);
		sqlite_reader_put(store, conn);
		free(body);
		return -1;
	}
	body->conn = conn;
	*body_r = body;
	return 1;
}

uint64_t sqlite_store_body_size(const struct store_body *body)
{
	return body->size;
}

ssize_t sqlite_store_body_read(struct store_body *body, uint64_t offset,
			       void *dst, size_t size, const char **error_r)
{
	if (offset >= body->size || size == 0)
		return 0;
	if (size > body->size - offset)
		size = body->size - offset;
	if (body->blob != NULL) {
		/* sqlite3_blob_read takes int sizes. */
		if (size > INT32_MAX)
			size = INT32_MAX;
		int rc =
		    sqlite3_blob_read(body->blob, dst, (int)size, (int)offset);
		if (rc != SQLITE_OK) {
			*error_r = sqlite_conn_errmsg(body->conn, rc);
			return -1;
		}
		return size;
	}
	size_t done = 0;
	while (done < size) {
		ssize_t n = pread(body->fd, (char *)dst + done, size - done,
				  offset + done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			*error_r =
			    store_error_printf("pread: %s", strerror(errno));
			return -1;
		}
		if (n == 0)
			break;
		done += n;
	}
	return done;
}

void sqlite_store_body_close(struct store_body *body)
{
	if (body->blob != NULL)
		sqlite3_blob_close(body->blob);
	if (body->conn != NULL)
		sqlite_reader_put(body->store, body->conn);
	if (body->fd >= 0)
		close(body->fd);
	free(body);
}

/* ------------------------------------------------------------------ */
/* Outbound queue, QRESYNC */

int sqlite_store_queue_due(struct store *store, time_t now, unsigned max,
			   struct pool *pool, struct store_queue_item **items_r,
			   unsigned *count_r, const char **error_r)
{
	struct sqlite_conn *conn = sqlite_reader_get(store, error_r);
	if (conn == NULL)
		return -1;
	sqlite3_stmt *stmt = sqlite_conn_stmt(
	    conn,
	    "SELECT q.id, r.id, q.sender, q.envid, q.ret, q.body_type, "
	    "q.smtputf8, q.account_id, r.address, r.orcpt, r.notify, "
	    "r.state, r.attempts, q.created, r.next_attempt, r.last_error, "
	    "q.body_id, q.size, r.last_attempt FROM queue_recipient r "
	    "JOIN queue_message q "
	    "ON q.id=r.queue_id WHERE r.state=0 AND r.next_attempt<=?1 "
	    "ORDER BY r.next_attempt, r.queue_id, r.id LIMIT ?2",
	    error_r);
	int ret = -1;
	if (stmt != NULL) {
		struct sqlite_rows rows = {.item_size =
					       sizeof(struct store_queue_item)};
		sqlite3_bind_int64(stmt, 1,
				   now == 0 ? INT64_MAX : (int64_t)now);
		sqlite3_bind_int64(stmt, 2, max == 0 ? -1 : (int64_t)max);
		int rc;
		while ((rc = sqlite_step(conn, stmt, error_r)) == SQLITE_ROW) {
			struct store_queue_item *q = sqlite_rows_add(&rows);
			q->queue_id = sqlite3_column_int64(stmt, 0);
			q->rcpt_id = sqlite3_column_int64(stmt, 1);
			q->env.sender = sqlite_column_pstr(pool, stmt, 2);
			q->env.envid =
			    sqlite3_column_type(stmt, 3) == SQLITE_NULL
				? NULL
				: sqlite_column_pstr(pool, stmt, 3);
			q->env.ret = sqlite3_column_int(stmt, 4);
			q->env.body_type = sqlite3_column_int(stmt, 5);
			q->env.smtputf8 = sqlite3_column_int(stmt, 6) != 0;
			q->env.account_id = sqlite3_column_int64(stmt, 7);
			q->rcpt.address = sqlite_column_pstr(pool, stmt, 8);
			q->rcpt.orcpt =
			    sqlite3_column_type(stmt, 9) == SQLITE_NULL
				? NULL
				: sqlite_column_pstr(pool, stmt, 9);
			q->rcpt.notify = sqlite3_column_int(stmt, 10);
			q->state = sqlite3_column_int(stmt, 11);
			q->attempts = sqlite3_column_int(stmt, 12);
			q->created = sqlite3_column_int64(stmt, 13);
			q->next_attempt = sqlite3_column_int64(stmt, 14);
			q->last_error = sqlite_column_pstr(pool, stmt, 15);
			q->body_id = sqlite3_column_int64(stmt, 16);
			q->size = sqlite3_column_int64(stmt, 17);
			q->last_attempt = sqlite3_column_int64(stmt, 18);
		}
		sqlite3_reset(stmt);
		*items_r = sqlite_rows_finish(&rows, pool, count_r);
		ret = rc == SQLITE_DONE ? 1 : -1;
	}
	sqlite_reader_put(store, conn);
	return ret;
}

int sqlite_store_queue_next_due(struct store *store, time_t *when_r,
				const char **error_r)
{
	struct sqlite_conn *conn = sqlite_reader_get(store, error_r);
	if (conn == NULL)
		return -1;
	sqlite3_stmt *stmt = sqlite_conn_stmt(
	    conn, "SELECT min(next_attempt) FROM queue_recipient WHERE state=0",
	    error_r);
	int ret = -1;
	if (stmt != NULL) {
		int rc = sqlite_step(conn, stmt, error_r);
		if (rc == SQLITE_ROW) {
			if (sqlite3_column_type(stmt, 0) == SQLITE_NULL) {
				ret = 0;
			} else {
				*when_r = sqlite3_column_int64(stmt, 0);
				ret = 1;
			}
		}
		sqlite3_reset(stmt);
	}
	sqlite_reader_put(store, conn);
	return ret;
}

int sqlite_store_mailbox_vanished(struct store *store, int64_t mailbox_id,
				  uint64_t since_modseq, struct pool *pool,
				  uint32_t **uids_r, unsigned *count_r,
				  const char **error_r)
{
	struct sqlite_conn *conn = sqlite_reader_get(store, error_r);
	if (conn == NULL)
		return -1;
	sqlite3_stmt *stmt = sqlite_conn_stmt(
	    conn,
	    "SELECT uid FROM expunged WHERE mailbox_id=?1 AND modseq>?2 "
	    "ORDER BY uid",
	    error_r);
	int ret = -1;
	if (stmt != NULL) {
		struct sqlite_rows rows = {.item_size = sizeof(uint32_t)};
		sqlite3_bind_int64(stmt, 1, mailbox_id);
		sqlite3_bind_int64(stmt, 2, (int64_t)since_modseq);
		int rc;
		while ((rc = sqlite_step(conn, stmt, error_r)) == SQLITE_ROW) {
			uint32_t *uid = sqlite_rows_add(&rows);
			*uid = sqlite3_column_int64(stmt, 0);
		}
		sqlite3_reset(stmt);
		*uids_r = sqlite_rows_finish(&rows, pool, count_r);
		ret = rc == SQLITE_DONE ? 1 : -1;
	}
	sqlite_reader_put(store, conn);
	return ret;
}
