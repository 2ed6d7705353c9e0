/* SPDX-License-Identifier: MIT */
#include "lib.h"
#include "strutil.h"
#include "dkim-private.h"

#include <pthread.h>

/* OpenSSL 3 looks an implicit EVP_sha256() up on every use, under a lock:
 * fetch it once. */
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;
static EVP_MD *sha256_md;

static void sha256_fetch(void)
{
	sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
	if (sha256_md == NULL)
		i_fatal("dkim: SHA-256 not available");
}

const EVP_MD *dkim_sha256(void)
{
	pthread_once(&sha256_once, sha256_fetch);
	return sha256_md;
}

/* Canonicalisation (RFC 6376 section 3.4) on a stream: the body is never
 * buffered; empty lines are only counted until content shows they were not
 * trailing, and relaxed whitespace is held back as one pending space. */

struct dkim_body_hash {
	enum dkim_canon canon;
	EVP_MD_CTX *md;
	bool have_limit;
	uint64_t limit, total;
	uint64_t pending_crlf; /* empty lines not yet known to be inner */
	bool pending_wsp, line_content, any_output;
	uint8_t out[4096];
	size_t out_len;
	uint8_t digest[32];
	bool finished;
};

struct dkim_body_hash *dkim_body_hash_create(enum dkim_canon canon,
					     bool have_limit, uint64_t limit)
{
	struct dkim_body_hash *bh = i_new(struct dkim_body_hash, 1);
	bh->canon = canon;
	bh->have_limit = have_limit;
	bh->limit = limit;
	bh->md = EVP_MD_CTX_new();
	if (bh->md == NULL ||
	    EVP_DigestInit_ex(bh->md, dkim_sha256(), NULL) != 1)
		i_fatal("dkim: SHA-256 not available");
	return bh;
}

void dkim_body_hash_destroy(struct dkim_body_hash **_bh)
{
	struct dkim_body_hash *bh = *_bh;
	if (bh == NULL)
		return;
	*_bh = NULL;
	EVP_MD_CTX_free(bh->md);
	free(bh);
}

static void flush(struct dkim_body_hash *bh)
{
	if (bh->out_len > 0)
		EVP_DigestUpdate(bh->md, bh->out, bh->out_len);
	bh->out_len = 0;
}

static void emit(struct dkim_body_hash *bh, const uint8_t *data, size_t len)
{
	bh->any_output = true;
	if (bh->have_limit) {
		if (bh->total >= bh->limit)
			return;
		if (len > bh->limit - bh->total)
			len = (size_t)(bh->limit - bh->total);
	}
	bh->total += len;
	while (len > 0) {
		size_t n = MIN(len, sizeof(bh->out) - bh->out_len);
		memcpy(bh->out + bh->out_len, data, n);
		bh->out_len += n;
		data += n;
		len -= n;
		if (bh->out_len == sizeof(bh->out))
			flush(bh);
	}
}

static void emit_pending_lines(struct dkim_body_hash *bh)
{
	for (; bh->pending_crlf > 0; bh->pending_crlf--)
		emit(bh, (const uint8_t *)"\r\n", 2);
}

/* One body line's content bytes (no line end). */
static void body_content(struct dkim_body_hash *bh, const uint8_t *data,
			 size_t len)
{
	if (bh->canon == DKIM_CANON_SIMPLE) {
		if (len == 0)
			return;
		emit_pending_lines(bh);
		emit(bh, data, len);
		bh->line_content = true;
		return;
	}
	size_t start = 0;
	for (size_t i = 0; i < len; i++) {
		if (data[i] == ' ' || data[i] == '\t') {
			if (i > start) {
				emit_pending_lines(bh);
				if (bh->pending_wsp)
					emit(bh, (const uint8_t *)" ", 1);
				emit(bh, data + start, i - start);
				bh->pending_wsp = false;
				bh->line_content = true;
			}
			bh->pending_wsp = true;
			start = i + 1;
		}
	}
	if (len > start) {
		emit_pending_lines(bh);
		if (bh->pending_wsp)
			emit(bh, (const uint8_t *)" ", 1);
		emit(bh, data + start, len - start);
		bh->pending_wsp = false;
		bh->line_content = true;
	}
}

static void body_line_end(struct dkim_body_hash *bh)
{
	bh->pending_wsp = false;
	if (bh->line_content)
		emit(bh, (const uint8_t *)"\r\n", 2);
	else
		bh->pending_crlf++;
	bh->line_content = false;
}

static void body_finish(struct dkim_body_hash *bh)
{
	if (bh->finished)
		return;
	bh->finished = true;
	if (bh->line_content)
		body_line_end(bh);
	/* simple: an empty body is one CRLF; relaxed: nothing */
	if (bh->canon == DKIM_CANON_SIMPLE && !bh->any_output)
		emit(bh, (const uint8_t *)"\r\n", 2);
	flush(bh);
	unsigned int dlen = 0;
	EVP_DigestFinal_ex(bh->md, bh->digest, &dlen);
}

void dkim_body_hash_result(struct dkim_body_hash *bh, uint8_t digest[32])
{
	body_finish(bh);
	memcpy(digest, bh->digest, 32);
}

