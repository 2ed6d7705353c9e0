/* SPDX-License-Identifier: MIT */
#include "lib.h"
#include "config.h"
#include "buf.h"
#include "pool.h"
#include "strutil.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <ini.h>
#include <limits.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <unistd.h>

enum config_type {
	CT_STRING,
	CT_PATH,
	CT_HOSTNAME,
	CT_EMAIL,
	CT_IP,
	CT_CHARS,
	CT_BOOL,
	CT_UINT,
	CT_SIZE,
	CT_DURATION,
	CT_ADDRS,
	CT_LOG_LEVEL,
	CT_KEYWORD,
};

#define CK_NONEMPTY 0x1 /* an empty value is an error */
#define CK_RESTART 0x2	/* a change takes a restart */

struct config_key {
	const char *section;
	const char *name;
	enum config_type type;
	size_t offset;
	uint64_t min, max;
	/* The default, as it would be written in the file. */
	const char *def;
	unsigned flags;
	const char *const *keywords; /* CT_KEYWORD: index = enum value */
};

static const char *const verify_keywords[] = { "off", "ambiguous", "on", NULL };
static const char *const dns_resolver_keywords[] = { "system", "recursive", "static", NULL };
static const char *const spf_reject_keywords[] = { "no", "data", "rcpt", NULL };
static const char *const dmarc_policy_keywords[] = { "enforce", "monitor", NULL };
static const char *const temperror_keywords[] = { "accept", "defer", NULL };

#define OFF(field) offsetof(struct config, field)
#define LISTEN(name, idx)                                                      \
	{ "listen", name, CT_ADDRS, OFF(listen[idx]), 0, 0, "", CK_RESTART, NULL }

