/* SPDX-License-Identifier: MIT */
#include "lib.h"
#include "pool.h"
#include "log.h"
#include "store-sqlite.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

/* Bodies larger than the inline limit live in files under this directory. */
#define SQLITE_BODIES_DIR "bodies"
#define SQLITE_DB_FILE "store.db"
/* Orphaned body files (a crash between their rename and their commit) are
 * removed at open once they are this old, so a file another process is
 * about to commit is never touched. */
#define SQLITE_ORPHAN_AGE_SECS 3600

static const char *const sqlite_schema_v1[] = {
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL)",
    "CREATE TABLE domain(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE)",
    "CREATE TABLE account("
    " id INTEGER PRIMARY KEY,"
    " address TEXT NOT NULL UNIQUE,"
    " domain_id INTEGER NOT NULL,"
    " password_hash TEXT NOT NULL DEFAULT '',"
    " scram_salt TEXT NOT NULL DEFAULT '',"
    " scram_iterations INTEGER NOT NULL DEFAULT 0,"
    " scram_stored_key TEXT NOT NULL DEFAULT '',"
    " scram_server_key TEXT NOT NULL DEFAULT '',"
    " credentials_serial INTEGER NOT NULL DEFAULT 1,"
    " quota_bytes INTEGER NOT NULL DEFAULT 0,"
    " quota_messages INTEGER NOT NULL DEFAULT 0,"
    " used_bytes INTEGER NOT NULL DEFAULT 0,"
    " used_messages INTEGER NOT NULL DEFAULT 0,"
    " disabled INTEGER NOT NULL DEFAULT 0,"
    " created INTEGER NOT NULL)",
    "CREATE INDEX account_domain ON account(domain_id)",
    "CREATE TABLE alias("
    " source TEXT NOT NULL,"
    " target TEXT NOT NULL,"
    " domain_id INTEGER NOT NULL,"
    " PRIMARY KEY(source, target)) WITHOUT ROWID",
    "CREATE INDEX alias_domain ON alias(domain_id)",
    "CREATE TABLE mailbox("
    " id INTEGER PRIMARY KEY,"
    " account_id INTEGER NOT NULL,"
    " name TEXT NOT NULL,"
    " special_use INTEGER NOT NULL DEFAULT 0,"
    " uidvalidity INTEGER NOT NULL,"
    " uidnext INTEGER NOT NULL DEFAULT 1,"
    " highestmodseq INTEGER NOT NULL DEFAULT 1,"
    " first_recent_uid INTEGER NOT NULL DEFAULT 1,"
    " messages INTEGER NOT NULL DEFAULT 0,"
    " unseen INTEGER NOT NULL DEFAULT 0,"
    " size INTEGER NOT NULL DEFAULT 0,"
    " UNIQUE(account_id, name))",
    "CREATE TABLE subscription("
    " account_id INTEGER NOT NULL,"
    " name TEXT NOT NULL,"
    " PRIMARY KEY(account_id, name)) WITHOUT ROWID",
    /* data is the last column so reading the metadata never pages
     * through the blob. */
    "CREATE TABLE body("
    " id INTEGER PRIMARY KEY,"
    " refcount INTEGER NOT NULL,"
    " size INTEGER NOT NULL,"
    " header_size INTEGER NOT NULL,"
    " lines INTEGER NOT NULL,"
    " envelope TEXT NOT NULL,"
    " bodystructure TEXT NOT NULL,"
    " body TEXT NOT NULL,"
    " path TEXT,"
    " data BLOB)",
    "CREATE INDEX body_path ON body(path) WHERE path IS NOT NULL",
    "CREATE TABLE message("
    " mailbox_id INTEGER NOT NULL,"
    " uid INTEGER NOT NULL,"
    " body_id INTEGER NOT NULL,"
    " flags INTEGER NOT NULL,"
    " keywords TEXT NOT NULL,"
    " modseq INTEGER NOT NULL,"
    " internaldate INTEGER NOT NULL,"
    " size INTEGER NOT NULL,"
    " PRIMARY KEY(mailbox_id, uid)) WITHOUT ROWID",
    "CREATE INDEX message_modseq ON message(mailbox_id, modseq)",
    "CREATE INDEX message_body ON message(body_id)",
    /* QRESYNC (RFC 7162) VANISHED needs the expunged UIDs. */
    "CREATE TABLE expunged("
    " mailbox_id INTEGER NOT NULL,"
    " uid INTEGER NOT NULL,"
    " modseq INTEGER NOT NULL,"
    " PRIMARY KEY(mailbox_id, uid)) WITHOUT ROWID",
    /* The outbound queue: one row per message, one per recipient. */
    "CREATE TABLE queue_message("
    " id INTEGER PRIMARY KEY,"
    " body_id INTEGER NOT NULL,"
    " sender TEXT NOT NULL,"
    " envid TEXT,"
    " ret TEXT,"
    " account_id INTEGER,"
    " created INTEGER NOT NULL)",
    "CREATE TABLE queue_recipient("
    " id INTEGER PRIMARY KEY,"
    " queue_id INTEGER NOT NULL,"
    " address TEXT NOT NULL,"
    " orcpt TEXT,"
    " notify INTEGER NOT NULL DEFAULT 0,"
    " state INTEGER NOT NULL DEFAULT 0,"
    " attempts INTEGER NOT NULL DEFAULT 0,"
    " next_attempt INTEGER NOT NULL DEFAULT 0,"
    " last_error TEXT)",
    "CREATE INDEX queue_recipient_next ON queue_recipient(state, next_attempt)",
    "CREATE INDEX queue_recipient_queue ON queue_recipient(queue_id)",
};

