/* SPDX-License-Identifier: MIT */
#include "imapd.h"
#include "log.h"
#include "conn.h"
#include "store.h"
#include "imap-args.h"

/* The selected mailbox as one session sees it. Sequence numbers only
 * change when this session is told (RFC 9051 section 7.5.1): changes from
 * other sessions wait in pending until a point where they may be sent. */

/* Appends the messages from uid_first on to the view. */
static int view_load(struct imapd_client *client, uint32_t uid_first,
		     const char **error_r)
{
	struct imapd_mailbox *mbox = client->mbox;
	uint32_t *uids = NULL, count = 0, cap = 0;
	int ret = store_message_uids(client->svc->store, mbox->id, uid_first,
				     &uids, &count, &cap, error_r);
	uint32_t last = imap_uidmap_last_uid(&mbox->map);
	for (uint32_t i = 0; i < count; i++) {
		/* A NEW from the watch may have come first. */
		if (uids[i] > last) {
			imap_uidmap_append(&mbox->map, uids[i]);
			last = uids[i];
		}
	}
	free(uids);
	/* An idle session keeps only what it needs. */
	imap_uidmap_trim(&mbox->map);
	return ret;
}

static void watch_callback(void *ctx, int64_t mailbox_id,
			   const struct store_change *changes, unsigned count)
{
	struct imapd_client *client = ctx;
	struct imapd_mailbox *mbox = client->mbox;

	(void)mailbox_id;
	if (mbox == NULL || conn_is_closed(client->conn))
		return;
	if (mbox->pending_count + count > IMAPD_MAX_PENDING_CHANGES) {
		/* A session that never asks would hold every change made to
		 * a busy mailbox: make it resynchronise instead. */
		conn_write_str(client->conn,
			       "* BYE Too many unreported changes, please reconnect\r\n");
		conn_close_after_flush(client->conn, "too many changes");
		return;
	}
	for (unsigned i = 0; i < count; i++) {
		if (mbox->pending_count == mbox->pending_cap) {
			mbox->pending_cap = mbox->pending_cap == 0 ? 16 : mbox->pending_cap * 2;
			mbox->pending = i_realloc(mbox->pending, mbox->pending_cap *
							       sizeof(*mbox->pending));
		}
		struct imapd_change *c = &mbox->pending[mbox->pending_count++];
		c->type = changes[i].type;
		c->uid = changes[i].uid;
		c->modseq = changes[i].modseq;
		c->flags = changes[i].flags;
		c->keywords = i_strdup(changes[i].keywords);
	}
	/* IDLE (RFC 2177): tell the client now. */
	if (client->input == IMAPD_INPUT_IDLE)
		imapd_mailbox_flush_changes(client, true);
}

int imapd_mailbox_open(struct imapd_client *client, int64_t mailbox_id,
		       const char *name, bool readonly, const char **error_r)
{
	struct imapd_mailbox *mbox = i_new(struct imapd_mailbox, 1);
	struct completion_target target = imapd_client_target(client);

	mbox->id = mailbox_id;
	mbox->name = i_strdup(name);
	mbox->readonly = readonly;
	client->mbox = mbox;
	/* Watch first, then read: nothing committed in between is lost (a
	 * NEW for a UID already in the view is ignored). */
	mbox->watch = store_watch_create(client->svc->store, mailbox_id, &target,
					 watch_callback, client);
	if (view_load(client, 1, error_r) < 0) {
		imapd_mailbox_close(client);
		return -1;
	}
	return 1;
}

void imapd_mailbox_close(struct imapd_client *client)
{
	struct imapd_mailbox *mbox = client->mbox;

	if (mbox == NULL)
		return;
	store_watch_destroy(&mbox->watch);
	for (size_t i = 0; i < mbox->pending_count; i++)
		i_free(mbox->pending[i].keywords);
	i_free(mbox->pending);
	imap_uidmap_free(&mbox->map);
	i_free(mbox->name);
	free(mbox);
	client->mbox = NULL;
	imap_seqset_clear(&client->saved);
}

