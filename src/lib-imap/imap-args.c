/* SPDX-License-Identifier: MIT */
#include "lib.h"
#include "buf.h"
#include "pool.h"
#include "strutil.h"
#include "timeutil.h"
#include "imap-parser.h"
#include "imap-args.h"

/* --- flags --- */

static const struct {
	const char *name;
	enum imap_flag flag;
} flag_names[] = {
	{ "\\Seen", IMAP_FLAG_SEEN },
	{ "\\Answered", IMAP_FLAG_ANSWERED },
	{ "\\Flagged", IMAP_FLAG_FLAGGED },
	{ "\\Deleted", IMAP_FLAG_DELETED },
	{ "\\Draft", IMAP_FLAG_DRAFT },
	{ "\\Recent", IMAP_FLAG_RECENT },
};

const char *imap_flag_name(enum imap_flag flag)
{
	for (size_t i = 0; i < N_ELEMENTS(flag_names); i++) {
		if (flag_names[i].flag == flag)
			return flag_names[i].name;
	}
	return NULL;
}

/* flag-keyword = "$MDNSent" / "$Forwarded" / ... / atom: ATOM-CHARs only
 * (no atom-specials: ( ) { SP CTL % * " \ ]). */
bool imap_keyword_is_valid(const char *keyword)
{
	const unsigned char *s = (const unsigned char *)keyword;
	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++) {
		if (*s <= 0x20 || *s >= 0x7f || strchr("(){%*\"\\]", *s) != NULL)
			return false;
	}
	return true;
}

static int flag_add(const char *name, struct pool *pool,
		    struct imap_flags *flags, size_t max_keywords,
		    const char **error_r)
{
	if (name[0] == '\\') {
		for (size_t i = 0; i < N_ELEMENTS(flag_names); i++) {
			if (str_ascii_eq_ci(name, flag_names[i].name)) {
				if (flag_names[i].flag == IMAP_FLAG_RECENT) {
					*error_r = "\\Recent flag can't be changed";
					return -1;
				}
				flags->system |= flag_names[i].flag;
				return 0;
			}
		}
		*error_r = "Invalid system flag";
		return -1;
	}
	if (!imap_keyword_is_valid(name)) {
		*error_r = "Invalid keyword";
		return -1;
	}
	for (size_t i = 0; i < flags->keywords_count; i++) {
		if (str_ascii_eq_ci(flags->keywords[i], name))
			return 0;
	}
	if (flags->keywords_count >= max_keywords) {
		*error_r = "Too many keywords";
		return -1;
	}
	flags->keywords[flags->keywords_count++] = pool_strdup(pool, name);
	return 0;
}

int imap_flags_parse_args(const struct imap_arg *args, size_t count,
			  struct pool *pool, struct imap_flags *flags_r,
			  const char **error_r)
{
	memset(flags_r, 0, sizeof(*flags_r));
	flags_r->keywords = p_new(pool, const char *, count == 0 ? 1 : count);
	for (size_t i = 0; i < count; i++) {
		const char *name;
		if (!imap_arg_get_atom(&args[i], &name)) {
			*error_r = "Flags must be atoms";
			return -1;
		}
		if (flag_add(name, pool, flags_r, count, error_r) < 0)
			return -1;
	}
	return 1;
}

int imap_flags_parse(const struct imap_arg *arg, struct pool *pool,
		     struct imap_flags *flags_r, const char **error_r)
{
	if (arg->type == IMAP_ARG_LIST)
		return imap_flags_parse_args(arg->list, arg->len, pool, flags_r,
					     error_r);
	return imap_flags_parse_args(arg, 1, pool, flags_r, error_r);
}

