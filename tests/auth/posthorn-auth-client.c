/* SPDX-License-Identifier: MIT */
#include "lib.h"
#include "auth-client.h"

#include <getopt.h>

/* posthorn-auth-client: SASL authentication against a running server, for
 * integration tests. Exit status: 0 accepted, 1 refused, 2 error. */

static void usage(void)
{
	fprintf(stderr,
		"usage: posthorn-auth-client --protocol smtp|imap|pop3\n"
		"         --host HOST --port PORT [--starttls]\n"
		"         --user USER --password PASSWORD [--authzid ID]\n"
		"         [--mech MECH] (default SCRAM-SHA-256-PLUS)\n"
		"         [--corrupt-cb] [--cafile FILE] [--timeout SECS] [-v]\n"
		"exit status: 0 accepted, 1 refused, 2 error\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "protocol", required_argument, NULL, 'P' },
		{ "host", required_argument, NULL, 'H' },
		{ "port", required_argument, NULL, 'p' },
		{ "starttls", no_argument, NULL, 's' },
		{ "user", required_argument, NULL, 'u' },
		{ "password", required_argument, NULL, 'w' },
		{ "authzid", required_argument, NULL, 'z' },
		{ "mech", required_argument, NULL, 'm' },
		{ "corrupt-cb", no_argument, NULL, 'c' },
		{ "cafile", required_argument, NULL, 'C' },
		{ "timeout", required_argument, NULL, 't' },
		{ "verbose", no_argument, NULL, 'v' },
		{ NULL, 0, NULL, 0 },
	};
	struct auth_client_options opt = { .host = "127.0.0.1" };
	const char *protocol = NULL;
	int ch;

	while ((ch = getopt_long(argc, argv, "v", longopts, NULL)) != -1) {
		switch (ch) {
		case 'P': protocol = optarg; break;
		case 'H': opt.host = optarg; break;
		case 'p': opt.port = optarg; break;
		case 's': opt.starttls = true; break;
		case 'u': opt.user = optarg; break;
		case 'w': opt.password = optarg; break;
		case 'z': opt.authzid = optarg; break;
		case 'm': opt.mech = optarg; break;
		case 'c': opt.corrupt_cb = true; break;
		case 'C': opt.cafile = optarg; break;
		case 't': opt.timeout_secs = (unsigned int)atoi(optarg); break;
		case 'v': opt.verbose = true; break;
		default: usage();
		}
	}
	if (protocol == NULL || opt.port == NULL || opt.user == NULL ||
	    opt.password == NULL)
		usage();
	if (strcmp(protocol, "smtp") == 0)
		opt.protocol = AUTH_CLIENT_SMTP;
	else if (strcmp(protocol, "imap") == 0)
		opt.protocol = AUTH_CLIENT_IMAP;
	else if (strcmp(protocol, "pop3") == 0)
		opt.protocol = AUTH_CLIENT_POP3;
	else
		usage();

	char *reply = NULL;
	const char *error = NULL;
	int ret = auth_client_run(&opt, &reply, &error);
	if (ret < 0) {
		fprintf(stderr, "posthorn-auth-client: %s\n", error);
		free(reply);
		return 2;
	}
	printf("%s %s\n", ret > 0 ? "ACCEPTED" : "REFUSED",
	       reply != NULL ? reply : "");
	free(reply);
	return ret > 0 ? 0 : 1;
}
