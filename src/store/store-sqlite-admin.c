/* SPDX-License-Identifier: MIT */
#include "lib.h"
#include "pool.h"
#include "strutil.h"
#include "store-sqlite-write.h"

/* The writer's admin operations: domains, accounts, aliases, mailboxes. */

/* Created for every new account (RFC 6154 special-use). */
static const struct {
	const char *name;
	enum store_special_use special_use;
} store_default_mailboxes[] = {
    {"INBOX", STORE_SPECIAL_NONE},    {"Sent", STORE_SPECIAL_SENT},
    {"Drafts", STORE_SPECIAL_DRAFTS}, {"Trash", STORE_SPECIAL_TRASH},
    {"Junk", STORE_SPECIAL_JUNK},     {"Archive", STORE_SPECIAL_ARCHIVE},
};

/* ------------------------------------------------------------------ */
/* Domains, accounts, aliases */

bool w_domain_add(struct wctx *w, struct store_op *op)
{
	char *name = pool_strdup(w->scratch, op->s1 == NULL ? "" : op->s1);
	str_ascii_lower(name);
	if (!store_domain_name_valid(name))
		return w_fail(w, STORE_ERR_INVALID, "invalid domain name");
	sqlite3_stmt *stmt = w_stmt(w, "INSERT INTO domain(name) VALUES(?1)");
	if (stmt == NULL)
		return false;
	sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC);
	int rc = w_step_err(w, stmt, STORE_ERR_EXISTS);
	sqlite3_reset(stmt);
	if (rc < 0)
		return false;
	op->result.id = sqlite3_last_insert_rowid(w->conn->db);
	return true;
}

bool w_domain_del(struct wctx *w, struct store_op *op)
{
	char *name = pool_strdup(w->scratch, op->s1 == NULL ? "" : op->s1);
	str_ascii_lower(name);
	int64_t id;
	int ret = w_domain_id(w, name, &id);
	if (ret <= 0)
		return ret < 0
			   ? false
			   : w_fail(w, STORE_ERR_NOT_FOUND, "no such domain");
	sqlite3_stmt *stmt = w_stmt(
	    w, "SELECT EXISTS(SELECT 1 FROM account WHERE domain_id=?1) OR "
	       "EXISTS(SELECT 1 FROM alias WHERE domain_id=?1)");
	if (stmt == NULL)
		return false;
	sqlite3_bind_int64(stmt, 1, id);
	if (w_step(w, stmt) != SQLITE_ROW)
		return false;
	bool used = sqlite3_column_int(stmt, 0) != 0;
	sqlite3_reset(stmt);
	if (used)
		return w_fail(w, STORE_ERR_INVALID,
			      "domain still has accounts or aliases");
	stmt = w_stmt(w, "DELETE FROM domain WHERE id=?1");
	if (stmt == NULL)
		return false;
	sqlite3_bind_int64(stmt, 1, id);
	return w_done(w, stmt);
}

static bool w_uidvalidity_next(struct wctx *w, uint32_t *uidvalidity_r)
{
	sqlite3_stmt *stmt =
	    w_stmt(w, "SELECT value FROM meta WHERE key='uidvalidity'");
	if (stmt == NULL)
		return false;
	int rc = w_step(w, stmt);
	if (rc < 0)
		return false;
	uint64_t last = rc == SQLITE_ROW ? sqlite3_column_int64(stmt, 0) : 0;
	sqlite3_reset(stmt);
	/* Time-based so a mailbox recreated after the database was lost
	 * still gets a new value; monotonic even if the clock steps back. */
	uint64_t next = (uint64_t)time(NULL);
	if (next <= last)
		next = last + 1;
	if (next > UINT32_MAX)
		next = 1 + next % UINT32_MAX;
	stmt = w_stmt(w, "INSERT OR REPLACE INTO meta(key, value) "
			 "VALUES('uidvalidity', ?1)");
	if (stmt == NULL)
		return false;
	sqlite3_bind_int64(stmt, 1, (int64_t)next);
	if (!w_done(w, stmt))
		return false;
	*uidvalidity_r = (uint32_t)next;
	return true;
}