void imap_flags_write(struct buf *dest, unsigned system,
		      const char *const *keywords, size_t keywords_count)
{
	bool first = true;

	buf_append_byte(dest, '(');
	for (size_t i = 0; i < N_ELEMENTS(flag_names); i++) {
		if ((system & flag_names[i].flag) == 0)
			continue;
		if (!first)
			buf_append_byte(dest, ' ');
		buf_append_str(dest, flag_names[i].name);
		first = false;
	}
	for (size_t i = 0; i < keywords_count; i++) {
		if (!first)
			buf_append_byte(dest, ' ');
		buf_append_str(dest, keywords[i]);
		first = false;
	}
	buf_append_byte(dest, ')');
}

/* --- dates --- */

static const char *const month_names[12] = {
	"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	"Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
};

static int parse_month(const char *s)
{
	for (int i = 0; i < 12; i++) {
		if (str_ascii_ncmp_ci(s, month_names[i], 3) == 0)
			return i;
	}
	return -1;
}

static bool digits(const char *s, size_t n, int *value_r)
{
	int v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*value_r = v;
	return true;
}

static int days_in_month(int year, int mon)
{
	static const int days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	if (mon == 1 && ((year % 4 == 0 && year % 100 != 0) || year % 400 == 0))
		return 29;
	return days[mon];
}

static time_t utc_time(int year, int mon, int day, int h, int m, int s)
{
	struct tm tm;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = year - 1900;
	tm.tm_mon = mon;
	tm.tm_mday = day;
	tm.tm_hour = h;
	tm.tm_min = m;
	tm.tm_sec = s;
	return timegm(&tm);
}

/* date-text = date-day "-" date-month "-" date-year; date-day = 1*2DIGIT */
static const char *parse_date_text(const char *s, int *year_r, int *mon_r,
				   int *day_r, bool fixed)
{
	int day, year, mon;
	size_t daylen;

	if (fixed) {
		/* date-day-fixed = (SP DIGIT) / 2DIGIT */
		if (s[0] == ' ' && digits(s + 1, 1, &day))
			daylen = 2;
		else if (digits(s, 2, &day))
			daylen = 2;
		else if (digits(s, 1, &day)) /* lenient: "1-Jan-2026" */
			daylen = 1;
		else
			return NULL;
	} else {
		if (digits(s, 2, &day))
			daylen = 2;
		else if (digits(s, 1, &day))
			daylen = 1;
		else
			return NULL;
	}
	s += daylen;
	if (*s++ != '-' || strlen(s) < 8)
		return NULL;
	if ((mon = parse_month(s)) < 0 || s[3] != '-')
		return NULL;
	s += 4;
	if (!digits(s, 4, &year) || year < 1900 || year > 9999)
		return NULL;
	if (day < 1 || day > days_in_month(year, mon))
		return NULL;
	*year_r = year;
	*mon_r = mon;
	*day_r = day;
	return s + 4;
}

int imap_date_parse(const char *str, time_t *t_r)
{
	int year, mon, day;
	const char *end = parse_date_text(str, &year, &mon, &day, false);
	if (end == NULL || *end != '\0')
		return -1;
	*t_r = utc_time(year, mon, day, 0, 0, 0);
	return 1;
}

/* date-time = DQUOTE date-day-fixed "-" date-month "-" date-year SP time SP
 * zone DQUOTE; time = 2DIGIT ":" 2DIGIT ":" 2DIGIT; zone = ("+" / "-")
 * 4DIGIT (RFC 9051 section 9). */
int imap_datetime_parse(const char *str, time_t *t_r, int *tz_minutes_r)
{
	int year, mon, day, h, m, s, zh, zm;
	const char *p = parse_date_text(str, &year, &mon, &day, true);

	if (p == NULL || strlen(p) != 15 || p[0] != ' ' || p[3] != ':' ||
	    p[6] != ':' || p[9] != ' ' || (p[10] != '+' && p[10] != '-'))
		return -1;
	if (!digits(p + 1, 2, &h) || !digits(p + 4, 2, &m) ||
	    !digits(p + 7, 2, &s) || !digits(p + 11, 2, &zh) ||
	    !digits(p + 13, 2, &zm))
		return -1;
	if (h > 23 || m > 59 || s > 60 || zm > 59)
		return -1;
	int tz = zh * 60 + zm;
	if (p[10] == '-')
		tz = -tz;
	*t_r = utc_time(year, mon, day, h, m, s) - (time_t)tz * 60;
	*tz_minutes_r = tz;
	return 1;
}

