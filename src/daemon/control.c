/* SPDX-License-Identifier: MIT */
#include "lib.h"
#include "daemon.h"
#include "control-client.h"
#include "buf.h"
#include "log.h"
#include "strutil.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* The control socket's server side, on the main thread's event loop. The
 * socket is 0600 in the data directory, so only the daemon's user (and
 * root) can talk to it; commands are cheap and never block. */

#define CONTROL_MAX_CLIENTS 16
#define CONTROL_TIMEOUT_SECS 10
#define CONTROL_MAX_ARGS 16

struct control_client;

struct control_server {
	struct daemon *d;
	struct evconnlistener *listener;
	char *path;
	unsigned client_count;
	struct control_client *clients;
};

struct control_client {
	struct control_server *server;
	struct bufferevent *bev;
	struct control_client *prev, *next;
};

struct control_command {
	const char *name;
	unsigned min_args, max_args;
	/* Writes the reply (without line end) to reply. */
	void (*handler)(struct daemon *d, char **args, unsigned count,
			struct buf *reply);
};

static void cmd_ping(struct daemon *d, char **args, unsigned count,
		     struct buf *reply)
{
	buf_append_str(reply, "OK pong");
}

static void cmd_auth_flush(struct daemon *d, char **args, unsigned count,
			   struct buf *reply)
{
	int64_t id = -1;
	const char *error;
	char q[256];

	if (count == 2) {
		uint64_t v;
		if (str_to_uint64(args[1], INT64_MAX, &v) < 0) {
			buf_append_str(reply, "ERR bad account id");
			return;
		}
		id = (int64_t)v;
	}
	int ret = daemon_accounts_auth_flush(d, args[0], id, &error);
	if (ret < 0) {
		buf_printf(reply, "ERR %s", error);
		return;
	}
	log_info(NULL, "auth-flush", "account=%s found=%s",
		 log_quote(q, sizeof(q), args[0]), ret > 0 ? "yes" : "no");
	buf_append_str(reply, "OK");
}

static void cmd_queue_wake(struct daemon *d, char **args, unsigned count,
			   struct buf *reply)
{
	static const char *const wake[] = { "wake" };
	const char *error;
	int ret = daemon_services_control(d, "queue", wake, 1, &error);
	if (ret < 0) {
		buf_printf(reply, "ERR %s", error);
		return;
	}
	log_debug(NULL, "queue-wake", "handled=%s", ret > 0 ? "yes" : "no");
	buf_append_str(reply, "OK");
}

/* Runs the queue for what is due now, without the flush of queue-wake:
 * `posthorn queue retry ID` made one message due in the store. */
static void cmd_queue_kick(struct daemon *d, char **args, unsigned count,
			   struct buf *reply)
{
	static const char *const kick[] = { "kick" };
	const char *error;
	int ret = daemon_services_control(d, "queue", kick, 1, &error);
	if (ret < 0) {
		buf_printf(reply, "ERR %s", error);
		return;
	}
	log_debug(NULL, "queue-kick", "handled=%s", ret > 0 ? "yes" : "no");
	buf_append_str(reply, "OK");
}

static void cmd_mailbox_changed(struct daemon *d, char **args, unsigned count,
				struct buf *reply)
{
	/* The mailbox name is the rest of the line: names may hold spaces. */
	struct buf name = BUF_INIT;
	for (unsigned i = 1; i < count; i++) {
		if (i > 1)
			buf_append_byte(&name, ' ');
		buf_append_str(&name, args[i]);
	}
	const char *const bargs[] = { "mailbox-changed", args[0],
				      buf_cstr(&name) };
	const char *error;
	char q1[256], q2[256];
	/* Sessions learn about their own process's changes through the
	 * store's watches; this is for changes made by another process
	 * (posthorn import): the watches are told, then any service that
	 * wants to know. */
	int found = daemon_accounts_mailbox_changed(d, args[0], buf_cstr(&name),
						    &error);
	int ret = found < 0 ? -1 : daemon_services_control(d, NULL, bargs, 3,
							   &error);
	if (ret < 0) {
		buf_printf(reply, "ERR %s", error);
		buf_free(&name);
		return;
	}
	log_info(NULL, "mailbox-changed", "account=%s mailbox=%s found=%s handled=%d",
		 log_quote(q1, sizeof(q1), args[0]),
		 log_quote(q2, sizeof(q2), buf_cstr(&name)),
		 found > 0 ? "yes" : "no", ret);
	buf_free(&name);
	buf_append_str(reply, "OK");
}