void imapd_mailbox_add_own_modseq(struct imapd_mailbox *mbox, uint64_t modseq)
{
	mbox->own_modseqs[mbox->own_pos++ % IMAPD_OWN_MODSEQS] = modseq;
}

static bool is_own_modseq(const struct imapd_mailbox *mbox, uint64_t modseq)
{
	for (unsigned i = 0; i < IMAPD_OWN_MODSEQS; i++) {
		if (mbox->own_modseqs[i] == modseq && modseq != 0)
			return true;
	}
	return false;
}

bool imapd_mailbox_is_recent(struct imapd_client *client, uint32_t uid)
{
	return client->mbox != NULL && !client->rev2 &&
	       client->mbox->recent_first_uid != 0 &&
	       uid >= client->mbox->recent_first_uid;
}

void imapd_append_flags(struct imapd_client *client, struct buf *b,
			uint32_t uid, uint32_t flags, const char *keywords)
{
	unsigned system = flags & IMAP_FLAGS_SYSTEM_STORABLE;
	if (imapd_mailbox_is_recent(client, uid))
		system |= IMAP_FLAG_RECENT;
	imap_flags_write(b, system, NULL, 0);
	if (keywords != NULL && keywords[0] != '\0') {
		/* Insert the keywords before the closing parenthesis. */
		b->len--;
		if (b->data[b->len - 1] != '(')
			buf_append_byte(b, ' ');
		buf_append_str(b, keywords);
		buf_append_byte(b, ')');
	}
}

/* Ranges per VANISHED line: clients parse a line at a time. */
#define VANISHED_LINE_RANGES 1000

void imapd_vanished_write(struct buf *b, bool earlier,
			  const struct imap_seqset *uids)
{
	for (size_t i = 0; i < uids->count; i++) {
		const struct imap_seq_range *r = &uids->ranges[i];
		if (i % VANISHED_LINE_RANGES == 0)
			buf_append_str(b, earlier ? "* VANISHED (EARLIER) "
						  : "* VANISHED ");
		else
			buf_append_byte(b, ',');
		if (r->lo == r->hi)
			buf_printf(b, "%u", r->lo);
		else
			buf_printf(b, "%u:%u", r->lo, r->hi);
		if (i % VANISHED_LINE_RANGES == VANISHED_LINE_RANGES - 1 ||
		    i + 1 == uids->count)
			buf_append_str(b, "\r\n");
	}
}

void imapd_mailbox_expunged(struct imapd_client *client, const uint32_t *uids,
			    unsigned count)
{
	struct imapd_mailbox *mbox = client->mbox;
	struct imap_seqset gone = IMAP_SEQSET_INIT;
	struct buf b = BUF_INIT;

	for (unsigned i = 0; i < count; i++) {
		uint32_t seq = imap_uidmap_seq(&mbox->map, uids[i]);
		if (seq == 0)
			continue;
		imap_uidmap_remove(&mbox->map, seq);
		/* RFC 7162 section 3.2.10.2: VANISHED only names messages
		 * the client was told of, like EXPUNGE. */
		if (client->qresync)
			imap_seqset_add(&gone, uids[i]);
		else
			buf_printf(&b, "* %u EXPUNGE\r\n", seq);
		if (b.len > 64 * 1024)
			imapd_write_buf(client, &b);
	}
	if (gone.count > 0) {
		imap_seqset_normalize(&gone);
		imapd_vanished_write(&b, false, &gone);
	}
	if (b.len > 0)
		imapd_write_buf(client, &b);
	buf_free(&b);
	imap_seqset_free(&gone);
}

int imapd_mailbox_vanished_earlier(struct imapd_client *client,
				   uint64_t since_modseq,
				   const struct imap_seqset *filter,
				   struct pool *pool, const char **error_r)
{
	struct imap_seqset set = IMAP_SEQSET_INIT;
	struct buf b = BUF_INIT;
	uint32_t *uids;
	unsigned count;

