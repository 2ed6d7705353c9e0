/* SPDX-License-Identifier: MIT */
#include "lib.h"
#include "buf.h"
#include "pool.h"
#include "strutil.h"
#include "rfc2047.h"

#include <iconv.h>

/* Longest charset name we pass to iconv (RFC 2978 names are short). */
#define CHARSET_NAME_MAX 64

static void append_replacement(struct buf *dest)
{
	buf_append(dest, "\xEF\xBF\xBD", 3);
}

/* Length of the valid UTF-8 sequence at s (RFC 3629 section 4), or 0. */
static size_t utf8_seq_len(const uint8_t *s, size_t size)
{
	uint8_t c = s[0];
	size_t len, i;

	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF)
		len = 2;
	else if (c >= 0xE0 && c <= 0xEF)
		len = 3;
	else if (c >= 0xF0 && c <= 0xF4)
		len = 4;
	else
		return 0;
	if (size < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
	}
	if (c == 0xE0 && s[1] < 0xA0)
		return 0; /* overlong */
	if (c == 0xED && s[1] >= 0xA0)
		return 0; /* surrogate */
	if (c == 0xF0 && s[1] < 0x90)
		return 0;
	if (c == 0xF4 && s[1] >= 0x90)
		return 0;
	return len;
}

void utf8_append_valid(struct buf *dest, const uint8_t *data, size_t size)
{
	size_t i = 0;

	while (i < size) {
		size_t n = utf8_seq_len(data + i, size - i);

		if (n == 0) {
			append_replacement(dest);
			i++;
		} else {
			buf_append(dest, data + i, n);
			i += n;
		}
	}
}

static const char *charset_alias(const char *name)
{
	/* names mail uses that glibc's iconv does not know, or knows badly */
	static const struct {
		const char *alias, *real;
	} aliases[] = {
		{ "unicode-1-1-utf-7", "UTF-7" },
		{ "x-unknown", "ISO-8859-1" },
		{ "unknown-8bit", "ISO-8859-1" },
		{ "x-user-defined", "ISO-8859-1" },
		{ "ks_c_5601-1987", "CP949" },
		{ "gb2312", "GB18030" },
		{ "gbk", "GB18030" },
		{ "iso-8859-8-i", "ISO-8859-8" },
		{ "x-mac-roman", "MACINTOSH" },
	};
	for (size_t i = 0; i < N_ELEMENTS(aliases); i++) {
		if (str_ascii_eq_ci(name, aliases[i].alias))
			return aliases[i].real;
	}
	return name;
}

static bool charset_is_utf8(const char *name)
{
	return str_ascii_eq_ci(name, "utf-8") || str_ascii_eq_ci(name, "utf8") ||
	       str_ascii_eq_ci(name, "us-ascii") || str_ascii_eq_ci(name, "ascii");
}

int charset_to_utf8(const char *charset, const uint8_t *data, size_t size,
		    struct buf *dest)
{
	char name[CHARSET_NAME_MAX + 1];
	char outbuf[1024];
	struct buf conv = BUF_INIT;
	iconv_t cd;
	char *in = (char *)data;
	size_t inleft = size;

	if (charset_is_utf8(charset)) {
		utf8_append_valid(dest, data, size);
		return 0;
	}
	charset = charset_alias(charset);
	if (strlen(charset) > CHARSET_NAME_MAX || strchr(charset, '/') != NULL)
		return -1;
	memcpy(name, charset, strlen(charset) + 1);
	cd = iconv_open("UTF-8", name);
	if (cd == (iconv_t)-1)
		return -1;
	while (inleft > 0) {
		char *out = outbuf;
		size_t outleft = sizeof(outbuf);
		size_t ret = iconv(cd, &in, &inleft, &out, &outleft);

		buf_append(&conv, outbuf, (size_t)(out - outbuf));
		if (ret != (size_t)-1)
			continue;
		if (errno == E2BIG)
			continue;
		/* EILSEQ or EINVAL: skip one byte of input */
		append_replacement(&conv);
		in++;
		inleft--;
		(void)iconv(cd, NULL, NULL, NULL, NULL);
	}
	{
		/* flush a stateful encoding's shift sequence */
		char *out = outbuf;
		size_t outleft = sizeof(outbuf);

		(void)iconv(cd, NULL, NULL, &out, &outleft);
		buf_append(&conv, outbuf, (size_t)(out - outbuf));
	}
	iconv_close(cd);
	/* glibc's UTF-8 decoder passes code points above U+10FFFF (e.g. for
	 * "=utf-8", a name iconv normalises): validate what it made */
	utf8_append_valid(dest, conv.data, conv.len);
	buf_free(&conv);
	return 0;
}