/* The keys. Keep in step with config.h, README.md and doc/posthorn.conf.5. */
static const struct config_key config_keys[] = {
	{ "server", "hostname", CT_HOSTNAME, OFF(server.hostname), 0, 0, "", 0, NULL },
	{ "server", "data_dir", CT_PATH, OFF(server.data_dir), 0, 0,
	  "/var/lib/posthorn", CK_NONEMPTY | CK_RESTART, NULL },
	{ "server", "user", CT_STRING, OFF(server.user), 0, 0, "", CK_RESTART, NULL },
	{ "server", "pid_file", CT_PATH, OFF(server.pid_file), 0, 0, "", CK_RESTART, NULL },
	{ "server", "postmaster", CT_EMAIL, OFF(server.postmaster), 0, 0, "", 0, NULL },
	{ "server", "log_level", CT_LOG_LEVEL, OFF(server.log_level), 0, 0, "info", 0, NULL },
	{ "server", "io_threads", CT_UINT, OFF(server.io_threads), 0, 256, "0", CK_RESTART, NULL },
	LISTEN("smtp", CONFIG_LISTEN_SMTP),
	LISTEN("submission", CONFIG_LISTEN_SUBMISSION),
	LISTEN("submissions", CONFIG_LISTEN_SUBMISSIONS),
	LISTEN("imap", CONFIG_LISTEN_IMAP),
	LISTEN("imaps", CONFIG_LISTEN_IMAPS),
	LISTEN("pop3", CONFIG_LISTEN_POP3),
	LISTEN("pop3s", CONFIG_LISTEN_POP3S),
	{ "tls", "cert", CT_PATH, OFF(tls.cert), 0, 0, "", 0, NULL },
	{ "tls", "key", CT_PATH, OFF(tls.key), 0, 0, "", 0, NULL },
	{ "dns", "static", CT_PATH, OFF(dns.static_zone), 0, 0, "", CK_RESTART, NULL },
	{ "dns", "resolver", CT_KEYWORD, OFF(dns.resolver), 0, 0, "system", CK_RESTART, dns_resolver_keywords },
	{ "outbound", "mx_port", CT_UINT, OFF(outbound.mx_port), 1, 65535, "25", 0, NULL },
	{ "outbound", "source", CT_IP, OFF(outbound.source), 0, 0, "", 0, NULL },
	{ "outbound", "retry_initial", CT_DURATION, OFF(outbound.retry_initial), 1, 86400, "5m", 0, NULL },
	{ "outbound", "retry_max", CT_DURATION, OFF(outbound.retry_max), 1, 7 * 86400, "4h", 0, NULL },
	{ "outbound", "give_up", CT_DURATION, OFF(outbound.give_up), 60, 60 * 86400, "5d", 0, NULL },
	{ "outbound", "delay_notify", CT_DURATION, OFF(outbound.delay_notify), 0, 60 * 86400, "4h", 0, NULL },
	/* RFC 5321 section 4.5.3.2: the client's timeouts. */
	{ "outbound", "connect_timeout", CT_DURATION, OFF(outbound.connect_timeout), 1, 3600, "1m", 0, NULL },
	{ "outbound", "command_timeout", CT_DURATION, OFF(outbound.command_timeout), 1, 3600, "5m", 0, NULL },
	{ "outbound", "data_timeout", CT_DURATION, OFF(outbound.data_timeout), 1, 7200, "10m", 0, NULL },
	{ "outbound", "max_sessions", CT_UINT, OFF(outbound.max_sessions), 1, 10000, "20", 0, NULL },
	{ "outbound", "relayhost", CT_STRING, OFF(outbound.relayhost), 0, 0, "", CK_RESTART, NULL },
	{ "outbound", "relay_user", CT_STRING, OFF(outbound.relay_user), 0, 0, "", CK_RESTART, NULL },
	{ "outbound", "relay_password_file", CT_PATH, OFF(outbound.relay_password_file), 0, 0, "", CK_RESTART, NULL },
	{ "outbound", "relay_require_tls", CT_BOOL, OFF(outbound.relay_require_tls), 0, 0, "yes", CK_RESTART, NULL },
	{ "limits", "max_connections", CT_UINT, OFF(limits.max_connections), 1, 1000000, "1000", CK_RESTART, NULL },
	{ "limits", "max_connections_per_ip", CT_UINT, OFF(limits.max_connections_per_ip), 1, 1000000, "20", CK_RESTART, NULL },
	{ "limits", "handshake_timeout", CT_DURATION, OFF(limits.handshake_timeout), 1, 3600, "30s", CK_RESTART, NULL },
	/* RFC 5321 section 4.5.3.2.7: at least 5 minutes. */
	{ "limits", "smtp_idle_timeout", CT_DURATION, OFF(limits.smtp_idle_timeout), 1, 86400, "5m", CK_RESTART, NULL },
	/* RFC 9051 section 5.4: at least 30 minutes. */
	{ "limits", "imap_idle_timeout", CT_DURATION, OFF(limits.imap_idle_timeout), 1, 86400, "30m", CK_RESTART, NULL },
	/* RFC 1939 section 3: at least 10 minutes. */
	{ "limits", "pop3_idle_timeout", CT_DURATION, OFF(limits.pop3_idle_timeout), 1, 86400, "10m", CK_RESTART, NULL },
	{ "limits", "trusted_networks", CT_STRING, OFF(limits.trusted_networks), 0, 0, "127.0.0.0/8, ::1", CK_RESTART, NULL },
	{ "limits", "line_timeout", CT_DURATION, OFF(limits.line_timeout), 1, 3600, "1m", CK_RESTART, NULL },
	{ "smtp", "greeting_delay", CT_DURATION, OFF(smtp.greeting_delay), 0, 60, "5s", CK_RESTART, NULL },
	{ "smtp", "max_message_size", CT_SIZE, OFF(smtp.max_message_size), 1024, (uint64_t)2 << 30, "50M", 0, NULL },
	/* RFC 5321 section 4.5.3.1.8: at least 100. */
	{ "smtp", "max_recipients", CT_UINT, OFF(smtp.max_recipients), 1, 100000, "100", 0, NULL },
	/* RFC 5321 section 4.5.3.1.6: at least 1000 octets with CRLF. */
	{ "smtp", "max_line_length", CT_UINT, OFF(smtp.max_line_length), 1000, 1048576, "4096", CK_RESTART, NULL },
	{ "smtp", "max_header_count", CT_UINT, OFF(smtp.max_header_count), 10, 100000, "1000", 0, NULL },
	/* RFC 5321 section 6.3: loop detection by counting Received:. */
	{ "smtp", "max_received_headers", CT_UINT, OFF(smtp.max_received_headers), 1, 1000, "100", 0, NULL },
	{ "smtp", "recipient_delimiter", CT_CHARS, OFF(smtp.recipient_delimiter), 0, 0, "+", 0, NULL },
	{ "smtp", "vrfy", CT_KEYWORD, OFF(smtp.vrfy), 0, 0, "ambiguous", 0, verify_keywords },
	{ "smtp", "expn", CT_KEYWORD, OFF(smtp.expn), 0, 0, "off", 0, verify_keywords },
	{ "pop3", "allow_plaintext_loopback", CT_BOOL, OFF(pop3.allow_plaintext_loopback), 0, 0, "no", 0, NULL },
	{ "submission", "allow_plaintext_loopback", CT_BOOL, OFF(submission.allow_plaintext_loopback), 0, 0, "no", 0, NULL },
	{ "auth", "spf", CT_BOOL, OFF(auth.spf), 0, 0, "yes", 0, NULL },
	{ "auth", "dkim_verify", CT_BOOL, OFF(auth.dkim_verify), 0, 0, "yes", 0, NULL },
	{ "auth", "dmarc", CT_BOOL, OFF(auth.dmarc), 0, 0, "yes", 0, NULL },
	{ "auth", "spf_reject", CT_KEYWORD, OFF(auth.spf_reject), 0, 0, "data", 0, spf_reject_keywords },
	{ "auth", "dmarc_policy", CT_KEYWORD, OFF(auth.dmarc_policy), 0, 0, "enforce", 0, dmarc_policy_keywords },
	{ "auth", "temperror", CT_KEYWORD, OFF(auth.temperror), 0, 0, "accept", 0, temperror_keywords },
	{ "auth", "authserv_id", CT_HOSTNAME, OFF(auth.authserv_id), 0, 0, "", 0, NULL },
	{ "auth", "dkim_sign", CT_BOOL, OFF(auth.dkim_sign), 0, 0, "yes", 0, NULL },
	{ "auth", "dmarc_reports", CT_BOOL, OFF(auth.dmarc_reports), 0, 0, "yes", 0, NULL },
	{ "auth", "report_sender", CT_EMAIL, OFF(auth.report_sender), 0, 0, "", 0, NULL },
	{ "auth", "report_org", CT_STRING, OFF(auth.report_org), 0, 0, "", 0, NULL },
	/* RFC 7489 section 7.2: reports at least daily, at most hourly. */
	{ "auth", "report_interval", CT_DURATION, OFF(auth.report_interval), 3600, 7 * 86400, "1d", 0, NULL },
};

