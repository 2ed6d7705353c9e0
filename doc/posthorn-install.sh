#!/bin/sh
# SPDX-License-Identifier: MIT
# meson install script: puts the example configuration in place when there
# is none yet (never overwriting an admin's file), and creates the posthorn
# system user when installing for real (not into a DESTDIR staging tree).
set -eu
etc="${DESTDIR:-}/etc/posthorn"
if [ ! -e "$etc/posthorn.conf" ] && [ -e "$etc/posthorn.conf.example" ]; then
	cp "$etc/posthorn.conf.example" "$etc/posthorn.conf"
	chmod 0644 "$etc/posthorn.conf"
	echo "posthorn: installed $etc/posthorn.conf"
fi
if [ -n "${DESTDIR:-}" ]; then
	echo "posthorn: DESTDIR set: not creating the posthorn user"
	exit 0
fi
if id posthorn >/dev/null 2>&1; then
	exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "posthorn: not root: create the user with" \
	     "adduser --system --group --home /var/lib/posthorn posthorn"
	exit 0
fi
if command -v adduser >/dev/null 2>&1; then
	adduser --system --group --home /var/lib/posthorn posthorn
else
	useradd --system --user-group --home-dir /var/lib/posthorn \
		--shell /usr/sbin/nologin posthorn
fi
echo "posthorn: created the posthorn system user"
