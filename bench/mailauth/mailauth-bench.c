/* SPDX-License-Identifier: MIT */
/* Mail authentication cost per message, library level: DKIM verification
 * of a typical 4 KB message signed with RSA-2048 and with Ed25519, DKIM
 * signing, SPF check_host() and DMARC evaluation, with every DNS answer
 * served from memory ("cached"), the callbacks run later from a libevent
 * loop as the real resolver runs them. See bench/README.md.
 *
 *   mailauth-bench [--iterations N]
 *       prints µs/message for each operation; exits 1 when any check does
 *       not give the expected result (pass), so a smoke run is a test.
 *   mailauth-bench sign KEY.pem DOMAIN SELECTOR <in >out
 *       prepends a DKIM-Signature to the message on stdin (for
 *       bench/mailauth/run.sh). */
#include "lib.h"
#include "buf.h"
#include "timeutil.h"
#include "dkim.h"
#include "spf.h"
#include "dmarc.h"

#include <arpa/inet.h>
#include <event2/event.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

/* ---- DNS answered from memory, later, from the event loop ---- */

struct mem_record {
	const char *name;
	enum dns_type type;
	const char *data; /* TXT text, A address, MX "host" */
};

struct mem_request {
	struct mem_dns *dns;
	char *name;
	enum dns_type type;
	mailauth_dns_callback_t *callback;
	void *ctx;
	bool cancelled;
};

struct mem_dns {
	struct mailauth_dns iface;
	struct event_base *base;
	const struct mem_record *recs;
	size_t count;
	unsigned queries;
};

static void mem_answer(evutil_socket_t fd UNUSED, short what UNUSED, void *arg)
{
	struct mem_request *req = arg;
	struct mem_dns *dns = req->dns;
	if (req->cancelled) {
		free(req->name);
		free(req);
		return;
	}
	dns->queries++;
	struct dns_answer a;
	memset(&a, 0, sizeof(a));
	a.rrs = i_new(struct dns_rr, dns->count + 1);
	a.rcode = 3;
	for (size_t i = 0; i < dns->count; i++) {
		const struct mem_record *r = &dns->recs[i];
		if (strcasecmp(r->name, req->name) != 0)
			continue;
		a.rcode = 0;
		if (r->type != req->type)
			continue;
		struct dns_rr *rr = &a.rrs[a.count];
		rr->type = (uint16_t)r->type;
		rr->ttl = 3600;
		snprintf(rr->owner, sizeof(rr->owner), "%s.", r->name);
		switch (r->type) {
		case DNS_TYPE_A:
			i_assert(inet_pton(AF_INET, r->data, rr->u.a) == 1);
			break;
		case DNS_TYPE_MX:
			rr->u.mx.preference = 10;
			snprintf(rr->u.mx.host, sizeof(rr->u.mx.host), "%s.",
				 r->data);
			break;
		case DNS_TYPE_TXT:
			rr->txt_or_data = (uint8_t *)r->data;
			rr->txt_len = strlen(r->data);
			break;
		default:
			i_unreached();
		}
		a.count++;
	}
	req->callback(&a, NULL, req->ctx);
	free(a.rrs);
	free(req->name);
	free(req);
}

static void *mem_lookup(void *dns_ctx, const char *name, enum dns_type type,
			mailauth_dns_callback_t *callback, void *cb_ctx)
{
	static const struct timeval zero = { 0, 0 };
	struct mem_dns *dns = dns_ctx;
	struct mem_request *req = i_new(struct mem_request, 1);
	size_t len = strlen(name);
	if (len > 0 && name[len - 1] == '.')
		len--;
	req->dns = dns;
	req->name = i_strndup(name, len);
	req->type = type;
	req->callback = callback;
	req->ctx = cb_ctx;
	if (event_base_once(dns->base, -1, EV_TIMEOUT, mem_answer, req,
			    &zero) < 0)
		i_fatal("event_base_once failed");
	return req;
}

static void mem_cancel(void *dns_ctx UNUSED, void *request)
{
	((struct mem_request *)request)->cancelled = true;
}

