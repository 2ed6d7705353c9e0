/* SPDX-License-Identifier: MIT */
#include "lib.h"
#include "buf.h"
#include "pool.h"
#include "strutil.h"
#include "timeutil.h"
#include "store.h"
#include "dmarc-report.h"

#include <ctype.h>
#include <sys/random.h>
#include <zlib.h>

/* The report itself: rua parsing, the appendix C XML, gzip and the MIME
 * message of RFC 7489 section 7.2.1.1. */

/* ---- rua (section 6.2, 6.4) ---- */

/* dmarc-uri = URI [ "!" 1*DIGIT [ "k" / "m" / "g" / "t" ] ] */
static bool rua_size_parse(const char *s, size_t len, uint64_t *size_r)
{
	uint64_t mult = 1;
	if (len > 0 && !isdigit((unsigned char)s[len - 1])) {
		switch (tolower((unsigned char)s[len - 1])) {
		case 'k': mult = 1ULL << 10; break;
		case 'm': mult = 1ULL << 20; break;
		case 'g': mult = 1ULL << 30; break;
		case 't': mult = 1ULL << 40; break;
		default: return false;
		}
		len--;
	}
	uint64_t n;
	if (str_to_uint64_n(s, len, UINT64_MAX / mult, &n) < 0 || n == 0)
		return false;
	*size_r = n * mult;
	return true;
}

/* Percent-decodes a mailto: address (RFC 6068 section 2); only a plain
 * local@domain without hfields, spaces or controls is accepted. */
static const char *mailto_address(const char *s, size_t len, struct pool *pool,
				  const char **domain_r)
{
	char *out = pool_alloc(pool, len + 1);
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = s[i];
		if (c == '%') {
			if (i + 2 >= len)
				return NULL;
			int hi = hex_digit_value(s[i + 1]);
			int lo = hex_digit_value(s[i + 2]);
			if (hi < 0 || lo < 0)
				return NULL;
			c = (unsigned char)(hi * 16 + lo);
			i += 2;
		} else if (c == '?') {
			return NULL; /* hfields: not for a report address */
		}
		if (c <= 0x20 || c >= 0x7f || c == ',' || c == '<' ||
		    c == '>' || c == '"')
			return NULL;
		out[o++] = (char)c;
	}
	out[o] = '\0';
	char *at = strrchr(out, '@');
	if (at == NULL || at == out || at[1] == '\0' || strchr(out, '@') != at ||
	    o > 254)
		return NULL;
	for (char *d = at + 1; *d != '\0'; d++) {
		if (!isalnum((unsigned char)*d) && *d != '-' && *d != '.')
			return NULL;
		*d = (char)tolower((unsigned char)*d);
	}
	*domain_r = at + 1;
	return out;
}

unsigned dmarc_report_rua_parse(const char *rua, struct pool *pool,
				struct dmarc_report_uri **uris_r,
				unsigned *skipped_r)
{
	struct dmarc_report_uri *uris =
	    p_new(pool, struct dmarc_report_uri, DMARC_REPORT_URI_MAX);
	unsigned count = 0, skipped = 0;
	const char *p = rua;

	while (*p != '\0') {
		const char *end = strchr(p, ',');
		if (end == NULL)
			end = p + strlen(p);
		const char *s = p, *e = end;
		p = *end == ',' ? end + 1 : end;
		while (s < e && (*s == ' ' || *s == '\t'))
			s++;
		while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		if (s == e)
			continue;
		/* The size limit follows the '!' (section 6.4); a '!' in
		 * the URI itself must be percent-encoded (section 6.2). */
		const char *bang = memchr(s, '!', (size_t)(e - s));
		uint64_t max_size = 0;
		const char *uri_end = e;
		if (bang != NULL) {
			if (!rua_size_parse(bang + 1, (size_t)(e - bang - 1),
					    &max_size)) {
				skipped++;
				continue;
			}
			uri_end = bang;
		}
		if ((size_t)(uri_end - s) <= 7 ||
		    str_ascii_ncmp_ci(s, "mailto:", 7) != 0) {
			skipped++;
			continue;
		}
		const char *domain;
		const char *addr = mailto_address(
		    s + 7, (size_t)(uri_end - s - 7), pool, &domain);
		if (addr == NULL || count == DMARC_REPORT_URI_MAX) {
			skipped++;
			continue;
		}
		bool dup = false;
		for (unsigned i = 0; i < count; i++)
			dup = dup || str_ascii_eq_ci(uris[i].address, addr);
		if (dup)
			continue;
		uris[count].address = addr;
		uris[count].domain = domain;
		uris[count].max_size = max_size;
		count++;
	}
	*uris_r = uris;
	if (skipped_r != NULL)
		*skipped_r = skipped;
	return count;
}