#define CONFIG_KEY_COUNT N_ELEMENTS(config_keys)

static const char *const listener_names[CONFIG_LISTEN_COUNT] = {
	[CONFIG_LISTEN_SMTP] = "smtp",
	[CONFIG_LISTEN_SUBMISSION] = "submission",
	[CONFIG_LISTEN_SUBMISSIONS] = "submissions",
	[CONFIG_LISTEN_IMAP] = "imap",
	[CONFIG_LISTEN_IMAPS] = "imaps",
	[CONFIG_LISTEN_POP3] = "pop3",
	[CONFIG_LISTEN_POP3S] = "pop3s",
};

static const char config_embedded[] =
	"; posthornd's embedded default: loopback only, high ports.\n"
	"[server]\n"
	"hostname = localhost\n"
	"data_dir = ./posthorn-data\n"
	"[listen]\n"
	"smtp = 127.0.0.1:2525\n"
	"submission = 127.0.0.1:2587\n"
	"submissions = 127.0.0.1:2465\n"
	"imap = 127.0.0.1:2143\n"
	"imaps = 127.0.0.1:2993\n"
	"pop3 = 127.0.0.1:2110\n"
	"pop3s = 127.0.0.1:2995\n";

#define CONFIG_EMBEDDED_NAME "<embedded>"

/* What config_load() frees the config with. */
struct config_private {
	struct config pub;
	struct pool *pool;
	atomic_uint refcount;
};

/* Parser state for one load. */
struct config_parser {
	struct config_private *cfg;
	const char *file;
	struct buf *errors;
	unsigned error_count;
	unsigned line;
	unsigned key_lines[CONFIG_KEY_COUNT];
	/* The current section is unknown (already reported): skip its keys. */
	bool skip_section;
	/* Input: a FILE, or text in memory. */
	FILE *fp;
	const char *text;
	char *getline_buf;
	size_t getline_size;
};

const char *config_listener_name(enum config_listener l)
{
	i_assert(l < CONFIG_LISTEN_COUNT);
	return listener_names[l];
}

bool config_listener_implicit_tls(enum config_listener l)
{
	return l == CONFIG_LISTEN_SUBMISSIONS || l == CONFIG_LISTEN_IMAPS ||
	       l == CONFIG_LISTEN_POP3S;
}

const char *config_embedded_text(void)
{
	return config_embedded;
}

/* ---- value parsers ---- */

static int parse_number_suffix(const char *str, uint64_t *num_r,
			       char *suffix_r)
{
	size_t digits = 0;
	while (str[digits] >= '0' && str[digits] <= '9')
		digits++;
	if (digits == 0)
		return -1;
	if (str_to_uint64_n(str, digits, UINT64_MAX, num_r) < 0)
		return -1;
	const char *rest = str + digits;
	while (*rest == ' ')
		rest++;
	*suffix_r = '\0';
	if (*rest != '\0') {
		if (rest[1] != '\0')
			return -1;
		*suffix_r = (char)tolower((unsigned char)*rest);
	}
	return 0;
}

int config_parse_size(const char *str, uint64_t *size_r, const char **error_r)
{
	uint64_t n, mult = 1;
	char suffix;
	if (parse_number_suffix(str, &n, &suffix) < 0) {
		*error_r = "not a size";
		return -1;
	}
	switch (suffix) {
	case '\0': case 'b': mult = 1; break;
	case 'k': mult = 1024; break;
	case 'm': mult = 1024 * 1024; break;
	case 'g': mult = 1024 * 1024 * 1024; break;
	default:
		*error_r = "unknown size suffix";
		return -1;
	}
	if (n > UINT64_MAX / mult) {
		*error_r = "size too large";
		return -1;
	}
	*size_r = n * mult;
	return 0;
}

int config_parse_duration(const char *str, unsigned *secs_r,
			  const char **error_r)
{
	uint64_t n, mult = 1;
	char suffix;
	if (parse_number_suffix(str, &n, &suffix) < 0) {
		*error_r = "not a duration";
		return -1;
	}
	switch (suffix) {
	case '\0': case 's': mult = 1; break;
	case 'm': mult = 60; break;
	case 'h': mult = 3600; break;
	case 'd': mult = 86400; break;
	default:
		*error_r = "unknown duration suffix";
		return -1;
	}
	if (n > UINT_MAX / mult) {
		*error_r = "duration too long";
		return -1;
	}
	*secs_r = (unsigned)(n * mult);
	return 0;
}

int config_parse_bool(const char *str, bool *value_r, const char **error_r)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };
	for (size_t i = 0; i < N_ELEMENTS(yes); i++) {
		if (str_ascii_eq_ci(str, yes[i])) {
			*value_r = true;
			return 0;
		}
		if (str_ascii_eq_ci(str, no[i])) {
			*value_r = false;
			return 0;
		}
	}
	*error_r = "expected yes or no";
	return -1;
}

void config_addr_free(struct config_addr *addr)
{
	i_free(addr->str);
	i_free(addr->host);
}

