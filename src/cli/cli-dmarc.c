/* SPDX-License-Identifier: MIT */
#include "lib.h"
#include "cli.h"
#include "pool.h"
#include "store.h"
#include "timeutil.h"
#include "config.h"
#include "control-client.h"
#include "net-loop.h"
#include "dns.h"
#include "mailauth-dns.h"
#include "dmarc-report.h"
#ifdef HAVE_DMARC_REPORT_SIGN
#include "dkim-sign.h"
#endif

#include <pthread.h>

/* posthorn dmarc list|report: the DMARC aggregate report rows the store
 * holds, and a reporting pass run right here (the daemon runs the same
 * pass on its timer). Like `posthorn queue`, it works on the store
 * directly, whether posthornd runs or not, and then wakes the daemon's
 * queue for what it enqueued. */

static const char *fmt_time(time_t t, char *buf, size_t size)
{
	if (t == 0)
		return "-";
	return time_format_iso8601_ms((int64_t)t * 1000000, buf, size);
}

static int dmarc_list(struct cli *cli, char **args, unsigned count)
{
	struct store *store = cli_store(cli);
	if (store == NULL)
		return 1;
	struct pool *pool = pool_create("dmarc list", 4096);
	struct store_dmarc_period *periods;
	unsigned period_count;
	const char *error;
	int ret = 0;

	if (store_dmarc_periods(store, pool, &periods, &period_count,
				&error) < 0) {
		pool_destroy(&pool);
		return cli_error("cannot read the DMARC report periods: %s",
				 error);
	}
	if (period_count == 0)
		puts("no DMARC report rows recorded");
	for (unsigned i = 0; i < period_count && ret == 0; i++) {
		const struct store_dmarc_period *p = &periods[i];
		char b1[40], b2[40];
		printf("period %lld %s begin=%s end=%s rows=%u\n",
		       (long long)p->id, p->end == 0 ? "open" : "closed",
		       fmt_time(p->begin, b1, sizeof(b1)),
		       fmt_time(p->end, b2, sizeof(b2)), p->rows);
		struct store_dmarc_row *rows;
		unsigned n;
		if (store_dmarc_rows(store, p->id, NULL, pool, &rows, &n,
				     &error) < 0) {
			ret = cli_error("cannot read the DMARC report rows: %s",
					error);
			break;
		}
		for (unsigned j = 0; j < n; j++) {
			const struct store_dmarc_row *r = &rows[j];
			printf("  %s source=%s count=%llu disposition=%s "
			       "dkim=%s spf=%s header_from=%s "
			       "envelope_from=%s rua=%s\n",
			       r->policy_domain, r->source_ip,
			       (unsigned long long)r->count, r->disposition,
			       r->dkim_eval, r->spf_eval, r->header_from,
			       r->envelope_from[0] != '\0' ? r->envelope_from
							   : "<>",
			       r->rua);
		}
	}
	pool_destroy(&pool);
	return ret;
}

/* A reporting pass on a loop thread of our own, the main thread waiting:
 * the pass is the daemon's asynchronous code, DNS included. */
struct dmarc_cli_pass {
	struct store *store;
	const struct config *config;
	struct net_loop *loop;
	bool close_now;
	struct dns_zone zone;
	bool have_zone;
	struct dns_resolver *resolver;
	struct mailauth_dns dns;
	struct dmarc_report_settings set;
	struct dmarc_report_stats stats;
	const char *error;
	char **delivered;
	unsigned delivered_count;

	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool finished, cleaned;
};

static void dmarc_cli_signal(struct dmarc_cli_pass *pass, bool *flag)
{
	pthread_mutex_lock(&pass->lock);
	*flag = true;
	pthread_cond_signal(&pass->cond);
	pthread_mutex_unlock(&pass->lock);
}

/* Runs on the loop thread; the main thread reads the list once the pass
 * is done. */
static void dmarc_cli_delivered(void *ctx, const char *address)
{
	struct dmarc_cli_pass *pass = ctx;
	for (unsigned i = 0; i < pass->delivered_count; i++) {
		if (strcmp(pass->delivered[i], address) == 0)
			return;
	}
	pass->delivered = i_realloc(pass->delivered,
				    (pass->delivered_count + 1) *
					sizeof(*pass->delivered));
	pass->delivered[pass->delivered_count++] = i_strdup(address);
}

static void dmarc_cli_done(const struct dmarc_report_stats *stats, void *ctx)
{
	struct dmarc_cli_pass *pass = ctx;
	pass->stats = *stats;
	dmarc_cli_signal(pass, &pass->finished);
}

static void dmarc_cli_start(void *ctx)
{
	struct dmarc_cli_pass *pass = ctx;
	struct dns_resolver_settings dset = {
	    .static_zone = pass->have_zone ? &pass->zone : NULL,
	};
	pass->resolver =
	    dns_resolver_create(net_loop_base(pass->loop), &dset, &pass->error);
	if (pass->resolver == NULL) {
		dmarc_cli_signal(pass, &pass->finished);
		return;
	}
	mailauth_dns_init_resolver(&pass->dns, pass->resolver);
	struct completion_target target = net_loop_completion_target(pass->loop);
	(void)dmarc_report_run_start(pass->store, &pass->set, &pass->dns,
				     &target, pass->close_now, dmarc_cli_done,
				     pass);
}