static void mem_dns_init(struct mem_dns *dns, struct event_base *base,
			 const struct mem_record *recs, size_t count)
{
	memset(dns, 0, sizeof(*dns));
	dns->iface.lookup = mem_lookup;
	dns->iface.cancel = mem_cancel;
	dns->iface.dns_ctx = dns;
	dns->base = base;
	dns->recs = recs;
	dns->count = count;
}

/* ---- the message ---- */

/* A typical 4 KB message as it arrives: trace fields, the usual
 * originator fields, a MIME text body of 72-column lines. */
static char *typical_message(size_t *len_r)
{
	struct buf b = BUF_INIT;
	buf_append_str(&b,
		"Received: from laptop.sender.test ([192.0.2.77])\r\n"
		"\tby mail.sender.test (Posthorn) with ESMTPSA id 4f2a9c;\r\n"
		"\tMon, 30 Nov 2026 10:00:00 +0000\r\n"
		"From: Alice Sender <alice@sender.test>\r\n"
		"To: Bob Receiver <bob@receiver.test>\r\n"
		"Cc: carol@receiver.test\r\n"
		"Subject: Quarterly figures and the plan for next week\r\n"
		"Date: Mon, 30 Nov 2026 10:00:00 +0000\r\n"
		"Message-ID: <20261130100000.4f2a9c@sender.test>\r\n"
		"MIME-Version: 1.0\r\n"
		"Content-Type: text/plain; charset=utf-8\r\n"
		"Content-Transfer-Encoding: 8bit\r\n"
		"\r\n");
	static const char line[] =
		"The quick brown fox jumps over the lazy dog, then  stops,\t"
		"and looks   back.\r\n";
	while (b.len + sizeof(line) - 1 <= 4096)
		buf_append_str(&b, line);
	return (char *)buf_steal(&b, len_r);
}

static char *sign_message(const struct dkim_key *key, const char *domain,
			  const char *selector, const char *msg, size_t len)
{
	struct dkim_sign_settings set = {
		.domain = domain, .selector = selector, .key = key,
	};
	const char *error;
	struct dkim_sign *s = dkim_sign_create(&set, &error);
	if (s == NULL)
		i_fatal("dkim_sign_create: %s", error);
	dkim_sign_feed(s, msg, len);
	char *header = dkim_sign_finish(s, &error);
	if (header == NULL)
		i_fatal("dkim_sign_finish: %s", error);
	dkim_sign_destroy(&s);
	return header;
}

/* ---- the timed loops ---- */

static int failures;

struct stopwatch {
	int64_t wall_us, cpu_us;
};

static int64_t cpu_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static struct stopwatch stopwatch_start(void)
{
	struct stopwatch w = { time_mono_us(), cpu_us() };
	return w;
}

/* CPU time is the figure to read on a shared machine: wall time also
 * counts the moments another process had the core. */
static void report(const char *what, unsigned n, struct stopwatch w)
{
	double wall = (double)(time_mono_us() - w.wall_us) / n;
	double cpu = (double)(cpu_us() - w.cpu_us) / n;
	printf("%-32s %8.1f us/msg cpu %8.1f wall %9.0f msg/s/core (%u runs)\n",
	       what, cpu, wall, cpu > 0 ? 1e6 / cpu : 0, n);
	fflush(stdout);
}

static void on_dkim(struct dkim_verify *v UNUSED, void *ctx)
{
	*(bool *)ctx = true;
}

static void bench_verify(const char *what, struct mem_dns *dns,
			 const char *signed_msg, size_t len, unsigned n)
{
	struct stopwatch start = stopwatch_start();
	for (unsigned i = 0; i < n; i++) {
		struct dkim_verify *v = dkim_verify_create(&dns->iface, NULL);
		/* as smtpd feeds it: in network-sized pieces */
		for (size_t off = 0; off < len; off += 1460)
			dkim_verify_feed(v, signed_msg + off, MIN(1460, len - off));
		bool done = false;
		if (dkim_verify_finish(v, on_dkim, &done))
			done = true;
		event_base_dispatch(dns->base);
		if (!done || dkim_verify_count(v) != 1 ||
		    dkim_verify_get(v, 0)->result != DKIM_RESULT_PASS) {
			fprintf(stderr, "%s: not a pass: %s\n", what,
				dkim_verify_count(v) == 0 ? "no signature" :
				dkim_verify_get(v, 0)->reason);
			failures++;
			dkim_verify_destroy(&v);
			return;
		}
		dkim_verify_destroy(&v);
	}
	report(what, n, start);
}

