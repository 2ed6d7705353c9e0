/* SPDX-License-Identifier: MIT */
#include "imapd.h"
#include "log.h"
#include "strutil.h"
#include "conn.h"
#include "net-loop.h"
#include "store.h"
#include "imap-args.h"
#include "imap-quote.h"

/* SELECT, EXAMINE, CREATE, DELETE, RENAME, (UN)SUBSCRIBE, LIST, LSUB,
 * STATUS, CLOSE, UNSELECT (RFC 9051 sections 6.3 and 6.4; LIST-EXTENDED
 * RFC 5258, SPECIAL-USE RFC 6154, LIST-STATUS RFC 5819). */

static const char *mailbox_arg(struct imapd_client *client,
			       const struct imap_arg *arg, const char **error_r)
{
	const char *raw;
	if (!imap_arg_get_astring(arg, &raw)) {
		*error_r = "Invalid mailbox name";
		return NULL;
	}
	return imapd_mailbox_name_in(client, raw, error_r);
}

/* --- SELECT / EXAMINE --- */

static void claim_done(struct store_txn *txn, void *ctx)
{
	/* Best effort: a failed claim only leaves \Recent set longer. The
	 * hold only keeps shutdown from dropping this completion. */
	(void)txn;
	net_loop_unhold(ctx);
}

/* RFC 7162 section 3.2.5.1: what changed since the client's modseq, as
 * "UID FETCH known-uids (FLAGS) (CHANGEDSINCE modseq VANISHED)" would
 * tell. The expunge history is complete (the store keeps every expunged
 * UID with its modseq), so the seq-match-data hint of section 3.2.5.2 is
 * not needed to narrow VANISHED and is only checked for syntax. */
static void qresync_select(struct imapd_client *client, struct imapd_cmd *cmd,
			   const struct imap_select_params *params,
			   const char *ok_text)
{
	struct imapd_mailbox *mbox = client->mbox;
	struct imap_seqset seqs = IMAP_SEQSET_INIT;
	const struct imap_seqset *known =
		params->known_uids_given ? &params->known_uids : NULL;
	const char *error;

	if (imapd_mailbox_vanished_earlier(client, params->modseq, known,
					   cmd->pool, &error) < 0) {
		/* The client would miss expunges: fail the SELECT. */
		log_warn(client->sid, "qresync_failed", "error=%s", error);
		imapd_mailbox_close(client);
		client->state = IMAPD_STATE_AUTH;
		imapd_cmd_reply(client, "NO", "[UNAVAILABLE] Cannot read expunged UIDs");
		return;
	}
	if (known != NULL)
		imap_uidmap_uids_to_seqs(&mbox->map, known, &seqs);
	else if (mbox->map.count > 0)
		imap_seqset_add_range(&seqs, 1, mbox->map.count);
	imapd_fetch_changed(client, &seqs, params->modseq, ok_text);
	imap_seqset_free(&seqs);
}

