/* SPDX-License-Identifier: MIT */
#include "lib.h"
#include "buf.h"
#include "strutil.h"
#include "smtp-data.h"

/* Enough of a header line to recognise "Received" WSP* ":". */
#define HEADER_PREFIX_LEN 16

enum data_state {
	DATA_STATE_LINE_START, /* after CRLF (or at the very start) */
	DATA_STATE_DOT,        /* "." at line start, not yet emitted */
	DATA_STATE_DOT_CR,     /* "." CR at line start */
	DATA_STATE_MID,        /* inside a line */
	DATA_STATE_CR,         /* CR inside a line, emitted, LF expected */
	DATA_STATE_END,
};

struct smtp_data_decoder {
	enum smtp_data_mode mode;
	struct smtp_data_limits limits;
	enum data_state state;
	enum smtp_data_error error;

	uint64_t size;
	uint64_t line_len;
	unsigned header_count, received_count;
	bool in_headers;
	bool has_8bit;

	char prefix[HEADER_PREFIX_LEN];
	unsigned prefix_len;
};

struct smtp_data_decoder *
smtp_data_decoder_create(enum smtp_data_mode mode,
			 const struct smtp_data_limits *limits)
{
	struct smtp_data_decoder *dec = i_new(struct smtp_data_decoder, 1);

	dec->mode = mode;
	dec->limits = *limits;
	smtp_data_decoder_reset(dec);
	return dec;
}

void smtp_data_decoder_destroy(struct smtp_data_decoder **_dec)
{
	i_free(*_dec);
}

void smtp_data_decoder_reset(struct smtp_data_decoder *dec)
{
	dec->state = DATA_STATE_LINE_START;
	dec->error = SMTP_DATA_ERROR_NONE;
	dec->size = 0;
	dec->line_len = 0;
	dec->header_count = 0;
	dec->received_count = 0;
	dec->in_headers = true;
	dec->has_8bit = false;
	dec->prefix_len = 0;
}

static void set_error(struct smtp_data_decoder *dec, enum smtp_data_error error)
{
	if (dec->error == SMTP_DATA_ERROR_NONE)
		dec->error = error;
}

static void emit(struct smtp_data_decoder *dec, struct buf *out,
		 const uint8_t *data, size_t n)
{
	if (n == 0)
		return;
	dec->size += n;
	if (dec->limits.max_size != 0 && dec->size > dec->limits.max_size)
		set_error(dec, SMTP_DATA_ERROR_TOO_BIG);
	if (dec->error == SMTP_DATA_ERROR_NONE)
		buf_append(out, data, n);
}

/* Called at each CRLF while in the header section: classifies the line
 * that just ended by its first bytes. RFC 5322 section 2.2: a field starts
 * with its name and a colon; a line starting with WSP continues the field
 * before it; the first empty line ends the header section. */
static void header_line_end(struct smtp_data_decoder *dec)
{
	unsigned i;

	if (dec->prefix_len == 0) {
		/* Empty line (just CRLF). */
		dec->in_headers = false;
		return;
	}
	if (dec->prefix[0] == ' ' || dec->prefix[0] == '\t')
		return;
	dec->header_count++;
	if (dec->limits.max_headers != 0 &&
	    dec->header_count > dec->limits.max_headers)
		set_error(dec, SMTP_DATA_ERROR_TOO_MANY_HEADERS);
	if (dec->prefix_len >= 9 &&
	    str_ascii_ncmp_ci(dec->prefix, "Received", 8) == 0) {
		for (i = 8; i < dec->prefix_len &&
			    (dec->prefix[i] == ' ' || dec->prefix[i] == '\t');
		     i++)
			;
		if (i < dec->prefix_len && dec->prefix[i] == ':') {
			dec->received_count++;
			if (dec->limits.max_received != 0 &&
			    dec->received_count > dec->limits.max_received)
				set_error(dec, SMTP_DATA_ERROR_TOO_MANY_HOPS);
		}
	}
}

static void line_end(struct smtp_data_decoder *dec)
{
	if (dec->in_headers)
		header_line_end(dec);
	dec->line_len = 0;
	dec->prefix_len = 0;
}

/* One byte of line content (not the dot of dot-stuffing). */
static inline void line_byte(struct smtp_data_decoder *dec, uint8_t c)
{
	dec->line_len++;
	/* max_line counts the CRLF still to come. */
	if (dec->limits.max_line != 0 &&
	    dec->line_len + 2 > dec->limits.max_line)
		set_error(dec, SMTP_DATA_ERROR_LINE_TOO_LONG);
	if (dec->in_headers && dec->prefix_len < HEADER_PREFIX_LEN)
		dec->prefix[dec->prefix_len++] = (char)c;
	if (c >= 0x80)
		dec->has_8bit = true;
}

/* RFC 5321 section 4.1.1.4: the content ends with "<CRLF>.<CRLF>"; section
 * 4.5.2: a line starting with "." had one more "." put in front, which we
 * take away. Section 2.3.8: CR and LF only ever appear together as CRLF,
 * and we hold the client to it, so that the end of content cannot be read
 * differently by another server behind or in front of us (SMTP smuggling). */