static bool w_mailbox_insert(struct wctx *w, int64_t account_id,
			     const char *name, enum store_special_use special,
			     uint32_t uidnext, int64_t *id_r)
{
	uint32_t uidvalidity;
	if (!w_uidvalidity_next(w, &uidvalidity))
		return false;
	sqlite3_stmt *stmt =
	    w_stmt(w, "INSERT INTO mailbox(account_id, name, special_use, "
		      "uidvalidity, uidnext) VALUES(?1, ?2, ?3, ?4, ?5)");
	if (stmt == NULL)
		return false;
	sqlite3_bind_int64(stmt, 1, account_id);
	sqlite3_bind_text(stmt, 2, name, -1, SQLITE_STATIC);
	sqlite3_bind_int(stmt, 3, special);
	sqlite3_bind_int64(stmt, 4, uidvalidity);
	sqlite3_bind_int64(stmt, 5, uidnext);
	int rc = w_step_err(w, stmt, STORE_ERR_EXISTS);
	sqlite3_reset(stmt);
	if (rc < 0)
		return false;
	*id_r = sqlite3_last_insert_rowid(w->conn->db);
	return true;
}

static bool w_subscribe(struct wctx *w, int64_t account_id, const char *name,
			bool subscribed)
{
	sqlite3_stmt *stmt =
	    subscribed ? w_stmt(w, "INSERT OR IGNORE INTO subscription("
				   "account_id, name) VALUES(?1, ?2)")
		       : w_stmt(w, "DELETE FROM subscription WHERE "
				   "account_id=?1 AND name=?2");
	if (stmt == NULL)
		return false;
	sqlite3_bind_int64(stmt, 1, account_id);
	sqlite3_bind_text(stmt, 2, name, -1, SQLITE_STATIC);
	return w_done(w, stmt);
}

static bool w_bind_credentials(struct wctx *w, sqlite3_stmt *stmt,
			       const struct store_credentials *c)
{
	sqlite3_bind_text(stmt, 2, c->password_hash, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 3, c->scram_salt, -1, SQLITE_STATIC);
	sqlite3_bind_int(stmt, 4, (int)c->scram_iterations);
	sqlite3_bind_text(stmt, 5, c->scram_stored_key, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 6, c->scram_server_key, -1, SQLITE_STATIC);
	return true;
}