enum store_error sqlite_store_error(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_FULL:
		return STORE_ERR_DISK_FULL;
	case SQLITE_CONSTRAINT:
		return STORE_ERR_EXISTS;
	default:
		return STORE_ERR_TEMP;
	}
}

const char *sqlite_conn_errmsg(struct sqlite_conn *conn, int rc)
{
	return store_error_printf("sqlite: %s (%s)", sqlite3_errmsg(conn->db),
				  sqlite3_errstr(rc));
}

int sqlite_conn_exec(struct sqlite_conn *conn, const char *sql,
		     const char **error_r)
{
	int rc = sqlite3_exec(conn->db, sql, NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		*error_r = sqlite_conn_errmsg(conn, rc);
		return -rc;
	}
	return 0;
}

sqlite3_stmt *sqlite_conn_stmt(struct sqlite_conn *conn, const char *sql,
			       const char **error_r)
{
	for (unsigned i = 0; i < conn->stmt_count; i++) {
		if (conn->stmts[i].sql == sql) {
			sqlite3_stmt *stmt = conn->stmts[i].stmt;
			sqlite3_reset(stmt);
			sqlite3_clear_bindings(stmt);
			return stmt;
		}
	}
	sqlite3_stmt *stmt;
	int rc = sqlite3_prepare_v3(conn->db, sql, -1,
				    SQLITE_PREPARE_PERSISTENT, &stmt, NULL);
	if (rc != SQLITE_OK) {
		*error_r = sqlite_conn_errmsg(conn, rc);
		return NULL;
	}
	/* The cache is sized for every statement in the backend. */
	i_assert(conn->stmt_count < SQLITE_STORE_STMT_CACHE);
	conn->stmts[conn->stmt_count].sql = sql;
	conn->stmts[conn->stmt_count].stmt = stmt;
	conn->stmt_count++;
	return stmt;
}

const char *sqlite_column_pstr(struct pool *pool, sqlite3_stmt *stmt, int col)
{
	const unsigned char *s = sqlite3_column_text(stmt, col);
	if (s == NULL)
		return "";
	return pool_strndup(pool, (const char *)s,
			    sqlite3_column_bytes(stmt, col));
}

int sqlite_conn_open(struct sqlite_store *ss, bool writer,
		     struct sqlite_conn **conn_r, const char **error_r)
{
	sqlite3 *db = NULL;
	int rc = sqlite3_open_v2(ss->db_path, &db,
				 SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
				     SQLITE_OPEN_NOMUTEX,
				 NULL);
	if (rc != SQLITE_OK) {
		*error_r = store_error_printf("sqlite open %s: %s", ss->db_path,
					      db == NULL ? sqlite3_errstr(rc)
							 : sqlite3_errmsg(db));
		sqlite3_close(db);
		return -1;
	}
	struct sqlite_conn *conn = i_new(struct sqlite_conn, 1);
	conn->db = db;
	/* A second process (the admin command) may hold the write lock for
	 * a moment; the writer thread waits for it. WAL readers are only ever
	 * briefly busy (recovery after a crash), and they may be on an event
	 * loop: a short bound, then a temporary error. */
	sqlite3_busy_timeout(db, writer ? 10000 : 1000);
	const char *pragmas = writer ? "PRAGMA journal_mode=WAL;"
				       "PRAGMA synchronous=FULL;"
				       "PRAGMA foreign_keys=OFF;"
				       "PRAGMA temp_store=MEMORY;"
				       "PRAGMA cache_size=-16000;"
				       "PRAGMA journal_size_limit=67108864;"
				     : "PRAGMA synchronous=FULL;"
				       "PRAGMA temp_store=MEMORY;"
				       "PRAGMA cache_size=-4000;"
				       "PRAGMA query_only=1;";
	if (sqlite_conn_exec(conn, pragmas, error_r) < 0) {
		sqlite_conn_close(&conn);
		return -1;
	}
	*conn_r = conn;
	return 1;
}