void imap_datetime_write(struct buf *dest, time_t t, int tz_minutes)
{
	char tmp[64];
	buf_append_byte(dest, '"');
	buf_append_str(dest, time_format_imap(t, tz_minutes, tmp, sizeof(tmp)));
	buf_append_byte(dest, '"');
}

/* --- STORE ---
 * store-att-flags = (["+" / "-"] "FLAGS" [".SILENT"]) SP (flag-list /
 *                   (flag *(SP flag)))
 * with RFC 7162's store-modifier "(UNCHANGEDSINCE mod-sequence-valzer)". */
int imap_store_args_parse(const struct imap_arg *args, size_t count,
			  struct pool *pool, struct imap_store_args *store_r,
			  const char **error_r)
{
	const char *item;

	memset(store_r, 0, sizeof(*store_r));
	if (count > 0 && args[0].type == IMAP_ARG_LIST) {
		const struct imap_arg *mods = args[0].list;
		for (size_t i = 0; i < args[0].len; i += 2) {
			const char *v;
			uint64_t n;
			if (i + 1 >= args[0].len ||
			    !imap_arg_atom_equals(&mods[i], "UNCHANGEDSINCE") ||
			    !imap_arg_get_atom(&mods[i + 1], &v) ||
			    str_to_uint64(v, INT64_MAX, &n) < 0) {
				*error_r = "Invalid STORE modifier";
				return -1;
			}
			store_r->unchangedsince = n == 0 ? UINT64_MAX : n;
		}
		args++;
		count--;
	}
	if (count < 2 || !imap_arg_get_atom(&args[0], &item)) {
		*error_r = "Missing STORE data item";
		return -1;
	}
	if (item[0] == '+') {
		store_r->mode = IMAP_STORE_ADD;
		item++;
	} else if (item[0] == '-') {
		store_r->mode = IMAP_STORE_REMOVE;
		item++;
	}
	if (str_ascii_eq_ci(item, "FLAGS.SILENT"))
		store_r->silent = true;
	else if (!str_ascii_eq_ci(item, "FLAGS")) {
		*error_r = "Invalid STORE data item";
		return -1;
	}
	if (count == 2 && args[1].type == IMAP_ARG_LIST)
		return imap_flags_parse(&args[1], pool, &store_r->flags, error_r);
	return imap_flags_parse_args(args + 1, count - 1, pool, &store_r->flags,
				     error_r);
}

/* --- STATUS --- */
static const struct {
	const char *name;
	enum imap_status_item item;
} status_names[] = {
	{ "MESSAGES", IMAP_STATUS_MESSAGES },
	{ "UIDNEXT", IMAP_STATUS_UIDNEXT },
	{ "UIDVALIDITY", IMAP_STATUS_UIDVALIDITY },
	{ "UNSEEN", IMAP_STATUS_UNSEEN },
	{ "DELETED", IMAP_STATUS_DELETED },
	{ "SIZE", IMAP_STATUS_SIZE },
	{ "RECENT", IMAP_STATUS_RECENT },
	{ "HIGHESTMODSEQ", IMAP_STATUS_HIGHESTMODSEQ },
};