static void bench_sign(const char *what, const struct dkim_key *key,
		       const char *msg, size_t len, unsigned n)
{
	struct stopwatch start = stopwatch_start();
	for (unsigned i = 0; i < n; i++) {
		char *h = sign_message(key, "sender.test", "bench", msg, len);
		free(h);
	}
	report(what, n, start);
}

static void on_spf(struct spf_check *check UNUSED, void *ctx)
{
	*(bool *)ctx = true;
}

static void bench_spf(const char *what, struct mem_dns *dns,
		      const char *sender, unsigned n)
{
	struct spf_request req;
	memset(&req, 0, sizeof(req));
	struct sockaddr_in *sin = (struct sockaddr_in *)&req.client_ip;
	sin->sin_family = AF_INET;
	i_assert(inet_pton(AF_INET, "192.0.2.25", &sin->sin_addr) == 1);
	req.helo = "mail.sender.test";
	req.sender = sender;
	req.receiver = "mx.receiver.test";

	unsigned queries0 = dns->queries;
	struct stopwatch start = stopwatch_start();
	for (unsigned i = 0; i < n; i++) {
		bool done = false;
		struct spf_check *c = spf_check_start(&dns->iface, &req,
						      on_spf, &done);
		event_base_dispatch(dns->base);
		if (!done || spf_check_result(c) != SPF_RESULT_PASS) {
			fprintf(stderr, "%s: %s (%s)\n", what,
				done ? spf_result_name(spf_check_result(c)) :
				"not done", done ? spf_check_reason(c) : "");
			failures++;
			spf_check_destroy(&c);
			return;
		}
		/* smtpd also builds the header for every message */
		char *h = spf_received_header(c);
		free(h);
		spf_check_destroy(&c);
	}
	report(what, n, start);
	printf("%-32s %8.1f DNS lookups/msg\n", "",
	       (double)(dns->queries - queries0) / n);
}

static void on_dmarc(struct dmarc_check *check UNUSED, void *ctx)
{
	*(bool *)ctx = true;
}

static void bench_dmarc(struct mem_dns *dns, unsigned n)
{
	const struct dmarc_dkim_input dkim[] = {
		{ "pass", "sender.test" },
	};
	const struct dmarc_input in = {
		.from_domain = "sender.test", .spf_result = "pass",
		.spf_domain = "sender.test", .dkim = dkim, .dkim_count = 1,
		.pct_roll = 50,
	};
	struct stopwatch start = stopwatch_start();
	for (unsigned i = 0; i < n; i++) {
		bool done = false;
		struct dmarc_check *c = dmarc_check_start(&dns->iface, &in,
							  on_dmarc, &done);
		event_base_dispatch(dns->base);
		if (!done || dmarc_check_result(c) != DMARC_RESULT_PASS) {
			fprintf(stderr, "dmarc: %s\n", done ?
				dmarc_result_name(dmarc_check_result(c)) :
				"not done");
			failures++;
			dmarc_check_destroy(&c);
			return;
		}
		char *ar = mailauth_ar_from_checks("mx.receiver.test", NULL,
						   NULL, c, "sender.test");
		free(ar);
		dmarc_check_destroy(&c);
	}
	report("dmarc evaluate (+A-R header)", n, start);
}

/* Where a verification's time goes, with OpenSSL alone: decoding the
 * key record's p= (a SubjectPublicKeyInfo for RSA, the raw 32 octets for
 * Ed25519, RFC 8463 section 4; what lib-dkim's cache of decoded keys
 * saves on every message after the first from a key) and the signature
 * check itself over a header-sized input. */
static EVP_PKEY *decode_pub(const struct dkim_key_record *rec, bool ed25519)
{
	if (ed25519)
		return EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL,
						   rec->pubkey, rec->pubkey_len);
	const unsigned char *p = rec->pubkey;
	return d2i_PUBKEY(NULL, &p, (long)rec->pubkey_len);
}

