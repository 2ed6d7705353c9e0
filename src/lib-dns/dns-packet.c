/* SPDX-License-Identifier: MIT */
#include "lib.h"
#include "dns-packet.h"

#define DNS_MAX_ANSWERS 512

struct reader {
	const uint8_t *pkt;
	size_t len, pos;
};

static int rd_u16(struct reader *r, uint16_t *v)
{
	if (r->len - r->pos < 2)
		return -1;
	*v = (uint16_t)(r->pkt[r->pos] << 8 | r->pkt[r->pos + 1]);
	r->pos += 2;
	return 0;
}

static int rd_u32(struct reader *r, uint32_t *v)
{
	uint16_t hi, lo;
	if (rd_u16(r, &hi) < 0 || rd_u16(r, &lo) < 0)
		return -1;
	*v = (uint32_t)hi << 16 | lo;
	return 0;
}

/* RFC 1035 section 4.1.4: names may end in a pointer to an earlier name.
 * Decodes the name at *pos into presentation form (lower case, escaped
 * specials, trailing dot), advancing *pos past it in the record. */
static int read_name(const uint8_t *pkt, size_t len, size_t *pos,
		     char out[DNS_NAME_MAX])
{
	size_t p = *pos, o = 0;
	bool jumped = false;
	int hops = 0;

	for (;;) {
		if (p >= len)
			return -1;
		uint8_t l = pkt[p];
		if ((l & 0xc0) == 0xc0) {
			if (p + 1 >= len || ++hops > 32)
				return -1;
			size_t target = (size_t)(l & 0x3f) << 8 | pkt[p + 1];
			if (!jumped)
				*pos = p + 2;
			jumped = true;
			if (target >= p)
				return -1; /* only backwards: no loops */
			p = target;
			continue;
		}
		if ((l & 0xc0) != 0)
			return -1; /* extended label types: unsupported */
		p++;
		if (l == 0)
			break;
		if (p + l > len)
			return -1;
		for (size_t i = 0; i < l; i++) {
			uint8_t c = pkt[p + i];
			if (c >= 'A' && c <= 'Z')
				c = (uint8_t)(c + 32);
			if (o + 5 >= DNS_NAME_MAX)
				return -1;
			if (c == '.' || c == '\\' || c <= ' ' || c >= 0x7f) {
				o += (size_t)snprintf(out + o, DNS_NAME_MAX - o,
						      "\\%03u", c);
			} else {
				out[o++] = (char)c;
			}
		}
		if (o + 2 >= DNS_NAME_MAX)
			return -1;
		out[o++] = '.';
		p += l;
	}
	if (o == 0)
		out[o++] = '.';
	out[o] = '\0';
	if (!jumped)
		*pos = p;
	return 0;
}

static int parse_rdata(const uint8_t *pkt, size_t len, size_t start,
		       size_t rdlen, struct dns_rr *rr)
{
	const uint8_t *rd = pkt + start;
	size_t pos = start;

	switch (rr->type) {
	case DNS_TYPE_A:
		if (rdlen != 4)
			return -1;
		memcpy(rr->u.a, rd, 4);
		return 0;
	case DNS_TYPE_AAAA:
		if (rdlen != 16)
			return -1;
		memcpy(rr->u.aaaa, rd, 16);
		return 0;
	case DNS_TYPE_MX:
		if (rdlen < 3)
			return -1;
		rr->u.mx.preference = (uint16_t)(rd[0] << 8 | rd[1]);
		pos += 2;
		if (read_name(pkt, len, &pos, rr->u.mx.host) < 0 ||
		    pos > start + rdlen)
			return -1;
		return 0;
	case DNS_TYPE_CNAME:
	case DNS_TYPE_PTR:
	case DNS_TYPE_NS:
		if (read_name(pkt, len, &pos, rr->u.name) < 0 ||
		    pos > start + rdlen)
			return -1;
		return 0;
	case DNS_TYPE_TXT: {
		/* RFC 1035 section 3.3.14: one or more <character-string>s. */
		rr->txt_or_data = i_malloc(rdlen + 1);
		size_t i = 0;
		if (rdlen == 0)
			return -1;
		while (i < rdlen) {
			size_t l = rd[i++];
			if (i + l > rdlen)
				return -1;
			memcpy(rr->txt_or_data + rr->txt_len, rd + i, l);
			rr->txt_len += l;
			i += l;
		}
		return 0;
	}
	case DNS_TYPE_TLSA:
		if (rdlen < 3)
			return -1;
		rr->u.tlsa.usage = rd[0];
		rr->u.tlsa.selector = rd[1];
		rr->u.tlsa.mtype = rd[2];
		rr->txt_len = rdlen - 3;
		rr->txt_or_data = i_malloc(rr->txt_len + 1);
		memcpy(rr->txt_or_data, rd + 3, rr->txt_len);
		rr->u.tlsa.data = rr->txt_or_data;
		rr->u.tlsa.len = rr->txt_len;
		return 0;
	default:
		return 0; /* kept with type and owner only */
	}
}

int dns_packet_parse(const uint8_t *packet, size_t len, uint16_t qtype,
		     struct dns_answer *answer_r, const char **error_r)
{
	struct reader r = {packet, len, 0};
	uint16_t id, flags, qdcount, ancount, nscount, arcount;
	char name[DNS_NAME_MAX];

	memset(answer_r, 0, sizeof(*answer_r));
	if (rd_u16(&r, &id) < 0 || rd_u16(&r, &flags) < 0 ||
	    rd_u16(&r, &qdcount) < 0 || rd_u16(&r, &ancount) < 0 ||
	    rd_u16(&r, &nscount) < 0 || rd_u16(&r, &arcount) < 0) {
		*error_r = "DNS packet shorter than its header";
		return -1;
	}
	answer_r->rcode = flags & 0x0f;
	for (unsigned i = 0; i < qdcount; i++) {
		uint16_t t, c;
		if (read_name(packet, len, &r.pos, name) < 0 ||
		    rd_u16(&r, &t) < 0 || rd_u16(&r, &c) < 0) {
			*error_r = "malformed question section";
			return -1;
		}
	}
	if (ancount > DNS_MAX_ANSWERS)
		ancount = DNS_MAX_ANSWERS;
	answer_r->rrs = i_new(struct dns_rr, ancount == 0 ? 1 : ancount);
	for (unsigned i = 0; i < ancount; i++) {
		struct dns_rr *rr = &answer_r->rrs[answer_r->count];
		uint16_t type, cls, rdlen;
		memset(rr, 0, sizeof(*rr));
		if (read_name(packet, len, &r.pos, rr->owner) < 0 ||
		    rd_u16(&r, &type) < 0 || rd_u16(&r, &cls) < 0 ||
		    rd_u32(&r, &rr->ttl) < 0 || rd_u16(&r, &rdlen) < 0 ||
		    r.len - r.pos < rdlen) {
			*error_r = "malformed answer record";
			dns_answer_free(answer_r);
			return -1;
		}
		rr->type = type;
		size_t start = r.pos;
		r.pos += rdlen;
		if (type != qtype || cls != 1)
			continue;
		if (parse_rdata(packet, len, start, rdlen, rr) < 0) {
			free(rr->txt_or_data);
			*error_r = "malformed record data";
			dns_answer_free(answer_r);
			return -1;
		}
		answer_r->count++;
	}
	return 0;
}

void dns_answer_free(struct dns_answer *answer)
{
	for (size_t i = 0; i < answer->count; i++)
		free(answer->rrs[i].txt_or_data);
	free(answer->rrs);
	answer->rrs = NULL;
	answer->count = 0;
}
