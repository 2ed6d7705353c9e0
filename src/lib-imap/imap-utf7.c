/* SPDX-License-Identifier: MIT */
#include "lib.h"
#include "buf.h"
#include "imap-utf7.h"

static const char b64chars[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

static int b64value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == ',')
		return 63;
	return -1;
}

/* Decodes one UTF-8 character; returns its length, or -1 (overlong forms,
 * surrogates and values past U+10FFFF are invalid). */
static int utf8_decode(const unsigned char *s, uint32_t *cp_r)
{
	uint32_t cp;
	int len;

	if (s[0] < 0x80) {
		*cp_r = s[0];
		return 1;
	} else if ((s[0] & 0xe0) == 0xc0) {
		cp = s[0] & 0x1f;
		len = 2;
	} else if ((s[0] & 0xf0) == 0xe0) {
		cp = s[0] & 0x0f;
		len = 3;
	} else if ((s[0] & 0xf8) == 0xf0) {
		cp = s[0] & 0x07;
		len = 4;
	} else {
		return -1;
	}
	for (int i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return -1;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) ||
	    (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return -1;
	*cp_r = cp;
	return len;
}

static void utf8_encode(struct buf *dest, uint32_t cp)
{
	if (cp < 0x80) {
		buf_append_byte(dest, (uint8_t)cp);
	} else if (cp < 0x800) {
		buf_append_byte(dest, (uint8_t)(0xc0 | (cp >> 6)));
		buf_append_byte(dest, (uint8_t)(0x80 | (cp & 0x3f)));
	} else if (cp < 0x10000) {
		buf_append_byte(dest, (uint8_t)(0xe0 | (cp >> 12)));
		buf_append_byte(dest, (uint8_t)(0x80 | ((cp >> 6) & 0x3f)));
		buf_append_byte(dest, (uint8_t)(0x80 | (cp & 0x3f)));
	} else {
		buf_append_byte(dest, (uint8_t)(0xf0 | (cp >> 18)));
		buf_append_byte(dest, (uint8_t)(0x80 | ((cp >> 12) & 0x3f)));
		buf_append_byte(dest, (uint8_t)(0x80 | ((cp >> 6) & 0x3f)));
		buf_append_byte(dest, (uint8_t)(0x80 | (cp & 0x3f)));
	}
}

int imap_utf8_to_utf7(const char *src, struct buf *dest)
{
	const unsigned char *s = (const unsigned char *)src;

	while (*s != '\0') {
		if (*s >= 0x20 && *s < 0x7f) {
			if (*s == '&')
				buf_append_str(dest, "&-");
			else
				buf_append_byte(dest, *s);
			s++;
			continue;
		}
		/* A run of characters outside printable ASCII, as UTF-16BE
		 * in modified base64. */
		uint32_t bits = 0;
		int nbits = 0;
		buf_append_byte(dest, '&');
		while (*s != '\0' && (*s < 0x20 || *s >= 0x7f)) {
			uint32_t cp;
			int len = utf8_decode(s, &cp);
			if (len < 0)
				return -1;
			s += len;
			uint16_t units[2];
			int nunits = 1;
			if (cp >= 0x10000) {
				cp -= 0x10000;
				units[0] = (uint16_t)(0xd800 | (cp >> 10));
				units[1] = (uint16_t)(0xdc00 | (cp & 0x3ff));
				nunits = 2;
			} else {
				units[0] = (uint16_t)cp;
			}
			for (int u = 0; u < nunits; u++) {
				bits = (bits << 16) | units[u];
				nbits += 16;
				while (nbits >= 6) {
					nbits -= 6;
					buf_append_byte(dest,
						b64chars[(bits >> nbits) & 0x3f]);
				}
			}
		}
		if (nbits > 0)
			buf_append_byte(dest, b64chars[(bits << (6 - nbits)) & 0x3f]);
		buf_append_byte(dest, '-');
	}
	return 0;
}

int imap_utf7_to_utf8(const char *src, struct buf *dest)
{
	const unsigned char *s = (const unsigned char *)src;
	bool prev_was_run = false;

	while (*s != '\0') {
		if (*s < 0x20 || *s >= 0x7f)
			return -1;
		if (*s != '&') {
			buf_append_byte(dest, *s++);
			prev_was_run = false;
			continue;
		}
		s++;
		if (*s == '-') {
			buf_append_byte(dest, '&');
			s++;
			prev_was_run = false;
			continue;
		}
		/* RFC 3501 5.1.3: "&...-&...-" must be one run. */
		if (prev_was_run)
			return -1;
		uint32_t bits = 0, high = 0;
		int nbits = 0;
		bool any = false;
		while (*s != '-') {
			int v = b64value((char)*s);
			if (v < 0)
				return -1;
			s++;
			bits = (bits << 6) | (uint32_t)v;
			nbits += 6;
			if (nbits < 16)
				continue;
			nbits -= 16;
			uint32_t unit = (bits >> nbits) & 0xffff;
			bits &= (1u << nbits) - 1;
			any = true;
			if (high != 0) {
				if (unit < 0xdc00 || unit > 0xdfff)
					return -1;
				utf8_encode(dest, 0x10000 + ((high - 0xd800) << 10) +
							  (unit - 0xdc00));
				high = 0;
			} else if (unit >= 0xd800 && unit <= 0xdbff) {
				high = unit;
			} else if (unit >= 0xdc00 && unit <= 0xdfff) {
				return -1;
			} else if (unit >= 0x20 && unit < 0x7f) {
				/* Printable ASCII must stand for itself. */
				return -1;
			} else if (unit == 0) {
				return -1;
			} else {
				utf8_encode(dest, unit);
			}
		}
		s++; /* '-' */
		if (!any || high != 0 || nbits >= 6 || bits != 0)
			return -1;
		prev_was_run = true;
	}
	return 0;
}

bool imap_utf7_is_valid(const char *src)
{
	struct buf tmp = BUF_INIT;
	int ret = imap_utf7_to_utf8(src, &tmp);
	buf_free(&tmp);
	return ret == 0;
}

bool imap_utf8_is_valid_name(const char *src)
{
	const unsigned char *s = (const unsigned char *)src;
	while (*s != '\0') {
		uint32_t cp;
		int len = utf8_decode(s, &cp);
		if (len < 0 || cp < 0x20 || cp == 0x7f)
			return false;
		s += len;
	}
	return true;
}
