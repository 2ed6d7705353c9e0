/* SPDX-License-Identifier: MIT */
/* imap-load: an IMAP load generator for bench/imap/run.sh. Each client
 * thread runs one mix in a loop until the time is up:
 *
 *   LOGIN, SELECT INBOX, APPEND (4 KB, LITERAL+), FETCH header fields,
 *   FETCH the whole body, STORE +FLAGS, SEARCH, IDLE + DONE, NOOP,
 *   (every few rounds STORE \Deleted + EXPUNGE to keep the mailbox small),
 *   LOGOUT
 *
 * and counts every tagged OK as one operation. Plain TCP on loopback (both
 * servers accept passwords there); blocking sockets, one thread per client,
 * so the generator costs little CPU next to the servers.
 *
 *   imap-load HOST PORT USER-FORMAT PASSWORD CLIENTS SECONDS [FIRST-USER]
 *   e.g. imap-load 127.0.0.1 10143 user%d@bench.test pass 10 10
 *
 * Prints: "ops=N seconds=S ops_per_s=R errors=E". */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

struct client {
	pthread_t thread;
	int index;
	int fd;
	char rbuf[65536];
	size_t rpos, rlen;
	unsigned tagno;
	unsigned long long ops;
	unsigned errors;
	unsigned exists;
};

static const char *host, *user_fmt, *password;
static int port, first_user = 1;
static double deadline;
static char message[4096 + 256];
static size_t message_len;

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int fill(struct client *c)
{
	if (c->rpos > 0 && c->rpos == c->rlen)
		c->rpos = c->rlen = 0;
	if (c->rlen == sizeof(c->rbuf)) {
		memmove(c->rbuf, c->rbuf + c->rpos, c->rlen - c->rpos);
		c->rlen -= c->rpos;
		c->rpos = 0;
	}
	ssize_t n = recv(c->fd, c->rbuf + c->rlen, sizeof(c->rbuf) - c->rlen, 0);
	if (n <= 0)
		return -1;
	c->rlen += (size_t)n;
	return 0;
}

/* One line (CRLF stripped) into line; a literal "{n}" at its end is
 * skipped together with the rest of the logical line. */
static int read_line(struct client *c, char *line, size_t size)
{
	size_t out = 0;
	for (;;) {
		char *lf;
		while ((lf = memchr(c->rbuf + c->rpos, '\n', c->rlen - c->rpos)) == NULL) {
			if (c->rpos > 0) {
				memmove(c->rbuf, c->rbuf + c->rpos, c->rlen - c->rpos);
				c->rlen -= c->rpos;
				c->rpos = 0;
			}
			if (fill(c) < 0)
				return -1;
		}
		size_t n = (size_t)(lf - (c->rbuf + c->rpos));
		size_t copy = n < size - 1 - out ? n : size - 1 - out;
		memcpy(line + out, c->rbuf + c->rpos, copy);
		out += copy;
		line[out] = '\0';
		c->rpos += n + 1;
		if (out > 0 && line[out - 1] == '\r')
			line[--out] = '\0';
		/* "... {123}" or "~{123}": skip the literal, keep reading. */
		char *brace = out > 0 && line[out - 1] == '}' ? strrchr(line, '{') : NULL;
		if (brace == NULL)
			return 0;
		unsigned long long lit = strtoull(brace + 1, NULL, 10);
		while (lit > 0) {
			if (c->rpos == c->rlen && fill(c) < 0)
				return -1;
			size_t avail = c->rlen - c->rpos;
			size_t take = avail < lit ? avail : (size_t)lit;
			c->rpos += take;
			lit -= take;
		}
		out = (size_t)(brace - line);
		line[out] = '\0';
	}
}

static int send_all(struct client *c, const void *data, size_t len)
{
	const char *p = data;
	while (len > 0) {
		ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL);
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Sends "<tag> <cmd>" (+ extra bytes) and reads to the tagged reply.
 * Returns 0 for OK. Counts EXISTS. */
static int command(struct client *c, const void *extra, size_t extra_len,
		   const char *fmt, ...)
{
	char line[8192], tag[16];
	va_list args;
	int n;

	snprintf(tag, sizeof(tag), "t%u", ++c->tagno);
	n = snprintf(line, sizeof(line), "%s ", tag);
	va_start(args, fmt);
	n += vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, args);
	va_end(args);
	if (send_all(c, line, (size_t)n) < 0 ||
	    (extra_len > 0 && send_all(c, extra, extra_len) < 0) ||
	    send_all(c, "\r\n", 2) < 0)
		return -1;
	size_t tlen = strlen(tag);
	for (;;) {
		if (read_line(c, line, sizeof(line)) < 0)
			return -1;
		if (line[0] == '*') {
			unsigned v;
			int end = 0;
			/* %n: sscanf alone would also take "* 1 RECENT". */
			if (sscanf(line, "* %u EXISTS%n", &v, &end) == 1 &&
			    end > 0)
				c->exists = v;
			continue;
		}
		if (line[0] == '+')
			continue;
		if (strncmp(line, tag, tlen) == 0 && line[tlen] == ' ') {
			if (strncmp(line + tlen + 1, "OK", 2) == 0) {
				c->ops++;
				return 0;
			}
			return -1;
		}
	}
}