void imapd_cmd_select(struct imapd_client *client, struct imapd_cmd *cmd)
{
	bool readonly = strcmp(cmd->name, "EXAMINE") == 0;
	struct store_mailbox *box;
	struct store_mailbox_status st;
	const char *name, *error;
	struct buf b = BUF_INIT;
	int ret;

	if (cmd->args_count < 1 ||
	    (name = mailbox_arg(client, &cmd->args[0], &error)) == NULL) {
		imapd_cmd_reply(client, "BAD", "%s", cmd->args_count < 1 ?
				"Missing mailbox" : error);
		return;
	}
	/* select-params (RFC 4466): (CONDSTORE) and (QRESYNC (...)), RFC
	 * 7162 sections 3.1.8 and 3.2.5, checked before anything changes. */
	struct imap_select_params params;
	memset(&params, 0, sizeof(params));
	if (cmd->args_count > 1) {
		if (cmd->args_count > 2 ||
		    imap_select_params_parse(&cmd->args[1], &params, &error) < 0) {
			imapd_cmd_reply(client, "BAD", "%s", cmd->args_count > 2 ?
					"Unknown SELECT parameters" : error);
			return;
		}
		if (params.qresync && !client->qresync) {
			imap_select_params_free(&params);
			imapd_cmd_reply(client, "BAD", "QRESYNC needs ENABLE QRESYNC");
			return;
		}
		if (params.condstore)
			client->condstore = true;
	}
	if (client->mbox != NULL) {
		imapd_mailbox_close(client);
		client->state = IMAPD_STATE_AUTH;
		/* RFC 9051 section 7.1: the old mailbox is closed. */
		imapd_write_str(client, "* OK [CLOSED] Previous mailbox closed\r\n");
	}
	ret = store_mailbox_lookup(client->svc->store, client->account_id, name,
				   cmd->pool, &box, &error);
	if (ret == 0) {
		imap_select_params_free(&params);
		imapd_cmd_reply(client, "NO", "[NONEXISTENT] Mailbox does not exist");
		return;
	}
	if (ret < 0 || store_mailbox_status(client->svc->store, box->id, &st,
					    &error) <= 0 ||
	    imapd_mailbox_open(client, box->id, box->name, readonly, &error) < 0) {
		log_warn(client->sid, "select_failed", "error=%s", error);
		imap_select_params_free(&params);
		imapd_cmd_reply(client, "NO", "[UNAVAILABLE] Cannot open mailbox");
		return;
	}
	struct imapd_mailbox *mbox = client->mbox;
	mbox->uidvalidity = box->uidvalidity;
	mbox->recent_first_uid = st.first_recent_uid == 0 ? box->uidnext
							  : st.first_recent_uid;
	client->state = IMAPD_STATE_SELECTED;

	buf_printf(&b, "* %u EXISTS\r\n", mbox->map.count);
	if (!client->rev2) {
		buf_printf(&b, "* %u RECENT\r\n",
			   imapd_mailbox_recent_count(mbox));
		if (st.first_unseen_uid != 0) {
			uint32_t seq = imap_uidmap_seq(&mbox->map,
						       st.first_unseen_uid);
			if (seq != 0)
				buf_printf(&b, "* OK [UNSEEN %u] First unseen\r\n", seq);
		}
	}
	buf_append_str(&b, "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n");
	if (readonly)
		buf_append_str(&b, "* OK [PERMANENTFLAGS ()] Read-only mailbox\r\n");
	else
		buf_append_str(&b, "* OK [PERMANENTFLAGS (\\Answered \\Flagged "
				   "\\Deleted \\Seen \\Draft \\*)] Flags permitted\r\n");
	buf_printf(&b, "* OK [UIDVALIDITY %u] UIDs valid\r\n", box->uidvalidity);
	buf_printf(&b, "* OK [UIDNEXT %u] Predicted next UID\r\n", box->uidnext);
	buf_printf(&b, "* OK [HIGHESTMODSEQ %llu] Highest\r\n",
		   (unsigned long long)st.highestmodseq);
	if (client->rev2) {
		buf_append_str(&b, "* LIST () \"/\" ");
		imapd_append_mailbox_name(client, &b, box->name);
		buf_append_str(&b, "\r\n");
	}
	imapd_write_buf(client, &b);
	buf_free(&b);

	/* The messages up to uidnext are now no longer \Recent for other
	 * sessions (RFC 3501 section 2.3.2). */
	if (!readonly && st.recent > 0) {
		struct store_txn *txn = store_txn_create(client->svc->store);
		store_txn_mailbox_claim_recent(txn, box->id, box->uidnext);
		net_loop_hold(conn_loop(client->conn));
		store_txn_commit(txn, &client->target, claim_done,
				 conn_loop(client->conn));
	}
	const char *ok_text = pool_printf(cmd->pool, "[%s] %s completed",
					  readonly ? "READ-ONLY" : "READ-WRITE",
					  cmd->name);
	/* RFC 7162 section 3.2.5: with another UIDVALIDITY the rest of the
	 * parameters is ignored. */
	if (params.qresync && params.uidvalidity == box->uidvalidity) {
		qresync_select(client, cmd, &params, ok_text);
		imap_select_params_free(&params);
		return;
	}
	imap_select_params_free(&params);
	imapd_cmd_reply(client, "OK", "%s", ok_text);
}

