/* SPDX-License-Identifier: MIT */
#include "lib.h"
#include "net-addr.h"
#include "strutil.h"

#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>

static int net_addr_parse_port(const char *s, in_port_t *port_r,
			       const char **error_r)
{
	uint64_t port;

	if (*s == '\0') {
		*error_r = "missing port";
		return -1;
	}
	if (str_to_uint64(s, 65535, &port) < 0) {
		*error_r = "invalid port";
		return -1;
	}
	*port_r = htons((uint16_t)port);
	return 0;
}

static int net_addr_parse_v6(const char *str, struct net_addr *addr_r,
			     const char **error_r)
{
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&addr_r->ss;
	const char *end = strchr(str, ']');
	char host[INET6_ADDRSTRLEN + IF_NAMESIZE + 2];

	if (end == NULL) {
		*error_r = "missing ']' after IPv6 address";
		return -1;
	}
	size_t len = (size_t)(end - (str + 1));
	if (len == 0 || len >= sizeof(host)) {
		*error_r = "invalid IPv6 address";
		return -1;
	}
	memcpy(host, str + 1, len);
	host[len] = '\0';
	if (end[1] != ':') {
		*error_r = end[1] == '\0' ? "missing port" :
					    "expected ':' after ']'";
		return -1;
	}

	char *pct = strchr(host, '%');
	if (pct != NULL) {
		*pct++ = '\0';
		uint64_t idx;
		if (*pct == '\0') {
			*error_r = "empty IPv6 scope";
			return -1;
		}
		if (str_to_uint64(pct, UINT32_MAX, &idx) == 0) {
			sin6->sin6_scope_id = (uint32_t)idx;
		} else {
			unsigned int i = if_nametoindex(pct);
			if (i == 0) {
				*error_r = "unknown IPv6 scope interface";
				return -1;
			}
			sin6->sin6_scope_id = i;
		}
	}
	if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1) {
		*error_r = "invalid IPv6 address";
		return -1;
	}
	if (net_addr_parse_port(end + 2, &sin6->sin6_port, error_r) < 0)
		return -1;
	sin6->sin6_family = AF_INET6;
	addr_r->len = sizeof(*sin6);
	return 0;
}

int net_addr_parse(const char *str, struct net_addr *addr_r,
		   const char **error_r)
{
	memset(addr_r, 0, sizeof(*addr_r));
	if (str == NULL || *str == '\0') {
		*error_r = "empty address";
		return -1;
	}
	if (str[0] == '[')
		return net_addr_parse_v6(str, addr_r, error_r);

	struct sockaddr_in *sin = (struct sockaddr_in *)&addr_r->ss;
	const char *colon = strrchr(str, ':');
	char host[INET_ADDRSTRLEN];

	if (colon == NULL) {
		*error_r = "missing port";
		return -1;
	}
	if (memchr(str, ':', (size_t)(colon - str)) != NULL) {
		*error_r = "IPv6 address must be in brackets: [addr]:port";
		return -1;
	}
	size_t len = (size_t)(colon - str);
	if (len == 0 || len >= sizeof(host)) {
		*error_r = "invalid IPv4 address";
		return -1;
	}
	memcpy(host, str, len);
	host[len] = '\0';
	if (strcmp(host, "*") == 0) {
		sin->sin_addr.s_addr = htonl(INADDR_ANY);
	} else if (inet_pton(AF_INET, host, &sin->sin_addr) != 1) {
		*error_r = "invalid IPv4 address";
		return -1;
	}
	if (net_addr_parse_port(colon + 1, &sin->sin_port, error_r) < 0)
		return -1;
	sin->sin_family = AF_INET;
	addr_r->len = sizeof(*sin);
	return 0;
}

void net_addr_from_sockaddr(struct net_addr *addr_r, const struct sockaddr *sa,
			    socklen_t len)
{
	memset(addr_r, 0, sizeof(*addr_r));
	i_assert(len <= sizeof(addr_r->ss));
	memcpy(&addr_r->ss, sa, len);
	addr_r->len = len;
}

static bool net_addr_v4mapped(const struct net_addr *addr,
			      struct in_addr *in_r)
{
	const struct sockaddr_in6 *sin6 = (const void *)&addr->ss;

	if (addr->ss.ss_family != AF_INET6 ||
	    !IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr))
		return false;
	memcpy(in_r, &sin6->sin6_addr.s6_addr[12], 4);
	return true;
}

const char *net_addr_ip_str(const struct net_addr *addr, char *dst,
			    size_t size)
{
	struct in_addr in;

	i_assert(size > 0);
	dst[0] = '\0';
	if (addr->ss.ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)&addr->ss;
		if (inet_ntop(AF_INET, &sin->sin_addr, dst, size) == NULL)
			dst[0] = '\0';
	} else if (net_addr_v4mapped(addr, &in)) {
		if (inet_ntop(AF_INET, &in, dst, size) == NULL)
			dst[0] = '\0';
	} else if (addr->ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const void *)&addr->ss;
		if (inet_ntop(AF_INET6, &sin6->sin6_addr, dst, size) == NULL)
			dst[0] = '\0';
	}
	return dst;
}

const char *net_addr_str(const struct net_addr *addr, char *dst, size_t size)
{
	char ip[INET6_ADDRSTRLEN];
	struct in_addr in;

	net_addr_ip_str(addr, ip, sizeof(ip));
	if (addr->ss.ss_family == AF_INET6 && !net_addr_v4mapped(addr, &in))
		snprintf(dst, size, "[%s]:%u", ip, net_addr_port(addr));
	else
		snprintf(dst, size, "%s:%u", ip, net_addr_port(addr));
	return dst;
}

unsigned net_addr_port(const struct net_addr *addr)
{
	if (addr->ss.ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)&addr->ss)->sin_port);
	if (addr->ss.ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)&addr->ss)->sin6_port);
	return 0;
}

bool net_addr_is_ipv6(const struct net_addr *addr)
{
	return addr->ss.ss_family == AF_INET6;
}

bool net_addr_is_loopback(const struct net_addr *addr)
{
	struct in_addr in;

	if (addr->ss.ss_family == AF_INET) {
		in = ((const struct sockaddr_in *)&addr->ss)->sin_addr;
	} else if (!net_addr_v4mapped(addr, &in)) {
		if (addr->ss.ss_family != AF_INET6)
			return false;
		const struct sockaddr_in6 *sin6 = (const void *)&addr->ss;
		return IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr);
	}
	return (ntohl(in.s_addr) >> 24) == 127;
}

size_t net_addr_limit_key(const struct net_addr *addr,
			  unsigned char key[NET_ADDR_LIMIT_KEY_SIZE])
{
	struct in_addr in;

	if (addr->ss.ss_family == AF_INET) {
		in = ((const struct sockaddr_in *)&addr->ss)->sin_addr;
	} else if (!net_addr_v4mapped(addr, &in)) {
		const struct sockaddr_in6 *sin6 = (const void *)&addr->ss;
		key[0] = 6;
		memcpy(key + 1, sin6->sin6_addr.s6_addr, 8);
		return 9;
	}
	key[0] = 4;
	memcpy(key + 1, &in, 4);
	return 5;
}