int smtp_data_decoder_feed(struct smtp_data_decoder *dec, const uint8_t *data,
			   size_t len, struct buf *out, size_t *consumed_r)
{
	bool dot_mode = dec->mode == SMTP_DATA_MODE_DOT;
	bool strict = !dec->limits.binary;
	bool lf_ok = !strict || (!dot_mode && dec->limits.allow_bare_lf);
	size_t i, run = 0; /* data[run..i) is content to emit */

	for (i = 0; i < len && dec->state != DATA_STATE_END; i++) {
		uint8_t c = data[i];

		switch (dec->state) {
		case DATA_STATE_LINE_START:
			if (c == '.' && dot_mode) {
				emit(dec, out, data + run, i - run);
				run = i + 1;
				dec->state = DATA_STATE_DOT;
				continue;
			}
			dec->state = DATA_STATE_MID;
			break;
		case DATA_STATE_DOT:
			if (c == '\r') {
				dec->state = DATA_STATE_DOT_CR;
				run = i + 1;
				continue;
			}
			/* A stuffed dot: dropped, the line goes on. */
			dec->state = DATA_STATE_MID;
			break;
		case DATA_STATE_DOT_CR:
			if (c == '\n') {
				dec->state = DATA_STATE_END;
				run = i + 1;
				continue;
			}
			/* ".\r" then something else: the CR was bare. The
			 * decoder emits nothing more after an error, so the
			 * held-back CR need not be emitted. */
			set_error(dec, SMTP_DATA_ERROR_BARE_CR);
			line_byte(dec, '\r');
			dec->state = DATA_STATE_MID;
			break;
		case DATA_STATE_CR:
			if (c == '\n') {
				dec->line_len++;
				line_end(dec);
				dec->state = DATA_STATE_LINE_START;
				continue;
			}
			if (strict)
				set_error(dec, SMTP_DATA_ERROR_BARE_CR);
			dec->state = DATA_STATE_MID;
			break;
		case DATA_STATE_MID:
			break;
		case DATA_STATE_END:
			i_unreached();
		}

		/* c is line content in DATA_STATE_MID. */
		if (c == '\r') {
			dec->line_len++;
			dec->state = DATA_STATE_CR;
			continue;
		}
		if (c == '\n') {
			if (!lf_ok) {
				/* A bare LF is not a line end: "\n.\n" and
				 * "\n.\r\n" must not end the content. */
				set_error(dec, SMTP_DATA_ERROR_BARE_LF);
				line_byte(dec, c);
			} else {
				dec->line_len++;
				line_end(dec);
				dec->state = DATA_STATE_LINE_START;
			}
			continue;
		}
		if (c == '\0' && strict)
			set_error(dec, SMTP_DATA_ERROR_NUL);
		line_byte(dec, c);
	}
	if (dec->state == DATA_STATE_END) {
		*consumed_r = i;
		return 1;
	}
	if (dec->state != DATA_STATE_DOT && dec->state != DATA_STATE_DOT_CR)
		emit(dec, out, data + run, i - run);
	*consumed_r = len;
	return 0;
}

enum smtp_data_error smtp_data_decoder_error(const struct smtp_data_decoder *dec)
{
	return dec->error;
}

void smtp_data_error_reply(enum smtp_data_error error,
			   struct smtp_error *reply_r)
{
	reply_r->code = 554;
	reply_r->enhanced = "5.6.0";
	switch (error) {
	case SMTP_DATA_ERROR_NONE:
		i_unreached();
	case SMTP_DATA_ERROR_TOO_BIG:
		reply_r->code = 552;
		reply_r->enhanced = "5.3.4";
		reply_r->text = "Message size exceeds fixed maximum message size";
		break;
	case SMTP_DATA_ERROR_BARE_LF:
		reply_r->text = "Bare LF in message content not allowed, "
			"use CRLF (RFC 5321 section 2.3.8)";
		break;
	case SMTP_DATA_ERROR_BARE_CR:
		reply_r->text = "Bare CR in message content not allowed, "
			"use CRLF (RFC 5321 section 2.3.8)";
		break;
	case SMTP_DATA_ERROR_NUL:
		reply_r->text = "NUL character in message content not allowed";
		break;
	case SMTP_DATA_ERROR_LINE_TOO_LONG:
		reply_r->text = "Message line too long";
		break;
	case SMTP_DATA_ERROR_TOO_MANY_HEADERS:
		reply_r->text = "Too many header fields";
		break;
	case SMTP_DATA_ERROR_TOO_MANY_HOPS:
		reply_r->enhanced = "5.4.6";
		reply_r->text = "Too many hops (Received headers), mail loop?";
		break;
	}
}

uint64_t smtp_data_decoder_size(const struct smtp_data_decoder *dec)
{
	return dec->size;
}

unsigned smtp_data_decoder_header_count(const struct smtp_data_decoder *dec)
{
	return dec->header_count;
}

unsigned smtp_data_decoder_received_count(const struct smtp_data_decoder *dec)
{
	return dec->received_count;
}

bool smtp_data_decoder_has_8bit(const struct smtp_data_decoder *dec)
{
	return dec->has_8bit;
}
