/* SPDX-License-Identifier: MIT */
#include "lib.h"
#include "log.h"
#include "pool.h"
#include "conn.h"
#include "net-loop.h"
#include "store.h"
#include "pop3d.h"

#include <pthread.h>

/* ---- the in-use registry ---- */

/* RFC 1939 section 8 / RFC 2449 section 8.1.2 (IN-USE): one POP3 session
 * per maildrop. Few sessions are logged in at once, so a flat array under
 * one mutex is enough. */
static pthread_mutex_t pop3_lock_mutex = PTHREAD_MUTEX_INITIALIZER;
static int64_t *pop3_locked;
static unsigned pop3_locked_count, pop3_locked_cap;

bool pop3_maildrop_lock(int64_t mailbox_id)
{
	bool taken = true;

	pthread_mutex_lock(&pop3_lock_mutex);
	for (unsigned i = 0; i < pop3_locked_count; i++) {
		if (pop3_locked[i] == mailbox_id) {
			taken = false;
			break;
		}
	}
	if (taken) {
		if (pop3_locked_count == pop3_locked_cap) {
			pop3_locked_cap = pop3_locked_cap == 0 ?
						  16 : pop3_locked_cap * 2;
			pop3_locked = i_realloc(pop3_locked,
						i_size_mul(pop3_locked_cap,
							   sizeof(int64_t)));
		}
		pop3_locked[pop3_locked_count++] = mailbox_id;
	}
	pthread_mutex_unlock(&pop3_lock_mutex);
	return taken;
}

void pop3_maildrop_unlock(int64_t mailbox_id)
{
	pthread_mutex_lock(&pop3_lock_mutex);
	for (unsigned i = 0; i < pop3_locked_count; i++) {
		if (pop3_locked[i] == mailbox_id) {
			pop3_locked[i] = pop3_locked[--pop3_locked_count];
			break;
		}
	}
	pthread_mutex_unlock(&pop3_lock_mutex);
}

/* ---- the snapshot ---- */

static int pop3_maildrop_list(struct store *store, struct pop3_maildrop *md,
			      const char **error_r)
{
	struct store_message_iter *iter;
	struct store_message msg;
	unsigned cap = 0;
	int ret;

	iter = store_message_iter_init(store, md->mailbox_id, 1, 0, 0);
	while ((ret = store_message_iter_next(iter, &msg)) > 0) {
		if (md->count == cap) {
			cap = cap == 0 ? 64 : cap * 2;
			md->msgs = i_realloc(md->msgs,
					     i_size_mul(cap, sizeof(*md->msgs)));
		}
		struct pop3_message *m = &md->msgs[md->count++];
		m->uid = msg.uid;
		m->deleted = false;
		m->retrieved = false;
		m->seen = (msg.flags & STORE_FLAG_SEEN) != 0;
		m->size = msg.size;
		m->body_id = msg.body_id;
		md->total_size += msg.size;
	}
	if (store_message_iter_deinit(&iter, error_r) < 0 || ret < 0)
		return -1;
	return 1;
}

int pop3_maildrop_open(struct store *store, int64_t account_id,
		       struct pop3_maildrop **md_r, const char **error_r)
{
	struct pool *pool = pool_create("pop3 maildrop", 1024);
	struct store_mailbox *mbox;
	struct pop3_maildrop *md;
	int ret;

	ret = store_mailbox_lookup(store, account_id, "INBOX", pool, &mbox,
				   error_r);
	if (ret <= 0) {
		if (ret == 0)
			*error_r = "account has no INBOX";
		pool_destroy(&pool);
		return -1;
	}
	if (!pop3_maildrop_lock(mbox->id)) {
		pool_destroy(&pool);
		return 0;
	}
	md = i_new(struct pop3_maildrop, 1);
	md->account_id = account_id;
	md->mailbox_id = mbox->id;
	md->uidvalidity = mbox->uidvalidity;
	pool_destroy(&pool);
	if (pop3_maildrop_list(store, md, error_r) < 0) {
		pop3_maildrop_unlock(md->mailbox_id);
		pop3_maildrop_free(&md);
		return -1;
	}
	*md_r = md;
	return 1;
}

void pop3_maildrop_free(struct pop3_maildrop **_md)
{
	struct pop3_maildrop *md = *_md;

	if (md == NULL)
		return;
	i_free(md->msgs);
	i_free(md);
	*_md = NULL;
}

struct pop3_message *pop3_maildrop_get(struct pop3_maildrop *md, uint64_t num,
				       const char **error_r)
{
	if (num == 0 || num > md->count) {
		*error_r = md->count == 0 ? "No such message: maildrop is empty"
					  : "No such message";
		return NULL;
	}
	if (md->msgs[num - 1].deleted) {
		*error_r = "Message is deleted";
		return NULL;
	}
	return &md->msgs[num - 1];
}

struct pop3_message *pop3_maildrop_get_arg(struct pop3_maildrop *md,
					   const char *arg,
					   const char **error_r)
{
	uint64_t num;

	if (pop3_parse_number(arg, UINT32_MAX, &num) < 0) {
		*error_r = "Invalid message number";
		return NULL;
	}
	return pop3_maildrop_get(md, num, error_r);
}

void pop3_maildrop_uidl(const struct pop3_maildrop *md,
			const struct pop3_message *msg,
			char dst[POP3_UIDL_MAX_LEN])
{
	/* RFC 1939 section 7: 1-70 characters in 0x21-0x7E, never reused
	 * for another message. An IMAP (UIDVALIDITY, UID) pair never names
	 * two messages (RFC 9051 section 2.3.1.1). */
	snprintf(dst, POP3_UIDL_MAX_LEN, "%u.%u", md->uidvalidity, msg->uid);
}