/* ---- XML (appendix C) ---- */

/* Length of the well-formed UTF-8 sequence at s (RFC 3629 section 4), or
 * 0. */
static size_t utf8_seq_len(const unsigned char *s)
{
	unsigned char c = s[0];
	if (c >= 0xc2 && c <= 0xdf)
		return (s[1] & 0xc0) == 0x80 ? 2 : 0;
	if (c >= 0xe0 && c <= 0xef) {
		unsigned char lo = c == 0xe0 ? 0xa0 : 0x80;
		unsigned char hi = c == 0xed ? 0x9f : 0xbf;
		if (s[1] < lo || s[1] > hi || (s[2] & 0xc0) != 0x80)
			return 0;
		return 3;
	}
	if (c >= 0xf0 && c <= 0xf4) {
		unsigned char lo = c == 0xf0 ? 0x90 : 0x80;
		unsigned char hi = c == 0xf4 ? 0x8f : 0xbf;
		if (s[1] < lo || s[1] > hi || (s[2] & 0xc0) != 0x80 ||
		    (s[3] & 0xc0) != 0x80)
			return 0;
		return 4;
	}
	return 0;
}

void dmarc_report_xml_escape(struct buf *out, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	while (*p != '\0') {
		unsigned char c = *p;
		switch (c) {
		case '&': buf_append_str(out, "&amp;"); p++; continue;
		case '<': buf_append_str(out, "&lt;"); p++; continue;
		case '>': buf_append_str(out, "&gt;"); p++; continue;
		case '"': buf_append_str(out, "&quot;"); p++; continue;
		case '\'': buf_append_str(out, "&apos;"); p++; continue;
		default: break;
		}
		if (c < 0x20 || c == 0x7f) {
			buf_append_byte(out, '?');
			p++;
		} else if (c < 0x80) {
			buf_append_byte(out, c);
			p++;
		} else {
			/* The NUL terminator stops a truncated sequence. */
			size_t n = utf8_seq_len(p);
			if (n == 0) {
				buf_append_byte(out, '?');
				p++;
			} else {
				buf_append(out, p, n);
				p += n;
			}
		}
	}
}

static void xml_elem(struct buf *out, const char *indent, const char *name,
		     const char *value)
{
	buf_printf(out, "%s<%s>", indent, name);
	dmarc_report_xml_escape(out, value);
	buf_printf(out, "</%s>\n", name);
}

/* Enumerated values are checked against appendix C, so the document stays
 * valid whatever a row holds. */
static const char *xml_enum(const char *value, const char *const *allowed,
			    const char *fallback)
{
	for (; *allowed != NULL; allowed++) {
		if (strcmp(value, *allowed) == 0)
			return value;
	}
	return fallback;
}

static const char *const xml_dispositions[] = {"none", "quarantine", "reject",
					       NULL};
static const char *const xml_dmarc_results[] = {"pass", "fail", NULL};
static const char *const xml_alignments[] = {"r", "s", NULL};
static const char *const xml_dkim_results[] = {
    "none", "pass", "fail", "policy", "neutral", "temperror", "permerror",
    NULL};
static const char *const xml_spf_results[] = {
    "none", "neutral", "pass", "fail", "softfail", "temperror", "permerror",
    NULL};
static const char *const xml_spf_scopes[] = {"helo", "mfrom", NULL};

static void xml_dkim_auth(struct buf *out, const char *lines)
{
	const char *p = lines;
	while (*p != '\0') {
		const char *nl = strchr(p, '\n');
		size_t len = nl != NULL ? (size_t)(nl - p) : strlen(p);
		char *line = i_strndup(p, len);
		p += len + (nl != NULL ? 1 : 0);
		char *sp1 = strchr(line, ' ');
		char *sp2 = sp1 != NULL ? strchr(sp1 + 1, ' ') : NULL;
		if (sp2 != NULL) {
			*sp1 = '\0';
			*sp2 = '\0';
			buf_append_str(out, "      <dkim>\n");
			xml_elem(out, "        ", "domain", line);
			if (strcmp(sp1 + 1, "-") != 0)
				xml_elem(out, "        ", "selector", sp1 + 1);
			xml_elem(out, "        ", "result",
				 xml_enum(sp2 + 1, xml_dkim_results,
					  "permerror"));
			buf_append_str(out, "      </dkim>\n");
		}
		i_free(line);
	}
}

void dmarc_report_xml(const struct dmarc_report_meta *meta,
		      const struct store_dmarc_row *rows, unsigned count,
		      struct buf *out)
{
	i_assert(count > 0);
	const struct store_dmarc_row *pol = &rows[0];
	for (unsigned i = 1; i < count; i++) {
		if (rows[i].id > pol->id)
			pol = &rows[i];
	}