int imap_status_items_parse(const struct imap_arg *arg, unsigned *items_r,
			    const char **error_r)
{
	*items_r = 0;
	if (arg->type != IMAP_ARG_LIST || arg->len == 0) {
		*error_r = "STATUS items must be a non-empty list";
		return -1;
	}
	for (size_t i = 0; i < arg->len; i++) {
		size_t j;
		for (j = 0; j < N_ELEMENTS(status_names); j++) {
			if (imap_arg_atom_equals(&arg->list[i], status_names[j].name))
				break;
		}
		if (j == N_ELEMENTS(status_names)) {
			*error_r = "Invalid STATUS item";
			return -1;
		}
		*items_r |= status_names[j].item;
	}
	return 1;
}

/* --- SELECT / EXAMINE parameters ---
 * select-params = SP "(" select-param *(SP select-param) ")"  (RFC 4466)
 * select-param  =/ "CONDSTORE" /
 *                  "QRESYNC" SP "(" uidvalidity SP mod-sequence-value
 *                  [SP known-uids] [SP seq-match-data] ")"
 * seq-match-data = "(" known-sequence-set SP known-uid-set ")"
 * (RFC 7162 section 7; "*" is allowed in none of the sets). */

static int uid_set_parse(const struct imap_arg *arg, struct imap_seqset *set,
			 const char **error_r)
{
	const char *s;

	if (!imap_arg_get_atom(arg, &s) ||
	    imap_seqset_parse(s, set, IMAP_QRESYNC_MAX_RANGES, error_r) < 0 ||
	    set->saved || imap_seqset_has_star(set)) {
		*error_r = "Invalid QRESYNC UID set";
		return -1;
	}
	return 1;
}

/* Both sets ascending, as section 3.2.5.2 requires, with the same number
 * of elements (pairs). */
static int match_data_check(const struct imap_arg *arg, const char **error_r)
{
	struct imap_seqset seqs = IMAP_SEQSET_INIT, uids = IMAP_SEQSET_INIT;
	int ret = -1;

	if (arg->type == IMAP_ARG_LIST && arg->len == 2 &&
	    uid_set_parse(&arg->list[0], &seqs, error_r) > 0 &&
	    uid_set_parse(&arg->list[1], &uids, error_r) > 0) {
		bool ascending = true;
		for (size_t i = 0; i < seqs.count && ascending; i++) {
			ascending = seqs.ranges[i].lo <= seqs.ranges[i].hi &&
				    (i == 0 || seqs.ranges[i].lo > seqs.ranges[i - 1].hi);
		}
		for (size_t i = 0; i < uids.count && ascending; i++) {
			ascending = uids.ranges[i].lo <= uids.ranges[i].hi &&
				    (i == 0 || uids.ranges[i].lo > uids.ranges[i - 1].hi);
		}
		if (ascending && imap_seqset_count(&seqs) == imap_seqset_count(&uids))
			ret = 1;
	}
	imap_seqset_free(&seqs);
	imap_seqset_free(&uids);
	if (ret < 0)
		*error_r = "Invalid QRESYNC sequence match data";
	return ret;
}

static int qresync_param_parse(const struct imap_arg *arg,
			       struct imap_select_params *p, const char **error_r)
{
	const char *s;
	uint64_t n;

	if (arg->type != IMAP_ARG_LIST || arg->len < 2 || arg->len > 4) {
		*error_r = "Invalid QRESYNC parameter";
		return -1;
	}
	if (!imap_arg_get_atom(&arg->list[0], &s) ||
	    str_to_uint64(s, UINT32_MAX, &n) < 0 || n == 0) {
		*error_r = "Invalid QRESYNC UIDVALIDITY";
		return -1;
	}
	p->uidvalidity = (uint32_t)n;
	if (!imap_arg_get_atom(&arg->list[1], &s) ||
	    str_to_uint64(s, INT64_MAX, &p->modseq) < 0) {
		*error_r = "Invalid QRESYNC mod-sequence";
		return -1;
	}
	size_t i = 2;
	if (i < arg->len && arg->list[i].type != IMAP_ARG_LIST) {
		if (uid_set_parse(&arg->list[i], &p->known_uids, error_r) < 0)
			return -1;
		imap_seqset_normalize(&p->known_uids);
		p->known_uids_given = true;
		i++;
	}
	if (i < arg->len) {
		if (match_data_check(&arg->list[i], error_r) < 0)
			return -1;
		p->match_data_given = true;
		i++;
	}
	if (i != arg->len) {
		*error_r = "Invalid QRESYNC parameter";
		return -1;
	}
	p->qresync = true;
	return 1;
}

