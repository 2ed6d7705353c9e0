/* SPDX-License-Identifier: MIT */
#include "imapd.h"
#include "log.h"
#include "strutil.h"
#include "timeutil.h"
#include "conn.h"
#include "store.h"
#include "mime-parser.h"
#include "imap-args.h"
#include "imap-fetch-parse.h"

/* FETCH (RFC 9051 section 6.4.5, RFC 3516 BINARY). Messages are written
 * one at a time; when the connection's output backs up, the command waits
 * for on_write_ready, so a FETCH of a large range never builds its whole
 * answer in memory. Cached ENVELOPE/BODYSTRUCTURE come from the store;
 * byte ranges are read incrementally, and only sections inside MIME parts
 * need the whole message parsed. */

#define FETCH_OUTPUT_MAX (512 * 1024)

struct fetch_ctx {
	struct imap_fetch_items items;
	struct imap_seqset seqs;
	size_t range_idx;
	uint32_t next_seq;
	bool add_uid;
	bool set_seen;
	bool metadata_only;
	/* CHANGEDSINCE without an explicit MODSEQ item (RFC 7162 3.1.4.1). */
	bool add_modseq;
	struct imap_seqset seen_uids;
	struct pool *msg_pool;
	/* The tagged OK text when not "FETCH completed" (SELECT with
	 * QRESYNC), i_malloc'd. */
	char *ok_text;
};

void imapd_fetch_free(struct imapd_client *client)
{
	struct fetch_ctx *ctx = client->fetch_ctx;
	if (ctx == NULL)
		return;
	imap_seqset_free(&ctx->seqs);
	imap_seqset_free(&ctx->seen_uids);
	pool_destroy(&ctx->msg_pool);
	i_free(ctx->ok_text);
	free(ctx);
	client->fetch_ctx = NULL;
}

