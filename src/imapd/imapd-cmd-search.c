/* SPDX-License-Identifier: MIT */
#include "imapd.h"
#include "strutil.h"
#include "store.h"
#include "message-date.h"
#include "rfc2047.h"
#include "mime-parser.h"
#include "imap-args.h"
#include "imap-search.h"

/* SEARCH (RFC 9051 section 6.4.4) with ESEARCH (RFC 4731) and SEARCHRES
 * (RFC 5182). Messages are walked in UID order with their metadata; the
 * header or body is read only for keys that need it, once per message. */

struct search_msg {
	uint32_t seq;
	const struct store_message *msg;
	struct pool *pool;
	struct imapd_client *client;
	/* Loaded on demand. */
	bool have_body, complete;
	const uint8_t *data;
	size_t size, header_size;
	const struct mime_part *root;
};

static size_t find_header_end(const uint8_t *data, size_t len)
{
	/* The header ends after the first empty line. */
	for (size_t i = 0; i + 1 < len; i++) {
		if (data[i] == '\n' && (data[i + 1] == '\n' ||
					(data[i + 1] == '\r' && i + 2 < len &&
					 data[i + 2] == '\n')))
			return i + 1 + (data[i + 1] == '\r' ? 2 : 1);
	}
	return 0;
}

#define SEARCH_HEADER_CHUNK (16 * 1024)

/* Reads the whole message (full = true) or only as far as its header
 * goes, so header keys never read attachments. */
static bool load(struct search_msg *m, bool full)
{
	struct store_body *body;
	const char *error;

	if (m->have_body && (m->complete || !full))
		return m->data != NULL;
	if (store_body_open(m->client->svc->store, m->msg->body_id, &body,
			    &error) <= 0) {
		m->have_body = true;
		m->complete = true;
		return false;
	}
	uint64_t size = store_body_size(body);
	uint8_t *data = pool_alloc(m->pool, (size_t)size + 1);
	size_t got = 0, hend = 0;
	while (got < size) {
		size_t want = full ? (size_t)size - got
				   : MIN((size_t)size - got, SEARCH_HEADER_CHUNK);
		ssize_t n = store_body_read(body, got, data + got, want, &error);
		if (n <= 0)
			break;
		got += (size_t)n;
		if (!full && (hend = find_header_end(data, got)) > 0)
			break;
	}
	store_body_close(&body);
	m->have_body = true;
	m->complete = full || got >= size;
	m->data = data;
	m->size = got;
	hend = find_header_end(data, got);
	m->header_size = hend > 0 ? hend : got;
	return true;
}

static bool load_body(struct search_msg *m)
{
	return load(m, true);
}

/* Finds header field `name` and matches value as a substring of any of
 * its occurrences (unfolded enough for substring matching). An empty
 * value matches any message that has the field. */
static bool header_match(struct search_msg *m, const char *name,
			 const char *value, const char **first_r, size_t *first_len_r)
{
	const uint8_t *h;
	size_t len, pos = 0, nlen = strlen(name);

	if (!load(m, false))
		return false;
	h = m->data;
	len = m->header_size;
	while (pos < len) {
		size_t start = pos, end = pos;
		for (;;) {
			const uint8_t *lf = memchr(h + end, '\n', len - end);
			end = lf == NULL ? len : (size_t)(lf - h) + 1;
			if (end >= len || (h[end] != ' ' && h[end] != '\t'))
				break;
		}
		pos = end;
		if (end - start > nlen && h[start + nlen] == ':' &&
		    str_ascii_ncmp_ci((const char *)h + start, name, nlen) == 0) {
			const char *v = (const char *)h + start + nlen + 1;
			size_t vlen = end - start - nlen - 1;
			if (first_r != NULL) {
				*first_r = v;
				*first_len_r = vlen;
				return true;
			}
			/* Encoded words are matched decoded (RFC 9051 6.4.4:
			 * strings are matched as characters). */
			const char *dec = rfc2047_decode(m->pool, (const uint8_t *)v,
							 vlen);
			if (imap_search_substr_match(dec, strlen(dec), value))
				return true;
		}
	}
	return false;
}

/* Text parts are matched decoded (transfer encoding and charset), so a
 * word in a quoted-printable or base64 body is found. */
