/* SPDX-License-Identifier: MIT */
#include "lib.h"
#include "buf.h"
#include "cli.h"
#include "config.h"
#include "dkim.h"
#include "dkim-sign.h"
#include "dns-zone.h"
#include "store.h"

#include <arpa/inet.h>

/* posthorn dns DOMAIN: every record a local domain publishes, as zone-file
 * lines (RFC 1035 section 5.1) our own static zone parser reads back. */

#define CLI_DNS_TTL 3600

/* The listener port behind an RFC 6186 / RFC 8314 SRV name, or 0 when the
 * listener is off. */
static unsigned listener_port(const struct config *config,
			      enum config_listener l)
{
	const struct config_addr_list *list = &config->listen[l];

	return list->count == 0 ? 0 : list->addrs[0].port;
}

static void append_srv(struct buf *out, const char *service,
		       const char *domain, unsigned port, const char *host)
{
	/* RFC 6186 section 3: target "." says the service is decidedly not
	 * offered, so clients stop looking. */
	if (port == 0)
		buf_printf(out, "_%s._tcp.%s. %u IN SRV 0 0 0 .\n", service,
			   domain, CLI_DNS_TTL);
	else
		buf_printf(out, "_%s._tcp.%s. %u IN SRV 0 1 %u %s.\n", service,
			   domain, CLI_DNS_TTL, port, host);
}

static bool host_in_domain(const char *host, const char *domain)
{
	size_t hl = strlen(host), dl = strlen(domain);

	if (hl == dl)
		return strcmp(host, domain) == 0;
	return hl > dl && host[hl - dl - 1] == '.' &&
		strcmp(host + hl - dl, domain) == 0;
}

struct dkim_lines {
	const char *domain;
	struct buf *out;
};

static void append_dkim(const char *selector, const struct dkim_key *key,
			void *ctx)
{
	struct dkim_lines *dl = ctx;
	char *txt = dkim_key_txt_record(key);
	char *line;

	if (txt == NULL)
		return;
	line = dkim_key_zone_line(dl->domain, selector, txt);
	buf_printf(dl->out, "%s\n", line);
	free(line);
	free(txt);
}

static void build_records(const struct config *config, const char *domain,
			  struct dkimsign_keys *keys, struct buf *out)
{
	const char *host = config->server.hostname;
	const char *source = config->outbound.source;
	bool v6 = strchr(source, ':') != NULL;
	struct dkim_lines dl = { domain, out };
	unsigned dkim_keys;

	buf_printf(out, "; DNS records for %s (posthorn dns)\n", domain);
	buf_printf(out, "%s. %u IN MX 10 %s.\n", domain, CLI_DNS_TTL, host);
	if (source[0] != '\0' && host_in_domain(host, domain))
		buf_printf(out, "%s. %u IN %s %s\n", host, CLI_DNS_TTL,
			   v6 ? "AAAA" : "A", source);
	else
		buf_printf(out, "; %s needs an A and/or AAAA record with the "
			   "server's public address\n", host);

	/* RFC 7208: the MX hosts send our mail; with a fixed source
	 * address that one is named too, everything else fails. */
	if (config->outbound.relayhost[0] != '\0')
		buf_printf(out, "; mail leaves through %s: add its SPF "
			   "(include:...) to the next record\n",
			   config->outbound.relayhost);
	if (source[0] != '\0')
		buf_printf(out, "%s. %u IN TXT \"v=spf1 mx %s:%s -all\"\n",
			   domain, CLI_DNS_TTL, v6 ? "ip6" : "ip4", source);
	else
		buf_printf(out, "%s. %u IN TXT \"v=spf1 mx -all\"\n", domain,
			   CLI_DNS_TTL);

	dkim_keys = dkimsign_keys_foreach(keys, domain, append_dkim, &dl);
	if (dkim_keys == 0)
		buf_printf(out, "; no DKIM key: posthorn dkim keygen %s "
			   "[--algorithm ed25519|rsa]\n", domain);