bool w_account_add(struct wctx *w, struct store_op *op)
{
	const char *address, *local, *domain;
	if (!store_address_normalize(w->scratch, op->s1, &address, &local,
				     &domain) ||
	    local[0] == '\0')
		return w_fail(w, STORE_ERR_INVALID, "invalid address");
	int64_t domain_id;
	int ret = w_domain_id(w, domain, &domain_id);
	if (ret <= 0)
		return ret < 0 ? false
			       : w_fail(w, STORE_ERR_NOT_FOUND,
					"domain %s is not local", domain);
	sqlite3_stmt *stmt = w_stmt(
	    w, "INSERT INTO account(address, password_hash, scram_salt, "
	       "scram_iterations, scram_stored_key, scram_server_key, "
	       "domain_id, created) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
	if (stmt == NULL)
		return false;
	sqlite3_bind_text(stmt, 1, address, -1, SQLITE_STATIC);
	w_bind_credentials(w, stmt, &op->cred);
	sqlite3_bind_int64(stmt, 7, domain_id);
	sqlite3_bind_int64(stmt, 8, (int64_t)time(NULL));
	int rc = w_step_err(w, stmt, STORE_ERR_EXISTS);
	sqlite3_reset(stmt);
	if (rc < 0)
		return false;
	int64_t account_id = sqlite3_last_insert_rowid(w->conn->db);
	op->result.id = account_id;

	/* RFC 6154 special-use mailboxes for every new account. */
	for (unsigned i = 0; i < N_ELEMENTS(store_default_mailboxes); i++) {
		const char *name = store_default_mailboxes[i].name;
		int64_t id;
		if (!w_mailbox_insert(w, account_id, name,
				      store_default_mailboxes[i].special_use, 1,
				      &id) ||
		    !w_subscribe(w, account_id, name, true))
			return false;
	}
	return true;
}

/* Expunges every message of a mailbox without recording them (the mailbox
 * is going away) and gives the space back to the account. */
static bool w_mailbox_purge(struct wctx *w, const struct wmbox *mb)
{
	struct store_op all = {.ranges = NULL};
	struct wmsg *msgs;
	unsigned count;
	if (!w_messages_collect(w, mb->id, &all, &msgs, &count))
		return false;
	for (unsigned i = 0; i < count; i++) {
		if (!w_body_unref(w, msgs[i].body_id))
			return false;
	}
	sqlite3_stmt *stmt =
	    w_stmt(w, "DELETE FROM message WHERE mailbox_id=?1");
	if (stmt == NULL)
		return false;
	sqlite3_bind_int64(stmt, 1, mb->id);
	if (!w_done(w, stmt))
		return false;
	stmt = w_stmt(w, "DELETE FROM expunged WHERE mailbox_id=?1");
	if (stmt == NULL)
		return false;
	sqlite3_bind_int64(stmt, 1, mb->id);
	if (!w_done(w, stmt))
		return false;
	uint64_t bytes = 0;
	for (unsigned i = 0; i < count; i++)
		bytes += msgs[i].size;
	return w_account_usage(w, mb->account_id, -(int64_t)bytes,
			       -(int64_t)count);
}

static bool w_mailbox_remove(struct wctx *w, const struct wmbox *mb)
{
	if (!w_mailbox_purge(w, mb))
		return false;
	sqlite3_stmt *stmt = w_stmt(w, "DELETE FROM mailbox WHERE id=?1");
	if (stmt == NULL)
		return false;
	sqlite3_bind_int64(stmt, 1, mb->id);
	if (!w_done(w, stmt))
		return false;
	store_txn_add_change(w->txn, mb->id, STORE_CHANGE_MAILBOX_GONE, 0,
			     mb->modseq, 0, NULL);
	return true;
}

bool w_account_del(struct wctx *w, struct store_op *op)
{
	const char *address;
	int64_t account_id;
	if (!store_address_normalize(w->scratch, op->s1, &address, NULL, NULL))
		return w_fail(w, STORE_ERR_NOT_FOUND, "no such account");
	int ret = w_account_id(w, address, &account_id);
	if (ret <= 0)
		return ret < 0
			   ? false
			   : w_fail(w, STORE_ERR_NOT_FOUND, "no such account");
	sqlite3_stmt *stmt =
	    w_stmt(w, "SELECT id FROM mailbox WHERE account_id=?1");
	if (stmt == NULL)
		return false;
	sqlite3_bind_int64(stmt, 1, account_id);
	int64_t *ids = NULL;
	unsigned count = 0, alloc = 0;
	int rc;
	while ((rc = w_step(w, stmt)) == SQLITE_ROW) {
		if (count == alloc) {
			unsigned n = alloc == 0 ? 16 : alloc * 2;
			int64_t *nids = p_new(w->scratch, int64_t, n);
			if (count > 0)
				memcpy(nids, ids, sizeof(*ids) * count);
			ids = nids;
			alloc = n;
		}
		ids[count++] = sqlite3_column_int64(stmt, 0);
	}
	sqlite3_reset(stmt);
	if (rc < 0)
		return false;
	for (unsigned i = 0; i < count; i++) {
		struct wmbox mb;
		if (w_mailbox_by_id(w, ids[i], &mb) <= 0 ||
		    !w_mailbox_remove(w, &mb))
			return w->txn->error == STORE_OK
				   ? w_fail(w, STORE_ERR_TEMP,
					    "mailbox vanished")
				   : false;
	}
	stmt = w_stmt(w, "DELETE FROM subscription WHERE account_id=?1");
	if (stmt == NULL)
		return false;
	sqlite3_bind_int64(stmt, 1, account_id);
	if (!w_done(w, stmt))
		return false;
	stmt = w_stmt(w, "DELETE FROM account WHERE id=?1");
	if (stmt == NULL)
		return false;
	sqlite3_bind_int64(stmt, 1, account_id);
	return w_done(w, stmt);
}

bool w_account_update(struct wctx *w, struct store_op *op)
{
	const char *address;
	if (!store_address_normalize(w->scratch, op->s1, &address, NULL, NULL))
		return w_fail(w, STORE_ERR_NOT_FOUND, "no such account");
	sqlite3_stmt *stmt = NULL;
	switch (op->type) {
	case STORE_OP_ACCOUNT_SET_CREDENTIALS:
		stmt = w_stmt(w, "UPDATE account SET password_hash=?2, "
				 "scram_salt=?3, scram_iterations=?4, "
				 "scram_stored_key=?5, scram_server_key=?6, "
				 "credentials_serial=credentials_serial+1 "
				 "WHERE address=?1");
		if (stmt != NULL)
			w_bind_credentials(w, stmt, &op->cred);
		break;
	case STORE_OP_ACCOUNT_SET_QUOTA:
		stmt = w_stmt(w, "UPDATE account SET quota_bytes=?2, "
				 "quota_messages=?3 WHERE address=?1");
		if (stmt != NULL) {
			sqlite3_bind_int64(stmt, 2, (int64_t)op->n1);
			sqlite3_bind_int64(stmt, 3, (int64_t)op->n2);
		}
		break;
	case STORE_OP_ACCOUNT_SET_DISABLED:
		stmt = w_stmt(w, "UPDATE account SET disabled=?2, "
				 "credentials_serial=credentials_serial+1 "
				 "WHERE address=?1");
		if (stmt != NULL)
			sqlite3_bind_int(stmt, 2, op->b ? 1 : 0);
		break;
	default:
		i_unreached();
	}
	if (stmt == NULL)
		return false;
	sqlite3_bind_text(stmt, 1, address, -1, SQLITE_STATIC);
	if (!w_done(w, stmt))
		return false;
	if (w_changes(w) == 0)
		return w_fail(w, STORE_ERR_NOT_FOUND, "no such account");
	return true;
}

/* "local@domain" or "@domain"; lower-cased, the domain must be local. */
static bool w_alias_source(struct wctx *w, const char *source,
			   const char **norm_r, int64_t *domain_id_r)
{
	const char *norm, *local, *domain;
	if (source != NULL && source[0] == '@') {
		char *d = pool_strdup(w->scratch, source + 1);
		str_ascii_lower(d);
		if (!store_domain_name_valid(d))
			return w_fail(w, STORE_ERR_INVALID,
				      "invalid alias source");
		domain = d;
		norm = pool_printf(w->scratch, "@%s", d);
	} else if (!store_address_normalize(w->scratch, source, &norm, &local,
					    &domain) ||
		   local[0] == '\0') {
		return w_fail(w, STORE_ERR_INVALID, "invalid alias source");
	}
	int ret = w_domain_id(w, domain, domain_id_r);
	if (ret <= 0)
		return ret < 0 ? false
			       : w_fail(w, STORE_ERR_NOT_FOUND,
					"domain %s is not local", domain);
	*norm_r = norm;
	return true;
}

/* Keeps the local part as given (it may be case-sensitive remotely) and
 * lower-cases the domain. */
static const char *w_alias_target(struct wctx *w, const char *target)
{
	const char *norm, *local, *domain;
	if (!store_address_normalize(w->scratch, target, &norm, &local,
				     &domain) ||
	    local[0] == '\0')
		return NULL;
	const char *at = strrchr(target, '@');
	return pool_printf(w->scratch, "%.*s@%s", (int)(at - target), target,
			   domain);
}

bool w_alias_add(struct wctx *w, struct store_op *op)
{
	const char *source, *target;
	int64_t domain_id;
	if (!w_alias_source(w, op->s1, &source, &domain_id))
		return false;
	target = w_alias_target(w, op->s2);
	if (target == NULL)
		return w_fail(w, STORE_ERR_INVALID, "invalid alias target");
	sqlite3_stmt *stmt = w_stmt(w, "INSERT INTO alias(source, target, "
				       "domain_id) VALUES(?1, ?2, ?3)");
	if (stmt == NULL)
		return false;
	sqlite3_bind_text(stmt, 1, source, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 2, target, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 3, domain_id);
	int rc = w_step_err(w, stmt, STORE_ERR_EXISTS);
	sqlite3_reset(stmt);
	return rc >= 0;
}

bool w_alias_del(struct wctx *w, struct store_op *op)
{
	const char *source, *target = NULL;
	int64_t domain_id;
	if (!w_alias_source(w, op->s1, &source, &domain_id))
		return false;
	if (op->s2 != NULL) {
		target = w_alias_target(w, op->s2);
		if (target == NULL)
			return w_fail(w, STORE_ERR_NOT_FOUND, "no such alias");
	}
	sqlite3_stmt *stmt =
	    target == NULL ? w_stmt(w, "DELETE FROM alias WHERE source=?1")
			   : w_stmt(w, "DELETE FROM alias WHERE source=?1 AND "
				       "target=?2");
	if (stmt == NULL)
		return false;
	sqlite3_bind_text(stmt, 1, source, -1, SQLITE_STATIC);
	if (target != NULL)
		sqlite3_bind_text(stmt, 2, target, -1, SQLITE_STATIC);
	if (!w_done(w, stmt))
		return false;
	if (w_changes(w) == 0)
		return w_fail(w, STORE_ERR_NOT_FOUND, "no such alias");
	return true;
}

/* ------------------------------------------------------------------ */
/* Mailboxes */

static bool w_account_exists(struct wctx *w, int64_t account_id)
{
	sqlite3_stmt *stmt = w_stmt(w, "SELECT 1 FROM account WHERE id=?1");
	if (stmt == NULL)
		return false;
	sqlite3_bind_int64(stmt, 1, account_id);
	int rc = w_step(w, stmt);
	sqlite3_reset(stmt);
	if (rc == SQLITE_DONE)
		return w_fail(w, STORE_ERR_NOT_FOUND, "no such account");
	return rc == SQLITE_ROW;
}

/* Creates the missing parents of name ("a/b/c": "a", "a/b"). */
static bool w_mailbox_parents(struct wctx *w, int64_t account_id,
			      const char *name)
{
	for (const char *p = strchr(name, STORE_HIERARCHY_SEP); p != NULL;
	     p = strchr(p + 1, STORE_HIERARCHY_SEP)) {
		const char *parent = store_mailbox_name_canonical(
		    w->scratch, pool_strndup(w->scratch, name, p - name));
		struct wmbox mb;
		int ret = w_mailbox_by_name(w, account_id, parent, &mb);
		if (ret < 0)
			return false;
		int64_t id;
		if (ret == 0 &&
		    !w_mailbox_insert(w, account_id, parent, 0, 1, &id))
			return false;
	}
	return true;
}

bool w_mailbox_create(struct wctx *w, struct store_op *op)
{
	if (op->s1 == NULL || !store_mailbox_name_valid(op->s1))
		return w_fail(w, STORE_ERR_INVALID, "invalid mailbox name");
	const char *name = store_mailbox_name_canonical(w->scratch, op->s1);
	if (!w_account_exists(w, op->account_id))
		return false;
	struct wmbox mb;
	int ret = w_mailbox_by_name(w, op->account_id, name, &mb);
	if (ret != 0)
		return ret < 0 ? false
			       : w_fail(w, STORE_ERR_EXISTS,
					"mailbox already exists");
	if (!w_mailbox_parents(w, op->account_id, name))
		return false;
	return w_mailbox_insert(w, op->account_id, name, op->flags & 0x7f, 1,
				&op->result.id);
}

bool w_mailbox_rename(struct wctx *w, struct store_op *op)
{
	if (op->s1 == NULL || op->s2 == NULL ||
	    !store_mailbox_name_valid(op->s2))
		return w_fail(w, STORE_ERR_INVALID, "invalid mailbox name");
	const char *old = store_mailbox_name_canonical(w->scratch, op->s1);
	const char *new = store_mailbox_name_canonical(w->scratch, op->s2);
	size_t old_len = strlen(old);
	if (strcmp(new, "INBOX") == 0)
		return w_fail(w, STORE_ERR_EXISTS, "mailbox already exists");
	if (strncmp(new, old, old_len) == 0 &&
	    new[old_len] == STORE_HIERARCHY_SEP)
		return w_fail(w, STORE_ERR_INVALID,
			      "cannot rename a mailbox into itself");
	struct wmbox src, dst;
	int ret = w_mailbox_by_name(w, op->account_id, old, &src);
	if (ret <= 0)
		return ret < 0
			   ? false
			   : w_fail(w, STORE_ERR_NOT_FOUND, "no such mailbox");
	ret = w_mailbox_by_name(w, op->account_id, new, &dst);
	if (ret != 0)
		return ret < 0 ? false
			       : w_fail(w, STORE_ERR_EXISTS,
					"mailbox already exists");
	if (!w_mailbox_parents(w, op->account_id, new))
		return false;

	if (strcmp(old, "INBOX") == 0) {
		/* RFC 9051 6.3.6: the messages move to the new mailbox, which
		 * keeps their UIDs (it is new, so nothing collides); INBOX
		 * stays, empty, and never reuses those UIDs. */
		int64_t id;
		if (!w_mailbox_insert(w, op->account_id, new, 0,
				      (uint32_t)src.uidnext, &id))
			return false;
		struct store_op all = {.ranges = NULL};
		struct wmsg *msgs;
		unsigned count;
		if (!w_messages_collect(w, src.id, &all, &msgs, &count))
			return false;
		sqlite3_stmt *stmt =
		    w_stmt(w, "UPDATE message SET mailbox_id=?2 "
			      "WHERE mailbox_id=?1");
		if (stmt == NULL)
			return false;
		sqlite3_bind_int64(stmt, 1, src.id);
		sqlite3_bind_int64(stmt, 2, id);
		if (!w_done(w, stmt))
			return false;
		if (w_mailbox_by_id(w, id, &dst) <= 0)
			return w_fail(w, STORE_ERR_TEMP, "mailbox vanished");
		dst.messages = src.messages;
		dst.unseen = src.unseen;
		dst.size = src.size;
		/* The messages keep their modseqs: HIGHESTMODSEQ must cover
		 * them (RFC 7162 3.1.1). */
		dst.modseq = src.modseq;
		src.modseq++;
		for (unsigned i = 0; i < count; i++) {
			if (!w_message_delete(w, src.id, msgs[i].uid,
					      src.modseq))
				return false;
			/* w_message_delete removed nothing (the row moved)
			 * but recorded the UID as expunged from INBOX. */
			store_txn_add_change(w->txn, src.id,
					     STORE_CHANGE_EXPUNGE, msgs[i].uid,
					     src.modseq, 0, NULL);
		}
		src.messages = src.unseen = 0;
		src.size = 0;
		op->result.id = id;
		return w_mailbox_save(w, &src) && w_mailbox_save(w, &dst);
	}

	/* The mailbox and its children: "old" and "old/..." */
	sqlite3_stmt *stmt =
	    w_stmt(w, "SELECT count(*) FROM mailbox WHERE account_id=?1 AND "
		      "name>=?2||'/' AND name<?2||'0'");
	if (stmt == NULL)
		return false;
	sqlite3_bind_int64(stmt, 1, op->account_id);
	sqlite3_bind_text(stmt, 2, new, -1, SQLITE_STATIC);
	if (w_step(w, stmt) != SQLITE_ROW)
		return false;
	int clash = sqlite3_column_int(stmt, 0);
	sqlite3_reset(stmt);
	if (clash > 0)
		return w_fail(w, STORE_ERR_EXISTS, "mailbox already exists");

	const char *const sqls[] = {
	    "UPDATE mailbox SET name=?3||substr(name, ?4) WHERE "
	    "account_id=?1 AND (name=?2 OR (name>=?2||'/' AND name<?2||'0'))",
	    "UPDATE subscription SET name=?3||substr(name, ?4) WHERE "
	    "account_id=?1 AND (name=?2 OR (name>=?2||'/' AND name<?2||'0'))",
	};
	for (unsigned i = 0; i < N_ELEMENTS(sqls); i++) {
		stmt = w_stmt(w, sqls[i]);
		if (stmt == NULL)
			return false;
		sqlite3_bind_int64(stmt, 1, op->account_id);
		sqlite3_bind_text(stmt, 2, old, -1, SQLITE_STATIC);
		sqlite3_bind_text(stmt, 3, new, -1, SQLITE_STATIC);
		sqlite3_bind_int64(stmt, 4, (int64_t)old_len + 1);
		if (!w_done(w, stmt))
			return false;
	}
	op->result.id = src.id;
	store_txn_add_change(w->txn, src.id, STORE_CHANGE_MAILBOX_GONE, 0,
			     src.modseq, 0, NULL);
	return true;
}

bool w_mailbox_delete(struct wctx *w, struct store_op *op)
{
	if (op->s1 == NULL)
		return w_fail(w, STORE_ERR_INVALID, "invalid mailbox name");
	const char *name = store_mailbox_name_canonical(w->scratch, op->s1);
	if (strcmp(name, "INBOX") == 0)
		return w_fail(w, STORE_ERR_INVALID, "INBOX cannot be deleted");
	struct wmbox mb;
	int ret = w_mailbox_by_name(w, op->account_id, name, &mb);
	if (ret <= 0)
		return ret < 0
			   ? false
			   : w_fail(w, STORE_ERR_NOT_FOUND, "no such mailbox");
	sqlite3_stmt *stmt = w_stmt(
	    w, "SELECT EXISTS(SELECT 1 FROM mailbox WHERE account_id=?1 AND "
	       "name>=?2||'/' AND name<?2||'0')");
	if (stmt == NULL)
		return false;
	sqlite3_bind_int64(stmt, 1, op->account_id);
	sqlite3_bind_text(stmt, 2, name, -1, SQLITE_STATIC);
	if (w_step(w, stmt) != SQLITE_ROW)
		return false;
	bool children = sqlite3_column_int(stmt, 0) != 0;
	sqlite3_reset(stmt);
	if (children)
		return w_fail(w, STORE_ERR_HAS_CHILDREN,
			      "mailbox has children, delete them first");
	return w_mailbox_remove(w, &mb);
}

bool w_subscribe_op(struct wctx *w, struct store_op *op)
{
	if (op->s1 == NULL || !store_mailbox_name_valid(op->s1))
		return w_fail(w, STORE_ERR_INVALID, "invalid mailbox name");
	if (!w_account_exists(w, op->account_id))
		return false;
	return w_subscribe(w, op->account_id,
			   store_mailbox_name_canonical(w->scratch, op->s1),
			   op->b);
}

bool w_claim_recent(struct wctx *w, struct store_op *op)
{
	sqlite3_stmt *stmt = w_stmt(
	    w, "UPDATE mailbox SET first_recent_uid=max(first_recent_uid, "
	       "?2) WHERE id=?1");
	if (stmt == NULL)
		return false;
	sqlite3_bind_int64(stmt, 1, op->mailbox_id);
	sqlite3_bind_int64(stmt, 2, op->uid);
	if (!w_done(w, stmt))
		return false;
	if (w_changes(w) == 0)
		return w_fail(w, STORE_ERR_NOT_FOUND, "no such mailbox");
	return true;
}