/* --- CREATE / DELETE / RENAME / SUBSCRIBE --- */

static void simple_done(struct imapd_client *client, struct store_txn *txn,
			void *ctx)
{
	imapd_txn_reply(client, txn, ctx);
}

void imapd_cmd_create(struct imapd_client *client, struct imapd_cmd *cmd)
{
	const char *name, *error;

	if (cmd->args_count < 1 ||
	    (name = mailbox_arg(client, &cmd->args[0], &error)) == NULL) {
		imapd_cmd_reply(client, "BAD", "%s", cmd->args_count < 1 ?
				"Missing mailbox" : error);
		return;
	}
	/* A trailing separator only announces that children will follow. */
	size_t len = strlen(name);
	if (len > 1 && name[len - 1] == STORE_HIERARCHY_SEP)
		name = pool_strndup(cmd->pool, name, len - 1);
	if (strcmp(name, "INBOX") == 0) {
		imapd_cmd_reply(client, "NO", "[ALREADYEXISTS] INBOX always exists");
		return;
	}
	struct store_txn *txn = store_txn_create(client->svc->store);
	store_txn_mailbox_create(txn, client->account_id, name, STORE_SPECIAL_NONE);
	imapd_txn_commit(client, txn, simple_done, "CREATE completed");
}

void imapd_cmd_delete(struct imapd_client *client, struct imapd_cmd *cmd)
{
	const char *name, *error;

	if (cmd->args_count != 1 ||
	    (name = mailbox_arg(client, &cmd->args[0], &error)) == NULL) {
		imapd_cmd_reply(client, "BAD", "%s", cmd->args_count != 1 ?
				"Usage: DELETE mailbox" : error);
		return;
	}
	if (strcmp(name, "INBOX") == 0) {
		imapd_cmd_reply(client, "NO", "[CANNOT] INBOX cannot be deleted");
		return;
	}
	struct store_txn *txn = store_txn_create(client->svc->store);
	store_txn_mailbox_delete(txn, client->account_id, name);
	imapd_txn_commit(client, txn, simple_done, "DELETE completed");
}

void imapd_cmd_rename(struct imapd_client *client, struct imapd_cmd *cmd)
{
	const char *from, *to, *error;

	if (cmd->args_count != 2 ||
	    (from = mailbox_arg(client, &cmd->args[0], &error)) == NULL ||
	    (to = mailbox_arg(client, &cmd->args[1], &error)) == NULL) {
		imapd_cmd_reply(client, "BAD", "%s", cmd->args_count != 2 ?
				"Usage: RENAME old new" : error);
		return;
	}
	struct store_txn *txn = store_txn_create(client->svc->store);
	store_txn_mailbox_rename(txn, client->account_id, from, to);
	imapd_txn_commit(client, txn, simple_done, "RENAME completed");
}

void imapd_cmd_subscribe(struct imapd_client *client, struct imapd_cmd *cmd)
{
	bool subscribe = strcmp(cmd->name, "SUBSCRIBE") == 0;
	const char *name, *error;

	if (cmd->args_count != 1 ||
	    (name = mailbox_arg(client, &cmd->args[0], &error)) == NULL) {
		imapd_cmd_reply(client, "BAD", "%s", cmd->args_count != 1 ?
				"Missing mailbox" : error);
		return;
	}
	struct store_txn *txn = store_txn_create(client->svc->store);
	store_txn_subscribe(txn, client->account_id, name, subscribe);
	imapd_txn_commit(client, txn, simple_done,
			 subscribe ? "SUBSCRIBE completed" : "UNSUBSCRIBE completed");
}