/* RFC 2047 section 4.1; lenient: stops at '=' padding, skips junk. */
static void decode_b(const uint8_t *s, size_t len, struct buf *dest)
{
	uint32_t acc = 0;
	unsigned int bits = 0;

	for (size_t i = 0; i < len; i++) {
		int v;

		if (s[i] == '=')
			break;
		if ((v = base64_digit_value(s[i])) < 0)
			continue;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			buf_append_byte(dest, (uint8_t)(acc >> bits));
		}
	}
}

/* RFC 2047 section 4.2 */
static void decode_q(const uint8_t *s, size_t len, struct buf *dest)
{
	for (size_t i = 0; i < len; i++) {
		int hi, lo;

		if (s[i] == '_') {
			buf_append_byte(dest, ' ');
		} else if (s[i] == '=' && i + 2 < len &&
			   (hi = hex_digit_value(s[i + 1])) >= 0 &&
			   (lo = hex_digit_value(s[i + 2])) >= 0) {
			buf_append_byte(dest, (uint8_t)(hi * 16 + lo));
			i += 2;
		} else {
			buf_append_byte(dest, s[i]);
		}
	}
}

/* Finds an encoded word =?charset?e?text?= at s. Returns its length and
 * fills the pieces, or 0. */
static size_t encoded_word_find(const uint8_t *s, size_t len,
				const uint8_t **charset_r, size_t *charset_len_r,
				uint8_t *enc_r, const uint8_t **text_r,
				size_t *text_len_r)
{
	size_t i = 2, cs_start, cs_end, t_start;

	if (len < 8 || s[0] != '=' || s[1] != '?')
		return 0;
	cs_start = i;
	while (i < len && s[i] != '?' && s[i] > ' ' && s[i] < 0x7f)
		i++;
	if (i >= len || s[i] != '?' || i == cs_start)
		return 0;
	cs_end = i++;
	if (i + 1 >= len || s[i + 1] != '?')
		return 0;
	*enc_r = s[i];
	if (*enc_r != 'B' && *enc_r != 'b' && *enc_r != 'Q' && *enc_r != 'q')
		return 0;
	i += 2;
	t_start = i;
	while (i + 1 < len && !(s[i] == '?' && s[i + 1] == '=')) {
		if (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n')
			return 0;
		i++;
	}
	if (i + 1 >= len)
		return 0;
	*charset_r = s + cs_start;
	*charset_len_r = cs_end - cs_start;
	*text_r = s + t_start;
	*text_len_r = i - t_start;
	return i + 2;
}

char *rfc2047_decode(struct pool *pool, const uint8_t *value, size_t len)
{
	struct buf out = BUF_INIT, raw = BUF_INIT, pending_ws = BUF_INIT;
	char charset[CHARSET_NAME_MAX + 1];
	bool last_was_word = false;
	size_t i = 0;
	char *ret;

	while (i < len) {
		const uint8_t *cs, *text;
		size_t cs_len, text_len, wlen;
		uint8_t enc;

		if (value[i] == ' ' || value[i] == '\t' || value[i] == '\r' ||
		    value[i] == '\n') {
			if (value[i] != '\r' && value[i] != '\n')
				buf_append_byte(&pending_ws, value[i]);
			i++;
			continue;
		}
		wlen = value[i] == '=' ?
			encoded_word_find(value + i, len - i, &cs, &cs_len, &enc,
					  &text, &text_len) : 0;
		if (wlen == 0) {
			/* plain text runs to the next whitespace or '=?' */
			size_t start = i;

			buf_append(&out, pending_ws.data, pending_ws.len);
			buf_reset(&pending_ws);
			i++;
			while (i < len && value[i] != ' ' && value[i] != '\t' &&
			       value[i] != '\r' && value[i] != '\n' &&
			       !(value[i] == '=' && i + 1 < len && value[i + 1] == '?'))
				i++;
			utf8_append_valid(&out, value + start, i - start);
			last_was_word = false;
			continue;
		}
		/* RFC 2047 section 6.2: whitespace between two encoded
		 * words is not displayed */
		if (!last_was_word)
			buf_append(&out, pending_ws.data, pending_ws.len);
		buf_reset(&pending_ws);
		buf_reset(&raw);
		if (enc == 'B' || enc == 'b')
			decode_b(text, text_len, &raw);
		else
			decode_q(text, text_len, &raw);
		if (cs_len > CHARSET_NAME_MAX)
			cs_len = CHARSET_NAME_MAX;
		memcpy(charset, cs, cs_len);
		charset[cs_len] = '\0';
		/* RFC 2231 section 5: charset*language */
		char *star = strchr(charset, '*');
		if (star != NULL)
			*star = '\0';
		if (charset_to_utf8(charset, raw.data, raw.len, &out) < 0)
			utf8_append_valid(&out, value + i, wlen);
		i += wlen;
		last_was_word = true;
	}
	buf_append(&out, pending_ws.data, pending_ws.len);
	ret = pool_strndup(pool, buf_cstr(&out), out.len);
	buf_free(&out);
	buf_free(&raw);
	buf_free(&pending_ws);
	return ret;
}