/* Reads [offset, offset+len) of a body into pool memory. */
static int body_read(struct imapd_client *client, int64_t body_id,
		     uint64_t offset, uint64_t len, struct pool *pool,
		     uint8_t **data_r, size_t *len_r)
{
	struct store_body *body;
	const char *error;
	uint8_t *data;
	size_t got = 0;

	if (store_body_open(client->svc->store, body_id, &body, &error) <= 0)
		return -1;
	uint64_t size = store_body_size(body);
	if (offset > size)
		offset = size;
	if (len > size - offset)
		len = size - offset;
	data = pool_alloc(pool, (size_t)len + 1);
	while (got < len) {
		ssize_t n = store_body_read(body, offset + got, data + got,
					    (size_t)len - got, &error);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	store_body_close(&body);
	*data_r = data;
	*len_r = got;
	return 0;
}

/* The header fields named (or not named, for .NOT) in item, then the
 * blank line (RFC 9051 section 6.4.5, HEADER.FIELDS). */
static void header_filter(const uint8_t *h, size_t len,
			  const struct imap_fetch_item *item, struct buf *out)
{
	bool not = item->text == IMAP_SECTION_HEADER_FIELDS_NOT;
	bool blank = false;
	size_t pos = 0;

	while (pos < len) {
		size_t start = pos, end = pos;
		/* The field runs to a line end not followed by WSP. */
		for (;;) {
			const uint8_t *lf = memchr(h + end, '\n', len - end);
			end = lf == NULL ? len : (size_t)(lf - h) + 1;
			if (end >= len || (h[end] != ' ' && h[end] != '\t'))
				break;
		}
		pos = end;
		if (h[start] == '\r' || h[start] == '\n') {
			blank = true; /* the blank line */
			break;
		}
		const uint8_t *colon = memchr(h + start, ':', end - start);
		size_t nlen = colon == NULL ? 0 : (size_t)(colon - (h + start));
		while (nlen > 0 && (h[start + nlen - 1] == ' ' || h[start + nlen - 1] == '\t'))
			nlen--;
		bool match = false;
		for (size_t i = 0; colon != NULL && i < item->fields_count && !match; i++) {
			match = strlen(item->fields[i]) == nlen &&
				str_ascii_ncmp_ci(item->fields[i],
						  (const char *)h + start, nlen) == 0;
		}
		if (match != not) {
			buf_append(out, h + start, end - start);
			if (h[end - 1] != '\n')
				buf_append_str(out, "\r\n");
		}
	}
	/* As Dovecot: HEADER.FIELDS always ends with the blank line,
	 * HEADER.FIELDS.NOT only when the header had one. */
	if (blank || !not)
		buf_append_str(out, "\r\n");
}

/* RFC 9051 section 6.4.5: part numbers walk into multiparts; a
 * message/rfc822 part's numbers continue inside the encapsulated message;
 * a non-multipart has only part 1, itself. */
static const struct mime_part *find_part(const struct mime_part *root,
					 const struct imap_fetch_item *item)
{
	const struct mime_part *part = root;

	for (unsigned i = 0; i < item->parts_count; i++) {
		uint32_t n = item->parts[i];
		if (i > 0 && (part->flags & MIME_PART_FLAG_MESSAGE_RFC822) != 0) {
			if (part->children == NULL)
				return NULL;
			part = part->children;
			if ((part->flags & MIME_PART_FLAG_MULTIPART) == 0) {
				if (n != 1)
					return NULL;
				continue;
			}
		}
		if ((part->flags & MIME_PART_FLAG_MULTIPART) != 0) {
			const struct mime_part *c = part->children;
			for (uint32_t k = 1; c != NULL && k < n; k++)
				c = c->next;
			if (c == NULL)
				return NULL;
			part = c;
		} else if (n != 1 || (i > 0 && part == root)) {
			/* A leaf is its own part 1 (as Dovecot has it), but
			 * a single-part message has only part 1. */
			return NULL;
		}
	}
	return part;
}

/* A part's header as IMAP shows it: when the next boundary follows the
 * header directly (an empty body), the CRLF before it is the boundary's,
 * not the header's (RFC 2046 section 5.1.1; Dovecot agrees). */
static size_t header_len(const uint8_t *data, size_t len,
			 const struct mime_part *part)
{
	size_t hsize = (size_t)part->header_size;
	size_t end = (size_t)part->header_offset + hsize;

	if (part->body_size == 0 && hsize >= 2 && end + 2 <= len &&
	    memcmp(data + end - 2, "\r\n", 2) == 0 &&
	    memcmp(data + end, "--", 2) == 0)
		hsize -= 2;
	return hsize;
}

/* Computes the content of a BODY/BINARY section into out (before the
 * partial range). Returns 1, 0 for NIL, -1 on a read error. binary_r is
 * set when the content should go out as literal8. */
static int section_content(struct imapd_client *client,
			   const struct imap_fetch_item *item,
			   const struct store_message_info *info,
			   struct pool *pool, struct buf *out, bool *binary_r)
{
	const struct store_message *msg = &info->msg;
	uint8_t *data;
	size_t len;

	*binary_r = false;
	if (item->parts_count == 0 && item->type != IMAP_FETCH_BINARY_SECTION &&
	    item->type != IMAP_FETCH_BINARY_SIZE) {
		uint64_t off = 0, n = msg->size;
		switch (item->text) {
		case IMAP_SECTION_ALL:
			break;
		case IMAP_SECTION_HEADER:
		case IMAP_SECTION_HEADER_FIELDS:
		case IMAP_SECTION_HEADER_FIELDS_NOT:
			n = info->header_size;
			break;
		case IMAP_SECTION_TEXT:
			off = info->header_size;
			n = msg->size - MIN(msg->size, info->header_size);
			break;
		case IMAP_SECTION_MIME:
			return 0;
		}
		/* Plain ranges read only what the partial asks for. */
		if (item->partial && (item->text == IMAP_SECTION_ALL ||
				      item->text == IMAP_SECTION_TEXT ||
				      item->text == IMAP_SECTION_HEADER)) {
			uint64_t po = MIN(item->partial_offset, n);
			off += po;
			n = MIN(n - po, item->partial_length);
		}
		if (body_read(client, msg->body_id, off, n, pool, &data, &len) < 0)
			return -1;
		if (item->text == IMAP_SECTION_HEADER_FIELDS ||
		    item->text == IMAP_SECTION_HEADER_FIELDS_NOT)
			header_filter(data, len, item, out);
		else
			buf_append(out, data, len);
		return 1;
	}

	/* Sections inside parts: parse the message's structure. */
	if (body_read(client, msg->body_id, 0, msg->size, pool, &data, &len) < 0)
		return -1;
	if (item->parts_count == 0) {
		/* BINARY[] / BINARY.SIZE[]: the whole message. */
		buf_append(out, data, len);
		*binary_r = memchr(data, 0, len) != NULL;
		return 1;
	}
	const struct mime_part *root = mime_parse(pool, data, len, NULL);
	const struct mime_part *part = find_part(root, item);
	if (part == NULL)
		return 0;
	if (item->type == IMAP_FETCH_BINARY_SECTION ||
	    item->type == IMAP_FETCH_BINARY_SIZE) {
		if ((part->flags & (MIME_PART_FLAG_MULTIPART |
				    MIME_PART_FLAG_MESSAGE_RFC822)) != 0) {
			buf_append(out, data + part->body_offset, (size_t)part->body_size);
			return 1;
		}
		char cte_buf[64];
		const char *cte = imapd_part_cte(part, cte_buf, sizeof(cte_buf));
		if (imapd_cte_decode(cte, data + part->body_offset,
			       (size_t)part->body_size, out) < 0)
			return -2; /* UNKNOWN-CTE */
		/* Decoded content goes as literal8 (as Dovecot does), and so
		 * does anything holding NUL. */
		*binary_r = (cte != NULL && (str_ascii_eq_ci(cte, "base64") ||
					     str_ascii_eq_ci(cte, "quoted-printable"))) ||
			    (out->len > 0 && memchr(out->data, 0, out->len) != NULL);
		return 1;
	}
	switch (item->text) {
	case IMAP_SECTION_ALL:
		buf_append(out, data + part->body_offset, (size_t)part->body_size);
		return 1;
	case IMAP_SECTION_MIME:
		buf_append(out, data + part->header_offset,
			   header_len(data, len, part));
		return 1;
	default:
		break;
	}
	/* HEADER, HEADER.FIELDS, TEXT of an encapsulated message. */
	if ((part->flags & MIME_PART_FLAG_MESSAGE_RFC822) == 0 || part->children == NULL)
		return 0;
	const struct mime_part *m = part->children;
	if (item->text == IMAP_SECTION_TEXT)
		buf_append(out, data + m->body_offset, (size_t)m->body_size);
	else if (item->text == IMAP_SECTION_HEADER)
		buf_append(out, data + m->header_offset, header_len(data, len, m));
	else
		header_filter(data + m->header_offset, (size_t)m->header_size, item, out);
	return 1;
}

static void write_literal(struct buf *b, const uint8_t *data, size_t len,
			  bool binary)
{
	buf_printf(b, "%s{%zu}\r\n", binary ? "~" : "", len);
	buf_append(b, data, len);
}

/* Writes one message's FETCH response from its metadata (and, for items
 * that need them, the cached strings and body). */
static bool fetch_write(struct imapd_client *client, struct fetch_ctx *ctx,
			uint32_t seq, const struct store_message_info *infop,
			struct buf *b)
{
	const struct store_message_info info = *infop;
	uint32_t uid = info.msg.uid;
	bool first = true, flags_sent = false;
	struct pool *pool = ctx->msg_pool;
	int ret;

	if (ctx->items.changedsince > 0 &&
	    info.msg.modseq <= ctx->items.changedsince)
		return true; /* RFC 7162 section 3.1.4.1 */

	uint32_t flags = info.msg.flags;
	if (ctx->set_seen && (flags & STORE_FLAG_SEEN) == 0) {
		flags |= STORE_FLAG_SEEN;
		imap_seqset_add(&ctx->seen_uids, uid);
	}
	buf_printf(b, "* %u FETCH (", seq);
#define SEP() do { if (!first) buf_append_byte(b, ' '); first = false; } while (0)
	if (ctx->add_uid) {
		SEP();
		buf_printf(b, "UID %u", uid);
	}
	for (size_t i = 0; i < ctx->items.count; i++) {
		const struct imap_fetch_item *item = &ctx->items.items[i];
		char date[64];

		switch (item->type) {
		case IMAP_FETCH_UID:
			if (ctx->add_uid)
				break;
			SEP();
			buf_printf(b, "UID %u", uid);
			break;
		case IMAP_FETCH_FLAGS:
			SEP();
			buf_append_str(b, "FLAGS ");
			imapd_append_flags(client, b, uid, flags, info.msg.keywords);
			flags_sent = true;
			break;
		case IMAP_FETCH_INTERNALDATE:
			SEP();
			buf_printf(b, "INTERNALDATE \"%s\"",
				   time_format_imap(info.msg.internaldate, 0, date,
						    sizeof(date)));
			break;
		case IMAP_FETCH_RFC822_SIZE:
			SEP();
			buf_printf(b, "RFC822.SIZE %llu",
				   (unsigned long long)info.msg.size);
			break;
		case IMAP_FETCH_ENVELOPE:
			SEP();
			buf_printf(b, "ENVELOPE %s", info.envelope[0] != '\0' ?
				   info.envelope : "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)");
			break;
		case IMAP_FETCH_BODYSTRUCTURE:
			SEP();
			buf_printf(b, "BODYSTRUCTURE %s", info.bodystructure[0] != '\0' ?
				   info.bodystructure :
				   "(\"text\" \"plain\" NIL NIL NIL \"7bit\" 0 0)");
			break;
		case IMAP_FETCH_BODY_STRUCTURE_BASIC:
			SEP();
			buf_printf(b, "BODY %s", info.body[0] != '\0' ? info.body :
				   "(\"text\" \"plain\" NIL NIL NIL \"7bit\" 0 0)");
			break;
		case IMAP_FETCH_MODSEQ:
			SEP();
			buf_printf(b, "MODSEQ (%llu)", (unsigned long long)info.msg.modseq);
			break;
		case IMAP_FETCH_BODY_SECTION:
		case IMAP_FETCH_BINARY_SECTION:
		case IMAP_FETCH_BINARY_SIZE: {
			struct buf content = BUF_INIT;
			bool binary;
			ret = section_content(client, item, &info, pool, &content,
					      &binary);
			if (ret == -1) {
				buf_free(&content);
				log_warn(client->sid, "fetch_read_failed", "uid=%u", uid);
				return false;
			}
			SEP();
			if (ret == -2) {
				/* RFC 3516 section 4.2: UNKNOWN-CTE is for the
				 * tagged reply; send the item empty here. */
				buf_printf(b, "%s NIL", item->response_name);
			} else if (item->type == IMAP_FETCH_BINARY_SIZE) {
				buf_printf(b, "%s %zu", item->response_name,
					   ret == 0 ? (size_t)0 : content.len);
			} else if (ret == 0) {
				/* As Dovecot: a missing part is empty, not NIL. */
				buf_printf(b, "%s {0}\r\n", item->response_name);
			} else {
				const uint8_t *d = content.data == NULL ?
					(const uint8_t *)"" : content.data;
				size_t n = content.len;
				bool already_cut = item->parts_count == 0 &&
					item->type == IMAP_FETCH_BODY_SECTION &&
					(item->text == IMAP_SECTION_ALL ||
					 item->text == IMAP_SECTION_TEXT ||
					 item->text == IMAP_SECTION_HEADER);
				if (item->partial && !already_cut) {
					uint64_t po = MIN(item->partial_offset, n);
					d += po;
					n = (size_t)MIN(n - po, item->partial_length);
				}
				buf_append_str(b, item->response_name);
				buf_append_byte(b, ' ');
				write_literal(b, d, n,
					      binary && item->type == IMAP_FETCH_BINARY_SECTION);
			}
			buf_free(&content);
			break;
		}
		}
	}
	if (ctx->add_modseq) {
		SEP();
		buf_printf(b, "MODSEQ (%llu)", (unsigned long long)info.msg.modseq);
	}
	if (ctx->set_seen && !flags_sent && flags != info.msg.flags) {
		SEP();
		buf_append_str(b, "FLAGS ");
		imapd_append_flags(client, b, uid, flags, info.msg.keywords);
	}
#undef SEP
	buf_append_str(b, ")\r\n");
	return true;
}

static bool fetch_one(struct imapd_client *client, struct fetch_ctx *ctx,
		      uint32_t seq, struct buf *b)
{
	struct imapd_mailbox *mbox = client->mbox;
	struct store_message_info info;
	const char *error;
	int ret;

	pool_clear(ctx->msg_pool);
	ret = store_message_get(client->svc->store, mbox->id,
				imap_uidmap_uid(&mbox->map, seq),
				ctx->msg_pool, &info, &error);
	if (ret <= 0)
		return ret == 0; /* expunged meanwhile: nothing to say */
	return fetch_write(client, ctx, seq, &info, b);
}

/* Items answered from the message list alone (no cached strings, no
 * body): a range is read with one iterator instead of one lookup per
 * message, the common "FETCH 1:* (UID FLAGS)" of a syncing client. */
static bool items_metadata_only(const struct imap_fetch_items *items)
{
	for (size_t i = 0; i < items->count; i++) {
		switch (items->items[i].type) {
		case IMAP_FETCH_FLAGS:
		case IMAP_FETCH_UID:
		case IMAP_FETCH_INTERNALDATE:
		case IMAP_FETCH_RFC822_SIZE:
		case IMAP_FETCH_MODSEQ:
			break;
		default:
			return false;
		}
	}
	return true;
}

#define FETCH_ITER_CHUNK 1000

/* Seqs [first, last] (last >= first, within the view). Returns the
 * next seq to do. */
static uint32_t fetch_metadata_chunk(struct imapd_client *client,
				     struct fetch_ctx *ctx, uint32_t first,
				     uint32_t last, struct buf *b)
{
	struct imapd_mailbox *mbox = client->mbox;
	struct store_message_iter *iter;
	struct store_message_info info;
	const char *error;
	uint32_t seq = first;

	if (last - first >= FETCH_ITER_CHUNK)
		last = first + FETCH_ITER_CHUNK - 1;
	memset(&info, 0, sizeof(info));
	info.envelope = info.bodystructure = info.body = "";
	iter = store_message_iter_init(client->svc->store, mbox->id,
				       imap_uidmap_uid(&mbox->map, first),
				       imap_uidmap_uid(&mbox->map, last),
				       ctx->items.changedsince);
	while (seq <= last && store_message_iter_next(iter, &info.msg) > 0) {
		while (seq <= last && imap_uidmap_uid(&mbox->map, seq) < info.msg.uid)
			seq++; /* expunged meanwhile */
		if (seq > last)
			break;
		if (imap_uidmap_uid(&mbox->map, seq) != info.msg.uid)
			continue; /* not (yet) in this session's view */
		(void)fetch_write(client, ctx, seq, &info, b);
		seq++;
	}
	(void)store_message_iter_deinit(&iter, &error);
	return last + 1;
}

/* RFC 7162 section 3.2.4: after a CONDSTORE enabling command the implicit
 * \Seen is reported with UID and its new MODSEQ (the FETCH response itself
 * went out before the change had one). The txn gave one modseq to exactly
 * the messages it changed. */
static void fetch_seen_report(struct imapd_client *client,
			      const struct store_op_result *r)
{
	struct imapd_mailbox *mbox = client->mbox;
	struct store_message_iter *iter;
	struct store_message msg;
	struct buf b = BUF_INIT;
	uint32_t lo = UINT32_MAX, hi = 0;
	const char *error;

	for (unsigned i = 0; i < r->count; i++) {
		lo = MIN(lo, r->uids[i]);
		hi = MAX(hi, r->uids[i]);
	}
	if (r->count == 0 || r->modseq == 0)
		return;
	iter = store_message_iter_init(client->svc->store, mbox->id, lo, hi,
				       r->modseq - 1);
	while (store_message_iter_next(iter, &msg) > 0) {
		uint32_t seq = imap_uidmap_seq(&mbox->map, msg.uid);
		if (seq == 0 || msg.modseq != r->modseq)
			continue;
		buf_printf(&b, "* %u FETCH (UID %u FLAGS ", seq, msg.uid);
		imapd_append_flags(client, &b, msg.uid, msg.flags, msg.keywords);
		buf_printf(&b, " MODSEQ (%llu))\r\n", (unsigned long long)msg.modseq);
		if (b.len > 64 * 1024)
			imapd_write_buf(client, &b);
	}
	(void)store_message_iter_deinit(&iter, &error);
	if (b.len > 0)
		imapd_write_buf(client, &b);
	buf_free(&b);
}

static void fetch_seen_done(struct imapd_client *client, struct store_txn *txn,
			    void *context)
{
	const char *text;
	if (store_txn_error(txn, &text) == STORE_OK && client->mbox != NULL) {
		const struct store_op_result *r = store_txn_result(txn, 0);
		imapd_mailbox_add_own_modseq(client->mbox, r->modseq);
		if (client->condstore)
			fetch_seen_report(client, r);
	}
	imapd_cmd_reply(client, "OK", "FETCH completed");
}

static void fetch_finish(struct imapd_client *client, struct fetch_ctx *ctx)
{
	if (ctx->seen_uids.count > 0 && client->mbox != NULL) {
		struct store_uid_range *r = p_new(client->cmd.pool,
						  struct store_uid_range,
						  ctx->seen_uids.count);
		imap_seqset_normalize(&ctx->seen_uids);
		for (size_t i = 0; i < ctx->seen_uids.count; i++) {
			r[i].first = ctx->seen_uids.ranges[i].lo;
			r[i].last = ctx->seen_uids.ranges[i].hi;
		}
		struct store_txn *txn = store_txn_create(client->svc->store);
		store_txn_flags(txn, client->mbox->id, r,
				(unsigned)ctx->seen_uids.count, STORE_FLAGS_ADD,
				STORE_FLAG_SEEN, NULL, 0);
		imapd_fetch_free(client);
		imapd_txn_commit(client, txn, fetch_seen_done, NULL);
		return;
	}
	if (ctx->ok_text != NULL) {
		char *text = ctx->ok_text;
		ctx->ok_text = NULL;
		imapd_fetch_free(client);
		imapd_cmd_reply(client, "OK", "%s", text);
		free(text);
		return;
	}
	imapd_fetch_free(client);
	imapd_cmd_reply(client, "OK", "FETCH completed");
}

/* Writes messages until done or the output backs up. */
static void fetch_continue(struct imapd_client *client)
{
	struct fetch_ctx *ctx = client->fetch_ctx;
	struct buf b = BUF_INIT;

	while (ctx->range_idx < ctx->seqs.count) {
		const struct imap_seq_range *r = &ctx->seqs.ranges[ctx->range_idx];
		if (ctx->next_seq < r->lo)
			ctx->next_seq = r->lo;
		if (ctx->next_seq > r->hi || ctx->next_seq > client->mbox->map.count) {
			ctx->range_idx++;
			continue;
		}
		if (ctx->metadata_only) {
			ctx->next_seq = fetch_metadata_chunk(client, ctx, ctx->next_seq,
				MIN(r->hi, client->mbox->map.count), &b);
		} else if (!fetch_one(client, ctx, ctx->next_seq, &b)) {
			buf_free(&b);
			imapd_fetch_free(client);
			imapd_cmd_reply(client, "NO", "[SERVERBUG] Cannot read message");
			return;
		} else {
			ctx->next_seq++;
		}
		if (b.len > 0)
			imapd_write_buf(client, &b);
		if (conn_output_pending(client->conn) > FETCH_OUTPUT_MAX) {
			buf_free(&b);
			imapd_cmd_async(client);
			return;
		}
	}
	buf_free(&b);
	fetch_finish(client, ctx);
}

void imapd_fetch_write_ready(struct imapd_client *client)
{
	if (client->fetch_ctx != NULL && !client->closed)
		fetch_continue(client);
}

void imapd_fetch_changed(struct imapd_client *client, struct imap_seqset *seqs,
			 uint64_t changedsince, const char *ok_text)
{
	struct fetch_ctx *ctx = i_new(struct fetch_ctx, 1);

	client->fetch_ctx = ctx;
	ctx->msg_pool = pool_create("imap fetch msg", 1024);
	ctx->seqs = *seqs;
	memset(seqs, 0, sizeof(*seqs));
	ctx->items.items = p_new(client->cmd.pool, struct imap_fetch_item, 2);
	ctx->items.items[0].type = IMAP_FETCH_FLAGS;
	ctx->items.items[0].response_name = "FLAGS";
	ctx->items.items[1].type = IMAP_FETCH_MODSEQ;
	ctx->items.items[1].response_name = "MODSEQ";
	ctx->items.count = 2;
	ctx->items.changedsince = changedsince;
	ctx->add_uid = true;
	ctx->metadata_only = true;
	ctx->ok_text = i_strdup(ok_text);
	fetch_continue(client);
}

/* UID FETCH ... (CHANGEDSINCE n VANISHED), RFC 7162 section 3.2.6: the
 * expunged UIDs of the set go first, as VANISHED (EARLIER). */
static int fetch_vanished(struct imapd_client *client, struct imapd_cmd *cmd,
			  const char *set, uint64_t changedsince,
			  const char **error_r)
{
	struct imap_seqset uids = IMAP_SEQSET_INIT;
	int ret;

	if (imap_seqset_parse(set, &uids, 0, error_r) < 0) {
		imap_seqset_free(&uids);
		return -1;
	}
	if (uids.saved) {
		ret = imapd_mailbox_vanished_earlier(client, changedsince,
						     &client->saved, cmd->pool,
						     error_r);
	} else {
		/* "*" as the largest UID there can be: a client asking up
		 * to "*" wants to hear of expunged UIDs above the messages
		 * left too. */
		imap_seqset_resolve(&uids, UINT32_MAX);
		ret = imapd_mailbox_vanished_earlier(client, changedsince, &uids,
						     cmd->pool, error_r);
	}
	imap_seqset_free(&uids);
	return ret;
}

void imapd_cmd_fetch(struct imapd_client *client, struct imapd_cmd *cmd)
{
	const char *set, *error;
	struct fetch_ctx *ctx;

	if (cmd->args_count < 2 || !imap_arg_get_atom(&cmd->args[0], &set)) {
		imapd_cmd_reply(client, "BAD", "Usage: FETCH set items");
		return;
	}
	ctx = i_new(struct fetch_ctx, 1);
	client->fetch_ctx = ctx;
	ctx->msg_pool = pool_create("imap fetch msg", 8192);
	if (imap_fetch_items_parse(cmd->args + 1, cmd->args_count - 1, cmd->pool,
				   &ctx->items, &error) < 0 ||
	    imapd_mailbox_resolve_set(client, set, cmd->uid, &ctx->seqs, NULL,
				      &error) < 0) {
		imapd_fetch_free(client);
		imapd_cmd_reply(client, "BAD", "%s", error);
		return;
	}
	if (ctx->items.vanished) {
		/* RFC 7162 section 3.2.6: UID FETCH only, after ENABLE
		 * QRESYNC. */
		if (!cmd->uid || !client->qresync) {
			imapd_fetch_free(client);
			imapd_cmd_reply(client, "BAD", "%s", !cmd->uid ?
					"VANISHED is only allowed with UID FETCH" :
					"VANISHED needs ENABLE QRESYNC");
			return;
		}
		if (fetch_vanished(client, cmd, set, ctx->items.changedsince,
				   &error) < 0) {
			imapd_fetch_free(client);
			imapd_cmd_reply(client, "NO", "[UNAVAILABLE] Cannot read expunged UIDs");
			return;
		}
	}
	ctx->add_uid = cmd->uid;
	ctx->set_seen = ctx->items.sets_seen && !client->mbox->readonly;
	ctx->metadata_only = items_metadata_only(&ctx->items);
	bool has_modseq = false;
	for (size_t i = 0; i < ctx->items.count; i++)
		has_modseq |= ctx->items.items[i].type == IMAP_FETCH_MODSEQ;
	if (has_modseq || ctx->items.changedsince > 0)
		client->condstore = true;
	ctx->add_modseq = ctx->items.changedsince > 0 && !has_modseq;
	fetch_continue(client);
}