	buf_append_str(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
			    "<feedback>\n"
			    "  <version>1.0</version>\n"
			    "  <report_metadata>\n");
	xml_elem(out, "    ", "org_name", meta->org_name);
	xml_elem(out, "    ", "email", meta->email);
	xml_elem(out, "    ", "report_id", meta->report_id);
	buf_printf(out,
		   "    <date_range>\n"
		   "      <begin>%lld</begin>\n"
		   "      <end>%lld</end>\n"
		   "    </date_range>\n"
		   "  </report_metadata>\n"
		   "  <policy_published>\n",
		   (long long)meta->begin, (long long)meta->end);
	xml_elem(out, "    ", "domain", pol->policy_domain);
	xml_elem(out, "    ", "adkim", xml_enum(pol->adkim, xml_alignments, "r"));
	xml_elem(out, "    ", "aspf", xml_enum(pol->aspf, xml_alignments, "r"));
	xml_elem(out, "    ", "p", xml_enum(pol->p, xml_dispositions, "none"));
	xml_elem(out, "    ", "sp",
		 xml_enum(pol->sp, xml_dispositions,
			  xml_enum(pol->p, xml_dispositions, "none")));
	buf_printf(out, "    <pct>%u</pct>\n", MIN(pol->pct, 100u));
	xml_elem(out, "    ", "fo", pol->fo[0] != '\0' ? pol->fo : "0");
	buf_append_str(out, "  </policy_published>\n");

	for (unsigned i = 0; i < count; i++) {
		const struct store_dmarc_row *r = &rows[i];
		buf_append_str(out, "  <record>\n    <row>\n");
		xml_elem(out, "      ", "source_ip", r->source_ip);
		buf_printf(out, "      <count>%llu</count>\n",
			   (unsigned long long)r->count);
		buf_append_str(out, "      <policy_evaluated>\n");
		xml_elem(out, "        ", "disposition",
			 xml_enum(r->disposition, xml_dispositions, "none"));
		xml_elem(out, "        ", "dkim",
			 xml_enum(r->dkim_eval, xml_dmarc_results, "fail"));
		xml_elem(out, "        ", "spf",
			 xml_enum(r->spf_eval, xml_dmarc_results, "fail"));
		buf_append_str(out, "      </policy_evaluated>\n"
				    "    </row>\n"
				    "    <identifiers>\n");
		if (r->envelope_to[0] != '\0')
			xml_elem(out, "      ", "envelope_to", r->envelope_to);
		xml_elem(out, "      ", "envelope_from", r->envelope_from);
		xml_elem(out, "      ", "header_from", r->header_from);
		buf_append_str(out, "    </identifiers>\n"
				    "    <auth_results>\n");
		xml_dkim_auth(out, r->dkim_auth);
		buf_append_str(out, "      <spf>\n");
		xml_elem(out, "        ", "domain", r->spf_domain);
		xml_elem(out, "        ", "scope",
			 xml_enum(r->spf_scope, xml_spf_scopes, "mfrom"));
		xml_elem(out, "        ", "result",
			 xml_enum(r->spf_result, xml_spf_results, "none"));
		buf_append_str(out, "      </spf>\n"
				    "    </auth_results>\n"
				    "  </record>\n");
	}
	buf_append_str(out, "</feedback>\n");
}

int dmarc_report_gzip(const void *data, size_t size, struct buf *out,
		      const char **error_r)
{
	z_stream zs;
	memset(&zs, 0, sizeof(zs));
	/* windowBits 15 + 16: a gzip wrapper instead of zlib's. */
	if (deflateInit2(&zs, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 8,
			 Z_DEFAULT_STRATEGY) != Z_OK) {
		*error_r = "deflateInit2 failed";
		return -1;
	}
	uLong bound = deflateBound(&zs, (uLong)size);
	buf_reserve(out, bound);
	zs.next_in = (Bytef *)data;
	zs.avail_in = (uInt)size;
	zs.next_out = out->data + out->len;
	zs.avail_out = (uInt)bound;
	int rc = deflate(&zs, Z_FINISH);
	if (rc != Z_STREAM_END) {
		deflateEnd(&zs);
		*error_r = "deflate failed";
		return -1;
	}
	out->len += zs.total_out;
	out->data[out->len] = '\0';
	deflateEnd(&zs);
	return 0;
}

/* ---- the message (section 7.2.1.1) ---- */

void dmarc_report_filename(const struct dmarc_report_mail *mail,
			   struct buf *out)
{
	/* filename = receiver "!" policy-domain "!" begin-timestamp "!"
	 *            end-timestamp [ "!" unique-id ] "." extension */
	buf_printf(out, "%s!%s!%lld!%lld.xml.gz", mail->receiver,
		   mail->policy_domain, (long long)mail->begin,
		   (long long)mail->end);
}