/* --- STATUS --- */

static int status_write(struct imapd_client *client, struct buf *b,
			const char *name, int64_t mailbox_id, unsigned items)
{
	struct store_mailbox_status st;
	const char *error;
	bool first = true;

	if (store_mailbox_status(client->svc->store, mailbox_id, &st, &error) <= 0)
		return -1;
	buf_append_str(b, "* STATUS ");
	imapd_append_mailbox_name(client, b, name);
	buf_append_str(b, " (");
#define ITEM(flag, fmt, value)                                   \
	if ((items & (flag)) != 0) {                             \
		buf_printf(b, "%s" fmt, first ? "" : " ", value); \
		first = false;                                   \
	}
	ITEM(IMAP_STATUS_MESSAGES, "MESSAGES %u", st.messages);
	ITEM(IMAP_STATUS_RECENT, "RECENT %u", st.recent);
	ITEM(IMAP_STATUS_UIDNEXT, "UIDNEXT %u", st.uidnext);
	ITEM(IMAP_STATUS_UIDVALIDITY, "UIDVALIDITY %u", st.uidvalidity);
	ITEM(IMAP_STATUS_UNSEEN, "UNSEEN %u", st.unseen);
	ITEM(IMAP_STATUS_SIZE, "SIZE %llu", (unsigned long long)st.size);
	ITEM(IMAP_STATUS_HIGHESTMODSEQ, "HIGHESTMODSEQ %llu",
	     (unsigned long long)st.highestmodseq);
#undef ITEM
	if ((items & IMAP_STATUS_DELETED) != 0) {
		/* Counted from the metadata: no index of \Deleted. */
		struct store_message_iter *iter = store_message_iter_init(
			client->svc->store, mailbox_id, 1, 0, 0);
		struct store_message msg;
		uint32_t deleted = 0;
		while (store_message_iter_next(iter, &msg) > 0) {
			if ((msg.flags & STORE_FLAG_DELETED) != 0)
				deleted++;
		}
		(void)store_message_iter_deinit(&iter, &error);
		buf_printf(b, "%sDELETED %u", first ? "" : " ", deleted);
	}
	buf_append_str(b, ")\r\n");
	return 0;
}

void imapd_cmd_status(struct imapd_client *client, struct imapd_cmd *cmd)
{
	struct store_mailbox *box;
	const char *name, *error;
	unsigned items;
	struct buf b = BUF_INIT;
	int ret;

	if (cmd->args_count != 2 ||
	    (name = mailbox_arg(client, &cmd->args[0], &error)) == NULL) {
		imapd_cmd_reply(client, "BAD", "%s", cmd->args_count != 2 ?
				"Usage: STATUS mailbox (items)" : error);
		return;
	}
	if (imap_status_items_parse(&cmd->args[1], &items, &error) < 0) {
		imapd_cmd_reply(client, "BAD", "%s", error);
		return;
	}
	if ((items & IMAP_STATUS_HIGHESTMODSEQ) != 0)
		client->condstore = true;
	ret = store_mailbox_lookup(client->svc->store, client->account_id, name,
				   cmd->pool, &box, &error);
	if (ret == 0) {
		imapd_cmd_reply(client, "NO", "[NONEXISTENT] Mailbox does not exist");
		return;
	}
	if (ret < 0 || status_write(client, &b, box->name, box->id, items) < 0) {
		buf_free(&b);
		imapd_cmd_reply(client, "NO", "[UNAVAILABLE] Cannot read status");
		return;
	}
	imapd_write_buf(client, &b);
	buf_free(&b);
	imapd_cmd_reply(client, "OK", "STATUS completed");
}

/* --- LIST / LSUB --- */