uint64_t dkim_body_hash_total(const struct dkim_body_hash *bh)
{
	return bh->total;
}

/* ---- message stream ---- */

void dkim_message_init(struct dkim_message *msg)
{
	memset(msg, 0, sizeof(*msg));
}

void dkim_message_free(struct dkim_message *msg)
{
	buf_free(&msg->header);
	for (size_t i = 0; i < msg->field_count; i++)
		free(msg->fields[i].raw);
	free(msg->fields);
	for (size_t i = 0; i < msg->hash_count; i++)
		dkim_body_hash_destroy(&msg->hashes[i]);
	free(msg->hashes);
	memset(msg, 0, sizeof(*msg));
}

static void split_fields(struct dkim_message *msg)
{
	const char *h = buf_cstr(&msg->header), *end = h + msg->header.len;
	size_t cap = 16;
	msg->fields = i_new(struct dkim_field, cap);
	const char *p = h;
	while (p < end && msg->field_count < DKIM_MAX_HEADER_FIELDS) {
		const char *start = p;
		/* a field runs until a CRLF not followed by WSP */
		for (;;) {
			const char *crlf = memmem(p, (size_t)(end - p), "\r\n", 2);
			if (crlf == NULL) {
				p = end;
				break;
			}
			p = crlf + 2;
			if (p >= end || (*p != ' ' && *p != '\t'))
				break;
		}
		size_t len = (size_t)(p - start);
		if (len >= 2 && start[len - 2] == '\r' && start[len - 1] == '\n')
			len -= 2;
		const char *colon = memchr(start, ':', len);
		if (colon == NULL || *start == ' ' || *start == '\t')
			continue; /* not a field: never matches h= */
		const char *ne = colon;
		while (ne > start && (ne[-1] == ' ' || ne[-1] == '\t'))
			ne--;
		if (msg->field_count == cap) {
			cap *= 2;
			msg->fields = i_realloc(msg->fields, cap * sizeof(*msg->fields));
		}
		struct dkim_field *f = &msg->fields[msg->field_count++];
		f->raw = i_strndup(start, len);
		f->len = len;
		f->name_len = (size_t)(ne - start);
	}
}

static void header_complete(struct dkim_message *msg)
{
	msg->header_done = true;
	if (!msg->overflow)
		split_fields(msg);
	if (msg->header_cb != NULL)
		msg->header_cb(msg, msg->header_ctx);
}

static void body_bytes(struct dkim_message *msg, const uint8_t *data,
		       size_t len, bool eol)
{
	for (size_t h = 0; h < msg->hash_count; h++) {
		body_content(msg->hashes[h], data, len);
		if (eol)
			body_line_end(msg->hashes[h]);
	}
}

static void body_feed(struct dkim_message *msg, const uint8_t *data,
		      size_t len)
{
	/* Lines end at LF, a CR right before it belonging to the line end;
	 * a CR at the end of a piece is held until the next byte shows
	 * which it is. */
	if (len == 0)
		return;
	if (msg->last_cr) {
		msg->last_cr = false;
		if (data[0] == '\n') {
			body_bytes(msg, data, 0, true);
			data++;
			len--;
		} else {
			body_bytes(msg, (const uint8_t *)"\r", 1, false);
		}
	}
	size_t start = 0;
	for (size_t i = 0; i < len; i++) {
		if (data[i] != '\n')
			continue;
		size_t clen = i - start;
		if (clen > 0 && data[i - 1] == '\r')
			clen--;
		body_bytes(msg, data + start, clen, true);
		start = i + 1;
	}
	if (start < len) {
		size_t clen = len - start;
		if (data[len - 1] == '\r') {
			msg->last_cr = true;
			clen--;
		}
		body_bytes(msg, data + start, clen, false);
	}
}

void dkim_message_feed(struct dkim_message *msg, const uint8_t *data,
		       size_t len)
{
	if (msg->header_done) {
		body_feed(msg, data, len);
		return;
	}
	for (size_t i = 0; i < len; i++) {
		uint8_t c = data[i];
		if (c == '\n') {
			if (!msg->last_cr)
				buf_append_byte(&msg->header, '\r');
			buf_append_byte(&msg->header, '\n');
			msg->last_cr = false;
			size_t l = msg->header.len;
			if ((l == 2 && !msg->overflow) ||
			    (l >= 4 && memcmp(msg->header.data + l - 4, "\r\n\r\n", 4) == 0)) {
				/* the blank line ends the header */
				buf_truncate(&msg->header, l == 2 ? 0 : l - 2);
				msg->last_cr = false;
				header_complete(msg);
				body_feed(msg, data + i + 1, len - i - 1);
				return;
			}
		} else {
			msg->last_cr = c == '\r';
			buf_append_byte(&msg->header, c);
		}
		if (msg->header.len > DKIM_MAX_HEADER_SIZE) {
			/* too large to verify or sign: keep only enough to
			 * see where the body starts */
			msg->overflow = true;
			buf_consume(&msg->header, msg->header.len - 3);
		}
	}
}

