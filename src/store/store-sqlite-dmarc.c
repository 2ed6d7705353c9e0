/* SPDX-License-Identifier: MIT */
#include "lib.h"
#include "pool.h"
#include "store-sqlite-write.h"

/* DMARC aggregate report rows in SQLite: the writer's three operations and
 * the two reads. The open period is the row of dmarc_period with end=0;
 * only the writer opens and closes periods, so a row and a close are
 * ordered by the writer and a closed period never changes again. */

/* 1 and *id_r for the open period, 0 when none, -1 failed. */
static int w_dmarc_open_period(struct wctx *w, int64_t *id_r,
			       unsigned *rows_r)
{
	sqlite3_stmt *stmt = w_stmt(
	    w, "SELECT id, rows FROM dmarc_period WHERE end=0 ORDER BY id "
	       "DESC LIMIT 1");
	if (stmt == NULL)
		return -1;
	int rc = w_step(w, stmt);
	if (rc < 0)
		return -1;
	int ret = 0;
	if (rc == SQLITE_ROW) {
		*id_r = sqlite3_column_int64(stmt, 0);
		*rows_r = (unsigned)sqlite3_column_int64(stmt, 1);
		ret = 1;
	}
	sqlite3_reset(stmt);
	return ret;
}

static bool w_dmarc_period_open(struct wctx *w, time_t begin, int64_t *id_r)
{
	sqlite3_stmt *stmt =
	    w_stmt(w, "INSERT INTO dmarc_period(begin) VALUES(?1)");
	if (stmt == NULL)
		return false;
	sqlite3_bind_int64(stmt, 1, (int64_t)begin);
	if (!w_done(w, stmt))
		return false;
	*id_r = sqlite3_last_insert_rowid(w->conn->db);
	return true;
}

/* The aggregation key, bound as ?2..?13 after the period id ?1. */
static void w_dmarc_bind_key(sqlite3_stmt *stmt,
			     const struct store_dmarc_row *r)
{
	const char *const key[] = {
	    r->policy_domain, r->source_ip,	r->disposition,
	    r->dkim_eval,     r->spf_eval,	r->header_from,
	    r->envelope_from, r->envelope_to,	r->dkim_auth,
	    r->spf_domain,    r->spf_scope,	r->spf_result,
	};
	for (unsigned i = 0; i < N_ELEMENTS(key); i++)
		sqlite3_bind_text(stmt, 2 + (int)i, key[i], -1, SQLITE_STATIC);
}

/* The policy published, bound from ?15 on. */
static void w_dmarc_bind_policy(sqlite3_stmt *stmt,
				const struct store_dmarc_row *r)
{
	const char *const policy[] = {r->p,    r->sp, r->adkim,
				      r->aspf, r->fo, r->rua};
	for (unsigned i = 0; i < N_ELEMENTS(policy); i++)
		sqlite3_bind_text(stmt, 15 + (int)i, policy[i], -1,
				  SQLITE_STATIC);
	sqlite3_bind_int(stmt, 21, (int)r->pct);
	sqlite3_bind_int64(stmt, 22, (int64_t)r->count);
}

bool w_dmarc_record(struct wctx *w, struct store_op *op)
{
	const struct store_dmarc_row *r = op->dmarc_row;
	int64_t period_id = 0;
	unsigned rows = 0;
	int ret = w_dmarc_open_period(w, &period_id, &rows);
	if (ret < 0)
		return false;
	if (ret == 0) {
		time_t when = op->internaldate != 0 ? op->internaldate
						    : time(NULL);
		if (!w_dmarc_period_open(w, when, &period_id))
			return false;
	}

	sqlite3_stmt *stmt = w_stmt(
	    w, "UPDATE dmarc_row SET count=count+?22, p=?15, sp=?16, "
	       "adkim=?17, aspf=?18, fo=?19, rua=?20, pct=?21 "
	       "WHERE period_id=?1 AND policy_domain=?2 AND source_ip=?3 "
	       "AND disposition=?4 AND dkim_eval=?5 AND spf_eval=?6 AND "
	       "header_from=?7 AND envelope_from=?8 AND envelope_to=?9 AND "
	       "dkim_auth=?10 AND spf_domain=?11 AND spf_scope=?12 AND "
	       "spf_result=?13");
	if (stmt == NULL)
		return false;
	sqlite3_bind_int64(stmt, 1, period_id);
	w_dmarc_bind_key(stmt, r);
	w_dmarc_bind_policy(stmt, r);
	if (!w_done(w, stmt))
		return false;
	if (w_changes(w) > 0) {
		op->result.id = period_id;
		return true;
	}
	if (rows >= STORE_DMARC_ROWS_MAX)
		return w_fail(w, STORE_ERR_OVER_QUOTA,
			      "DMARC report period holds %u rows already",
			      rows);

	stmt = w_stmt(
	    w, "INSERT INTO dmarc_row(period_id, policy_domain, source_ip, "
	       "disposition, dkim_eval, spf_eval, header_from, envelope_from, "
	       "envelope_to, dkim_auth, spf_domain, spf_scope, spf_result, "
	       "p, sp, adkim, aspf, fo, rua, pct, count) VALUES(?1, ?2, ?3, "
	       "?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?15, ?16, ?17, "
	       "?18, ?19, ?20, ?21, ?22)");
	if (stmt == NULL)
		return false;
	sqlite3_bind_int64(stmt, 1, period_id);
	w_dmarc_bind_key(stmt, r);
	w_dmarc_bind_policy(stmt, r);
	if (!w_done(w, stmt))
		return false;
	stmt = w_stmt(w, "UPDATE dmarc_period SET rows=rows+1 WHERE id=?1");
	if (stmt == NULL)
		return false;
	sqlite3_bind_int64(stmt, 1, period_id);
	if (!w_done(w, stmt))
		return false;
	op->result.id = period_id;
	return true;
}