	/* RFC 7489 section 6.3: quarantine once our mail is signed (it
	 * then passes DMARC through DKIM even when forwarded), only
	 * monitoring before; aggregate reports to postmaster. */
	buf_printf(out, "_dmarc.%s. %u IN TXT \"v=DMARC1; p=%s; "
		   "rua=mailto:postmaster@%s\"\n", domain, CLI_DNS_TTL,
		   dkim_keys > 0 ? "quarantine" : "none", domain);

	/* RFC 6186 (submission, IMAP, POP3) and RFC 8314 (implicit TLS). */
	append_srv(out, "submission", domain,
		   listener_port(config, CONFIG_LISTEN_SUBMISSION), host);
	append_srv(out, "submissions", domain,
		   listener_port(config, CONFIG_LISTEN_SUBMISSIONS), host);
	append_srv(out, "imap", domain,
		   listener_port(config, CONFIG_LISTEN_IMAP), host);
	append_srv(out, "imaps", domain,
		   listener_port(config, CONFIG_LISTEN_IMAPS), host);
	append_srv(out, "pop3", domain,
		   listener_port(config, CONFIG_LISTEN_POP3), host);
	append_srv(out, "pop3s", domain,
		   listener_port(config, CONFIG_LISTEN_POP3S), host);
	/* The names Thunderbird and Outlook try first: pointing them at
	 * us is harmless and lets a web autoconfig answer later. */
	buf_printf(out, "autoconfig.%s. %u IN CNAME %s.\n", domain,
		   CLI_DNS_TTL, host);
	buf_printf(out, "autodiscover.%s. %u IN CNAME %s.\n", domain,
		   CLI_DNS_TTL, host);
}

static int dns_cmd(struct cli *cli, char **args, unsigned count)
{
	struct dkimsign_keys *keys;
	struct dns_zone zone;
	struct buf out = BUF_INIT;
	struct store *store;
	const char *error;
	char *domain, *errors;
	int ret;

	domain = i_strdup(args[0]);
	if (strlen(domain) > 1 && domain[strlen(domain) - 1] == '.')
		domain[strlen(domain) - 1] = '\0';
	if (!cli_domain_valid(domain)) {
		ret = cli_error("malformed domain: %s", args[0]);
		free(domain);
		return ret;
	}
	/* Opening the store first also switches root to the data
	 * directory's owner, who can read the keys. */
	store = cli_store(cli);
	if (store == NULL) {
		free(domain);
		return 1;
	}
	ret = store_domain_exists(store, domain, &error);
	if (ret <= 0) {
		ret = ret < 0 ? cli_error("cannot look up %s: %s", domain, error) :
			cli_error("%s is not a local domain (posthorn domain add "
				  "%s)", domain, domain);
		free(domain);
		return ret;
	}
	keys = dkimsign_keys_create(cli->config->server.data_dir, 0);
	build_records(cli->config, domain, keys, &out);
	dkimsign_keys_destroy(&keys);

	/* What we print must load as a [dns] static zone as it is. */
	if (dns_zone_parse(buf_cstr(&out), "posthorn dns", 1000, &zone,
			   &errors) < 0) {
		ret = cli_error("internal error, the records do not parse: %s",
				errors);
		free(errors);
	} else {
		dns_zone_free(&zone);
		fputs(buf_cstr(&out), stdout);
		ret = 0;
	}
	buf_free(&out);
	free(domain);
	return ret;
}

static const struct cli_command dns_commands[] = {
	/* The verb-less form: posthorn dns DOMAIN. */
	{ "", "DOMAIN", 1, 1, 0, dns_cmd },
	{ NULL, NULL, 0, 0, 0, NULL },
};

const struct cli_family cli_family_dns = {
	.name = "dns",
	.summary = "the DNS records a domain publishes",
	.commands = dns_commands,
};
