#!/bin/sh
# SPDX-License-Identifier: MIT
# Installs the Debian packages in scripts/deps.txt that are not installed yet.
# Runs apt-get only when something is missing, so repeated `make` is quiet.
set -eu
here=$(dirname "$0")
missing=""
for pkg in $(grep -v '^#' "$here/deps.txt" | grep -v '^$'); do
	if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $pkg"
	fi
done
[ -z "$missing" ] && exit 0
echo "posthorn: installing missing packages:$missing"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
# shellcheck disable=SC2086
$sudo apt-get install -y -qq --no-install-recommends $missing
