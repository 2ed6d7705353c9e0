/* SPDX-License-Identifier: MIT */
#include "lib.h"
#include "daemon.h"
#include "buf.h"
#include "log.h"
#include "workpool.h"

#include <sys/resource.h>
#include <event2/event.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

static void usage(FILE *out)
{
	fputs("Usage: posthornd [-c FILE] [--check]\n"
	      "\n"
	      "Runs the Posthorn mail server in the foreground, logging to\n"
	      "standard error. Without -c it runs the embedded default:\n"
	      "loopback only, high ports, data in ./posthorn-data.\n"
	      "\n"
	      "  -c, --config FILE  configuration file (INI)\n"
	      "      --check        validate the configuration and exit:\n"
	      "                     0 when valid, 1 printing FILE:LINE: key: message\n"
	      "                     for each problem\n"
	      "      --print-config print the effective configuration, every key\n"
	      "                     with its value (defaults included), and exit\n"
	      "  -V, --version      print the version and exit\n"
	      "  -h, --help         this text\n"
	      "\n"
	      "Signals: SIGTERM/SIGINT stop cleanly, SIGHUP reloads the\n"
	      "configuration and certificates.\n",
	      out);
}

static int load_config(const char *path, struct config **config_r)
{
	struct buf errors = BUF_INIT;
	int ret = config_load(path, config_r, &errors);
	if (ret < 0)
		fputs(buf_cstr(&errors), stderr);
	buf_free(&errors);
	return ret;
}

/* Creates the data directory (0700) and, when the daemon will run as
 * another user, hands it to that user. */
static int data_dir_prepare(struct daemon *d, const char **error_r)
{
	const char *dir = d->config->server.data_dir;
	static char error[512];
	struct stat st;

	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		snprintf(error, sizeof(error), "cannot create %s: %s", dir,
			 strerror(errno));
		*error_r = error;
		return -1;
	}
	if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		snprintf(error, sizeof(error), "%s is not a directory", dir);
		*error_r = error;
		return -1;
	}
	if (d->drop_privileges &&
	    (st.st_uid != d->priv.uid || st.st_gid != d->priv.gid)) {
		if (chown(dir, d->priv.uid, d->priv.gid) < 0) {
			snprintf(error, sizeof(error), "cannot chown %s: %s",
				 dir, strerror(errno));
			*error_r = error;
			return -1;
		}
	}
	if ((st.st_mode & 0077) != 0 && chmod(dir, 0700) < 0) {
		snprintf(error, sizeof(error), "cannot chmod %s: %s", dir,
			 strerror(errno));
		*error_r = error;
		return -1;
	}
	return 1;
}

static int privileges_setup(struct daemon *d, const char **error_r)
{
	const char *user = d->config->server.user;
	if (geteuid() != 0) {
		if (user[0] != '\0') {
			struct privileges me;
			if (privileges_lookup_uid(geteuid(), &me, error_r) < 0)
				return -1;
			if (strcmp(me.name, user) != 0)
				log_warn(NULL, "privileges",
					 "msg=\"not started as root: server.user ignored\" user=%s",
					 me.name);
		}
		return 1;
	}
	if (user[0] == '\0') {
		log_warn(NULL, "privileges",
			 "msg=\"running as root: set [server] user to drop privileges\"");
		return 1;
	}
	int ret = privileges_lookup_name(user, &d->priv, error_r);
	if (ret < 0)
		return -1;
	if (ret == 0) {
		static char error[128];
		snprintf(error, sizeof(error), "server.user: no such user: %s",
			 user);
		*error_r = error;
		return -1;
	}
	if (d->priv.uid == 0) {
		log_warn(NULL, "privileges",
			 "msg=\"server.user is root: not dropping privileges\"");
		return 1;
	}
	d->drop_privileges = true;
	return 1;
}

static void pid_file_write(struct daemon *d)
{
	const char *path = d->config->server.pid_file;
	if (path[0] == '\0')
		return;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		log_warn(NULL, "pid-file", "path=%s error=\"%s\"", path,
			 strerror(errno));
		return;
	}
	char line[32];
	int n = snprintf(line, sizeof(line), "%ld\n", (long)getpid());
	if (write(fd, line, (size_t)n) != n)
		log_warn(NULL, "pid-file", "path=%s error=\"short write\"", path);
	close(fd);
	d->pid_file_written = true;
}