static void cmd_reload(struct daemon *d, char **args, unsigned count,
		       struct buf *reply)
{
	daemon_reload(d);
	buf_append_str(reply, "OK");
}

static const struct control_command control_commands[] = {
	{ "ping", 0, 0, cmd_ping },
	{ "auth-flush", 1, 2, cmd_auth_flush },
	{ "queue-wake", 0, 0, cmd_queue_wake },
	{ "queue-kick", 0, 0, cmd_queue_kick },
	{ "mailbox-changed", 2, CONTROL_MAX_ARGS, cmd_mailbox_changed },
	{ "reload", 0, 0, cmd_reload },
};

static void control_execute(struct daemon *d, char *line, struct buf *reply)
{
	char *args[CONTROL_MAX_ARGS + 1];
	unsigned count = 0;

	for (const char *p = line; *p != '\0'; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f) {
			buf_append_str(reply, "ERR control character in command");
			return;
		}
	}
	char *p = line;
	while (*p != '\0') {
		if (count == N_ELEMENTS(args)) {
			buf_append_str(reply, "ERR too many arguments");
			return;
		}
		args[count++] = p;
		char *sp = strchr(p, ' ');
		if (sp == NULL)
			break;
		*sp = '\0';
		p = sp + 1;
	}
	if (count == 0) {
		buf_append_str(reply, "ERR empty command");
		return;
	}
	for (size_t i = 0; i < N_ELEMENTS(control_commands); i++) {
		const struct control_command *cmd = &control_commands[i];
		if (strcmp(cmd->name, args[0]) != 0)
			continue;
		unsigned nargs = count - 1;
		if (nargs < cmd->min_args || nargs > cmd->max_args) {
			buf_printf(reply, "ERR wrong number of arguments for %s",
				   cmd->name);
			return;
		}
		cmd->handler(d, args + 1, nargs, reply);
		return;
	}
	buf_append_str(reply, "ERR unknown command");
}

static void client_free(struct control_client *client)
{
	struct control_server *server = client->server;
	if (client->prev != NULL)
		client->prev->next = client->next;
	else
		server->clients = client->next;
	if (client->next != NULL)
		client->next->prev = client->prev;
	server->client_count--;
	bufferevent_free(client->bev);
	i_free(client);
}

static void client_read(struct bufferevent *bev, void *ctx)
{
	struct control_client *client = ctx;
	struct evbuffer *in = bufferevent_get_input(bev);
	struct buf reply = BUF_INIT;

	for (;;) {
		size_t len;
		char *line = evbuffer_readln(in, &len, EVBUFFER_EOL_CRLF);
		if (line == NULL)
			break;
		buf_reset(&reply);
		if (len > CONTROL_LINE_MAX || strlen(line) != len)
			buf_append_str(&reply, "ERR bad command line");
		else
			control_execute(client->server->d, line, &reply);
		free(line);
		buf_append_byte(&reply, '\n');
		bufferevent_write(bev, reply.data, reply.len);
	}
	buf_free(&reply);
	if (evbuffer_get_length(in) > CONTROL_LINE_MAX) {
		/* A line that never ends: answer and hang up. */
		static const char msg[] = "ERR line too long\n";
		bufferevent_write(bev, msg, sizeof(msg) - 1);
		evbuffer_drain(in, evbuffer_get_length(in));
		bufferevent_disable(bev, EV_READ);
	}
}