int config_parse_addr(const char *str, struct config_addr *addr_r,
		      const char **error_r)
{
	const char *colon, *host_start;
	size_t host_len;
	bool ipv6 = false;

	memset(addr_r, 0, sizeof(*addr_r));
	if (str[0] == '[') {
		const char *end = strchr(str, ']');
		if (end == NULL) {
			*error_r = "missing ']'";
			return -1;
		}
		if (end[1] != ':') {
			*error_r = "missing port";
			return -1;
		}
		host_start = str + 1;
		host_len = (size_t)(end - host_start);
		colon = end + 1;
		ipv6 = true;
	} else {
		colon = strrchr(str, ':');
		if (colon == NULL) {
			*error_r = "missing port";
			return -1;
		}
		if (memchr(str, ':', (size_t)(colon - str)) != NULL) {
			*error_r = "IPv6 address must be in brackets";
			return -1;
		}
		host_start = str;
		host_len = (size_t)(colon - str);
	}

	uint64_t port;
	if (str_to_uint64(colon + 1, 65535, &port) < 0 || port == 0) {
		*error_r = "bad port (expected 1-65535)";
		return -1;
	}
	char host[INET6_ADDRSTRLEN + IF_NAMESIZE + 2];
	if (host_len == 0 || host_len >= sizeof(host)) {
		*error_r = "not a numeric IP address";
		return -1;
	}
	memcpy(host, host_start, host_len);
	host[host_len] = '\0';
	if (!ipv6 && strcmp(host, "*") == 0) {
		memcpy(host, "0.0.0.0", 8);
	} else if (ipv6) {
		struct in6_addr a6;
		char plain[INET6_ADDRSTRLEN + 1];
		/* A scope ("%lo") is for lib-net to resolve; check the rest. */
		size_t plain_len = strcspn(host, "%");
		if (plain_len >= sizeof(plain)) {
			*error_r = "not a numeric IP address";
			return -1;
		}
		memcpy(plain, host, plain_len);
		plain[plain_len] = '\0';
		if (inet_pton(AF_INET6, plain, &a6) != 1) {
			*error_r = "not a numeric IP address";
			return -1;
		}
	} else {
		struct in_addr a4;
		if (inet_pton(AF_INET, host, &a4) != 1) {
			*error_r = "not a numeric IP address";
			return -1;
		}
	}
	addr_r->host = i_strdup(host);
	addr_r->port = (uint16_t)port;
	addr_r->ipv6 = ipv6;
	addr_r->str = ipv6 ? i_strdup_printf("[%s]:%u", host, (unsigned)port) :
			     i_strdup_printf("%s:%u", host, (unsigned)port);
	return 0;
}

static bool hostname_valid(const char *s)
{
	size_t len = strlen(s), label = 0;
	if (len == 0 || len > 253)
		return false;
	for (size_t i = 0; i <= len; i++) {
		char c = s[i];
		if (c == '.' || c == '\0') {
			if (label == 0 || label > 63 || s[i - 1] == '-')
				return false;
			if (c == '\0')
				return true;
			label = 0;
		} else if (isalnum((unsigned char)c) || c == '-') {
			if (label == 0 && c == '-')
				return false;
			label++;
		} else {
			return false;
		}
	}
	return true;
}

static bool email_valid(const char *s)
{
	const char *at = strrchr(s, '@');
	if (at == NULL || at == s)
		return false;
	for (const char *p = s; p < at; p++) {
		if (!isgraph((unsigned char)*p) || strchr("()<>[]\\,;:\"@", *p))
			return false;
	}
	return hostname_valid(at + 1);
}

/* ---- error reporting ---- */

/* Values in messages: printable ASCII as is, anything else escaped, so a
 * message stays one line. */
static const char *quote(char *dst, size_t size, const char *value)
{
	size_t o = 0;
	dst[o++] = '"';
	for (const char *p = value; *p != '\0' && o + 6 < size; p++) {
		unsigned char c = (unsigned char)*p;
		if (c == '"' || c == '\\') {
			dst[o++] = '\\';
			dst[o++] = (char)c;
		} else if (c >= 0x20 && c < 0x7f) {
			dst[o++] = (char)c;
		} else {
			o += (size_t)snprintf(dst + o, size - o, "\\x%02x", c);
		}
	}
	dst[o++] = '"';
	dst[o] = '\0';
	return dst;
}

static void ATTR_FORMAT(4, 5)
parser_error(struct config_parser *p, unsigned line, const char *key,
	     const char *fmt, ...)
{
	va_list args;
	if (line > 0)
		buf_printf(p->errors, "%s:%u: %s: ", p->file, line, key);
	else
		buf_printf(p->errors, "%s: %s: ", p->file, key);
	va_start(args, fmt);
	buf_vprintf(p->errors, fmt, args);
	va_end(args);
	buf_append_byte(p->errors, '\n');
	p->error_count++;
}

static const char *format_size(char *dst, size_t size, uint64_t v)
{
	if (v != 0 && v % (1024 * 1024 * 1024) == 0)
		snprintf(dst, size, "%lluG", (unsigned long long)(v >> 30));
	else if (v != 0 && v % (1024 * 1024) == 0)
		snprintf(dst, size, "%lluM", (unsigned long long)(v >> 20));
	else if (v != 0 && v % 1024 == 0)
		snprintf(dst, size, "%lluK", (unsigned long long)(v >> 10));
	else
		snprintf(dst, size, "%llu", (unsigned long long)v);
	return dst;
}

static const char *format_duration(char *dst, size_t size, uint64_t v)
{
	if (v != 0 && v % 86400 == 0)
		snprintf(dst, size, "%llud", (unsigned long long)(v / 86400));
	else if (v != 0 && v % 3600 == 0)
		snprintf(dst, size, "%lluh", (unsigned long long)(v / 3600));
	else if (v != 0 && v % 60 == 0)
		snprintf(dst, size, "%llum", (unsigned long long)(v / 60));
	else
		snprintf(dst, size, "%llus", (unsigned long long)v);
	return dst;
}