	if (store_mailbox_vanished(client->svc->store, client->mbox->id,
				   since_modseq, pool, &uids, &count, error_r) < 0)
		return -1;
	for (unsigned i = 0; i < count; i++) {
		if (filter == NULL || imap_seqset_contains(filter, uids[i]))
			imap_seqset_add(&set, uids[i]);
	}
	imap_seqset_normalize(&set);
	imapd_vanished_write(&b, true, &set);
	if (b.len > 0)
		imapd_write_buf(client, &b);
	buf_free(&b);
	imap_seqset_free(&set);
	return 1;
}

uint32_t imapd_mailbox_recent_count(struct imapd_mailbox *mbox)
{
	/* The recent messages are the tail of the map. */
	if (mbox->recent_first_uid == 0)
		return 0;
	return mbox->map.count -
	       imap_uidmap_count_below(&mbox->map, mbox->recent_first_uid);
}

void imapd_mailbox_flush_changes(struct imapd_client *client,
				 bool allow_expunge)
{
	struct imapd_mailbox *mbox = client->mbox;
	struct buf b = BUF_INIT;
	size_t kept = 0;
	bool exists = false, hold = false;
	uint64_t held_modseq = 0;

	if (mbox == NULL || mbox->pending_count == 0)
		return;
	for (size_t i = 0; i < mbox->pending_count; i++) {
		struct imapd_change *c = &mbox->pending[i];
		bool keep = false;

		if (hold) {
			mbox->pending[kept++] = *c;
			continue;
		}
		if (c->type != STORE_CHANGE_NEW && exists) {
			buf_printf(&b, "* %u EXISTS\r\n", mbox->map.count);
			if (!client->rev2)
				buf_printf(&b, "* %u RECENT\r\n",
					   imapd_mailbox_recent_count(mbox));
			exists = false;
		}
		if (c->type == STORE_CHANGE_EXPUNGE && allow_expunge) {
			/* A run of expunges is one VANISHED for QRESYNC. */
			size_t n = 1;
			while (i + n < mbox->pending_count &&
			       mbox->pending[i + n].type == STORE_CHANGE_EXPUNGE)
				n++;
			uint32_t *uids = i_new(uint32_t, n);
			for (size_t k = 0; k < n; k++) {
				uids[k] = mbox->pending[i + k].uid;
				i_free(mbox->pending[i + k].keywords);
			}
			imapd_write_buf(client, &b);
			imapd_mailbox_expunged(client, uids, (unsigned)n);
			free(uids);
			i += n - 1;
			continue;
		}
		switch ((enum store_change_type)c->type) {
		case STORE_CHANGE_NEW:
			if (c->uid > imap_uidmap_last_uid(&mbox->map)) {
				imap_uidmap_append(&mbox->map, c->uid);
				exists = true;
			}
			break;
		case STORE_CHANGE_EXPUNGE:
			/* Held back while FETCH, STORE or SEARCH run. A
			 * QRESYNC client takes the highest MODSEQ it saw as
			 * its sync point, so nothing later may overtake the
			 * expunge (RFC 7162 section 3.2). The echo of this
			 * session's own expunges is not in the view: none
			 * of that. */
			if (imap_uidmap_seq(&mbox->map, c->uid) == 0)
				break;
			keep = true;
			if (client->qresync && !hold) {
				hold = true;
				held_modseq = c->modseq;
			}
			break;
		case STORE_CHANGE_FLAGS: {
			uint32_t seq;
			if (is_own_modseq(mbox, c->modseq))
				break;
			seq = imap_uidmap_seq(&mbox->map, c->uid);
			if (seq == 0)
				break;
			buf_printf(&b, "* %u FETCH (UID %u FLAGS ", seq, c->uid);
			imapd_append_flags(client, &b, c->uid, c->flags, c->keywords);
			if (client->condstore)
				buf_printf(&b, " MODSEQ (%llu)",
					   (unsigned long long)c->modseq);
			buf_append_str(&b, ")\r\n");
			break;
		}
		case STORE_CHANGE_MAILBOX_GONE:
			if (!mbox->gone) {
				mbox->gone = true;
				buf_append_str(&b, "* BYE Selected mailbox was deleted\r\n");
				conn_close_after_flush(client->conn, "mailbox gone");
			}
			break;
		}
		if (keep) {
			mbox->pending[kept++] = *c;
		} else {
			i_free(c->keywords);
		}
	}
	if (exists) {
		buf_printf(&b, "* %u EXISTS\r\n", mbox->map.count);
		if (!client->rev2)
			buf_printf(&b, "* %u RECENT\r\n",
				   imapd_mailbox_recent_count(mbox));
	}
	/* The command may have shown higher MODSEQs than the held expunge's
	 * (its own FETCH or STORE): the client must not skip past it
	 * (RFC 7162 section 6, the example). */
	if (held_modseq > 0)
		buf_printf(&b, "* OK [HIGHESTMODSEQ %llu] VANISHED delayed\r\n",
			   (unsigned long long)(held_modseq - 1));
	mbox->pending_count = kept;
	if (b.len > 0)
		imapd_write_buf(client, &b);
	buf_free(&b);
}