static void base64_lines(struct buf *out, const uint8_t *data, size_t size)
{
	static const char alphabet[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t col = 0;
	for (size_t i = 0; i < size; i += 3) {
		uint32_t v = (uint32_t)data[i] << 16;
		size_t n = MIN(size - i, (size_t)3);
		if (n > 1)
			v |= (uint32_t)data[i + 1] << 8;
		if (n > 2)
			v |= data[i + 2];
		char q[4] = {alphabet[(v >> 18) & 63], alphabet[(v >> 12) & 63],
			     n > 1 ? alphabet[(v >> 6) & 63] : '=',
			     n > 2 ? alphabet[v & 63] : '='};
		buf_append(out, q, 4);
		col += 4;
		/* RFC 2045 section 6.8: at most 76 characters a line. */
		if (col == 76) {
			buf_append_str(out, "\r\n");
			col = 0;
		}
	}
	if (col > 0)
		buf_append_str(out, "\r\n");
}

/* Header text made safe: one line, printable ASCII (the values are our
 * settings or internet domains already checked, but a header must never
 * be split by what it carries). */
static void header_text(struct buf *out, const char *s)
{
	for (; *s != '\0'; s++) {
		unsigned char c = *s;
		bool ok = c >= 0x20 && c < 0x7f && c != '"' && c != '\\';
		buf_append_byte(out, ok ? c : '?');
	}
}

void dmarc_report_message(const struct dmarc_report_mail *mail,
			  struct buf *out)
{
	char boundary[40];
	if (mail->boundary != NULL) {
		snprintf(boundary, sizeof(boundary), "%s", mail->boundary);
	} else {
		uint8_t rnd[12];
		if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
			memset(rnd, 0x5a, sizeof(rnd));
		memcpy(boundary, "=_dmarc_", 8);
		for (unsigned i = 0; i < sizeof(rnd); i++)
			snprintf(boundary + 8 + i * 2, 3, "%02x", rnd[i]);
	}
	time_t now = mail->now != 0 ? mail->now : time(NULL);
	char date[64];
	time_format_rfc5322(now, date, sizeof(date));
	struct buf name = BUF_INIT;
	dmarc_report_filename(mail, &name);

	buf_append_str(out, "From: <");
	header_text(out, mail->from);
	buf_append_str(out, ">\r\nTo: ");
	for (unsigned i = 0; i < mail->to_count; i++) {
		buf_append_str(out, i == 0 ? "<" : ",\r\n <");
		header_text(out, mail->to[i]);
		buf_append_str(out, ">");
	}
	/* Section 7.2.1.1: "Report Domain: ... Submitter: ... Report-ID:" */
	buf_append_str(out, "\r\nSubject: Report Domain: ");
	header_text(out, mail->policy_domain);
	buf_append_str(out, " Submitter: ");
	header_text(out, mail->org_name);
	buf_append_str(out, " Report-ID: <");
	header_text(out, mail->report_id);
	buf_printf(out, ">\r\nDate: %s\r\nMessage-ID: <", date);
	header_text(out, mail->report_id);
	buf_append_str(out, "@");
	header_text(out, mail->receiver);
	buf_printf(out,
		   ">\r\nMIME-Version: 1.0\r\n"
		   "Content-Type: multipart/mixed; boundary=\"%s\"\r\n"
		   "\r\n"
		   "This is a DMARC aggregate report in MIME format.\r\n"
		   "\r\n--%s\r\n"
		   "Content-Type: text/plain; charset=us-ascii\r\n"
		   "\r\n"
		   "This is an aggregate report from ",
		   boundary, boundary);
	header_text(out, mail->org_name);
	buf_append_str(out, " for the DMARC policy of ");
	header_text(out, mail->policy_domain);
	buf_printf(out,
		   ",\r\ncovering %lld to %lld (seconds since 1970, UTC).\r\n"
		   "The XML report (RFC 7489 appendix C) is attached.\r\n"
		   "\r\n--%s\r\n"
		   "Content-Type: application/gzip; name=\"",
		   (long long)mail->begin, (long long)mail->end, boundary);
	header_text(out, buf_cstr(&name));
	buf_append_str(out, "\"\r\nContent-Transfer-Encoding: base64\r\n"
			    "Content-Disposition: attachment; filename=\"");
	header_text(out, buf_cstr(&name));
	buf_append_str(out, "\"\r\n\r\n");
	base64_lines(out, mail->gz, mail->gz_size);
	buf_printf(out, "\r\n--%s--\r\n", boundary);
	buf_free(&name);
}
