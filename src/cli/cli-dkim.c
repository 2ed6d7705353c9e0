/* SPDX-License-Identifier: MIT */
#include "lib.h"
#include "cli.h"
#include "config.h"
#include "dkim.h"
#include "strutil.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

/* posthorn dkim keygen DOMAIN [--selector S] [--algorithm ed25519|rsa]
 *                             [--bits N] */

static int option_value(char **args, unsigned count, unsigned *i,
			const char *name, const char **value_r)
{
	size_t nl = strlen(name);
	if (strncmp(args[*i], name, nl) != 0)
		return 0;
	if (args[*i][nl] == '=') {
		*value_r = args[*i] + nl + 1;
		return 1;
	}
	if (args[*i][nl] != '\0')
		return 0;
	if (*i + 1 >= count)
		return -1;
	*value_r = args[++*i];
	return 1;
}

static bool selector_valid(const char *s)
{
	if (*s == '\0' || strlen(s) > 63 || *s == '-' || *s == '.')
		return false;
	for (; *s != '\0'; s++) {
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '-' || *s == '_' ||
		      *s == '.'))
			return false;
	}
	return true;
}

/* As root, what we create belongs to the data directory's owner, so the
 * daemon (running as that user) can read the key. */
static void give_to_owner(const char *data_dir, const char *path)
{
	struct stat st;
	if (geteuid() == 0 && stat(data_dir, &st) == 0 && st.st_uid != 0 &&
	    chown(path, st.st_uid, st.st_gid) < 0)
		cli_warning("cannot chown %s: %s", path, strerror(errno));
}

static int make_dir(const char *data_dir, const char *path)
{
	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		return cli_error("cannot create %s: %s", path, strerror(errno));
	give_to_owner(data_dir, path);
	return 0;
}

static int dkim_keygen_cmd(struct cli *cli, char **args, unsigned count)
{
	const char *domain_arg = NULL, *selector = "posthorn";
	const char *algorithm = "rsa", *bits_str = NULL;
	for (unsigned i = 0; i < count; i++) {
		const char *v;
		int r;
		if ((r = option_value(args, count, &i, "--selector", &v)) != 0)
			selector = v;
		else if ((r = option_value(args, count, &i, "--algorithm", &v)) != 0)
			algorithm = v;
		else if ((r = option_value(args, count, &i, "--bits", &v)) != 0)
			bits_str = v;
		else if (args[i][0] == '-')
			return cli_error("unknown option for dkim keygen: %s", args[i]);
		else if (domain_arg == NULL)
			domain_arg = args[i];
		else
			return cli_error("usage: posthorn dkim keygen DOMAIN [--selector S] [--algorithm ed25519|rsa] [--bits N]");
		if (r < 0)
			return cli_error("%s needs a value", args[i]);
	}
	if (domain_arg == NULL)
		return cli_error("usage: posthorn dkim keygen DOMAIN [--selector S] [--algorithm ed25519|rsa] [--bits N]");
	char *domain = i_strdup(domain_arg);
	if (!cli_domain_valid(domain)) {
		free(domain);
		return cli_error("malformed domain: %s", domain_arg);
	}
	if (!selector_valid(selector)) {
		free(domain);
		return cli_error("malformed selector: %s", selector);
	}
	enum dkim_algorithm alg;
	uint64_t bits = 2048;
	if (strcmp(algorithm, "rsa") == 0)
		alg = DKIM_ALG_RSA_SHA256;
	else if (strcmp(algorithm, "ed25519") == 0)
		alg = DKIM_ALG_ED25519_SHA256;
	else {
		free(domain);
		return cli_error("--algorithm must be ed25519 or rsa");
	}
	if (bits_str != NULL) {
		if (alg != DKIM_ALG_RSA_SHA256 ||
		    str_to_uint64(bits_str, 8192, &bits) < 0 || bits < 1024) {
			free(domain);
			return cli_error("--bits is for RSA only, 1024 to 8192");
		}
	}

	const char *data_dir = cli->config->server.data_dir;
	char *dkim_dir = i_strdup_printf("%s/dkim", data_dir);
	char *domain_dir = i_strdup_printf("%s/%s", dkim_dir, domain);
	char *path = dkim_key_path(data_dir, domain, selector);
	char *pem = NULL, *record = NULL;
	const char *error;
	int ret = 1;
	struct stat st;

	if (stat(data_dir, &st) < 0) {
		cli_error("no data directory %s: run posthorn where posthornd runs, or give -c FILE",
			  data_dir);
		goto out;
	}
	if (make_dir(data_dir, dkim_dir) != 0 || make_dir(data_dir, domain_dir) != 0)
		goto out;
	if (dkim_keygen(alg, (unsigned)bits, &pem, &record, &error) < 0) {
		cli_error("cannot create the key: %s", error);
		goto out;
	}
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		if (errno == EEXIST)
			cli_error("%s exists already: choose another --selector", path);
		else
			cli_error("cannot create %s: %s", path, strerror(errno));
		goto out;
	}
	size_t len = strlen(pem);
	if (write(fd, pem, len) != (ssize_t)len || fsync(fd) < 0 || close(fd) < 0) {
		cli_error("cannot write %s: %s", path, strerror(errno));
		unlink(path);
		goto out;
	}
	give_to_owner(data_dir, path);
	char *line = dkim_key_zone_line(domain, selector, record);
	printf("# %s key for %s written to %s\n# Publish this TXT record:\n%s\n",
	       alg == DKIM_ALG_RSA_SHA256 ? "RSA" : "Ed25519", domain, path, line);
	free(line);
	ret = 0;
out:
	if (pem != NULL) {
		memset(pem, 0, strlen(pem));
		free(pem);
	}
	free(record);
	free(path);
	free(domain_dir);
	free(dkim_dir);
	free(domain);
	return ret;
}

static const struct cli_command dkim_commands[] = {
	{ "keygen", "DOMAIN [--selector S] [--algorithm ed25519|rsa] [--bits N]",
	  1, 7, CLI_FLAG_OPTIONS, dkim_keygen_cmd },
	{ NULL, NULL, 0, 0, 0, NULL },
};

const struct cli_family cli_family_dkim = {
	.name = "dkim",
	.summary = "DKIM signing keys",
	.commands = dkim_commands,
};