static void dmarc_cli_cleanup(void *ctx)
{
	struct dmarc_cli_pass *pass = ctx;
	dns_resolver_destroy(&pass->resolver);
	dmarc_cli_signal(pass, &pass->cleaned);
}

static void dmarc_cli_wait(struct dmarc_cli_pass *pass, const bool *flag)
{
	pthread_mutex_lock(&pass->lock);
	while (!*flag)
		pthread_cond_wait(&pass->cond, &pass->lock);
	pthread_mutex_unlock(&pass->lock);
}

static int dmarc_report(struct cli *cli, char **args, unsigned count)
{
	bool close_now = false;
	for (unsigned i = 0; i < count; i++) {
		if (strcmp(args[i], "--now") == 0)
			close_now = true;
		else
			return cli_error("usage: posthorn dmarc report [--now]");
	}
	struct store *store = cli_store(cli);
	if (store == NULL)
		return 1;
	const struct config *c = cli->config;
	struct dmarc_cli_pass pass = {
	    .store = store,
	    .config = c,
	    .close_now = close_now,
	    .set = {
		.hostname = c->server.hostname,
		.sender = c->auth.report_sender,
		.org_name = c->auth.report_org,
		.interval = c->auth.report_interval,
		.delivered = dmarc_cli_delivered,
	    },
	    .lock = PTHREAD_MUTEX_INITIALIZER,
	    .cond = PTHREAD_COND_INITIALIZER,
	};
	if (c->dns.static_zone != NULL && c->dns.static_zone[0] != '\0') {
		char *errors = NULL;
		if (dns_zone_parse_file(c->dns.static_zone, &pass.zone,
					&errors) < 0) {
			int ret = cli_error("[dns] static: %s",
					    errors != NULL ? errors
							   : "unreadable");
			free(errors);
			return ret;
		}
		pass.have_zone = true;
	}
	pass.set.delivered_ctx = &pass;
#ifdef HAVE_DMARC_REPORT_SIGN
	/* Signed like the daemon's reports, with the same keys. */
	if (c->auth.dkim_sign) {
		pass.set.sign = dkimsign_host_signer;
		pass.set.sign_ctx = dkimsign_keys_shared(c->server.data_dir);
	}
#endif
	struct net_loops *loops = net_loops_create(1);
	pass.loop = net_loops_get(loops, 0);
	net_loops_start(loops);
	net_loop_post(pass.loop, dmarc_cli_start, &pass);
	dmarc_cli_wait(&pass, &pass.finished);
	net_loop_post(pass.loop, dmarc_cli_cleanup, &pass);
	dmarc_cli_wait(&pass, &pass.cleaned);
	net_loops_stop(loops, 1000);
	net_loops_destroy(&loops);
	if (pass.have_zone)
		dns_zone_free(&pass.zone);
	pthread_mutex_destroy(&pass.lock);
	pthread_cond_destroy(&pass.cond);

	if (pass.error != NULL)
		return cli_error("DNS resolver: %s", pass.error);
	const struct dmarc_report_stats *s = &pass.stats;
	printf("%u period%s closed, %u report%s queued for %u destination%s, "
	       "%u destination%s skipped, %u report%s dropped, %u deferred\n",
	       s->periods_closed, s->periods_closed == 1 ? "" : "s",
	       s->reports, s->reports == 1 ? "" : "s", s->destinations,
	       s->destinations == 1 ? "" : "s", s->skipped,
	       s->skipped == 1 ? "" : "s", s->dropped,
	       s->dropped == 1 ? "" : "s", s->deferred);
	if (s->reports > 0)
		cli_notify(cli, "queue-wake");
	/* IDLE sessions in the daemon see the reports delivered here. */
	for (unsigned i = 0; i < pass.delivered_count; i++) {
		char *cmd = i_strdup_printf("mailbox-changed %s INBOX",
					    pass.delivered[i]);
		cli_notify(cli, cmd);
		i_free(cmd);
		i_free(pass.delivered[i]);
	}
	free(pass.delivered);
	if (s->errors > 0)
		return cli_error("%u error%s while reporting (see the log "
				 "lines above)",
				 s->errors, s->errors == 1 ? "" : "s");
	return 0;
}

static const struct cli_command dmarc_commands[] = {
	{ "list", "", 0, 0, 0, dmarc_list },
	{ "report", "[--now]", 0, 1, CLI_FLAG_OPTIONS, dmarc_report },
	{ NULL, NULL, 0, 0, 0, NULL },
};

const struct cli_family cli_family_dmarc = {
	.name = "dmarc",
	.summary = "DMARC aggregate reports",
	.commands = dmarc_commands,
};