/* ---- setting one key ---- */

static void *field(struct config_private *cfg, const struct config_key *k)
{
	return (char *)&cfg->pub + k->offset;
}

static int set_addrs(struct config_private *cfg, struct config_addr_list *list,
		     const char *value, char *msg, size_t msg_size)
{
	char *copy = i_strdup(value), *next = copy;
	struct config_addr_list out = { 0, NULL };
	unsigned cap = 0;
	int ret = 0;

	if (*str_trim(copy) == '\0') {
		*list = out;
		i_free(copy);
		return 0;
	}
	while (next != NULL) {
		char *elem = next, *comma = strchr(next, ',');
		if (comma != NULL) {
			*comma = '\0';
			next = comma + 1;
		} else {
			next = NULL;
		}
		elem = str_trim(elem);
		if (*elem == '\0') {
			snprintf(msg, msg_size, "empty address in list");
			ret = -1;
			break;
		}
		struct config_addr a;
		const char *error;
		if (config_parse_addr(elem, &a, &error) < 0) {
			char q[128];
			snprintf(msg, msg_size, "bad address %s: %s",
				 quote(q, sizeof(q), elem), error);
			ret = -1;
			break;
		}
		if (out.count == cap) {
			cap = cap == 0 ? 4 : cap * 2;
			struct config_addr *n = p_new(cfg->pool, struct config_addr, cap);
			if (out.count > 0)
				memcpy(n, out.addrs, sizeof(*n) * out.count);
			out.addrs = n;
		}
		struct config_addr *dst = &out.addrs[out.count++];
		*dst = a;
		dst->str = pool_strdup(cfg->pool, a.str);
		dst->host = pool_strdup(cfg->pool, a.host);
		config_addr_free(&a);
	}
	i_free(copy);
	if (ret == 0)
		*list = out;
	return ret;
}

static const char *keyword_list(char *dst, size_t size,
				const char *const *keywords)
{
	size_t o = 0, n = 0;
	while (keywords[n] != NULL)
		n++;
	dst[0] = '\0';
	for (size_t i = 0; i < n && o < size; i++) {
		const char *sep = i == 0 ? "" : i + 1 == n ? " or " : ", ";
		o += (size_t)snprintf(dst + o, size - o, "%s%s", sep, keywords[i]);
	}
	return dst;
}

/* Parses value into k's field. Returns 0, or -1 with msg filled. */
static int set_value(struct config_private *cfg, const struct config_key *k,
		     const char *value, char *msg, size_t msg_size)
{
	void *f = field(cfg, k);
	const char *error;
	char q[160], a[32], b[32];

	quote(q, sizeof(q), value);
	if ((k->flags & CK_NONEMPTY) != 0 && value[0] == '\0') {
		snprintf(msg, msg_size, "must not be empty");
		return -1;
	}
	switch (k->type) {
	case CT_STRING:
	case CT_PATH:
		*(char **)f = pool_strdup(cfg->pool, value);
		return 0;
	case CT_HOSTNAME:
		if (value[0] != '\0' && !hostname_valid(value)) {
			snprintf(msg, msg_size, "not a valid host name: %s", q);
			return -1;
		}
		*(char **)f = pool_strdup(cfg->pool, value);
		return 0;
	case CT_EMAIL:
		if (value[0] != '\0' && !email_valid(value)) {
			snprintf(msg, msg_size,
				 "expected an address such as postmaster@example.com, got %s", q);
			return -1;
		}
		*(char **)f = pool_strdup(cfg->pool, value);
		return 0;
	case CT_IP: {
		struct in6_addr a6;
		if (value[0] != '\0' && inet_pton(AF_INET, value, &a6) != 1 &&
		    inet_pton(AF_INET6, value, &a6) != 1) {
			snprintf(msg, msg_size,
				 "expected a numeric IP address, got %s", q);
			return -1;
		}
		*(char **)f = pool_strdup(cfg->pool, value);
		return 0;
	}
	case CT_CHARS:
		/* The store splits at one separator character. */
		if (strlen(value) > 1 ||
		    (value[0] != '\0' &&
		     (!ispunct((unsigned char)value[0]) || value[0] == '@' ||
		      value[0] == '"' || value[0] == '\\'))) {
			snprintf(msg, msg_size,
				 "expected one punctuation character such as + or -, got %s", q);
			return -1;
		}
		*(char **)f = pool_strdup(cfg->pool, value);
		return 0;
	case CT_BOOL:
		if (config_parse_bool(value, (bool *)f, &error) < 0) {
			snprintf(msg, msg_size, "expected yes or no, got %s", q);
			return -1;
		}
		return 0;
	case CT_UINT: {
		uint64_t v;
		if (str_to_uint64(value, UINT64_MAX, &v) < 0 || v < k->min ||
		    v > k->max) {
			snprintf(msg, msg_size,
				 "expected a number from %llu to %llu, got %s",
				 (unsigned long long)k->min,
				 (unsigned long long)k->max, q);
			return -1;
		}
		*(unsigned *)f = (unsigned)v;
		return 0;
	}
	case CT_SIZE: {
		uint64_t v;
		if (config_parse_size(value, &v, &error) < 0 || v < k->min ||
		    v > k->max) {
			snprintf(msg, msg_size,
				 "expected a size from %s to %s (suffix K, M or G), got %s",
				 format_size(a, sizeof(a), k->min),
				 format_size(b, sizeof(b), k->max), q);
			return -1;
		}
		*(uint64_t *)f = v;
		return 0;
	}
	case CT_DURATION: {
		unsigned v;
		if (config_parse_duration(value, &v, &error) < 0 ||
		    v < k->min || v > k->max) {
			snprintf(msg, msg_size,
				 "expected a duration from %s to %s (suffix s, m, h or d), got %s",
				 format_duration(a, sizeof(a), k->min),
				 format_duration(b, sizeof(b), k->max), q);
			return -1;
		}
		*(unsigned *)f = v;
		return 0;
	}
	case CT_ADDRS:
		return set_addrs(cfg, f, value, msg, msg_size);
	case CT_LOG_LEVEL: {
		enum log_level level;
		if (log_level_parse(value, &level) < 0) {
			snprintf(msg, msg_size,
				 "expected debug, info, warn or error, got %s", q);
			return -1;
		}
		*(enum log_level *)f = level;
		return 0;
	}
	case CT_KEYWORD:
		for (unsigned i = 0; k->keywords[i] != NULL; i++) {
			if (strcmp(value, k->keywords[i]) == 0) {
				*(int *)f = (int)i;
				return 0;
			}
		}
		snprintf(msg, msg_size, "expected %s, got %s",
			 keyword_list(a, sizeof(a), k->keywords), q);
		return -1;
	}
	i_unreached();
}

