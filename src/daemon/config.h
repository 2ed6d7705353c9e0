/* SPDX-License-Identifier: MIT */
#ifndef POSTHORN_CONFIG_H
#define POSTHORN_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include "log.h"

/* Posthorn's configuration: one INI file (inih), validated against a table
 * of keys (config.c). Every key has a default; unknown sections, unknown
 * keys, keys set twice and bad values are errors, each reported as
 *
 *   FILE:LINE: section.key: message
 *
 * and all of them are collected, not just the first. Used by posthornd and
 * by the posthorn admin command (both link config_dep).
 *
 * Adding a key: add a field below and one line to the key table in config.c
 * (section, name, type, field offset, range, default). Types: string, bool,
 * uint (with range), size (bytes; K/M/G suffixes, powers of 1024), duration
 * (seconds; s/m/h/d suffixes), address list ("ADDR:PORT,[V6]:PORT"), log
 * level, path, and a keyword from a fixed list. */

struct buf;

/* One listen address, validated (numeric only, no DNS). */
struct config_addr {
	char *str;  /* as written, normalised: "127.0.0.1:25", "[::1]:25" */
	char *host; /* "127.0.0.1", "::1", "0.0.0.0" for "*" (no brackets) */
	uint16_t port;
	bool ipv6;
};

/* An address list; count 0 means "off" (the key was absent or empty). */
struct config_addr_list {
	unsigned count;
	struct config_addr *addrs;
};

/* VRFY (RFC 5321 section 3.5.3) and EXPN policy. */
enum config_verify_policy {
	CONFIG_VERIFY_OFF,       /* answered 502: the command is off */
	CONFIG_VERIFY_AMBIGUOUS, /* 252: cannot verify, will accept and try */
	CONFIG_VERIFY_ON,        /* a real answer (authenticated sessions) */
};

/* [dns] resolver: where names outside the static zone are looked up. */
enum config_dns_resolver {
	CONFIG_DNS_SYSTEM,    /* the nameservers of /etc/resolv.conf */
	CONFIG_DNS_RECURSIVE, /* libunbound recursing from the root */
	CONFIG_DNS_STATIC,    /* nowhere: only [dns] static answers */
};
/* The resolv.conf that CONFIG_DNS_SYSTEM forwards to. */
#define CONFIG_DNS_RESOLV_CONF "/etc/resolv.conf"

/* [auth] spf_reject: when an SPF "fail" alone refuses a message. */
enum config_spf_reject {
	CONFIG_SPF_REJECT_NO,   /* never: recorded in the headers only */
	CONFIG_SPF_REJECT_DATA, /* at end of DATA, unless DMARC decides */
	CONFIG_SPF_REJECT_RCPT, /* already at RCPT (SPF checked at MAIL) */
};

/* [auth] dmarc_policy: whether p=reject/quarantine are applied. */
enum config_dmarc_policy {
	CONFIG_DMARC_ENFORCE, /* reject refuses, quarantine files in Junk */
	CONFIG_DMARC_MONITOR, /* headers and reports only */
};

/* [auth] temperror: a DNS failure during SPF/DKIM/DMARC. */
enum config_auth_temperror {
	CONFIG_AUTH_TEMPERROR_ACCEPT, /* deliver, result recorded */
	CONFIG_AUTH_TEMPERROR_DEFER,  /* 451 4.7.x: the sender retries */
};

/* The listeners posthornd knows, in the order of struct config_listen. */
enum config_listener {
	CONFIG_LISTEN_SMTP,
	CONFIG_LISTEN_SUBMISSION,
	CONFIG_LISTEN_SUBMISSIONS,
	CONFIG_LISTEN_IMAP,
	CONFIG_LISTEN_IMAPS,
	CONFIG_LISTEN_POP3,
	CONFIG_LISTEN_POP3S,
	CONFIG_LISTEN_COUNT
};

struct config {
	/* The file it came from; "<embedded>" for the embedded default. */
	const char *file;
	/* True for the embedded default (no -c): posthornd then creates the
	 * domain localhost and the demo account on first start and prints
	 * the banner. */
	bool embedded;

	struct {
		/* Our name in greetings, Received: and HELO. Default: the
		 * system's host name. */
		char *hostname;
		char *data_dir;      /* default /var/lib/posthorn */
		char *user;          /* "" = keep the starting user */
		char *pid_file;      /* "" = none */
		char *postmaster;    /* account receiving postmaster@; "" = none */
		enum log_level log_level;
		unsigned io_threads; /* 0 = one per core */
	} server;

	/* Indexed by enum config_listener. */
	struct config_addr_list listen[CONFIG_LISTEN_COUNT];

	struct {
		char *cert; /* "" = self-signed pair in the data directory */
		char *key;
	} tls;

	struct {
		char *static_zone; /* [dns] static; "" = none */
		enum config_dns_resolver resolver;
	} dns;

	struct {
		unsigned mx_port;
		char *source; /* numeric IP; "" = the kernel's choice */
		/* Retries (seconds): first after retry_initial, doubling,
		 * at most retry_max apart; fail give_up after arrival; a
		 * delay DSN after delay_notify (0 = never). */
		unsigned retry_initial, retry_max, give_up, delay_notify;
		/* SMTP client timeouts (seconds): connect; greeting, EHLO,
		 * MAIL, RCPT (and 2 min for DATA's 354, 3 min per data
		 * block, capped by it); the reply to the final dot. */
		unsigned connect_timeout, command_timeout, data_timeout;
		unsigned max_sessions; /* concurrent outbound sessions */
		/* Smarthost "HOST:PORT" ("" = deliver by MX), AUTH PLAIN
		 * user and the file holding the password ("" = no AUTH). */
		char *relayhost;
		char *relay_user;
		char *relay_password_file;
		bool relay_require_tls;
	} outbound;