/* ---- UPDATE ---- */

struct pop3_update {
	struct conn *conn;
	struct completion_target target;
	int64_t mailbox_id;
	int expunge_op; /* -1 = none */
	unsigned wanted;
};

static void pop3_update_done(struct store_txn *txn, void *ctx)
{
	struct pop3_update *up = ctx;
	struct pop3_session *s;
	const char *text;
	enum store_error err = store_txn_error(txn, &text);
	unsigned expunged = 0;

	if (err == STORE_OK && up->expunge_op >= 0)
		expunged = store_txn_result(txn, (unsigned)up->expunge_op)->count;
	/* Only now may another session see (and lock) the maildrop. */
	pop3_maildrop_unlock(up->mailbox_id);

	if (conn_is_closed(up->conn)) {
		/* The client went away during the commit; the deletions
		 * stand if the commit succeeded. */
		log_info(conn_sid(up->conn), "pop3_update",
			 "result=%s expunged=%u client=gone",
			 err == STORE_OK ? "ok" : "failed",
			 expunged);
	} else {
		s = conn_get_context(up->conn);
		s->updating = false;
		if (err != STORE_OK) {
			log_error(s->sid, "pop3_update", "result=failed error=%s",
				  pop3_logq(text));
			/* RFC 1939 section 6. */
			pop3_reply(s, "-ERR [SYS/TEMP] Some deleted messages "
				      "not removed");
		} else {
			log_info(s->sid, "pop3_update",
				 "result=ok expunged=%u wanted=%u", expunged,
				 up->wanted);
			if (up->wanted == 0)
				pop3_reply(s, "+OK Bye, no messages deleted");
			else
				pop3_reply(s, "+OK Bye, %u message%s deleted",
					   up->wanted,
					   up->wanted == 1 ? "" : "s");
		}
		conn_close_after_flush(up->conn, "quit");
	}
	conn_unref(&up->conn);
	i_free(up);
}

/* The UIDs of messages matching want(), as ranges: consecutive UIDs share
 * one (the snapshot is in UID order). Returns the range count. */
static unsigned pop3_uid_ranges(const struct pop3_maildrop *md,
				bool (*want)(const struct pop3_message *msg),
				struct store_uid_range **ranges_r)
{
	struct store_uid_range *ranges = NULL;
	unsigned count = 0, cap = 0;

	for (unsigned i = 0; i < md->count; i++) {
		uint32_t uid = md->msgs[i].uid;
		if (!want(&md->msgs[i]))
			continue;
		if (count > 0 && ranges[count - 1].last + 1 == uid) {
			ranges[count - 1].last = uid;
			continue;
		}
		if (count == cap) {
			cap = cap == 0 ? 16 : cap * 2;
			ranges = i_realloc(ranges,
					   i_size_mul(cap, sizeof(*ranges)));
		}
		ranges[count].first = uid;
		ranges[count].last = uid;
		count++;
	}
	*ranges_r = ranges;
	return count;
}

static bool pop3_want_expunge(const struct pop3_message *msg)
{
	return msg->deleted;
}

static bool pop3_want_seen(const struct pop3_message *msg)
{
	return msg->retrieved && !msg->deleted && !msg->seen;
}

void pop3_maildrop_update(struct pop3_session *s)
{
	struct pop3_maildrop *md = s->maildrop;
	struct store_uid_range *expunge, *seen;
	unsigned expunge_count, seen_count;

	s->state = POP3_STATE_UPDATE;
	expunge_count = pop3_uid_ranges(md, pop3_want_expunge, &expunge);
	seen_count = pop3_uid_ranges(md, pop3_want_seen, &seen);
	if (expunge_count == 0 && seen_count == 0) {
		/* Unlock before "+OK": a client that reconnects at once must
		 * not find its own old session holding the maildrop. */
		pop3_maildrop_unlock(md->mailbox_id);
		s->lock_held = false;
		pop3_reply(s, "+OK Bye, no messages deleted");
		conn_close_after_flush(s->conn, "quit");
		return;
	}

	struct pop3_update *up = i_new(struct pop3_update, 1);
	struct store_txn *txn = store_txn_create(s->server->store);
	/* Messages read with RETR become \Seen, as IMAP clients expect
	 * after a POP3 download; the store skips any that IMAP expunged
	 * meanwhile. One transaction: one commit for both. */
	if (seen_count > 0) {
		store_txn_flags(txn, md->mailbox_id, seen, seen_count,
				STORE_FLAGS_ADD, STORE_FLAG_SEEN, NULL, 0);
	}
	up->expunge_op = -1;
	if (expunge_count > 0) {
		up->expunge_op = (int)store_txn_expunge(
			txn, md->mailbox_id, expunge, expunge_count, false);
	}
	i_free(expunge);
	i_free(seen);

	up->conn = s->conn;
	conn_ref(up->conn);
	up->target = s->target;
	up->mailbox_id = md->mailbox_id;
	up->wanted = md->deleted_count;
	/* The lock now belongs to the commit: it is released when the
	 * expunge is durable, even if the client disconnects first. */
	s->lock_held = false;
	s->updating = true;
	pop3_session_sync_pause(s);
	store_txn_commit(txn, &up->target, pop3_update_done, up);
}