static void client_event(struct bufferevent *bev, short what, void *ctx)
{
	/* EOF, error or timeout. */
	client_free(ctx);
}

static void client_write_done(struct bufferevent *bev, void *ctx)
{
	/* Hang up after the reply once reading has been disabled. */
	if ((bufferevent_get_enabled(bev) & EV_READ) == 0)
		client_free(ctx);
}

static void on_accept(struct evconnlistener *listener, evutil_socket_t fd,
		      struct sockaddr *sa, int socklen, void *ctx)
{
	struct control_server *server = ctx;
	if (server->client_count >= CONTROL_MAX_CLIENTS) {
		log_warn(NULL, "control-busy", NULL);
		evutil_closesocket(fd);
		return;
	}
	struct control_client *client = i_new(struct control_client, 1);
	client->server = server;
	client->bev = bufferevent_socket_new(server->d->base, fd,
					     BEV_OPT_CLOSE_ON_FREE);
	if (client->bev == NULL) {
		evutil_closesocket(fd);
		i_free(client);
		return;
	}
	struct timeval tv = { CONTROL_TIMEOUT_SECS, 0 };
	bufferevent_set_timeouts(client->bev, &tv, &tv);
	bufferevent_setcb(client->bev, client_read, client_write_done,
			  client_event, client);
	bufferevent_enable(client->bev, EV_READ | EV_WRITE);
	client->next = server->clients;
	if (server->clients != NULL)
		server->clients->prev = client;
	server->clients = client;
	server->client_count++;
}

int control_server_check_running(struct daemon *d, const char **error_r)
{
	static char error[512];
	/* A socket left by a daemon that did not stop cleanly: if nobody
	 * answers on it, it is stale. */
	char *reply = NULL;
	const char *cerror;
	int ret = control_client_send(d->config->server.data_dir, "ping", 1000,
				      &reply, &cerror);
	if (ret > 0) {
		i_free(reply);
		snprintf(error, sizeof(error),
			 "another posthornd is running on %s",
			 d->config->server.data_dir);
		*error_r = error;
		return -1;
	}
	return 1;
}

int control_server_create(struct daemon *d, const char **error_r)
{
	static char error[512];
	struct sockaddr_un sun;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	int n = snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/%s",
			 d->config->server.data_dir, CONTROL_SOCKET_NAME);
	if (n < 0 || (size_t)n >= sizeof(sun.sun_path)) {
		snprintf(error, sizeof(error),
			 "control socket path too long (max %zu bytes): %s/%s",
			 sizeof(sun.sun_path) - 1, d->config->server.data_dir,
			 CONTROL_SOCKET_NAME);
		*error_r = error;
		return -1;
	}

	(void)unlink(sun.sun_path);

	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 ||
	    chmod(sun.sun_path, 0600) < 0) {
		snprintf(error, sizeof(error), "control socket %s: %s",
			 sun.sun_path, strerror(errno));
		*error_r = error;
		if (fd >= 0)
			close(fd);
		return -1;
	}
	struct control_server *server = i_new(struct control_server, 1);
	server->d = d;
	server->path = i_strdup(sun.sun_path);
	server->listener = evconnlistener_new(d->base, on_accept, server,
					      LEV_OPT_CLOSE_ON_FREE, 16, fd);
	if (server->listener == NULL) {
		snprintf(error, sizeof(error), "control socket %s: listen: %s",
			 sun.sun_path, strerror(errno));
		*error_r = error;
		close(fd);
		(void)unlink(server->path);
		i_free(server->path);
		i_free(server);
		return -1;
	}
	d->control = server;
	log_debug(NULL, "control-listening", "path=%s", server->path);
	return 1;
}

void control_server_destroy(struct daemon *d)
{
	struct control_server *server = d->control;
	if (server == NULL)
		return;
	while (server->clients != NULL)
		client_free(server->clients);
	evconnlistener_free(server->listener);
	(void)unlink(server->path);
	i_free(server->path);
	i_free(server);
	d->control = NULL;
}