static const struct config_key *key_find(const char *section, const char *name)
{
	for (size_t i = 0; i < CONFIG_KEY_COUNT; i++) {
		if (strcmp(config_keys[i].section, section) == 0 &&
		    strcmp(config_keys[i].name, name) == 0)
			return &config_keys[i];
	}
	return NULL;
}

static bool section_known(const char *section)
{
	for (size_t i = 0; i < CONFIG_KEY_COUNT; i++) {
		if (strcmp(config_keys[i].section, section) == 0)
			return true;
	}
	return false;
}

/* ---- inih glue ---- */

static int config_ini_handler(void *user, const char *section, const char *name,
		       const char *value)
{
	struct config_parser *p = user;
	char keyname[128], msg[512];

	if (p->skip_section)
		return 1;
	snprintf(keyname, sizeof(keyname), "%s%s%s", section,
		 section[0] == '\0' ? "" : ".", name);
	if (section[0] == '\0') {
		parser_error(p, p->line, keyname, "key outside any section");
		return 1;
	}
	const struct config_key *k = key_find(section, name);
	if (k == NULL) {
		parser_error(p, p->line, keyname, "unknown key");
		return 1;
	}
	size_t idx = (size_t)(k - config_keys);
	if (p->key_lines[idx] != 0) {
		parser_error(p, p->line, keyname, "set twice (first on line %u)",
			     p->key_lines[idx]);
		return 1;
	}
	p->key_lines[idx] = p->line;
	if (set_value(p->cfg, k, value, msg, sizeof(msg)) < 0)
		parser_error(p, p->line, keyname, "%s", msg);
	return 1;
}

/* Next raw line without its line end, or NULL at the end. */
static const char *parser_next_line(struct config_parser *p, size_t *len_r)
{
	if (p->fp != NULL) {
		ssize_t n = getline(&p->getline_buf, &p->getline_size, p->fp);
		if (n < 0)
			return NULL;
		size_t len = (size_t)n;
		while (len > 0 && (p->getline_buf[len - 1] == '\n' ||
				   p->getline_buf[len - 1] == '\r'))
			len--;
		p->getline_buf[len] = '\0';
		*len_r = len;
		return p->getline_buf;
	}
	if (p->text == NULL || *p->text == '\0')
		return NULL;
	const char *start = p->text, *nl = strchr(start, '\n');
	size_t len = nl != NULL ? (size_t)(nl - start) : strlen(start);
	p->text = nl != NULL ? nl + 1 : start + len;
	/* Copied so the line can be NUL-terminated like getline's. */
	if (p->getline_size < len + 1) {
		p->getline_buf = i_realloc(p->getline_buf, len + 1);
		p->getline_size = len + 1;
	}
	memcpy(p->getline_buf, start, len);
	while (len > 0 && p->getline_buf[len - 1] == '\r')
		len--;
	p->getline_buf[len] = '\0';
	*len_r = len;
	return p->getline_buf;
}

/* Checks a line's shape before inih sees it, so every syntax problem is
 * reported with its line (inih only remembers the first) and inih's
 * multi-line continuations never apply. Returns the text to hand to inih. */