static int idle_once(struct client *c)
{
	char line[8192], tag[16];
	snprintf(tag, sizeof(tag), "t%u", ++c->tagno);
	snprintf(line, sizeof(line), "%s IDLE\r\n", tag);
	if (send_all(c, line, strlen(line)) < 0)
		return -1;
	do {
		if (read_line(c, line, sizeof(line)) < 0)
			return -1;
	} while (line[0] != '+');
	if (send_all(c, "DONE\r\n", 6) < 0)
		return -1;
	for (;;) {
		if (read_line(c, line, sizeof(line)) < 0)
			return -1;
		if (strncmp(line, tag, strlen(tag)) == 0) {
			c->ops++;
			return strstr(line, " OK") != NULL ? 0 : -1;
		}
	}
}

static int session(struct client *c, unsigned round)
{
	char user[256], line[1024];
	struct sockaddr_in sin;
	int one = 1;

	/* USER-FORMAT has one "%d" for the user number. */
	const char *pct = strstr(user_fmt, "%d");
	if (pct == NULL)
		snprintf(user, sizeof(user), "%s", user_fmt);
	else
		snprintf(user, sizeof(user), "%.*s%d%s", (int)(pct - user_fmt),
			 user_fmt, first_user + c->index, pct + 2);
	c->fd = socket(AF_INET, SOCK_STREAM, 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	inet_pton(AF_INET, host, &sin.sin_addr);
	if (connect(c->fd, (struct sockaddr *)&sin, sizeof(sin)) < 0)
		goto fail;
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->rpos = c->rlen = 0;
	if (read_line(c, line, sizeof(line)) < 0)
		goto fail;
	if (command(c, NULL, 0, "LOGIN \"%s\" \"%s\"", user, password) < 0 ||
	    command(c, NULL, 0, "SELECT INBOX") < 0 ||
	    command(c, message, message_len, "APPEND INBOX (\\Seen) {%zu+}\r\n",
		    message_len) < 0 ||
	    command(c, NULL, 0, "NOOP") < 0 || c->exists == 0 ||
	    command(c, NULL, 0, "FETCH %u (UID FLAGS BODY.PEEK[HEADER.FIELDS "
				"(FROM TO SUBJECT DATE)])", c->exists) < 0 ||
	    command(c, NULL, 0, "FETCH %u BODY.PEEK[]", c->exists) < 0 ||
	    command(c, NULL, 0, "STORE %u +FLAGS (\\Flagged)", c->exists) < 0 ||
	    command(c, NULL, 0, "SEARCH FLAGGED SINCE 1-Jan-2020") < 0 ||
	    idle_once(c) < 0)
		goto fail;
	if (round % 8 == 7 && c->exists > 20 &&
	    (command(c, NULL, 0, "STORE 1:%u +FLAGS.SILENT (\\Deleted)",
		     c->exists - 10) < 0 ||
	     command(c, NULL, 0, "EXPUNGE") < 0))
		goto fail;
	if (command(c, NULL, 0, "LOGOUT") < 0)
		goto fail;
	close(c->fd);
	return 0;
fail:
	close(c->fd);
	return -1;
}

static void *client_main(void *arg)
{
	struct client *c = arg;
	for (unsigned round = 0; now() < deadline; round++) {
		if (session(c, round) < 0) {
			c->errors++;
			usleep(10000);
		}
	}
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc < 7) {
		fprintf(stderr, "usage: imap-load HOST PORT USER-FORMAT PASSWORD "
				"CLIENTS SECONDS [FIRST-USER]\n");
		return 2;
	}
	host = argv[1];
	port = atoi(argv[2]);
	user_fmt = argv[3];
	password = argv[4];
	int nclients = atoi(argv[5]);
	double seconds = atof(argv[6]);
	if (argc > 7)
		first_user = atoi(argv[7]);
	if (nclients < 1 || nclients > 1000 || seconds <= 0 || seconds > 3600) {
		fprintf(stderr, "imap-load: bad client count or duration\n");
		return 2;
	}

	int n = snprintf(message, sizeof(message),
			 "From: Bench <bench@example.org>\r\n"
			 "To: user@bench.test\r\n"
			 "Subject: imap-load message\r\n"
			 "Date: Mon, 30 Nov 2026 08:00:00 +0000\r\n"
			 "Message-ID: <bench@example.org>\r\n\r\n");
	while ((size_t)n < 4096 - 2) {
		size_t line = 76;
		for (size_t i = 0; i < line && (size_t)n < 4096 - 2; i++)
			message[n++] = (char)('a' + (i % 26));
		message[n++] = '\r';
		message[n++] = '\n';
	}
	message_len = (size_t)n;

	struct client *clients = calloc((size_t)nclients, sizeof(*clients));
	double start = now();
	deadline = start + seconds;
	for (int i = 0; i < nclients; i++) {
		clients[i].index = i;
		pthread_create(&clients[i].thread, NULL, client_main, &clients[i]);
	}
	unsigned long long ops = 0;
	unsigned errors = 0;
	for (int i = 0; i < nclients; i++) {
		pthread_join(clients[i].thread, NULL);
		ops += clients[i].ops;
		errors += clients[i].errors;
	}
	double elapsed = now() - start;
	printf("ops=%llu seconds=%.2f ops_per_s=%.0f errors=%u\n", ops, elapsed,
	       (double)ops / elapsed, errors);
	free(clients);
	return 0;
}
