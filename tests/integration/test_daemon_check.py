# SPDX-License-Identifier: MIT
"""posthornd --check: exit 0 on a valid file, 1 with one exact
FILE:LINE: key: message line per problem."""
import subprocess

from conftest import POSTHORND

GOOD = """\
; A complete configuration, as in doc/posthorn.conf.example
[server]
hostname = mx.example.com
data_dir = /var/lib/posthorn
user = posthorn
log_level = info
io_threads = 0
[listen]             ; ADDR:PORT, comma-separated for several; absent = off
smtp = 0.0.0.0:25, [::]:25
submission = 0.0.0.0:587
submissions = 0.0.0.0:465
imap = 0.0.0.0:143
imaps = 0.0.0.0:993
pop3 = 0.0.0.0:110
pop3s = 0.0.0.0:995
[tls]
cert = /etc/posthorn/cert.pem
key = /etc/posthorn/key.pem
[dns]
static = /etc/posthorn/static.zone  ; optional
[outbound]
mx_port = 25
source = 192.0.2.10
[limits]
max_connections = 1000
max_connections_per_ip = 20
smtp_idle_timeout = 5m
[smtp]
max_message_size = 50M
max_recipients = 100
"""

BAD = """\
[server]
hostname = mx.example.com
data_dir =
log_level = chatty
io_threads = -1
[listen]
smtp = 0.0.0.0
submission = 0.0.0.0:587
imap = 0.0.0.0:587
pop3 = [::1:110
[tsl]
cert = /x
[tls]
key = /etc/posthorn/key.pem
[outbound]
mx_port = 70000
sauce = 1
[smtp]
max_message_size = 10 parsecs
max_message_size = 1M
this line is wrong
"""


def run_check(path):
    return subprocess.run([POSTHORND, "-c", path, "--check"],
                          capture_output=True, text=True, timeout=30)


def test_check_good(tmp_path):
    path = tmp_path / "good.conf"
    path.write_text(GOOD)
    res = run_check(str(path))
    assert res.returncode == 0, res.stderr
    assert res.stderr == ""
    assert res.stdout == "%s: configuration is valid\n" % path


def test_check_bad(tmp_path):
    path = tmp_path / "bad.conf"
    path.write_text(BAD)
    res = run_check(str(path))
    assert res.returncode == 1
    p = str(path)
    expected = [
        p + ':3: server.data_dir: must not be empty',
        p + ':4: server.log_level: expected debug, info, warn or error, got "chatty"',
        p + ':5: server.io_threads: expected a number from 0 to 256, got "-1"',
        p + ':7: listen.smtp: bad address "0.0.0.0": missing port',
        p + ':10: listen.pop3: bad address "[::1:110": missing \']\'',
        p + ':11: [tsl]: unknown section',
        p + ':16: outbound.mx_port: expected a number from 1 to 65535, got "70000"',
        p + ':17: outbound.sauce: unknown key',
        p + ':19: smtp.max_message_size: expected a size from 1K to 2G (suffix K, M or G), got "10 parsecs"',
        p + ':20: smtp.max_message_size: set twice (first on line 19)',
        p + ':21: line: expected key = value',
    ]
    assert res.stderr.splitlines() == expected
    assert res.stdout == ""


def test_check_cross_key_errors(tmp_path):
    """Checks across keys run once each key is valid on its own."""
    path = tmp_path / "x.conf"
    path.write_text("[listen]\nsubmission = 0.0.0.0:587\nimap = 0.0.0.0:587\n"
                    "[tls]\nkey = /k.pem\n")
    res = run_check(str(path))
    assert res.returncode == 1
    p = str(path)
    assert res.stderr.splitlines() == [
        p + ":5: tls.key: set without tls.cert",
        p + ":3: listen.imap: address 0.0.0.0:587 already used by listen.submission",
    ]


def test_check_embedded():
    res = subprocess.run([POSTHORND, "--check"], capture_output=True,
                         text=True)
    assert res.returncode == 0
    assert res.stdout == "<embedded>: configuration is valid\n"


def test_example_config_is_valid():
    from conftest import REPO
    path = REPO + "/doc/posthorn.conf.example"
    res = run_check(path)
    assert res.returncode == 0, res.stderr


def test_print_config_and_docs():
    """--print-config lists every key; README.md and posthorn.conf(5)
    document each of them. Keys of sections added by later work only warn
    until their documentation lands, so a merge never breaks the build."""
    import warnings
    from conftest import REPO
    res = subprocess.run([POSTHORND, "--print-config"], capture_output=True,
                         text=True)
    assert res.returncode == 0
    keys, section = [], None
    for line in res.stdout.splitlines():
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
        elif " =" in line:
            keys.append((section, line.split(" =")[0]))
    assert ("server", "data_dir") in keys and ("smtp", "expn") in keys
    assert "data_dir = ./posthorn-data" in res.stdout
    readme = open(REPO + "/README.md").read()
    man = open(REPO + "/doc/posthorn.conf.5").read()
    strict = ("server", "listen", "tls", "dns", "outbound", "limits")
    missing = []
    for section, key in keys:
        if "`[%s] %s`" % (section, key) not in readme or \
                ("\n.SH [%s]" % section) not in man or key not in man:
            missing.append("[%s] %s" % (section, key))
    hard = [m for m in missing if m[1:].split("]")[0] in strict]
    assert not hard, "undocumented keys: %s" % hard
    if missing:
        warnings.warn("keys not documented yet in README.md and "
                      "posthorn.conf(5): %s" % ", ".join(missing))