static bool part_text_match(const struct search_msg *m,
			    const struct mime_part *part, const char *needle,
			    unsigned depth)
{
	if (depth > 100)
		return false;
	if (part->children != NULL) {
		for (const struct mime_part *c = part->children; c != NULL; c = c->next) {
			if (part_text_match(m, c, needle, depth + 1))
				return true;
		}
		return false;
	}
	if ((part->flags & MIME_PART_FLAG_TEXT) == 0 &&
	    part->content_type != NULL)
		return false;
	char cte_buf[64];
	const char *cte = imapd_part_cte(part, cte_buf, sizeof(cte_buf));
	const char *charset = NULL;
	for (unsigned i = 0; i < part->content_type_params_count; i++) {
		if (str_ascii_eq_ci(part->content_type_params[i].name, "charset"))
			charset = part->content_type_params[i].value;
	}
	bool plain_cte = cte == NULL || (!str_ascii_eq_ci(cte, "base64") &&
					 !str_ascii_eq_ci(cte, "quoted-printable"));
	bool plain_cs = charset == NULL || str_ascii_eq_ci(charset, "utf-8") ||
			str_ascii_eq_ci(charset, "us-ascii");
	if (plain_cte && plain_cs)
		return false; /* the raw match already covered it */
	struct buf dec = BUF_INIT, utf8 = BUF_INIT;
	bool found = false;
	if (imapd_cte_decode(cte, m->data + part->body_offset,
			     (size_t)part->body_size, &dec) == 0) {
		const struct buf *text = &dec;
		if (!plain_cs && charset_to_utf8(charset, dec.data == NULL ?
					(const uint8_t *)"" : dec.data,
					dec.len, &utf8) == 0)
			text = &utf8;
		found = imap_search_substr_match(buf_cstr(text), text->len, needle);
	}
	buf_free(&dec);
	buf_free(&utf8);
	return found;
}

static bool body_match(struct search_msg *m, const char *needle, bool header)
{
	if (!load_body(m))
		return false;
	size_t off = header ? 0 : m->header_size;
	if (imap_search_substr_match((const char *)m->data + off, m->size - off,
				     needle))
		return true;
	if (header) {
		const char *dec = rfc2047_decode(m->pool, m->data, m->header_size);
		if (imap_search_substr_match(dec, strlen(dec), needle))
			return true;
	}
	if (m->root == NULL)
		m->root = mime_parse(m->pool, m->data, m->size, NULL);
	return part_text_match(m, m->root, needle, 0);
}

static time_t day_of(time_t t)
{
	return t - ((t % 86400) + 86400) % 86400;
}

static bool eval(struct search_msg *m, const struct imap_search_node *n);

static bool eval_all(struct search_msg *m, const struct imap_search_node *n)
{
	for (size_t i = 0; i < n->children_count; i++) {
		if (!eval(m, n->children[i]))
			return false;
	}
	return true;
}

static bool keyword_set(const char *keywords, const char *kw)
{
	size_t n = strlen(kw);
	const char *p = keywords;
	while (p != NULL && *p != '\0') {
		const char *sp = strchr(p, ' ');
		size_t len = sp == NULL ? strlen(p) : (size_t)(sp - p);
		if (len == n && str_ascii_ncmp_ci(p, kw, n) == 0)
			return true;
		p = sp == NULL ? NULL : sp + 1;
	}
	return false;
}