int imap_select_params_parse(const struct imap_arg *arg,
			     struct imap_select_params *params_r,
			     const char **error_r)
{
	memset(params_r, 0, sizeof(*params_r));
	if (arg->type != IMAP_ARG_LIST || arg->len == 0) {
		*error_r = "Invalid SELECT parameters";
		return -1;
	}
	for (size_t i = 0; i < arg->len; i++) {
		const struct imap_arg *a = &arg->list[i];
		if (imap_arg_atom_equals(a, "CONDSTORE") && !params_r->condstore) {
			params_r->condstore = true;
		} else if (imap_arg_atom_equals(a, "QRESYNC") && !params_r->qresync &&
			   i + 1 < arg->len) {
			if (qresync_param_parse(&arg->list[++i], params_r,
						error_r) < 0) {
				imap_select_params_free(params_r);
				return -1;
			}
		} else {
			imap_select_params_free(params_r);
			*error_r = "Unknown SELECT parameters";
			return -1;
		}
	}
	return 1;
}

void imap_select_params_free(struct imap_select_params *params)
{
	imap_seqset_free(&params->known_uids);
	params->known_uids_given = false;
}

/* --- LIST ---
 * list = "LIST" [SP list-select-opts] SP mailbox SP mbox-or-pat
 *        [SP list-return-opts]
 * mbox-or-pat = list-mailbox / patterns; patterns = "(" list-mailbox
 * *(SP list-mailbox) ")" (RFC 5258 section 6). */