void sqlite_conn_close(struct sqlite_conn **_conn)
{
	struct sqlite_conn *conn = *_conn;
	if (conn == NULL)
		return;
	*_conn = NULL;
	for (unsigned i = 0; i < conn->stmt_count; i++)
		sqlite3_finalize(conn->stmts[i].stmt);
	sqlite3_close(conn->db);
	free(conn);
}

struct sqlite_conn *sqlite_reader_get(struct store *store, const char **error_r)
{
	struct sqlite_store *ss = sqlite_store_get(store);
	pthread_mutex_lock(&ss->readers_lock);
	struct sqlite_conn *conn = ss->readers;
	if (conn != NULL)
		ss->readers = conn->next;
	pthread_mutex_unlock(&ss->readers_lock);
	if (conn != NULL) {
		conn->next = NULL;
		return conn;
	}
	if (sqlite_conn_open(ss, false, &conn, error_r) < 0)
		return NULL;
	return conn;
}

void sqlite_reader_put(struct store *store, struct sqlite_conn *conn)
{
	struct sqlite_store *ss = sqlite_store_get(store);
	/* A connection must never return to the pool inside a read
	 * transaction: it would pin an old snapshot. */
	if (!sqlite3_get_autocommit(conn->db))
		(void)sqlite3_exec(conn->db, "ROLLBACK", NULL, NULL, NULL);
	pthread_mutex_lock(&ss->readers_lock);
	conn->next = ss->readers;
	ss->readers = conn;
	pthread_mutex_unlock(&ss->readers_lock);
}

/* ------------------------------------------------------------------ */
/* Opening */