static bool eval(struct search_msg *m, const struct imap_search_node *n)
{
	const struct store_message *msg = m->msg;
	struct imapd_client *client = m->client;

	switch (n->key) {
	case IMAP_SEARCH_ALL:
		return true;
	case IMAP_SEARCH_AND:
		return eval_all(m, n);
	case IMAP_SEARCH_OR:
		return eval(m, n->children[0]) || eval(m, n->children[1]);
	case IMAP_SEARCH_NOT:
		return !eval(m, n->children[0]);
	case IMAP_SEARCH_SEQSET: {
		struct imap_seqset set = IMAP_SEQSET_INIT;
		bool r;
		for (size_t i = 0; i < n->seqset.count; i++)
			imap_seqset_add_range(&set, n->seqset.ranges[i].lo,
					      n->seqset.ranges[i].hi);
		imap_seqset_resolve(&set, client->mbox->map.count);
		r = imap_seqset_contains(&set, m->seq);
		imap_seqset_free(&set);
		return r;
	}
	case IMAP_SEARCH_UID: {
		struct imap_seqset set = IMAP_SEQSET_INIT;
		struct imapd_mailbox *mbox = client->mbox;
		bool r;
		for (size_t i = 0; i < n->seqset.count; i++)
			imap_seqset_add_range(&set, n->seqset.ranges[i].lo,
					      n->seqset.ranges[i].hi);
		imap_seqset_resolve(&set, imap_uidmap_last_uid(&mbox->map));
		r = imap_seqset_contains(&set, msg->uid);
		imap_seqset_free(&set);
		return r;
	}
	case IMAP_SEARCH_SAVED:
		return imap_seqset_contains(&client->saved, msg->uid);
	case IMAP_SEARCH_FLAG:
		return (msg->flags & n->flag) != 0;
	case IMAP_SEARCH_KEYWORD:
		return keyword_set(msg->keywords, n->keyword);
	case IMAP_SEARCH_RECENT:
		return imapd_mailbox_is_recent(client, msg->uid);
	case IMAP_SEARCH_NEW:
		return imapd_mailbox_is_recent(client, msg->uid) &&
		       (msg->flags & STORE_FLAG_SEEN) == 0;
	case IMAP_SEARCH_OLD:
		return !imapd_mailbox_is_recent(client, msg->uid);
	case IMAP_SEARCH_BEFORE:
		return day_of(msg->internaldate) < n->date;
	case IMAP_SEARCH_ON:
		return day_of(msg->internaldate) == n->date;
	case IMAP_SEARCH_SINCE:
		return day_of(msg->internaldate) >= n->date;
	case IMAP_SEARCH_SENTBEFORE:
	case IMAP_SEARCH_SENTON:
	case IMAP_SEARCH_SENTSINCE: {
		const char *v;
		size_t vlen;
		time_t t;
		int tz;
		if (!header_match(m, "Date", NULL, &v, &vlen) ||
		    !message_date_parse((const uint8_t *)v, vlen, &t, &tz))
			return false;
		/* The day as written in the Date: field (its own zone). */
		t = day_of(t + (time_t)tz * 60);
		return n->key == IMAP_SEARCH_SENTBEFORE ? t < n->date :
		       n->key == IMAP_SEARCH_SENTON ? t == n->date : t >= n->date;
	}
	case IMAP_SEARCH_HEADER:
		return header_match(m, n->header, n->value, NULL, NULL);
	case IMAP_SEARCH_BODY:
		return body_match(m, n->value, false);
	case IMAP_SEARCH_TEXT:
		return body_match(m, n->value, true);
	case IMAP_SEARCH_LARGER:
		return msg->size > n->number;
	case IMAP_SEARCH_SMALLER:
		return msg->size < n->number;
	case IMAP_SEARCH_MODSEQ:
		return msg->modseq >= n->number;
	case IMAP_SEARCH_OLDER:
		return msg->internaldate <= time(NULL) - (time_t)n->number;
	case IMAP_SEARCH_YOUNGER:
		return msg->internaldate >= time(NULL) - (time_t)n->number;
	}
	return false;
}

static bool tree_has_key(const struct imap_search_node *n,
			 enum imap_search_key key)
{
	if (n->key == key)
		return true;
	for (size_t i = 0; i < n->children_count; i++) {
		if (tree_has_key(n->children[i], key))
			return true;
	}
	return false;
}