static const struct {
	enum store_special_use flag;
	const char *name;
} special_uses[] = {
	{ STORE_SPECIAL_ALL, "\\All" },	      { STORE_SPECIAL_ARCHIVE, "\\Archive" },
	{ STORE_SPECIAL_DRAFTS, "\\Drafts" }, { STORE_SPECIAL_FLAGGED, "\\Flagged" },
	{ STORE_SPECIAL_JUNK, "\\Junk" },     { STORE_SPECIAL_SENT, "\\Sent" },
	{ STORE_SPECIAL_TRASH, "\\Trash" },
};

static bool name_matches(struct imapd_client *client,
			 const struct imap_list_args *la, const char *name,
			 struct pool *pool)
{
	for (size_t i = 0; i < la->patterns_count; i++) {
		const char *error;
		const char *pattern = imap_list_join(pool, la->reference,
						     la->patterns[i],
						     STORE_HIERARCHY_SEP);
		/* Patterns are converted like names (mUTF-7 for rev1). */
		const char *p = imapd_mailbox_name_in(client, pattern, &error);
		if (p != NULL && imap_list_match(p, name, STORE_HIERARCHY_SEP))
			return true;
	}
	return false;
}

static void list_line(struct imapd_client *client, struct buf *b,
		      const char *cmdname, const char *attrs, const char *name)
{
	buf_printf(b, "* %s (%s) \"/\" ", cmdname, attrs);
	imapd_append_mailbox_name(client, b, name);
	buf_append_str(b, "\r\n");
}

static bool subscribed(const char *const *subs, unsigned count, const char *name)
{
	for (unsigned i = 0; i < count; i++) {
		if (strcmp(subs[i], name) == 0)
			return true;
	}
	return false;
}

static bool has_subscribed_child(const char *const *subs, unsigned count,
				 const char *name)
{
	size_t n = strlen(name);
	for (unsigned i = 0; i < count; i++) {
		if (strncmp(subs[i], name, n) == 0 && subs[i][n] == STORE_HIERARCHY_SEP)
			return true;
	}
	return false;
}