void imapd_mailbox_sync_new(struct imapd_client *client)
{
	struct imapd_mailbox *mbox = client->mbox;
	const char *error;
	uint32_t old = mbox->map.count;
	uint32_t last = imap_uidmap_last_uid(&mbox->map);

	/* UIDs ascend in commit order and a read sees every batch up to the
	 * one just completed, so nothing below the new last UID can still
	 * be on its way. */
	if (view_load(client, last + 1, &error) < 0)
		log_warn(client->sid, "sync_failed", "error=%s", error);
	if (mbox->map.count != old) {
		imapd_printf(client, "* %u EXISTS\r\n", mbox->map.count);
		if (!client->rev2)
			imapd_printf(client, "* %u RECENT\r\n",
				     imapd_mailbox_recent_count(mbox));
	}
}

int imapd_mailbox_resolve_set(struct imapd_client *client, const char *str,
			      bool uid, struct imap_seqset *seqs_r,
			      struct imap_seqset *uids_r, const char **error_r)
{
	struct imapd_mailbox *mbox = client->mbox;
	struct imap_seqset set = IMAP_SEQSET_INIT;

	if (imap_seqset_parse(str, &set, 0, error_r) < 0) {
		imap_seqset_free(&set);
		return -1;
	}
	if (set.saved) {
		/* "$": the saved result (UIDs), RFC 5182. */
		imap_uidmap_uids_to_seqs(&mbox->map, &client->saved, seqs_r);
	} else if (uid) {
		imap_seqset_resolve(&set, imap_uidmap_last_uid(&mbox->map));
		imap_uidmap_uids_to_seqs(&mbox->map, &set, seqs_r);
	} else {
		if (mbox->map.count == 0 && imap_seqset_has_star(&set)) {
			imap_seqset_free(&set);
			*error_r = "No messages";
			return -1;
		}
		imap_seqset_resolve(&set, mbox->map.count);
		if (imap_seqset_max(&set) > mbox->map.count) {
			imap_seqset_free(&set);
			*error_r = "Invalid message sequence number";
			return -1;
		}
		imap_seqset_clear(seqs_r);
		for (size_t i = 0; i < set.count; i++)
			imap_seqset_add_range(seqs_r, set.ranges[i].lo,
					      set.ranges[i].hi);
	}
	imap_seqset_free(&set);
	if (uids_r != NULL &&
	    imap_uidmap_seqs_to_uids(&mbox->map, seqs_r, uids_r) < 0) {
		*error_r = "Invalid message sequence number";
		return -1;
	}
	return 1;
}