static bool w_dmarc_period_delete(struct wctx *w, int64_t period_id)
{
	sqlite3_stmt *stmt = w_stmt(w, "DELETE FROM dmarc_period WHERE id=?1");
	if (stmt == NULL)
		return false;
	sqlite3_bind_int64(stmt, 1, period_id);
	return w_done(w, stmt);
}

bool w_dmarc_period_close(struct wctx *w, struct store_op *op)
{
	int64_t period_id = 0;
	unsigned rows = 0;
	int ret = w_dmarc_open_period(w, &period_id, &rows);
	if (ret < 0)
		return false;
	if (ret == 0 || (op->queue_id != 0 && op->queue_id != period_id))
		return w_fail(w, STORE_ERR_NOT_FOUND,
			      "no such open DMARC report period");
	time_t end = op->internaldate != 0 ? op->internaldate : time(NULL);

	if (rows == 0) {
		/* Nothing to report: the period is only a start time. */
		if (!w_dmarc_period_delete(w, period_id))
			return false;
	} else {
		sqlite3_stmt *stmt =
		    w_stmt(w, "UPDATE dmarc_period SET end=?2 WHERE id=?1");
		if (stmt == NULL)
			return false;
		sqlite3_bind_int64(stmt, 1, period_id);
		/* end=0 means open: a closed period ends at 1 at least. */
		sqlite3_bind_int64(stmt, 2, end > 0 ? (int64_t)end : 1);
		if (!w_done(w, stmt))
			return false;
	}
	int64_t next_id;
	if (!w_dmarc_period_open(w, end, &next_id))
		return false;
	op->result.id = period_id;
	op->result.count = rows;
	return true;
}

bool w_dmarc_report_done(struct wctx *w, struct store_op *op)
{
	sqlite3_stmt *stmt = w_stmt(
	    w, "DELETE FROM dmarc_row WHERE period_id=?1 AND policy_domain=?2 "
	       "AND EXISTS(SELECT 1 FROM dmarc_period WHERE id=?1 AND end<>0)");
	if (stmt == NULL)
		return false;
	sqlite3_bind_int64(stmt, 1, op->queue_id);
	sqlite3_bind_text(stmt, 2, op->s1, -1, SQLITE_STATIC);
	if (!w_done(w, stmt))
		return false;
	int deleted = w_changes(w);
	if (deleted == 0)
		return w_fail(w, STORE_ERR_NOT_FOUND,
			      "no DMARC report rows left for %s", op->s1);
	stmt = w_stmt(w, "DELETE FROM dmarc_period WHERE id=?1 AND end<>0 AND "
			 "NOT EXISTS(SELECT 1 FROM dmarc_row WHERE "
			 "period_id=?1)");
	if (stmt == NULL)
		return false;
	sqlite3_bind_int64(stmt, 1, op->queue_id);
	if (!w_done(w, stmt))
		return false;
	op->result.count = (unsigned)deleted;
	return true;
}

/* ------------------------------------------------------------------ */
/* Reads */