static int sqlite_schema_create(struct sqlite_conn *conn, const char **error_r)
{
	if (sqlite_conn_exec(conn, "BEGIN IMMEDIATE", error_r) < 0)
		return -1;
	/* Another process may have created it meanwhile. */
	sqlite3_stmt *stmt;
	int rc = sqlite3_prepare_v2(conn->db,
				    "SELECT count(*) FROM sqlite_master WHERE "
				    "name='schema_version'",
				    -1, &stmt, NULL);
	int exists = 0;
	if (rc == SQLITE_OK && sqlite3_step(stmt) == SQLITE_ROW)
		exists = sqlite3_column_int(stmt, 0);
	sqlite3_finalize(stmt);
	if (exists == 0) {
		if (sqlite_conn_exec(conn,
				     "CREATE TABLE schema_version("
				     "version INTEGER NOT NULL)",
				     error_r) < 0)
			goto fail;
		for (unsigned i = 0; i < N_ELEMENTS(sqlite_schema_v1); i++) {
			if (sqlite_conn_exec(conn, sqlite_schema_v1[i],
					     error_r) < 0)
				goto fail;
		}
		/* Version 1; the migrations below bring it up to date. */
		if (sqlite_conn_exec(conn,
				     "INSERT INTO schema_version VALUES(1)",
				     error_r) < 0)
			goto fail;
	}
	if (sqlite_conn_exec(conn, "COMMIT", error_r) < 0)
		goto fail;
	return 0;
fail:
	(void)sqlite3_exec(conn->db, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}

static int sqlite_schema_version_read(struct sqlite_conn *conn,
				      unsigned *version_r)
{
	sqlite3_stmt *stmt;
	*version_r = 0;
	if (sqlite3_prepare_v2(conn->db,
			       "SELECT max(version) FROM schema_version", -1,
			       &stmt, NULL) != SQLITE_OK)
		return 0; /* no table: a new database */
	if (sqlite3_step(stmt) == SQLITE_ROW)
		*version_r = sqlite3_column_int(stmt, 0);
	sqlite3_finalize(stmt);
	return 1;
}

/* Migration from version i+1 to i+2 (NULL-terminated statement lists). */
static const char *const sqlite_migration_v2[] = {
    /* The outbound queue, as the queue API needs it (the version 1
     * tables were placeholders, never written). */
    "DROP TABLE queue_recipient",
    "DROP TABLE queue_message",
    "CREATE TABLE queue_message("
    " id INTEGER PRIMARY KEY,"
    " body_id INTEGER NOT NULL,"
    " sender TEXT NOT NULL,"
    " envid TEXT,"
    " ret INTEGER NOT NULL DEFAULT 0,"
    " body_type INTEGER NOT NULL DEFAULT 0,"
    " smtputf8 INTEGER NOT NULL DEFAULT 0,"
    " account_id INTEGER NOT NULL DEFAULT 0,"
    " size INTEGER NOT NULL,"
    " created INTEGER NOT NULL)",
    "CREATE TABLE queue_recipient("
    " id INTEGER PRIMARY KEY,"
    " queue_id INTEGER NOT NULL,"
    " address TEXT NOT NULL,"
    " orcpt TEXT,"
    " notify INTEGER NOT NULL DEFAULT 0,"
    " state INTEGER NOT NULL DEFAULT 0,"
    " attempts INTEGER NOT NULL DEFAULT 0,"
    " next_attempt INTEGER NOT NULL DEFAULT 0,"
    " last_error TEXT NOT NULL DEFAULT '')",
    "CREATE INDEX queue_recipient_due ON queue_recipient(state, "
    "next_attempt)",
    "CREATE INDEX queue_recipient_queue ON queue_recipient(queue_id)",
    NULL,
};
static const char *const sqlite_migration_v3[] = {
    /* The SEARCH header index, apart from body so that reading it never
     * walks a large blob's overflow pages. */
    "CREATE TABLE body_search("
    " body_id INTEGER PRIMARY KEY,"
    " headers TEXT NOT NULL)",
    NULL,
};
static const char *const sqlite_migration_v4[] = {
    /* The first unseen message (SELECT's UNSEEN) without walking every
     * seen one before it: the index holds only the unseen messages. */
    "CREATE INDEX message_unseen ON message(mailbox_id, uid) "
    "WHERE (flags&1)=0",
    NULL,
};
static const char *const sqlite_migration_v5[] = {
    /* DMARC aggregate report rows per reporting period
     * (store-sqlite-dmarc.c); end=0 marks the one open period. */
    "CREATE TABLE dmarc_period("
    " id INTEGER PRIMARY KEY,"
    " begin INTEGER NOT NULL,"
    " end INTEGER NOT NULL DEFAULT 0,"
    " rows INTEGER NOT NULL DEFAULT 0)",
    "CREATE TABLE dmarc_row("
    " id INTEGER PRIMARY KEY,"
    " period_id INTEGER NOT NULL,"
    " policy_domain TEXT NOT NULL,"
    " source_ip TEXT NOT NULL,"
    " disposition TEXT NOT NULL,"
    " dkim_eval TEXT NOT NULL,"
    " spf_eval TEXT NOT NULL,"
    " header_from TEXT NOT NULL,"
    " envelope_from TEXT NOT NULL,"
    " envelope_to TEXT NOT NULL,"
    " dkim_auth TEXT NOT NULL,"
    " spf_domain TEXT NOT NULL,"
    " spf_scope TEXT NOT NULL,"
    " spf_result TEXT NOT NULL,"
    " count INTEGER NOT NULL,"
    " p TEXT NOT NULL,"
    " sp TEXT NOT NULL,"
    " pct INTEGER NOT NULL,"
    " adkim TEXT NOT NULL,"
    " aspf TEXT NOT NULL,"
    " fo TEXT NOT NULL,"
    " rua TEXT NOT NULL,"
    " UNIQUE(period_id, policy_domain, source_ip, disposition, dkim_eval,"
    " spf_eval, header_from, envelope_from, envelope_to, dkim_auth,"
    " spf_domain, spf_scope, spf_result))",
    NULL,
};
static const char *const sqlite_migration_v6[] = {
    /* When each recipient was last tried, so a delay notice is sent once
     * even when an admin flush moves next_attempt (0 = not recorded:
     * rows from before this version, the queue then estimates it). */
    "ALTER TABLE queue_recipient ADD COLUMN last_attempt INTEGER NOT NULL "
    "DEFAULT 0",
    NULL,
};
static const char *const *const sqlite_migrations[] = {
    sqlite_migration_v2,
    sqlite_migration_v3,
    sqlite_migration_v4,
    sqlite_migration_v5,
    sqlite_migration_v6,
};

/* Migrates from version from to from+1 in its own transaction; the version
 * is re-read inside it, since another process may have done it. */
static int sqlite_schema_migrate(struct sqlite_conn *conn, unsigned from,
				 const char **error_r)
{
	if (sqlite_conn_exec(conn, "BEGIN IMMEDIATE", error_r) < 0)
		return -1;
	unsigned version;
	(void)sqlite_schema_version_read(conn, &version);
	if (version == from) {
		const char *const *sql = sqlite_migrations[from - 1];
		for (; *sql != NULL; sql++) {
			if (sqlite_conn_exec(conn, *sql, error_r) < 0)
				goto fail;
		}
		char update[96];
		snprintf(update, sizeof(update),
			 "UPDATE schema_version SET version=%u", from + 1);
		if (sqlite_conn_exec(conn, update, error_r) < 0)
			goto fail;
	}
	if (sqlite_conn_exec(conn, "COMMIT", error_r) < 0)
		goto fail;
	return 0;
fail:
	(void)sqlite3_exec(conn->db, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}

static int sqlite_schema_init(struct sqlite_store *ss, const char **error_r)
{
	unsigned version;
	if (sqlite_schema_version_read(ss->writer, &version) == 0 ||
	    version == 0) {
		if (sqlite_schema_create(ss->writer, error_r) < 0)
			return -1;
		(void)sqlite_schema_version_read(ss->writer, &version);
	}
	if (version > STORE_SCHEMA_VERSION) {
		*error_r = store_error_printf(
		    "store schema version %u is newer than this build's %u",
		    version, STORE_SCHEMA_VERSION);
		return -1;
	}
	while (version < STORE_SCHEMA_VERSION) {
		if (sqlite_schema_migrate(ss->writer, version, error_r) < 0)
			return -1;
		(void)sqlite_schema_version_read(ss->writer, &version);
	}
	ss->schema_version = version;
	return 0;
}

static void sqlite_bodies_sweep(struct sqlite_store *ss)
{
	DIR *dir = opendir(ss->bodies_dir);
	if (dir == NULL)
		return;
	time_t now = time(NULL);
	struct dirent *d;
	while ((d = readdir(dir)) != NULL) {
		if (d->d_name[0] == '.' &&
		    (d->d_name[1] == '\0' || strcmp(d->d_name, "..") == 0))
			continue;
		char *path =
		    i_strdup_printf("%s/%s", ss->bodies_dir, d->d_name);
		struct stat st;
		if (stat(path, &st) < 0 ||
		    now - st.st_mtime < SQLITE_ORPHAN_AGE_SECS) {
			i_free(path);
			continue;
		}
		bool orphan = strncmp(d->d_name, ".tmp-", 5) == 0;
		if (!orphan) {
			sqlite3_stmt *stmt;
			if (sqlite3_prepare_v2(
				ss->writer->db,
				"SELECT 1 FROM body WHERE path=?1", -1, &stmt,
				NULL) == SQLITE_OK) {
				sqlite3_bind_text(stmt, 1, d->d_name, -1,
						  SQLITE_STATIC);
				orphan = sqlite3_step(stmt) == SQLITE_DONE;
				sqlite3_finalize(stmt);
			}
		}
		if (orphan) {
			log_info(NULL, "store_orphan_removed", "path=%s",
				 d->d_name);
			(void)unlink(path);
		}
		i_free(path);
	}
	closedir(dir);
}

/* WAL size (pages) that wakes the checkpointer: SQLite's own default. */
#define SQLITE_CHECKPOINT_PAGES 1000

static int sqlite_wal_hook(void *ctx, sqlite3 *db, const char *name, int pages)
{
	struct sqlite_store *ss = ctx;
	if (pages >= SQLITE_CHECKPOINT_PAGES) {
		pthread_mutex_lock(&ss->checkpoint_lock);
		if (!ss->checkpoint_wanted) {
			ss->checkpoint_wanted = true;
			pthread_cond_signal(&ss->checkpoint_cond);
		}
		pthread_mutex_unlock(&ss->checkpoint_lock);
	}
	return SQLITE_OK;
}

static void *sqlite_checkpoint_thread(void *arg)
{
	struct sqlite_store *ss = arg;
	pthread_mutex_lock(&ss->checkpoint_lock);
	for (;;) {
		while (!ss->checkpoint_wanted && !ss->checkpoint_stopping)
			pthread_cond_wait(&ss->checkpoint_cond,
					  &ss->checkpoint_lock);
		if (ss->checkpoint_stopping)
			break;
		ss->checkpoint_wanted = false;
		pthread_mutex_unlock(&ss->checkpoint_lock);

		/* PASSIVE: copies what no reader still needs, never waits
		 * for readers or the writer. */
		int log_pages, done_pages;
		int rc = sqlite3_wal_checkpoint_v2(ss->checkpointer->db, NULL,
						   SQLITE_CHECKPOINT_PASSIVE,
						   &log_pages, &done_pages);
		if (rc != SQLITE_OK && rc != SQLITE_BUSY) {
			char quoted[256];
			log_warn(
			    NULL, "store_checkpoint_failed", "error=%s",
			    log_quote(quoted, sizeof(quoted),
				      sqlite3_errmsg(ss->checkpointer->db)));
		}

		pthread_mutex_lock(&ss->checkpoint_lock);
		ss->checkpoints++;
	}
	pthread_mutex_unlock(&ss->checkpoint_lock);
	return NULL;
}

static int sqlite_checkpointer_start(struct sqlite_store *ss,
				     const char **error_r)
{
	if (sqlite_conn_open(ss, false, &ss->checkpointer, error_r) < 0)
		return -1;
	if (sqlite_conn_exec(ss->checkpointer, "PRAGMA query_only=0", error_r) <
		0 ||
	    sqlite_conn_exec(ss->writer, "PRAGMA wal_autocheckpoint=0",
			     error_r) < 0)
		return -1;
	if (pthread_create(&ss->checkpoint_thread, NULL,
			   sqlite_checkpoint_thread, ss) != 0) {
		*error_r = "cannot start the checkpoint thread";
		return -1;
	}
	ss->checkpoint_started = true;
	sqlite3_wal_hook(ss->writer->db, sqlite_wal_hook, ss);
	return 0;
}

static void sqlite_checkpointer_stop(struct sqlite_store *ss)
{
	if (ss->checkpoint_started) {
		pthread_mutex_lock(&ss->checkpoint_lock);
		ss->checkpoint_stopping = true;
		pthread_cond_signal(&ss->checkpoint_cond);
		pthread_mutex_unlock(&ss->checkpoint_lock);
		pthread_join(ss->checkpoint_thread, NULL);
		ss->checkpoint_started = false;
	}
	sqlite_conn_close(&ss->checkpointer);
}

static int sqlite_store_open(struct store *store, const char **error_r)
{
	struct sqlite_store *ss = i_new(struct sqlite_store, 1);
	store->backend_ctx = ss;
	pthread_mutex_init(&ss->readers_lock, NULL);
	pthread_mutex_init(&ss->checkpoint_lock, NULL);
	pthread_cond_init(&ss->checkpoint_cond, NULL);
	ss->db_path = i_strdup_printf("%s/%s", store->data_dir, SQLITE_DB_FILE);
	ss->bodies_dir =
	    i_strdup_printf("%s/%s", store->data_dir, SQLITE_BODIES_DIR);
	if (mkdir(ss->bodies_dir, 0700) < 0 && errno != EEXIST) {
		*error_r = store_error_printf("mkdir(%s): %s", ss->bodies_dir,
					      strerror(errno));
		return -1;
	}
	if (sqlite_conn_open(ss, true, &ss->writer, error_r) < 0)
		return -1;
	if (sqlite_schema_init(ss, error_r) < 0)
		return -1;
	sqlite_bodies_sweep(ss);
	if (sqlite_checkpointer_start(ss, error_r) < 0)
		return -1;
	return 0;
}

static void sqlite_store_close(struct store *store)
{
	struct sqlite_store *ss = sqlite_store_get(store);
	if (ss == NULL)
		return;
	sqlite_checkpointer_stop(ss);
	if (ss->writer != NULL)
		sqlite3_wal_hook(ss->writer->db, NULL, NULL);
	while (ss->readers != NULL) {
		struct sqlite_conn *conn = ss->readers;
		ss->readers = conn->next;
		sqlite_conn_close(&conn);
	}
	sqlite_conn_close(&ss->writer);
	pthread_mutex_destroy(&ss->readers_lock);
	pthread_mutex_destroy(&ss->checkpoint_lock);
	pthread_cond_destroy(&ss->checkpoint_cond);
	for (unsigned i = 0; i < ss->unlink_count; i++)
		i_free(ss->unlink_paths[i]);
	free(ss->unlink_paths);
	i_free(ss->db_path);
	i_free(ss->bodies_dir);
	free(ss);
	store->backend_ctx = NULL;
}

static unsigned sqlite_store_schema_version(struct store *store)
{
	return sqlite_store_get(store)->schema_version;
}

/* ------------------------------------------------------------------ */
/* Large bodies in files */

static int sqlite_fsync_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int ret = fsync(fd);
	close(fd);
	return ret;
}

static enum store_error sqlite_body_file_write(struct sqlite_store *ss,
					       struct store_new_body *body,
					       const char **error_r)
{
	uint8_t rnd[12];
	if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd)) {
		*error_r = store_error_printf("getrandom: %s", strerror(errno));
		return STORE_ERR_TEMP;
	}
	char name[sizeof(rnd) * 2 + 8];
	for (unsigned i = 0; i < sizeof(rnd); i++)
		snprintf(name + i * 2, 3, "%02x", rnd[i]);
	memcpy(name + sizeof(rnd) * 2, ".eml", 5);

	char *tmp = i_strdup_printf("%s/.tmp-%s", ss->bodies_dir, name);
	char *final = i_strdup_printf("%s/%s", ss->bodies_dir, name);
	enum store_error err = STORE_OK;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		err = errno == ENOSPC ? STORE_ERR_DISK_FULL : STORE_ERR_TEMP;
		*error_r =
		    store_error_printf("open(%s): %s", tmp, strerror(errno));
		goto out;
	}
	size_t done = 0;
	while (done < body->size) {
		ssize_t n = write(fd, body->data + done, body->size - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			err = errno == ENOSPC ? STORE_ERR_DISK_FULL
					      : STORE_ERR_TEMP;
			*error_r = store_error_printf("write(%s): %s", tmp,
						      strerror(errno));
			break;
		}
		done += n;
	}
	if (err == STORE_OK && fdatasync(fd) < 0) {
		err = errno == ENOSPC ? STORE_ERR_DISK_FULL : STORE_ERR_TEMP;
		*error_r = store_error_printf("fdatasync(%s): %s", tmp,
					      strerror(errno));
	}
	close(fd);
	if (err == STORE_OK && rename(tmp, final) < 0) {
		err = STORE_ERR_TEMP;
		*error_r =
		    store_error_printf("rename(%s): %s", tmp, strerror(errno));
	}
	if (err != STORE_OK) {
		(void)unlink(tmp);
		goto out;
	}
	if (sqlite_fsync_dir(ss->bodies_dir) < 0) {
		err = STORE_ERR_TEMP;
		*error_r = store_error_printf("fsync(%s): %s", ss->bodies_dir,
					      strerror(errno));
		(void)unlink(final);
		goto out;
	}
	body->file_name = i_strdup(name);
