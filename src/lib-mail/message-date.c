/* SPDX-License-Identifier: MIT */
#include "lib.h"
#include "buf.h"
#include "strutil.h"
#include "rfc822-parser.h"
#include "message-date.h"

static const char *const month_names[] = {
	"jan", "feb", "mar", "apr", "may", "jun",
	"jul", "aug", "sep", "oct", "nov", "dec",
};

/* Zones of RFC 5322 section 4.3 (obs-zone). Military zones are
 * treated as -0000 (unknown), as that section says. */
static bool zone_named(const char *name, int *offset_r)
{
	static const struct {
		const char *name;
		int minutes;
	} zones[] = {
		{ "ut", 0 }, { "gmt", 0 }, { "utc", 0 }, { "z", 0 },
		{ "est", -5 * 60 }, { "edt", -4 * 60 },
		{ "cst", -6 * 60 }, { "cdt", -5 * 60 },
		{ "mst", -7 * 60 }, { "mdt", -6 * 60 },
		{ "pst", -8 * 60 }, { "pdt", -7 * 60 },
	};
	for (size_t i = 0; i < N_ELEMENTS(zones); i++) {
		if (str_ascii_eq_ci(name, zones[i].name)) {
			*offset_r = zones[i].minutes;
			return true;
		}
	}
	if (strlen(name) == 1 && ((name[0] >= 'a' && name[0] <= 'z') ||
				  (name[0] >= 'A' && name[0] <= 'Z'))) {
		*offset_r = 0;
		return true;
	}
	return false;
}

/* Days since 1970-01-01 of a proleptic Gregorian date. */
static int64_t days_from_civil(int64_t y, unsigned int m, unsigned int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned int yoe = (unsigned int)(y - era * 400);
	unsigned int doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	unsigned int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

	return era * 146097 + (int64_t)doe - 719468;
}

/* A run of digits at the cursor: returns the digit count (0 if none). */
static unsigned int parse_number(struct rfc822_parser *p, unsigned int max_digits,
				 unsigned int *value_r)
{
	unsigned int n = 0, v = 0;

	while (p->data < p->end && *p->data >= '0' && *p->data <= '9') {
		if (n < max_digits)
			v = v * 10 + (unsigned int)(*p->data - '0');
		n++;
		p->data++;
	}
	*value_r = v;
	return n;
}

static unsigned int parse_word(struct rfc822_parser *p, char *dest, size_t size)
{
	unsigned int n = 0;

	while (p->data < p->end &&
	       ((*p->data >= 'a' && *p->data <= 'z') ||
		(*p->data >= 'A' && *p->data <= 'Z'))) {
		if (n + 1 < size)
			dest[n] = (char)*p->data;
		n++;
		p->data++;
	}
	dest[n + 1 < size ? n : size - 1] = '\0';
	return n;
}

/* date-time = [ day-of-week "," ] date time [CFWS]
 * date = day month year; time = hour ":" minute [ ":" second ] FWS zone
 * (RFC 5322 section 3.3, with obs-* of section 4.3) */
bool message_date_parse(const uint8_t *data, size_t size, time_t *time_r,
			int *tz_offset_r)
{
	struct rfc822_parser p;
	char word[16];
	unsigned int day, month = 0, year, hour, min, sec = 0, digits, zone;
	int tz = 0;
	int64_t t;

	rfc822_parser_init(&p, data, size, NULL);
	if (rfc822_skip_lwsp(&p) <= 0)
		return false;
	if (!(*p.data >= '0' && *p.data <= '9')) {
		/* day-of-week, optional comma */
		if (parse_word(&p, word, sizeof(word)) == 0)
			return false;
		(void)rfc822_skip_lwsp(&p);
		if (!rfc822_at_end(&p) && *p.data == ',')
			p.data++;
		(void)rfc822_skip_lwsp(&p);
	}
	digits = parse_number(&p, 2, &day);
	if (digits == 0 || digits > 2 || day < 1 || day > 31)
		return false;
	(void)rfc822_skip_lwsp(&p);
	if (!rfc822_at_end(&p) && *p.data == '-')
		p.data++; /* "1-Jan-2000", seen in the wild */
	if (parse_word(&p, word, sizeof(word)) < 3)
		return false;
	for (unsigned int i = 0; i < N_ELEMENTS(month_names); i++) {
		if (str_ascii_ncmp_ci(word, month_names[i], 3) == 0) {
			month = i + 1;
			break;
		}
	}
	if (month == 0)
		return false;
	(void)rfc822_skip_lwsp(&p);
	if (!rfc822_at_end(&p) && *p.data == '-')
		p.data++;
	digits = parse_number(&p, 5, &year);
	if (digits < 2 || digits > 4)
		return false;
	if (digits == 2)
		year += year < 50 ? 2000 : 1900; /* section 4.3 */
	else if (digits == 3)
		year += 1900;
	(void)rfc822_skip_lwsp(&p);
	if (parse_number(&p, 2, &hour) == 0 || hour > 23)
		return false;
	(void)rfc822_skip_lwsp(&p);
	if (rfc822_at_end(&p) || *p.data != ':')
		return false;
	p.data++;
	(void)rfc822_skip_lwsp(&p);
	if (parse_number(&p, 2, &min) == 0 || min > 59)
		return false;
	(void)rfc822_skip_lwsp(&p);
	if (!rfc822_at_end(&p) && *p.data == ':') {
		p.data++;
		(void)rfc822_skip_lwsp(&p);
		if (parse_number(&p, 2, &sec) == 0 || sec > 60)
			return false;
		(void)rfc822_skip_lwsp(&p);
	}
	if (!rfc822_at_end(&p) && (*p.data == '+' || *p.data == '-')) {
		int sign = *p.data == '-' ? -1 : 1;

		p.data++;
		if (parse_number(&p, 4, &zone) != 4 || zone % 100 > 59)
			return false;
		tz = sign * (int)((zone / 100) * 60 + zone % 100);
	} else if (!rfc822_at_end(&p) && parse_word(&p, word, sizeof(word)) > 0) {
		if (!zone_named(word, &tz))
			tz = 0; /* unknown zone: treat as -0000 */
	}
	t = days_from_civil(year, month, day) * 86400 +
	    (int64_t)hour * 3600 + min * 60 + sec - (int64_t)tz * 60;
	*time_r = (time_t)t;
	*tz_offset_r = tz;
	return true;
}