static void bench_breakdown(const char *name, const char *pem,
			    const char *txt, bool ed25519, unsigned n)
{
	struct dkim_key_record rec;
	const char *error;
	if (dkim_key_record_parse(txt, strlen(txt), &rec, &error) < 0)
		i_fatal("dkim_key_record_parse: %s", error);
	BIO *bio = BIO_new_mem_buf(pem, (int)strlen(pem));
	EVP_PKEY *priv = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	BIO_free(bio);
	EVP_PKEY *pub = decode_pub(&rec, ed25519);
	if (priv == NULL || pub == NULL)
		i_fatal("%s: cannot decode the key", name);

	char what[64];
	snprintf(what, sizeof(what), "  %s key decode", name);
	struct stopwatch start = stopwatch_start();
	for (unsigned i = 0; i < n; i++) {
		EVP_PKEY *k = decode_pub(&rec, ed25519);
		i_assert(k != NULL);
		EVP_PKEY_free(k);
	}
	report(what, n, start);

	/* the relaxed header block a verifier hashes is ~400 bytes */
	unsigned char data[400], sig[512];
	size_t sig_len = sizeof(sig);
	memset(data, 'h', sizeof(data));
	const EVP_MD *md = ed25519 ? NULL : EVP_sha256();
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (EVP_DigestSignInit(ctx, NULL, md, NULL, priv) != 1 ||
	    EVP_DigestSign(ctx, sig, &sig_len, data, sizeof(data)) != 1)
		i_fatal("%s: cannot sign", name);
	EVP_MD_CTX_free(ctx);
	snprintf(what, sizeof(what), "  %s signature check alone", name);
	start = stopwatch_start();
	for (unsigned i = 0; i < n; i++) {
		ctx = EVP_MD_CTX_new();
		if (EVP_DigestVerifyInit(ctx, NULL, md, NULL, pub) != 1 ||
		    EVP_DigestVerify(ctx, sig, sig_len, data, sizeof(data)) != 1)
			i_fatal("%s: signature check failed", name);
		EVP_MD_CTX_free(ctx);
	}
	report(what, n, start);
	EVP_PKEY_free(priv);
	EVP_PKEY_free(pub);
	dkim_key_record_free(&rec);
}

static void make_key(enum dkim_algorithm alg, unsigned bits,
		     struct dkim_key **key_r, char **pem_r, char **txt_r)
{
	const char *error;
	if (dkim_keygen(alg, bits, pem_r, txt_r, &error) < 0)
		i_fatal("dkim_keygen: %s", error);
	*key_r = dkim_key_from_pem(*pem_r, strlen(*pem_r), &error);
	if (*key_r == NULL)
		i_fatal("dkim_key_from_pem: %s", error);
}