out:
	i_free(tmp);
	i_free(final);
	return err;
}

static void sqlite_body_files_remove(struct sqlite_store *ss,
				     struct store_txn *txn)
{
	for (unsigned i = 0; i < txn->op_count; i++) {
		struct store_new_body *body = &txn->ops[i].body;
		if (body->file_name == NULL)
			continue;
		char *path =
		    i_strdup_printf("%s/%s", ss->bodies_dir, body->file_name);
		(void)unlink(path);
		i_free(path);
		i_free(body->file_name);
	}
}

static enum store_error sqlite_store_txn_prepare(struct store *store,
						 struct store_txn *txn,
						 const char **error_r)
{
	struct sqlite_store *ss = sqlite_store_get(store);
	for (unsigned i = 0; i < txn->op_count; i++) {
		struct store_op *op = &txn->ops[i];
		if ((op->type != STORE_OP_DELIVER &&
		     op->type != STORE_OP_APPEND &&
		     op->type != STORE_OP_ENQUEUE) ||
		    op->shared_body ||
		    op->body.size <= store->body_inline_max ||
		    op->body.file_name != NULL)
			continue;
		enum store_error err =
		    sqlite_body_file_write(ss, &op->body, error_r);
		if (err != STORE_OK) {
			sqlite_body_files_remove(ss, txn);
			return err;
		}
	}
	return STORE_OK;
}

