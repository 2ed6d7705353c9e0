/* SPDX-License-Identifier: MIT */
#include "imapd.h"
#include "strutil.h"
#include "mime-parser.h"

/* Content-Transfer-Encoding decoding for BINARY (RFC 3516) and for SEARCH
 * BODY/TEXT, which match the decoded text. */

/* RFC 2045 section 6.8 (base64) and 6.7 (quoted-printable) decoding, for
 * BINARY (RFC 3516). Returns -1 for an unknown encoding. */
int imapd_cte_decode(const char *cte, const uint8_t *in, size_t len,
		      struct buf *out)
{
	if (cte == NULL || str_ascii_eq_ci(cte, "7bit") ||
	    str_ascii_eq_ci(cte, "8bit") || str_ascii_eq_ci(cte, "binary")) {
		buf_append(out, in, len);
		return 0;
	}
	if (str_ascii_eq_ci(cte, "base64")) {
		uint32_t bits = 0;
		int n = 0;
		for (size_t i = 0; i < len; i++) {
			if (in[i] == '=')
				break;
			int v = base64_digit_value(in[i]);
			if (v < 0)
				continue;
			bits = (bits << 6) | (uint32_t)v;
			n += 6;
			if (n >= 8) {
				n -= 8;
				buf_append_byte(out, (uint8_t)(bits >> n));
			}
		}
		return 0;
	}
	if (str_ascii_eq_ci(cte, "quoted-printable")) {
		for (size_t i = 0; i < len; i++) {
			if (in[i] != '=') {
				buf_append_byte(out, in[i]);
				continue;
			}
			if (i + 2 < len + 0 && hex_digit_value(in[i + 1]) >= 0 &&
			    hex_digit_value(in[i + 2]) >= 0) {
				buf_append_byte(out, (uint8_t)(hex_digit_value(in[i + 1]) * 16 +
							       hex_digit_value(in[i + 2])));
				i += 2;
				continue;
			}
			/* Soft line break: "=" then optional WSP, CRLF. */
			size_t j = i + 1;
			while (j < len && (in[j] == ' ' || in[j] == '\t'))
				j++;
			if (j < len && in[j] == '\r')
				j++;
			if (j < len && in[j] == '\n') {
				i = j;
				continue;
			}
			if (j >= len) {
				i = j;
				continue;
			}
			buf_append_byte(out, '=');
		}
		return 0;
	}
	return -1;
}

const char *imapd_part_cte(const struct mime_part *part, char *tmp,
			   size_t size)
{
	const char *cte = part->content_transfer_encoding;
	if (cte == NULL)
		return NULL;
	while (*cte == ' ' || *cte == '\t')
		cte++;
	/* The raw value may carry trailing whitespace or a fold. */
	size_t n = strcspn(cte, " \t\r\n;(");
	if (n >= size)
		return "x-unknown";
	memcpy(tmp, cte, n);
	tmp[n] = '\0';
	return tmp;
}

