/* SPDX-License-Identifier: MIT */
#include "lib.h"
#include "control-client.h"
#include "buf.h"
#include "timeutil.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static __thread char control_error[256];

static int fail(const char **error_r, const char *what)
{
	snprintf(control_error, sizeof(control_error), "%s: %s", what,
		 strerror(errno));
	*error_r = control_error;
	return -1;
}

static int wait_fd(int fd, short events, int64_t deadline)
{
	for (;;) {
		int64_t left = deadline - time_mono_ms();
		if (left <= 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		struct pollfd pfd = { .fd = fd, .events = events };
		int n = poll(&pfd, 1, (int)left);
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return -1;
	}
}

int control_client_send(const char *data_dir, const char *command,
			unsigned timeout_ms, char **reply_r,
			const char **error_r)
{
	struct sockaddr_un sun;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	int n = snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/%s", data_dir,
			 CONTROL_SOCKET_NAME);
	if (n < 0 || (size_t)n >= sizeof(sun.sun_path)) {
		snprintf(control_error, sizeof(control_error),
			 "control socket path too long: %s/%s", data_dir,
			 CONTROL_SOCKET_NAME);
		*error_r = control_error;
		return -1;
	}
	int64_t deadline = time_mono_ms() + timeout_ms;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return fail(error_r, "socket");
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		if (errno == ENOENT || errno == ECONNREFUSED) {
			close(fd);
			return 0;
		}
		if (errno != EINPROGRESS && errno != EAGAIN) {
			int ret = fail(error_r, "connect");
			close(fd);
			return ret;
		}
	}

	struct buf out = BUF_INIT, in = BUF_INIT;
	buf_append_str(&out, command);
	buf_append_byte(&out, '\n');
	size_t sent = 0;
	int ret = -1;
	while (sent < out.len) {
		if (wait_fd(fd, POLLOUT, deadline) < 0) {
			fail(error_r, "control socket");
			goto out;
		}
		ssize_t w = send(fd, out.data + sent, out.len - sent, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			fail(error_r, "control socket write");
			goto out;
		}
		sent += (size_t)w;
	}
	for (;;) {
		uint8_t chunk[512];
		if (memchr(in.data == NULL ? (const uint8_t *)"" : in.data, '\n',
			   in.len) != NULL)
			break;
		if (in.len > CONTROL_LINE_MAX) {
			snprintf(control_error, sizeof(control_error),
				 "control socket: reply too long");
			*error_r = control_error;
			goto out;
		}
		if (wait_fd(fd, POLLIN, deadline) < 0) {
			fail(error_r, "control socket");
			goto out;
		}
		ssize_t r = recv(fd, chunk, sizeof(chunk), 0);
		if (r < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			fail(error_r, "control socket read");
			goto out;
		}
		if (r == 0) {
			snprintf(control_error, sizeof(control_error),
				 "control socket: closed without a reply");
			*error_r = control_error;
			goto out;
		}
		buf_append(&in, chunk, (size_t)r);
	}
	size_t len = (size_t)((uint8_t *)memchr(in.data, '\n', in.len) - in.data);
	if (len > 0 && in.data[len - 1] == '\r')
		len--;
	*reply_r = i_strndup((const char *)in.data, len);
	ret = 1;
out:
	buf_free(&out);
	buf_free(&in);
	close(fd);
	return ret;
}