/* ------------------------------------------------------------------ */
/* Batches */

static enum store_error sqlite_store_batch_begin(struct store *store,
						 const char **error_r)
{
	struct sqlite_store *ss = sqlite_store_get(store);
	ss->batch_broken = false;
	ss->batch_error = STORE_ERR_TEMP;
	int rc = sqlite_conn_exec(ss->writer, "BEGIN IMMEDIATE", error_r);
	return rc < 0 ? sqlite_store_error(-rc) : STORE_OK;
}

static enum store_error sqlite_store_batch_commit(struct store *store,
						  const char **error_r)
{
	struct sqlite_store *ss = sqlite_store_get(store);
	if (ss->batch_broken) {
		*error_r = ss->batch_error == STORE_ERR_DISK_FULL
			       ? "disk full: the batch was rolled back"
			       : "the batch was rolled back by the database";
		return ss->batch_error;
	}
	int rc = sqlite_conn_exec(ss->writer, "COMMIT", error_r);
	if (rc < 0) {
		enum store_error err = sqlite_store_error(-rc);
		return err == STORE_ERR_EXISTS ? STORE_ERR_TEMP : err;
	}
	return STORE_OK;
}

static void sqlite_unlink_list_clear(struct sqlite_store *ss, bool do_unlink)
{
	for (unsigned i = 0; i < ss->unlink_count; i++) {
		if (do_unlink) {
			char *path = i_strdup_printf("%s/%s", ss->bodies_dir,
						     ss->unlink_paths[i]);
			(void)unlink(path);
			i_free(path);
		}
		i_free(ss->unlink_paths[i]);
	}
	ss->unlink_count = 0;
}