void imapd_cmd_search(struct imapd_client *client, struct imapd_cmd *cmd)
{
	struct imapd_mailbox *mbox = client->mbox;
	struct imap_search_args sa;
	struct imap_seqset result = IMAP_SEQSET_INIT;
	struct store_message_iter *iter;
	struct store_message msg;
	struct pool *pool;
	const char *error;
	bool badcs;
	uint32_t idx = 0, count = 0, min = 0, max = 0;
	uint64_t max_modseq = 0;
	bool want_modseq;
	struct buf b = BUF_INIT;
	int ret;

	if (imap_search_args_parse(cmd->args, cmd->args_count, cmd->pool, &sa,
				   &badcs, &error) < 0) {
		if (badcs)
			imapd_cmd_reply(client, "NO", "%s", error);
		else
			imapd_cmd_reply(client, "BAD", "%s", error);
		return;
	}
	/* RFC 7162 section 3.1.5: MODSEQ in the criteria enables CONDSTORE
	 * and adds the highest mod-sequence of the matches to the reply. */
	want_modseq = tree_has_key(sa.root, IMAP_SEARCH_MODSEQ);
	/* RFC 7162 section 3.2.10.2: no VANISHED during a UID SEARCH with
	 * message numbers in its criteria. */
	if (cmd->uid && client->qresync &&
	    tree_has_key(sa.root, IMAP_SEARCH_SEQSET))
		client->no_expunge = true;
	if (want_modseq)
		client->condstore = true;
	pool = pool_create("imap search msg", 8192);
	iter = store_message_iter_init(client->svc->store, mbox->id, 1, 0, 0);
	while ((ret = store_message_iter_next(iter, &msg)) > 0) {
		/* Only messages this session knows (its sequence numbers). */
		idx = imap_uidmap_count_below(&mbox->map, msg.uid);
		if (idx >= mbox->map.count)
			break;
		if (imap_uidmap_uid(&mbox->map, idx + 1) != msg.uid)
			continue;
		struct search_msg m = { .seq = idx + 1, .msg = &msg, .pool = pool,
					.client = client };
		pool_clear(pool);
		if (eval(&m, sa.root)) {
			uint32_t v = cmd->uid ? msg.uid : idx + 1;
			imap_seqset_add(&result, v);
			if (count == 0)
				min = v;
			max = v;
			count++;
			if (msg.modseq > max_modseq)
				max_modseq = msg.modseq;
		}
	}
	ret = ret < 0 ? -1 : store_message_iter_deinit(&iter, &error);
	if (iter != NULL)
		(void)store_message_iter_deinit(&iter, &error);
	pool_destroy(&pool);
	imap_search_args_free(&sa);
	if (ret < 0) {
		imap_seqset_free(&result);
		imapd_cmd_reply(client, "NO", "[UNAVAILABLE] Search failed");
		return;
	}

	if ((sa.ret & IMAP_SEARCH_RET_SAVE) != 0) {
		/* The saved result is kept as UIDs. */
		imap_seqset_clear(&client->saved);
		for (size_t i = 0; i < result.count; i++) {
			for (uint32_t v = result.ranges[i].lo; v <= result.ranges[i].hi; v++)
				imap_seqset_add(&client->saved,
						cmd->uid ? v :
						imap_uidmap_uid(&mbox->map, v));
		}
	}
	if (sa.esearch || client->rev2) {
		unsigned r = sa.esearch ? sa.ret : IMAP_SEARCH_RET_ALL;
		buf_printf(&b, "* ESEARCH (TAG \"%s\")", cmd->tag);
		if (cmd->uid)
			buf_append_str(&b, " UID");
		if ((r & IMAP_SEARCH_RET_MIN) != 0 && count > 0)
			buf_printf(&b, " MIN %u", min);
		if ((r & IMAP_SEARCH_RET_MAX) != 0 && count > 0)
			buf_printf(&b, " MAX %u", max);
		if ((r & IMAP_SEARCH_RET_ALL) != 0 && count > 0) {
			buf_append_str(&b, " ALL ");
			imap_seqset_write(&result, &b);
		}
		if ((r & IMAP_SEARCH_RET_COUNT) != 0)
			buf_printf(&b, " COUNT %u", count);
		if (want_modseq && count > 0)
			buf_printf(&b, " MODSEQ %llu", (unsigned long long)max_modseq);
		if (r != IMAP_SEARCH_RET_SAVE || !sa.esearch)
			buf_append_str(&b, "\r\n");
		else
			buf_reset(&b); /* RETURN (SAVE) alone: no ESEARCH */
	} else {
		buf_append_str(&b, "* SEARCH");
		for (size_t i = 0; i < result.count; i++) {
			for (uint32_t v = result.ranges[i].lo; v <= result.ranges[i].hi; v++)
				buf_printf(&b, " %u", v);
			if (b.len > 64 * 1024)
				imapd_write_buf(client, &b);
		}
		if (want_modseq && count > 0)
			buf_printf(&b, " (MODSEQ %llu)", (unsigned long long)max_modseq);
		buf_append_str(&b, "\r\n");
	}
	imapd_write_buf(client, &b);
	buf_free(&b);
	imap_seqset_free(&result);
	imapd_cmd_reply(client, "OK", "SEARCH completed");
}