int sqlite_store_dmarc_periods(struct store *store, struct pool *pool,
			       struct store_dmarc_period **periods_r,
			       unsigned *count_r, const char **error_r)
{
	struct sqlite_conn *conn = sqlite_reader_get(store, error_r);
	if (conn == NULL)
		return -1;
	sqlite3_stmt *stmt = sqlite_conn_stmt(
	    conn,
	    "SELECT id, begin, end, (SELECT count(*) FROM dmarc_row WHERE "
	    "period_id=dmarc_period.id) FROM dmarc_period ORDER BY end=0, id",
	    error_r);
	int ret = -1;
	struct store_dmarc_period *periods = NULL;
	unsigned count = 0, alloc = 0;
	if (stmt != NULL) {
		int rc;
		while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
			if (count == alloc) {
				unsigned n = alloc == 0 ? 8 : alloc * 2;
				struct store_dmarc_period *p2 = p_new(
				    pool, struct store_dmarc_period, n);
				if (count > 0)
					memcpy(p2, periods,
					       count * sizeof(*periods));
				periods = p2;
				alloc = n;
			}
			struct store_dmarc_period *p = &periods[count++];
			p->id = sqlite3_column_int64(stmt, 0);
			p->begin = (time_t)sqlite3_column_int64(stmt, 1);
			p->end = (time_t)sqlite3_column_int64(stmt, 2);
			p->rows = (unsigned)sqlite3_column_int64(stmt, 3);
		}
		if (rc == SQLITE_DONE)
			ret = 1;
		else
			*error_r = sqlite_conn_errmsg(conn, rc);
		sqlite3_reset(stmt);
	}
	sqlite_reader_put(store, conn);
	*periods_r = periods;
	*count_r = ret < 0 ? 0 : count;
	return ret;
}

#define DMARC_ROW_COLS                                                         \
	"id, policy_domain, source_ip, disposition, dkim_eval, spf_eval, "     \
	"header_from, envelope_from, envelope_to, dkim_auth, spf_domain, "     \
	"spf_scope, spf_result, p, sp, adkim, aspf, fo, rua, pct, count"

static void sqlite_dmarc_row(struct pool *pool, sqlite3_stmt *stmt,
			     struct store_dmarc_row *r)
{
	const char **const text[] = {
	    &r->policy_domain, &r->source_ip,	  &r->disposition,
	    &r->dkim_eval,     &r->spf_eval,	  &r->header_from,
	    &r->envelope_from, &r->envelope_to,	  &r->dkim_auth,
	    &r->spf_domain,    &r->spf_scope,	  &r->spf_result,
	    &r->p,	       &r->sp,		  &r->adkim,
	    &r->aspf,	       &r->fo,		  &r->rua,
	};
	r->id = sqlite3_column_int64(stmt, 0);
	for (unsigned i = 0; i < N_ELEMENTS(text); i++)
		*text[i] = sqlite_column_pstr(pool, stmt, 1 + (int)i);
	r->pct = (unsigned)sqlite3_column_int64(stmt, 19);
	r->count = (uint64_t)sqlite3_column_int64(stmt, 20);
}

int sqlite_store_dmarc_rows(struct store *store, int64_t period_id,
			    const char *policy_domain, struct pool *pool,
			    struct store_dmarc_row **rows_r, unsigned *count_r,
			    const char **error_r)
{
	struct sqlite_conn *conn = sqlite_reader_get(store, error_r);
	if (conn == NULL)
		return -1;
	sqlite3_stmt *stmt = sqlite_conn_stmt(
	    conn,
	    "SELECT " DMARC_ROW_COLS " FROM dmarc_row WHERE period_id=?1 AND "
	    "(?2 IS NULL OR policy_domain=?2) ORDER BY policy_domain, id",
	    error_r);
	int ret = -1;
	struct store_dmarc_row *rows = NULL;
	unsigned count = 0, alloc = 0;
	if (stmt != NULL) {
		sqlite3_bind_int64(stmt, 1, period_id);
		if (policy_domain != NULL)
			sqlite3_bind_text(stmt, 2, policy_domain, -1,
					  SQLITE_STATIC);
		int rc;
		while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
			if (count == alloc) {
				unsigned n = alloc == 0 ? 16 : alloc * 2;
				struct store_dmarc_row *r2 =
				    p_new(pool, struct store_dmarc_row, n);
				if (count > 0)
					memcpy(r2, rows, count * sizeof(*rows));
				rows = r2;
				alloc = n;
			}
			sqlite_dmarc_row(pool, stmt, &rows[count++]);
		}
		if (rc == SQLITE_DONE)
			ret = 1;
		else
			*error_r = sqlite_conn_errmsg(conn, rc);
		sqlite3_reset(stmt);
	}
	sqlite_reader_put(store, conn);
	*rows_r = rows;
	*count_r = ret < 0 ? 0 : count;
	return ret;
}
