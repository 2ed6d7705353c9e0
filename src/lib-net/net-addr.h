/* SPDX-License-Identifier: MIT */
#ifndef POSTHORN_NET_ADDR_H
#define POSTHORN_NET_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

/* A socket address (IPv4 or IPv6) with its length. */
struct net_addr {
	struct sockaddr_storage ss;
	socklen_t len;
};

/* Large enough for any "[ipv6]:port" text. */
#define NET_ADDR_STR_SIZE 64

/* Parses a listen/connect address, no DNS:
 *   "127.0.0.1:25"  "0.0.0.0:25"  "*:25" (= 0.0.0.0)
 *   "[::1]:143"     "[::]:143"    "[fe80::1%lo]:143" (scope by name/number)
 * The port is required, decimal 0..65535 (0 = any, for tests). Returns 0
 * with *addr_r filled, or -1 with a static English *error_r. */
int net_addr_parse(const char *str, struct net_addr *addr_r,
		   const char **error_r);

/* Builds from a sockaddr (e.g. accept()'s); len up to sizeof(ss). */
void net_addr_from_sockaddr(struct net_addr *addr_r, const struct sockaddr *sa,
			    socklen_t len);

/* The IP alone as text: "127.0.0.1", "::1". IPv4-mapped IPv6 addresses
 * (::ffff:a.b.c.d) are shown as IPv4. Returns dst. */
const char *net_addr_ip_str(const struct net_addr *addr, char *dst,
			    size_t size);
/* "127.0.0.1:25" or "[::1]:25". Returns dst. */
const char *net_addr_str(const struct net_addr *addr, char *dst, size_t size);
unsigned net_addr_port(const struct net_addr *addr);
bool net_addr_is_ipv6(const struct net_addr *addr);
/* True for 127.0.0.0/8, ::1 and ::ffff:127.x.y.z. */
bool net_addr_is_loopback(const struct net_addr *addr);

/* The key connection limits and the greeting memory count a client by:
 * the IPv4 address, or the /64 prefix of an IPv6 one (one end site is
 * normally given at least a /64, so per-address counting would let a
 * single host use 2^64 "clients"). IPv4-mapped addresses count as IPv4.
 * Writes at most NET_ADDR_LIMIT_KEY_SIZE bytes; returns the length. */
#define NET_ADDR_LIMIT_KEY_SIZE 9
size_t net_addr_limit_key(const struct net_addr *addr,
			  unsigned char key[NET_ADDR_LIMIT_KEY_SIZE]);

#endif