	struct {
		unsigned max_connections;
		unsigned max_connections_per_ip;
		unsigned handshake_timeout; /* seconds, TLS handshake */
		unsigned smtp_idle_timeout; /* seconds */
		unsigned imap_idle_timeout;
		unsigned pop3_idle_timeout;
		/* Greeted at once on the MX listener (lib-net syntax:
		 * "127.0.0.0/8, ::1, 192.0.2.0/24"). */
		char *trusted_networks;
		/* Seconds a line may take from its first byte (slow drip). */
		unsigned line_timeout;
	} limits;

	struct {
		uint64_t max_message_size;
		unsigned max_recipients;
		unsigned max_line_length;
		unsigned max_header_count;
		unsigned max_received_headers;
		char *recipient_delimiter; /* one character; "" = none */
		enum config_verify_policy vrfy;
		enum config_verify_policy expn;
		/* Seconds an untrusted MX client waits for the greeting;
		 * talking first is rejected (0 = off). */
		unsigned greeting_delay;
	} smtp;

	struct {
		/* USER/PASS and AUTH without TLS from loopback peers. */
		bool allow_plaintext_loopback;
	} pop3;

	struct {
		/* AUTH without TLS from loopback peers (port 587). */
		bool allow_plaintext_loopback;
	} submission;

	/* Email authentication (SPF, DKIM, DMARC) on the MX listener and
	 * DKIM signing of what our users send. */
	struct {
		bool spf;          /* check SPF (RFC 7208) */
		bool dkim_verify;  /* verify DKIM signatures (RFC 6376) */
		bool dmarc;        /* evaluate DMARC (RFC 7489); needs spf and
				      dkim_verify for meaningful results */
		enum config_spf_reject spf_reject;
		enum config_dmarc_policy dmarc_policy;
		enum config_auth_temperror temperror;
		/* authserv-id in Authentication-Results; "" = hostname. */
		char *authserv_id;
		/* Sign submitted mail and our own DSNs/reports with the keys
		 * in <data_dir>/dkim/<domain>/ (posthorn dkim keygen). */
		bool dkim_sign;
		/* DMARC aggregate reports (rua): on/off, the From address
		 * ("" = postmaster@hostname), org_name ("" = hostname), and
		 * how long a reporting period lasts. */
		bool dmarc_reports;
		char *report_sender;
		char *report_org;
		unsigned report_interval;
	} auth;
};

/* [dns] resolver as lib-dns settings: the resolv.conf to forward to (NULL =
 * recurse), and whether only the static zone answers. */
static inline const char *config_dns_resolv_conf(const struct config *c)
{
	return c->dns.resolver == CONFIG_DNS_SYSTEM ? CONFIG_DNS_RESOLV_CONF
						    : NULL;
}
static inline bool config_dns_static_only(const struct config *c)
{
	return c->dns.resolver == CONFIG_DNS_STATIC;
}

/* The listener's config name ("smtp", "imaps", ...). */
const char *config_listener_name(enum config_listener l);
/* True for implicit-TLS listeners (submissions, imaps, pop3s). */
bool config_listener_implicit_tls(enum config_listener l);

/* The text of the embedded default configuration (used with no -c). */
const char *config_embedded_text(void);

/* Loads and validates path; path NULL loads the embedded default. Returns 1
 * with a new *config_r (refcount 1), or -1 with one line per problem
 * appended to errors ("FILE:LINE: key: message\n"; a problem without a line,
 * such as an unreadable file, is "FILE: message\n"). */
int config_load(const char *path, struct config **config_r,
		struct buf *errors);
/* The same from text in memory; name is used as FILE in messages. */
int config_load_string(const char *name, const char *text,
		       struct config **config_r, struct buf *errors);

/* Reference counting (atomic): a reload swaps the daemon's current config
 * while connections may still hold the old one. */
void config_ref(struct config *config);
/* Drops a reference, frees on the last; sets *config to NULL. */
void config_unref(struct config **config);

/* Appends the names of keys whose change needs a restart (listen.*,
 * limits.*, smtp.max_line_length, server.user, server.data_dir,
 * server.io_threads, server.pid_file, dns.static: what is fixed when the
 * listeners, loops and store are set up),
 * space-separated, to keys_r. Returns the number found. */
unsigned config_restart_changes(const struct config *old,
				const struct config *new_config,
				struct buf *keys_r);

/* Appends the whole effective configuration as INI text, every key with
 * its value (defaults included), in the order of the key table. Parsing
 * the text again gives an equal configuration (config_equal()). */
void config_format(const struct config *config, struct buf *out);
/* True when every key has the same value in both. */
bool config_equal(const struct config *a, const struct config *b);

/* Value parsers, exposed for tests and for other modules' own options.
 * Each returns 0 with the value, or -1 with a static English *error_r. */
int config_parse_size(const char *str, uint64_t *size_r, const char **error_r);
int config_parse_duration(const char *str, unsigned *secs_r,
			  const char **error_r);
int config_parse_bool(const char *str, bool *value_r, const char **error_r);
/* One "ADDR:PORT" / "[IPV6]:PORT" / "*:PORT" element into addr_r (strings
 * allocated with i_malloc; free with config_addr_free()). */
int config_parse_addr(const char *str, struct config_addr *addr_r,
		      const char **error_r);
void config_addr_free(struct config_addr *addr);

#endif