static void sqlite_store_batch_abort(struct store *store,
				     struct store_txn *const *txns,
				     unsigned count)
{
	struct sqlite_store *ss = sqlite_store_get(store);
	if (!sqlite3_get_autocommit(ss->writer->db))
		(void)sqlite3_exec(ss->writer->db, "ROLLBACK", NULL, NULL,
				   NULL);
	sqlite_unlink_list_clear(ss, false);
	for (unsigned i = 0; i < count; i++)
		sqlite_body_files_remove(ss, txns[i]);
}

static void sqlite_store_after_commit(struct store *store,
				      struct store_txn *const *txns,
				      unsigned count)
{
	struct sqlite_store *ss = sqlite_store_get(store);
	/* Bodies freed by the batch: their rows are gone for good now. */
	sqlite_unlink_list_clear(ss, true);
	for (unsigned i = 0; i < count; i++) {
		if (txns[i]->error != STORE_OK)
			sqlite_body_files_remove(ss, txns[i]);
	}
}

const struct store_backend store_backend_sqlite = {
    .name = "sqlite",
    .open = sqlite_store_open,
    .close = sqlite_store_close,
    .schema_version = sqlite_store_schema_version,
    .txn_prepare = sqlite_store_txn_prepare,
    .batch_begin = sqlite_store_batch_begin,
    .txn_apply = sqlite_store_txn_apply,
    .batch_commit = sqlite_store_batch_commit,
    .batch_abort = sqlite_store_batch_abort,
    .after_commit = sqlite_store_after_commit,
    .account_lookup = sqlite_store_account_lookup,
    .account_list = sqlite_store_account_list,
    .domain_list = sqlite_store_domain_list,
    .domain_exists = sqlite_store_domain_exists,
    .alias_list = sqlite_store_alias_list,
    .alias_targets = sqlite_store_alias_targets,
    .account_id = sqlite_store_account_id,
    .mailbox_list = sqlite_store_mailbox_list,
    .mailbox_lookup = sqlite_store_mailbox_lookup,
    .subscription_list = sqlite_store_subscription_list,
    .mailbox_status = sqlite_store_mailbox_status,
    .message_iter_init = sqlite_store_message_iter_init,
    .message_iter_headers = sqlite_store_message_iter_headers,
    .message_uids = sqlite_store_message_uids,
    .message_iter_next = sqlite_store_message_iter_next,
    .message_iter_deinit = sqlite_store_message_iter_deinit,
    .message_get = sqlite_store_message_get,
    .body_open = sqlite_store_body_open,
    .body_size = sqlite_store_body_size,
    .body_read = sqlite_store_body_read,
    .body_close = sqlite_store_body_close,
    .queue_due = sqlite_store_queue_due,
    .queue_next_due = sqlite_store_queue_next_due,
    .mailbox_vanished = sqlite_store_mailbox_vanished,
    .dmarc_periods = sqlite_store_dmarc_periods,
    .dmarc_rows = sqlite_store_dmarc_rows,
};