void imapd_cmd_list(struct imapd_client *client, struct imapd_cmd *cmd)
{
	bool lsub = strcmp(cmd->name, "LSUB") == 0;
	struct imap_list_args la;
	struct store_mailbox *boxes;
	const char *const *subs;
	unsigned count, sub_count;
	const char *error;
	struct buf b = BUF_INIT, attrs = BUF_INIT;

	if (imap_list_args_parse(cmd->args, cmd->args_count, cmd->pool, &la,
				 &error) < 0 ||
	    (lsub && la.extended)) {
		imapd_cmd_reply(client, "BAD", "%s", lsub && la.extended ?
				"Invalid LSUB arguments" : error);
		return;
	}
	/* LIST "" "": the hierarchy delimiter and root (RFC 9051 6.3.9). */
	if (la.patterns_count == 1 && la.patterns[0][0] == '\0' && !la.extended) {
		imapd_printf(client, "* %s (\\Noselect) \"/\" \"\"\r\n", cmd->name);
		imapd_cmd_reply(client, "OK", "%s completed", cmd->name);
		return;
	}
	if (store_mailbox_list(client->svc->store, client->account_id, cmd->pool,
			       &boxes, &count, &error) < 0 ||
	    store_subscription_list(client->svc->store, client->account_id,
				    cmd->pool, &subs, &sub_count, &error) < 0) {
		imapd_cmd_reply(client, "NO", "[UNAVAILABLE] Cannot list mailboxes");
		return;
	}

	bool sel_subscribed = lsub || (la.select & IMAP_LIST_SEL_SUBSCRIBED) != 0;
	bool ret_subscribed = (la.ret & IMAP_LIST_RET_SUBSCRIBED) != 0 ||
			      (la.select & IMAP_LIST_SEL_SUBSCRIBED) != 0;
	bool show_special = !la.extended || (la.ret & IMAP_LIST_RET_SPECIAL_USE) != 0 ||
			    (la.select & IMAP_LIST_SEL_SPECIAL_USE) != 0;

	for (unsigned i = 0; i < count; i++) {
		const struct store_mailbox *box = &boxes[i];
		bool is_sub = box->subscribed || subscribed(subs, sub_count, box->name);

		if (!name_matches(client, &la, box->name, cmd->pool))
			continue;
		/* RFC 5258 section 3.5: with RECURSIVEMATCH a parent of a
		 * subscribed mailbox is listed with CHILDINFO. */
		bool childinfo = (la.select & IMAP_LIST_SEL_RECURSIVEMATCH) != 0 &&
				 has_subscribed_child(subs, sub_count, box->name);
		if (sel_subscribed && !is_sub && !childinfo)
			continue;
		if ((la.select & IMAP_LIST_SEL_SPECIAL_USE) != 0 &&
		    box->special_use == STORE_SPECIAL_NONE)
			continue;
		buf_reset(&attrs);
		if (!lsub) {
			buf_append_str(&attrs, box->has_children ? "\\HasChildren"
								 : "\\HasNoChildren");
			if (ret_subscribed && is_sub)
				buf_append_str(&attrs, " \\Subscribed");
			if (show_special) {
				for (size_t s = 0; s < N_ELEMENTS(special_uses); s++) {
					if ((box->special_use & special_uses[s].flag) != 0) {
						buf_append_byte(&attrs, ' ');
						buf_append_str(&attrs, special_uses[s].name);
					}
				}
			}
		}
		list_line(client, &b, cmd->name, buf_cstr(&attrs), box->name);
		if (childinfo) {
			b.len -= 2; /* before the CRLF */
			buf_append_str(&b, " (\"CHILDINFO\" (\"SUBSCRIBED\"))\r\n");
		}
		if ((la.ret & IMAP_LIST_RET_STATUS) != 0)
			(void)status_write(client, &b, box->name, box->id,
					   la.status_items);
		if (b.len > 64 * 1024)
			imapd_write_buf(client, &b);
	}
	/* Subscriptions of mailboxes that no longer exist. */
	if (sel_subscribed) {
		for (unsigned i = 0; i < sub_count; i++) {
			bool exists = false;
			for (unsigned j = 0; j < count && !exists; j++)
				exists = strcmp(boxes[j].name, subs[i]) == 0;
			if (exists || !name_matches(client, &la, subs[i], cmd->pool))
				continue;
			list_line(client, &b, cmd->name,
				  lsub ? "\\Noselect" : "\\NonExistent \\Subscribed",
				  subs[i]);
		}
	}
	imapd_write_buf(client, &b);
	buf_free(&b);
	buf_free(&attrs);
	imapd_cmd_reply(client, "OK", "%s completed", cmd->name);
}

/* --- CLOSE / UNSELECT --- */

static void close_done(struct imapd_client *client, struct store_txn *txn,
		       void *ctx)
{
	/* RFC 9051 6.4.1: no untagged EXPUNGE for CLOSE. */
	imapd_mailbox_close(client);
	client->state = IMAPD_STATE_AUTH;
	imapd_cmd_reply(client, "OK", "CLOSE completed");
}

void imapd_cmd_close(struct imapd_client *client, struct imapd_cmd *cmd)
{
	if (cmd->args_count != 0) {
		imapd_cmd_reply(client, "BAD", "No arguments expected");
		return;
	}
	if (strcmp(cmd->name, "CLOSE") == 0 && !client->mbox->readonly) {
		struct store_txn *txn = store_txn_create(client->svc->store);
		store_txn_expunge(txn, client->mbox->id, NULL, 0, true);
		imapd_txn_commit(client, txn, close_done, NULL);
		return;
	}
	imapd_mailbox_close(client);
	client->state = IMAPD_STATE_AUTH;
	imapd_cmd_reply(client, "OK", "%s completed", cmd->name);
}