static int run_bench(unsigned n)
{
	struct dkim_key *rsa, *ed;
	char *rsa_pem, *ed_pem, *rsa_txt, *ed_txt;
	make_key(DKIM_ALG_RSA_SHA256, 2048, &rsa, &rsa_pem, &rsa_txt);
	make_key(DKIM_ALG_ED25519_SHA256, 0, &ed, &ed_pem, &ed_txt);

	const struct mem_record recs[] = {
		{ "rsa._domainkey.sender.test", DNS_TYPE_TXT, rsa_txt },
		{ "ed._domainkey.sender.test", DNS_TYPE_TXT, ed_txt },
		{ "sender.test", DNS_TYPE_TXT, "v=spf1 ip4:192.0.2.0/24 -all" },
		{ "sender.test", DNS_TYPE_MX, "mail.sender.test" },
		{ "mail.sender.test", DNS_TYPE_A, "192.0.2.25" },
		/* a typical hosted domain: its own MX, then the provider's
		 * record, which includes a second one */
		{ "hosted.test", DNS_TYPE_TXT,
		  "v=spf1 mx include:_spf.provider.test ~all" },
		{ "hosted.test", DNS_TYPE_MX, "mx1.hosted.test" },
		{ "mx1.hosted.test", DNS_TYPE_A, "198.51.100.1" },
		{ "_spf.provider.test", DNS_TYPE_TXT,
		  "v=spf1 ip4:203.0.113.0/24 include:_netblocks.provider.test "
		  "-all" },
		{ "_netblocks.provider.test", DNS_TYPE_TXT,
		  "v=spf1 ip4:198.51.100.0/24 ip4:192.0.2.0/25 ip6:2001:db8::/32 "
		  "-all" },
		{ "_dmarc.sender.test", DNS_TYPE_TXT,
		  "v=DMARC1; p=reject; rua=mailto:dmarc@sender.test; adkim=r; "
		  "aspf=r" },
	};
	struct event_base *base = event_base_new();
	if (base == NULL)
		i_fatal("event_base_new failed");
	struct mem_dns dns;
	mem_dns_init(&dns, base, recs, N_ELEMENTS(recs));

	size_t len;
	char *msg = typical_message(&len);
	char *signed_msgs[2];
	size_t signed_lens[2];
	const struct dkim_key *keys[2] = { rsa, ed };
	const char *selectors[2] = { "rsa", "ed" };
	for (int k = 0; k < 2; k++) {
		char *h = sign_message(keys[k], "sender.test", selectors[k],
				       msg, len);
		signed_msgs[k] = i_strdup_printf("%s\r\n%s", h, msg);
		signed_lens[k] = strlen(signed_msgs[k]);
		free(h);
	}
	printf("message: %zu bytes (%zu with the RSA signature)\n", len,
	       signed_lens[0]);

	bench_verify("dkim verify rsa-sha256 (2048)", &dns, signed_msgs[0],
		     signed_lens[0], n);
	bench_verify("dkim verify ed25519-sha256", &dns, signed_msgs[1],
		     signed_lens[1], n);
	bench_breakdown("rsa", rsa_pem, rsa_txt, false, n);
	bench_breakdown("ed25519", ed_pem, ed_txt, true, n);
	bench_sign("dkim sign rsa-sha256 (2048)", rsa, msg, len,
		   MAX(n / 10, 1));
	bench_sign("dkim sign ed25519-sha256", ed, msg, len, n);
	bench_spf("spf ip4 (1 lookup)", &dns, "alice@sender.test", n);
	bench_spf("spf mx+include+include", &dns, "alice@hosted.test", n);
	bench_dmarc(&dns, n);

	for (int k = 0; k < 2; k++)
		free(signed_msgs[k]);
	free(msg);
	free(rsa_pem);
	free(ed_pem);
	free(rsa_txt);
	free(ed_txt);
	dkim_key_free(&rsa);
	dkim_key_free(&ed);
	event_base_free(base);
	if (failures > 0)
		fprintf(stderr, "%d check(s) did not pass\n", failures);
	return failures > 0 ? 1 : 0;
}

static int run_sign(const char *key_path, const char *domain,
		    const char *selector)
{
	const char *error;
	struct dkim_key *key = dkim_key_load(key_path, &error);
	if (key == NULL) {
		fprintf(stderr, "%s: %s\n", key_path, error);
		return 1;
	}
	struct buf in = BUF_INIT;
	char chunk[8192];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), stdin)) > 0)
		buf_append(&in, chunk, n);
	char *h = sign_message(key, domain, selector, (const char *)in.data,
			       in.len);
	/* the header in the line ends the message has (smtp-source -F adds
	 * the CR itself) */
	bool crlf = in.len >= 2 && memchr(in.data, '\r', in.len) != NULL;
	for (const char *p = h; *p != '\0'; p++) {
		if (*p != '\r' || crlf)
			putchar(*p);
	}
	fputs(crlf ? "\r\n" : "\n", stdout);
	fwrite(in.data, 1, in.len, stdout);
	free(h);
	buf_free(&in);
	dkim_key_free(&key);
	return fflush(stdout) == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
	if (argc == 5 && strcmp(argv[1], "sign") == 0)
		return run_sign(argv[2], argv[3], argv[4]);
	unsigned n = 2000;
	if (argc == 3 && strcmp(argv[1], "--iterations") == 0)
		n = (unsigned)strtoul(argv[2], NULL, 10);
	else if (argc != 1) {
		fprintf(stderr, "usage: %s [--iterations N]\n"
			"       %s sign KEY DOMAIN SELECTOR <in >out\n",
			argv[0], argv[0]);
		return 2;
	}
	if (n == 0)
		n = 1;
	return run_bench(n);
}