void daemon_reload(struct daemon *d)
{
	struct config *config = NULL;
	struct buf errors = BUF_INIT;

	log_info(NULL, "reload", "config=%s", d->config->file);
	if (config_load(d->config_path, &config, &errors) < 0) {
		/* One log line per problem, and the old configuration stays. */
		char *p = (char *)errors.data;
		while (p != NULL && *p != '\0') {
			char *nl = strchr(p, '\n');
			if (nl != NULL)
				*nl = '\0';
			char q[300];
			log_error(NULL, "reload-failed", "error=%s",
				  log_quote(q, sizeof(q), p));
			p = nl != NULL ? nl + 1 : NULL;
		}
		buf_free(&errors);
		return;
	}
	struct buf keys = BUF_INIT;
	if (config_restart_changes(d->config, config, &keys) > 0) {
		char q[300];
		log_warn(NULL, "reload-restart-needed", "keys=%s",
			 log_quote(q, sizeof(q), buf_cstr(&keys)));
	}
	buf_free(&keys);
	config->embedded = d->config->embedded;
	log_set_level(config->server.log_level);
	daemon_listeners_reload(d, config);
	config_unref(&d->config);
	d->config = config;
	log_info(NULL, "reloaded", NULL);
}

static void on_signal(evutil_socket_t sig, short what, void *ctx)
{
	struct daemon *d = ctx;
	if (sig == SIGHUP) {
		daemon_reload(d);
		return;
	}
	log_info(NULL, "stopping", "signal=%s", sig == SIGINT ? "INT" : "TERM");
	d->stopping = true;
	event_base_loopbreak(d->base);
}

static void banner_print(struct daemon *d)
{
	struct buf b = BUF_INIT;
	buf_printf(&b, "Posthorn %s is running with the embedded default "
		   "configuration (loopback only).\n\n", POSTHORN_VERSION);
	daemon_listeners_banner(d, &b);
	buf_printf(&b, "\nData directory: %s\n", d->config->server.data_dir);
	if (d->store != NULL) {
		buf_printf(&b, "Demo account:   demo@localhost\n");
		if (d->demo_password != NULL)
			buf_printf(&b, "Password:       %s\n"
				   "                (shown on this first start only; change it with\n"
				   "                 posthorn user passwd demo@localhost)\n",
				   d->demo_password);
		else
			buf_printf(&b, "Password:       as shown on the first start "
				   "(posthorn user passwd demo@localhost sets a new one)\n");
	}
	buf_printf(&b, "Admin command:  posthorn user|domain|alias ... "
		   "(run it from this directory)\nStop with Ctrl-C.\n");
	fputs(buf_cstr(&b), stdout);
	fflush(stdout);
	buf_free(&b);
}

/* Each connection is a descriptor: take the hard limit as the soft one
 * (root could go further, but the hard limit is the admin's word). */
static void raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rlim_t old = rl.rlim_cur;
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) == 0)
			log_info(NULL, "fd-limit", "old=%llu new=%llu",
				 (unsigned long long)old,
				 (unsigned long long)rl.rlim_cur);
	}
}