void dkim_message_finish(struct dkim_message *msg)
{
	if (!msg->header_done) {
		/* no body: the header may end without its last CRLF */
		size_t l = msg->header.len;
		if (l >= 2 && memcmp(msg->header.data + l - 2, "\r\n", 2) == 0)
			buf_truncate(&msg->header, l - 2);
		header_complete(msg);
	} else if (msg->last_cr) {
		for (size_t h = 0; h < msg->hash_count; h++)
			body_content(msg->hashes[h], (const uint8_t *)"\r", 1);
		msg->last_cr = false;
	}
	for (size_t h = 0; h < msg->hash_count; h++)
		body_finish(msg->hashes[h]);
}

/* ---- header canonicalisation ---- */

void dkim_canon_header(enum dkim_canon canon, const char *raw, size_t len,
		       bool no_crlf, struct buf *out)
{
	if (canon == DKIM_CANON_SIMPLE) {
		buf_append(out, raw, len);
	} else {
		/* lower-case name; unfold; WSP runs to one SP; no WSP at
		 * the end of the value or around the colon */
		const char *colon = memchr(raw, ':', len);
		i_assert(colon != NULL);
		const char *ne = colon;
		while (ne > raw && (ne[-1] == ' ' || ne[-1] == '\t'))
			ne--;
		for (const char *p = raw; p < ne; p++)
			buf_append_byte(out, (uint8_t)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p));
		buf_append_byte(out, ':');
		const char *p = colon + 1, *end = raw + len;
		bool wsp = false, started = false;
		for (; p < end; p++) {
			char c = *p;
			if (c == '\r' || c == '\n')
				continue;
			if (c == ' ' || c == '\t') {
				wsp = true;
				continue;
			}
			if (wsp && started)
				buf_append_byte(out, ' ');
			wsp = false;
			started = true;
			buf_append_byte(out, (uint8_t)c);
		}
	}
	if (!no_crlf)
		buf_append(out, "\r\n", 2);
}

void dkim_canon_signed_headers(const struct dkim_message *msg,
			       enum dkim_canon canon, char *const *names,
			       size_t count, struct buf *out)
{
	/* section 5.4.2: each name takes the last instance not yet used,
	 * going up; a name with no instance left contributes nothing */
	bool *used = i_new(bool, msg->field_count + 1);
	for (size_t i = 0; i < count; i++) {
		size_t nl = strlen(names[i]);
		for (size_t j = msg->field_count; j > 0; j--) {
			const struct dkim_field *f = &msg->fields[j - 1];
			if (used[j - 1] || f->name_len != nl ||
			    str_ascii_ncmp_ci(f->raw, names[i], nl) != 0)
				continue;
			used[j - 1] = true;
			dkim_canon_header(canon, f->raw, f->len, false, out);
			break;
		}
	}
	free(used);
}

/* ---- crypto ---- */

int dkim_crypto_verify(EVP_PKEY *pkey, bool ed25519, const uint8_t *data,
		       size_t len, const uint8_t *sig, size_t sig_len)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	uint8_t digest[32];
	int ret;
	if (ctx == NULL)
		return -1;
	if (ed25519) {
		unsigned int dl;
		if (EVP_Digest(data, len, digest, &dl, dkim_sha256(), NULL) != 1 ||
		    EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, pkey) != 1) {
			EVP_MD_CTX_free(ctx);
			return -1;
		}
		ret = EVP_DigestVerify(ctx, sig, sig_len, digest, sizeof(digest));
	} else {
		if (EVP_DigestVerifyInit(ctx, NULL, dkim_sha256(), NULL, pkey) != 1) {
			EVP_MD_CTX_free(ctx);
			return -1;
		}
		ret = EVP_DigestVerify(ctx, sig, sig_len, data, len);
	}
	EVP_MD_CTX_free(ctx);
	return ret == 1 ? 1 : 0;
}

int dkim_crypto_sign(EVP_PKEY *pkey, bool ed25519, const uint8_t *data,
		     size_t len, uint8_t **sig_r, size_t *sig_len_r)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	uint8_t digest[32];
	const uint8_t *in = data;
	size_t in_len = len;
	size_t sl = 0;
	if (ctx == NULL)
		return -1;
	if (ed25519) {
		unsigned int dl;
		if (EVP_Digest(data, len, digest, &dl, dkim_sha256(), NULL) != 1)
			goto fail;
		in = digest;
		in_len = sizeof(digest);
	}
	if (EVP_DigestSignInit(ctx, NULL, ed25519 ? NULL : dkim_sha256(), NULL,
			       pkey) != 1 ||
	    EVP_DigestSign(ctx, NULL, &sl, in, in_len) != 1)
		goto fail;
	*sig_r = i_malloc(sl);
	if (EVP_DigestSign(ctx, *sig_r, &sl, in, in_len) != 1) {
		i_free(*sig_r);
		goto fail;
	}
	*sig_len_r = sl;
	EVP_MD_CTX_free(ctx);
	return 0;
fail:
	EVP_MD_CTX_free(ctx);
	return -1;
}