int imap_list_args_parse(const struct imap_arg *args, size_t count,
			 struct pool *pool, struct imap_list_args *list_r,
			 const char **error_r)
{
	size_t i = 0;

	memset(list_r, 0, sizeof(*list_r));
	if (i < count && args[i].type == IMAP_ARG_LIST) {
		list_r->extended = true;
		for (size_t j = 0; j < args[i].len; j++) {
			const struct imap_arg *o = &args[i].list[j];
			if (imap_arg_atom_equals(o, "SUBSCRIBED"))
				list_r->select |= IMAP_LIST_SEL_SUBSCRIBED;
			else if (imap_arg_atom_equals(o, "REMOTE"))
				list_r->select |= IMAP_LIST_SEL_REMOTE;
			else if (imap_arg_atom_equals(o, "RECURSIVEMATCH"))
				list_r->select |= IMAP_LIST_SEL_RECURSIVEMATCH;
			else if (imap_arg_atom_equals(o, "SPECIAL-USE"))
				list_r->select |= IMAP_LIST_SEL_SPECIAL_USE;
			else {
				*error_r = "Unknown LIST selection option";
				return -1;
			}
		}
		/* RFC 5258 section 3.1: RECURSIVEMATCH alone is invalid. */
		if ((list_r->select & IMAP_LIST_SEL_RECURSIVEMATCH) != 0 &&
		    (list_r->select & ~(unsigned)(IMAP_LIST_SEL_RECURSIVEMATCH |
						  IMAP_LIST_SEL_REMOTE)) == 0) {
			*error_r = "RECURSIVEMATCH needs another selection option";
			return -1;
		}
		i++;
	}
	if (i + 2 > count || !imap_arg_get_astring(&args[i], &list_r->reference)) {
		/* An empty reference arrives as "" (quoted), which
		 * get_astring accepts. */
		*error_r = "Missing LIST reference";
		return -1;
	}
	i++;
	if (args[i].type == IMAP_ARG_LIST) {
		list_r->extended = true;
		list_r->patterns_count = args[i].len;
		list_r->patterns = p_new(pool, const char *,
					 args[i].len == 0 ? 1 : args[i].len);
		for (size_t j = 0; j < args[i].len; j++) {
			if (!imap_arg_get_astring(&args[i].list[j],
						  &list_r->patterns[j])) {
				*error_r = "Invalid LIST pattern";
				return -1;
			}
		}
		if (args[i].len == 0) {
			*error_r = "Empty LIST pattern list";
			return -1;
		}
	} else {
		list_r->patterns = p_new(pool, const char *, 1);
		list_r->patterns_count = 1;
		if (!imap_arg_get_astring(&args[i], &list_r->patterns[0])) {
			*error_r = "Invalid LIST pattern";
			return -1;
		}
	}
	i++;
	if (i < count) {
		const struct imap_arg *ret;
		if (!imap_arg_atom_equals(&args[i], "RETURN") || i + 2 != count ||
		    args[i + 1].type != IMAP_ARG_LIST) {
			*error_r = "Invalid LIST RETURN options";
			return -1;
		}
		list_r->extended = true;
		ret = &args[i + 1];
		for (size_t j = 0; j < ret->len; j++) {
			const struct imap_arg *o = &ret->list[j];
			if (imap_arg_atom_equals(o, "SUBSCRIBED"))
				list_r->ret |= IMAP_LIST_RET_SUBSCRIBED;
			else if (imap_arg_atom_equals(o, "CHILDREN"))
				list_r->ret |= IMAP_LIST_RET_CHILDREN;
			else if (imap_arg_atom_equals(o, "SPECIAL-USE"))
				list_r->ret |= IMAP_LIST_RET_SPECIAL_USE;
			else if (imap_arg_atom_equals(o, "STATUS") &&
				 j + 1 < ret->len) {
				if (imap_status_items_parse(&ret->list[j + 1],
					&list_r->status_items, error_r) < 0)
					return -1;
				list_r->ret |= IMAP_LIST_RET_STATUS;
				j++;
			} else {
				*error_r = "Unknown LIST return option";
				return -1;
			}
		}
	}
	return 1;
}

/* Dynamic programming over name positions: O(pattern x name), so no
 * pattern of stars can make a peer's LIST expensive. */
static bool match_here(const char *p, const char *n, char sep)
{
	size_t len = strlen(n);
	bool *reach = i_new(bool, len + 1), *next = i_new(bool, len + 1);
	bool ret;

	reach[0] = true;
	for (; *p != '\0'; p++) {
		bool running = false;
		for (size_t j = 0; j <= len; j++) {
			if (*p == '*') {
				running = running || reach[j];
				next[j] = running;
			} else if (*p == '%') {
				running = (running && n[j - 1] != sep) || reach[j];
				next[j] = running;
			} else {
				next[j] = j > 0 && reach[j - 1] && n[j - 1] == *p;
			}
		}
		bool *t = reach;
		reach = next;
		next = t;
	}
	ret = reach[len];
	i_free(reach);
	i_free(next);
	return ret;
}

bool imap_list_match(const char *pattern, const char *name, char sep)
{
	/* INBOX is case-insensitive (RFC 9051 section 5.1). */
	if (str_ascii_has_prefix_ci(name, "INBOX") &&
	    (name[5] == '\0' || name[5] == sep) &&
	    str_ascii_has_prefix_ci(pattern, "INBOX") &&
	    (pattern[5] == '\0' || pattern[5] == sep || pattern[5] == '*' ||
	     pattern[5] == '%'))
		return match_here(pattern + 5, name + 5, sep);
	return match_here(pattern, name, sep);
}

const char *imap_list_join(struct pool *pool, const char *reference,
			   const char *pattern, char sep)
{
	if (reference[0] == '\0' || pattern[0] == sep)
		return pattern;
	return pool_printf(pool, "%s%s", reference, pattern);
}