static int run(struct daemon *d)
{
	const char *error;
	int ret = 1;

	umask(077);
	raise_fd_limit();
	signal(SIGPIPE, SIG_IGN);
	log_set_level(d->config->server.log_level);
	log_info(NULL, "start", "version=%s config=%s pid=%ld",
		 POSTHORN_VERSION, d->config->file, (long)getpid());

	d->base = event_base_new();
	if (d->base == NULL)
		i_fatal("event_base_new() failed");
	struct event *sig_ev[3];
	static const int sigs[3] = { SIGTERM, SIGINT, SIGHUP };
	for (unsigned i = 0; i < 3; i++) {
		sig_ev[i] = evsignal_new(d->base, sigs[i], on_signal, d);
		event_add(sig_ev[i], NULL);
	}

	if (privileges_setup(d, &error) < 0 ||
	    data_dir_prepare(d, &error) < 0 ||
	    control_server_check_running(d, &error) < 0) {
		log_error(NULL, "start-failed", "error=\"%s\"", error);
		goto out;
	}
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	d->workpool = workpool_create("work", cpus > 0 ? (unsigned)cpus : 2);

	/* The store and anything else written into the data directory are
	 * created as the daemon's user, so it can use them after the drop. */
	if (d->drop_privileges && privileges_assume(&d->priv, &error) < 0) {
		log_error(NULL, "start-failed", "error=\"%s\"", error);
		goto out;
	}
	int aret = daemon_accounts_open(d, &error);
	if (d->drop_privileges && privileges_restore(&error) < 0)
		i_fatal("%s", error);
	if (aret < 0) {
		log_error(NULL, "start-failed", "error=\"%s\"", error);
		goto out;
	}
	if (daemon_listeners_open(d, &error) < 0) {
		log_error(NULL, "start-failed", "error=\"%s\"", error);
		goto out;
	}
	pid_file_write(d);
	if (d->drop_privileges) {
		if (privileges_drop(&d->priv, &error) < 0)
			i_fatal("dropping privileges to %s: %s", d->priv.name, error);
		log_info(NULL, "privileges-dropped", "user=%s uid=%u gid=%u",
			 d->priv.name, (unsigned)d->priv.uid,
			 (unsigned)d->priv.gid);
	}
	if (control_server_create(d, &error) < 0) {
		log_error(NULL, "start-failed", "error=\"%s\"", error);
		goto out;
	}
	if (daemon_listeners_start(d, &error) < 0) {
		log_error(NULL, "start-failed", "error=\"%s\"", error);
		goto out;
	}

	struct buf desc = BUF_INIT;
	daemon_listeners_describe(d, &desc);
	log_info(NULL, "ready", "pid=%ld data_dir=%s listeners=\"%s\"",
		 (long)getpid(), d->config->server.data_dir, buf_cstr(&desc));
	buf_free(&desc);
	if (d->config->embedded)
		banner_print(d);

	event_base_dispatch(d->base);
	ret = 0;

out:
	/* Shutdown order: no new connections or commands; the loops finish
	 * in-flight work and stop; the workpool finishes its jobs and the
	 * store drains its writer, both posting their last completions to
	 * the stopped loops, which run them as they are freed (auth sessions
	 * destroyed while pending are freed there); then the authentication
	 * layer. */
	control_server_destroy(d);
	daemon_listeners_stop(d);
	workpool_destroy(&d->workpool);
	daemon_accounts_close_store(d);
	daemon_listeners_free(d);
	daemon_accounts_close_auth(d);
	if (d->pid_file_written)
		(void)unlink(d->config->server.pid_file);
	for (unsigned i = 0; i < 3; i++)
		event_free(sig_ev[i]);
	event_base_free(d->base);
	d->base = NULL;
	if (ret == 0)
		log_info(NULL, "stopped", NULL);
	return ret;
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check", no_argument, NULL, 'C' },
		{ "print-config", no_argument, NULL, 'P' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config_path = NULL;
	bool check = false, print = false;
	int c;

	while ((c = getopt_long(argc, argv, "c:Vh", options, NULL)) != -1) {
		switch (c) {
		case 'c':
			config_path = optarg;
			break;
		case 'C':
			check = true;
			break;
		case 'P':
			print = true;
			break;
		case 'V':
			printf("posthornd %s\n", POSTHORN_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "posthornd: unexpected argument: %s\n", argv[optind]);
		usage(stderr);
		return 1;
	}

	struct daemon d;
	memset(&d, 0, sizeof(d));
	d.config_path = config_path;
	if (load_config(config_path, &d.config) < 0)
		return 1;
	if (print) {
		struct buf out = BUF_INIT;
		buf_printf(&out, "; posthornd %s: effective configuration of %s\n",
			   POSTHORN_VERSION, d.config->file);
		config_format(d.config, &out);
		fputs(buf_cstr(&out), stdout);
		buf_free(&out);
		config_unref(&d.config);
		return 0;
	}
	if (check) {
		printf("%s: configuration is valid\n", d.config->file);
		config_unref(&d.config);
		return 0;
	}
	int ret = run(&d);
	config_unref(&d.config);
	i_free(d.demo_password);
	return ret;
}