static const char *parser_check_line(struct config_parser *p, char *line,
				     size_t len, size_t max)
{
	if (p->line == 1 && len >= 3 && memcmp(line, "\xEF\xBB\xBF", 3) == 0)
		line += 3;
	line = str_trim(line);
	len = strlen(line);
	if (len == 0 || line[0] == ';' || line[0] == '#')
		return "";
	if (len + 1 > max) {
		parser_error(p, p->line, "line", "line too long (max %zu characters)",
			     max - 1);
		return "";
	}
	if (memchr(line, '\0', len) != NULL) {
		parser_error(p, p->line, "line", "NUL byte in line");
		return "";
	}
	if (line[0] == '[') {
		char *end = strchr(line, ']');
		if (end == NULL) {
			parser_error(p, p->line, "line", "expected ']' after section name");
			p->skip_section = true;
			return "";
		}
		char *rest = str_trim(end + 1);
		if (*rest != '\0' && *rest != ';' && *rest != '#') {
			parser_error(p, p->line, "line", "unexpected text after ']'");
			p->skip_section = true;
			return "";
		}
		end[1] = '\0';
		char name_buf[256];
		size_t name_len = (size_t)(end - (line + 1));
		memcpy(name_buf, line + 1, name_len);
		name_buf[name_len] = '\0';
		const char *name = str_trim(name_buf);
		if (!section_known(name)) {
			char q[80];
			snprintf(q, sizeof(q), "[%s]", name);
			parser_error(p, p->line, q, "unknown section");
			p->skip_section = true;
		} else {
			p->skip_section = false;
		}
		return line;
	}
	size_t sep = strcspn(line, "=:");
	if (line[sep] != '=') {
		parser_error(p, p->line, "line", "expected key = value");
		return "";
	}
	if (sep == 0) {
		parser_error(p, p->line, "line", "missing key name before '='");
		return "";
	}
	return line;
}

static char *config_ini_reader(char *str, int num, void *stream)
{
	struct config_parser *p = stream;
	size_t len;
	const char *raw = parser_next_line(p, &len);
	if (raw == NULL)
		return NULL;
	p->line++;
	const char *line = parser_check_line(p, p->getline_buf, len, (size_t)num);
	size_t out = strlen(line);
	i_assert(out < (size_t)num);
	memcpy(str, line, out + 1);
	return str;
}

/* ---- loading ---- */

static struct config_private *config_new(const char *file)
{
	struct pool *pool = pool_create("config", 4096);
	struct config_private *cfg = p_new(pool, struct config_private, 1);
	cfg->pool = pool;
	atomic_init(&cfg->refcount, 1);
	cfg->pub.file = pool_strdup(pool, file);
	for (size_t i = 0; i < CONFIG_KEY_COUNT; i++) {
		char msg[256];
		if (set_value(cfg, &config_keys[i], config_keys[i].def, msg,
			      sizeof(msg)) < 0)
			i_fatal("config: bad default for %s.%s: %s",
				config_keys[i].section, config_keys[i].name, msg);
	}
	return cfg;
}

static unsigned key_line(const struct config_parser *p, const char *section,
			 const char *name)
{
	const struct config_key *k = key_find(section, name);
	return p->key_lines[k - config_keys];
}

/* Checks that need more than one key. */
static void config_check(struct config_parser *p)
{
	struct config *c = &p->cfg->pub;
	unsigned cert_line = key_line(p, "tls", "cert");
	unsigned key_line_ = key_line(p, "tls", "key");

	if (c->tls.cert[0] != '\0' && c->tls.key[0] == '\0')
		parser_error(p, cert_line, "tls.cert", "set without tls.key");
	else if (c->tls.key[0] != '\0' && c->tls.cert[0] == '\0')
		parser_error(p, key_line_, "tls.key", "set without tls.cert");

	/* The same address on two listeners cannot both bind. */
	for (unsigned l = 0; l < CONFIG_LISTEN_COUNT; l++) {
		for (unsigned i = 0; i < c->listen[l].count; i++) {
			const struct config_addr *a = &c->listen[l].addrs[i];
			bool dup = false;
			for (unsigned m = 0; m <= l && !dup; m++) {
				unsigned end = m == l ? i : c->listen[m].count;
				for (unsigned j = 0; j < end && !dup; j++) {
					if (strcmp(c->listen[m].addrs[j].str, a->str) != 0)
						continue;
					char keyname[64];
					snprintf(keyname, sizeof(keyname), "listen.%s",
						 listener_names[l]);
					parser_error(p, key_line(p, "listen", listener_names[l]),
						     keyname, "address %s already used by listen.%s",
						     a->str, listener_names[m]);
					dup = true;
				}
			}
		}
	}

	if (c->server.hostname[0] == '\0') {
		char host[256];
		if (gethostname(host, sizeof(host)) < 0 || !hostname_valid(host))
			memcpy(host, "localhost", 10);
		host[sizeof(host) - 1] = '\0';
		c->server.hostname = pool_strdup(p->cfg->pool, host);
	}
}

static int config_parse(struct config_parser *p, struct config **config_r)
{
	size_t errors_before = p->errors->len;
	p->cfg = config_new(p->file);
	int ret = ini_parse_stream(config_ini_reader, p, config_ini_handler, p);
	i_free(p->getline_buf);
	if (ret == -2)
		i_fatal("config: out of memory parsing %s", p->file);
	if (p->error_count == 0)
		config_check(p);
	if (p->error_count > 0) {
		i_assert(p->errors->len > errors_before);
		struct config *c = &p->cfg->pub;
		config_unref(&c);
		*config_r = NULL;
		return -1;
	}
	*config_r = &p->cfg->pub;
	return 1;
}

int config_load_string(const char *name, const char *text,
		       struct config **config_r, struct buf *errors)
{
	struct config_parser p;
	memset(&p, 0, sizeof(p));
	p.file = name;
	p.errors = errors;
	p.text = text;
	return config_parse(&p, config_r);
}

int config_load(const char *path, struct config **config_r, struct buf *errors)
{
	if (path == NULL) {
		int ret = config_load_string(CONFIG_EMBEDDED_NAME, config_embedded,
					     config_r, errors);
		i_assert(ret == 1);
		(*config_r)->embedded = true;
		return ret;
	}
	struct config_parser p;
	memset(&p, 0, sizeof(p));
	p.file = path;
	p.errors = errors;
	p.fp = fopen(path, "re");
	if (p.fp == NULL) {
		buf_printf(errors, "%s: cannot open: %s\n", path, strerror(errno));
		*config_r = NULL;
		return -1;
	}
	int ret = config_parse(&p, config_r);
	if (ferror(p.fp) && ret > 0) {
		buf_printf(errors, "%s: read error\n", path);
		config_unref(config_r);
		ret = -1;
	}
	fclose(p.fp);
	return ret;
}

void config_ref(struct config *config)
{
	struct config_private *cfg = (struct config_private *)config;
	atomic_fetch_add(&cfg->refcount, 1);
}

void config_unref(struct config **config)
{
	if (*config == NULL)
		return;
	struct config_private *cfg = (struct config_private *)*config;
	*config = NULL;
	if (atomic_fetch_sub(&cfg->refcount, 1) == 1) {
		struct pool *pool = cfg->pool;
		pool_destroy(&pool);
	}
}

static bool value_equal(const struct config_key *k, const struct config *a,
			const struct config *b)
{
	const void *fa = (const char *)a + k->offset;
	const void *fb = (const char *)b + k->offset;
	switch (k->type) {
	case CT_STRING: case CT_PATH: case CT_HOSTNAME: case CT_EMAIL:
	case CT_IP: case CT_CHARS:
		return strcmp(*(char *const *)fa, *(char *const *)fb) == 0;
	case CT_BOOL:
		return *(const bool *)fa == *(const bool *)fb;
	case CT_UINT: case CT_DURATION:
		return *(const unsigned *)fa == *(const unsigned *)fb;
	case CT_SIZE:
		return *(const uint64_t *)fa == *(const uint64_t *)fb;
	case CT_LOG_LEVEL: case CT_KEYWORD:
		return *(const int *)fa == *(const int *)fb;
	case CT_ADDRS: {
		const struct config_addr_list *la = fa, *lb = fb;
		if (la->count != lb->count)
			return false;
		for (unsigned i = 0; i < la->count; i++) {
			if (strcmp(la->addrs[i].str, lb->addrs[i].str) != 0)
				return false;
		}
		return true;
	}
	}
	i_unreached();
}

unsigned config_restart_changes(const struct config *old,
				const struct config *new_config,
				struct buf *keys_r)
{
	unsigned n = 0;
	for (size_t i = 0; i < CONFIG_KEY_COUNT; i++) {
		const struct config_key *k = &config_keys[i];
		if ((k->flags & CK_RESTART) == 0 || value_equal(k, old, new_config))
			continue;
		buf_printf(keys_r, "%s%s.%s", n == 0 ? "" : " ", k->section,
			   k->name);
		n++;
	}
	return n;
}

bool config_equal(const struct config *a, const struct config *b)
{
	for (size_t i = 0; i < CONFIG_KEY_COUNT; i++) {
		if (!value_equal(&config_keys[i], a, b))
			return false;
	}
	return true;
}

static void format_value(const struct config_key *k, const struct config *c,
			 struct buf *out)
{
	static const char *const level_names[] = {
		[LOG_LEVEL_DEBUG] = "debug", [LOG_LEVEL_INFO] = "info",
		[LOG_LEVEL_WARN] = "warn", [LOG_LEVEL_ERROR] = "error",
	};
	const void *f = (const char *)c + k->offset;
	char tmp[32];

	switch (k->type) {
	case CT_STRING: case CT_PATH: case CT_HOSTNAME: case CT_EMAIL:
	case CT_IP: case CT_CHARS:
		buf_append_str(out, *(char *const *)f);
		return;
	case CT_BOOL:
		buf_append_str(out, *(const bool *)f ? "yes" : "no");
		return;
	case CT_UINT:
		buf_printf(out, "%u", *(const unsigned *)f);
		return;
	case CT_DURATION:
		buf_append_str(out, format_duration(tmp, sizeof(tmp),
						    *(const unsigned *)f));
		return;
	case CT_SIZE:
		buf_append_str(out, format_size(tmp, sizeof(tmp),
						*(const uint64_t *)f));
		return;
	case CT_LOG_LEVEL:
		buf_append_str(out, level_names[*(const enum log_level *)f]);
		return;
	case CT_KEYWORD:
		buf_append_str(out, k->keywords[*(const int *)f]);
		return;
	case CT_ADDRS: {
		const struct config_addr_list *l = f;
		for (unsigned i = 0; i < l->count; i++)
			buf_printf(out, "%s%s", i == 0 ? "" : ", ",
				   l->addrs[i].str);
		return;
	}
	}
	i_unreached();
}

void config_format(const struct config *config, struct buf *out)
{
	const char *section = NULL;
	for (size_t i = 0; i < CONFIG_KEY_COUNT; i++) {
		const struct config_key *k = &config_keys[i];
		if (section == NULL || strcmp(section, k->section) != 0) {
			buf_printf(out, "%s[%s]\n", section == NULL ? "" : "\n",
				   k->section);
			section = k->section;
		}
		struct buf value = BUF_INIT;
		format_value(k, config, &value);
		buf_printf(out, "%s =%s%s\n", k->name, value.len > 0 ? " " : "",
			   buf_cstr(&value));
		buf_free(&value);
	}
}
