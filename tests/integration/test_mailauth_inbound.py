# SPDX-License-Identifier: MIT
"""SPF, DKIM and DMARC on mail arriving at the MX listener ([auth]): one
posthornd whose DNS comes from a static zone, a client on 127.0.0.1, and
messages signed with dkimpy (Debian's python3-dkim). Each test reads the
stored message back and checks Received-SPF and Authentication-Results, or
the refusal."""
import base64
import os
import re
import subprocess

import pytest

try:
    from conftest import require_store
    from test_smtp_basic import DUMP, Raw, greet, stored
except ImportError:  # the daemon's harness is not merged yet
    pytest.skip("needs the integration harness (conftest.py)",
                allow_module_level=True)

dkim = pytest.importorskip("dkim")

# pass.test: SPF allows 127.0.0.1, DKIM key sel._domainkey, p=reject.
# reject.test / quar.test / none.test: SPF allows only 192.0.2.1, DMARC
# p=reject / p=quarantine / p=none. nodmarc.test: SPF -all, no DMARC.
ZONE = """\
pass.test.              TXT "v=spf1 ip4:127.0.0.1 -all"
sel._domainkey.pass.test. TXT {key}
ed._domainkey.pass.test. TXT "v=DKIM1; k=ed25519; p={edkey}"
_dmarc.pass.test.       TXT "v=DMARC1; p=reject"
reject.test.            TXT "v=spf1 ip4:192.0.2.1 -all"
_dmarc.reject.test.     TXT "v=DMARC1; p=reject"
quar.test.              TXT "v=spf1 ip4:192.0.2.1 -all"
_dmarc.quar.test.       TXT "v=DMARC1; p=quarantine"
none.test.              TXT "v=spf1 ip4:192.0.2.1 -all"
_dmarc.none.test.       TXT "v=DMARC1; p=none"
nodmarc.test.           TXT "v=spf1 -all exp=explain.nodmarc.test"
v6.test.                TXT "v=spf1 ip4:127.0.0.1 ip6:::1/128 -all"
_dmarc.v6.test.         TXT "v=DMARC1; p=reject"
explain.nodmarc.test.   TXT "%{{i}} may not send for %{{d}}"
"""


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    """An RSA key (PKCS#1 PEM, as dkimpy wants) and an Ed25519 seed, with
    the TXT rdata publishing them."""
    d = tmp_path_factory.mktemp("dkim")
    pem = d / "rsa.pem"
    subprocess.run(["openssl", "genrsa", "-traditional", "-out", str(pem),
                    "2048"], check=True, capture_output=True)
    der = subprocess.run(["openssl", "rsa", "-in", str(pem), "-pubout",
                          "-outform", "DER"], check=True,
                         capture_output=True).stdout
    p = "v=DKIM1; k=rsa; p=" + base64.b64encode(der).decode()
    # TXT character-strings are at most 255 octets (RFC 1035 3.3.14).
    txt = " ".join('"%s"' % p[i:i + 200] for i in range(0, len(p), 200))
    nacl = pytest.importorskip("nacl.signing")
    ed = nacl.SigningKey.generate()
    return {
        "rsa": pem.read_bytes(),
        "rsa_txt": txt,
        "ed_seed": base64.b64encode(bytes(ed)),
        "ed_pub": base64.b64encode(bytes(ed.verify_key)).decode(),
    }


def start(posthorn_factory, tmp_path, keys, auth=""):
    require_store()
    if not os.path.exists(DUMP):
        pytest.skip("smtp-store-dump is not built (needs the store)")
    zone = tmp_path / "zone"
    zone.write_text(ZONE.format(key=keys["rsa_txt"], edkey=keys["ed_pub"]))
    server = posthorn_factory(extra="[dns]\nstatic = %s\n[auth]\n%s"
                              % (zone, auth))
    if "smtp" not in server.ports:
        pytest.skip("posthornd has no smtp listener in this build")
    for cmd in (["domain", "add", "example.org"],
                ["user", "add", "alice@example.org", "--password-stdin"]):
        server.cli(*cmd, input="pw\n" if "user" in cmd else None, check=True)
    return server


@pytest.fixture
def mx(posthorn_factory, tmp_path, keys):
    return start(posthorn_factory, tmp_path, keys)


def message(from_addr, subject="hello", extra=b"", body=b"Hi there.\r\n"):
    return (extra +
            b"From: " + from_addr.encode() + b"\r\n"
            b"To: alice@example.org\r\n"
            b"Subject: " + subject.encode() + b"\r\n"
            b"Message-ID: <" + subject.encode() + b"@test>\r\n"
            b"\r\n" + body)


def sign(keys, msg, algorithm="rsa", canon=(b"relaxed", b"relaxed")):
    if algorithm == "rsa":
        sig = dkim.sign(msg, b"sel", b"pass.test", keys["rsa"],
                        canonicalize=canon,
                        include_headers=[b"from", b"to", b"subject",
                                         b"message-id"])
    else:
        sig = dkim.sign(msg, b"ed", b"pass.test", keys["ed_seed"],
                        canonicalize=canon,
                        signature_algorithm=b"ed25519-sha256",
                        include_headers=[b"from", b"to", b"subject"])
    return sig.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n") + msg


def dot_stuff(data):
    return re.sub(rb"(?m)^\.", b"..", data)


def send(server, mail_from, data, rcpt="alice@example.org"):
    """One DATA transaction from 127.0.0.1; returns (code, text) of the
    final reply (or of the first refusal)."""
    c = Raw(server.ports["smtp"], server.host)
    assert c.reply()[0] == 220
    assert c.cmd("EHLO client.example")[0] == 250
    try:
        code, lines = c.cmd("MAIL FROM:<%s>" % mail_from)
        assert code == 250, lines
        code, lines = c.cmd("RCPT TO:<%s>" % rcpt)
        if code != 250:
            return code, lines[-1]
        assert c.cmd("DATA")[0] == 354
        c.send(dot_stuff(data) + b".\r\n")
        code, lines = c.reply()
        c.cmd("QUIT")
        return code, lines[-1]
    finally:
        c.close()


def added_fields(msg):
    """The header fields between our Received field and the content, by
    name, and the content."""
    m = re.match(rb"Return-Path: <[^\r\n]*>\r\nReceived: [^\r\n]*\r\n"
                 rb"(?:\t[^\r\n]*\r\n)*", msg)
    assert m, msg[:300]
    rest = msg[m.end():]
    fields = {}
    while True:
        f = re.match(rb"(Received-SPF|Authentication-Results): ([^\r\n]*\r\n"
                     rb"(?:[ \t][^\r\n]*\r\n)*)", rest)
        if not f:
            break
        fields[f.group(1).decode()] = re.sub(rb"\r\n[ \t]+", b" ",
                                             f.group(2)).strip().decode()
        rest = rest[f.end():]
    return fields, rest


def test_pass_spf_dkim_dmarc(mx, keys):
    msg = sign(keys, message("Sender <s@pass.test>"))
    code, text = send(mx, "s@pass.test", msg)
    assert code == 250, text
    [stored_msg] = stored(mx, "alice@example.org")
    fields, rest = added_fields(stored_msg)
    assert rest == msg
    assert fields["Received-SPF"].startswith("pass ")
    assert "client-ip=127.0.0.1" in fields["Received-SPF"]
    ar = fields["Authentication-Results"]
    assert ar.startswith("localhost;"), ar
    assert "spf=pass smtp.mailfrom=pass.test" in ar
    assert re.search(r"dkim=pass header\.d=pass\.test header\.s=sel", ar), ar
    assert "dmarc=pass header.from=pass.test" in ar
    assert re.search(r"event=smtp_mailauth .*spf=pass dkim=pass dmarc=pass "
                     r"from_domain=pass\.test .*action=deliver", mx.log())


def test_ed25519_simple_canonicalisation(mx, keys):
    msg = sign(keys, message("s@pass.test"), algorithm="ed25519",
               canon=(b"simple", b"simple"))
    assert send(mx, "s@pass.test", msg)[0] == 250
    [stored_msg] = stored(mx, "alice@example.org")
    ar = added_fields(stored_msg)[0]["Authentication-Results"]
    assert re.search(r"dkim=pass header\.d=pass\.test header\.s=ed", ar), ar


def test_body_changed_after_signing(mx, keys):
    msg = sign(keys, message("s@pass.test"))
    msg = msg.replace(b"Hi there.", b"Hi there!")
    # SPF still passes aligned, so DMARC passes and the message arrives.
    assert send(mx, "s@pass.test", msg)[0] == 250
    [stored_msg] = stored(mx, "alice@example.org")
    fields, rest = added_fields(stored_msg)
    assert rest == msg
    ar = fields["Authentication-Results"]
    assert "dkim=fail" in ar and "dmarc=pass" in ar, ar


def test_forged_from_of_reject_domain(mx, keys):
    # The envelope passes SPF for pass.test, but the author domain is
    # reject.test: nothing aligns with it.
    code, text = send(mx, "s@pass.test", message("ceo@reject.test"))
    assert code == 550, text
    assert text.startswith("550 5.7.1 ") and "reject.test" in text, text
    assert stored(mx, "alice@example.org") == []
    assert re.search(r"event=smtp_mailauth .*dmarc=fail "
                     r"from_domain=reject\.test policy=reject "
                     r"action=reject_dmarc", mx.log())


def test_quarantine_goes_to_junk(mx, keys):
    code, text = send(mx, "s@quar.test", message("s@quar.test"))
    assert code == 250, text
    assert stored(mx, "alice@example.org") == []
    [junk] = stored(mx, "alice@example.org", "Junk")
    ar = added_fields(junk)[0]["Authentication-Results"]
    assert "spf=fail" in ar and "dmarc=fail header.from=quar.test" in ar, ar


def test_p_none_delivers(mx, keys):
    # SPF fails, but the domain's DMARC policy decides: p=none.
    assert send(mx, "s@none.test", message("s@none.test"))[0] == 250
    [msg] = stored(mx, "alice@example.org")
    assert "dmarc=fail" in added_fields(msg)[0]["Authentication-Results"]


def test_spf_fail_without_dmarc(mx, keys):
    code, text = send(mx, "s@nodmarc.test", message("s@nodmarc.test"))
    assert code == 550, text
    # RFC 7208 section 6.2: the domain's explanation, macros expanded.
    assert text == "550 5.7.23 SPF check failed for nodmarc.test: " \
        "127.0.0.1 may not send for nodmarc.test", text
    assert stored(mx, "alice@example.org") == []


def test_null_sender_checks_helo(mx, keys):
    # RFC 7208 section 2.4: with MAIL FROM:<> the HELO identity is checked.
    c = Raw(mx.ports["smtp"])
    assert c.reply()[0] == 220
    assert c.cmd("EHLO pass.test")[0] == 250
    assert c.cmd("MAIL FROM:<>")[0] == 250
    assert c.cmd("RCPT TO:<alice@example.org>")[0] == 250
    assert c.cmd("DATA")[0] == 354
    c.send(message("s@none.test") + b".\r\n")
    assert c.reply()[0] == 250
    c.close()
    [msg] = stored(mx, "alice@example.org")
    fields = added_fields(msg)[0]
    assert "spf=pass smtp.helo=pass.test" in fields["Authentication-Results"]
    assert "identity=helo" in fields["Received-SPF"]


def test_forged_authentication_results_removed(mx, keys):
    forged = (b"Authentication-Results: localhost; dkim=pass header.d=bank.test\r\n"
              b"Authentication-Results: (comment) localhost;\r\n"
              b"\tspf=pass smtp.mailfrom=bank.test\r\n"
              b"Authentication-Results: other.example; spf=pass\r\n"
              b"X-Kept: yes\r\n")
    msg = sign(keys, message("s@pass.test", extra=forged))
    assert send(mx, "s@pass.test", msg)[0] == 250
    [stored_msg] = stored(mx, "alice@example.org")
    fields, rest = added_fields(stored_msg)
    # DKIM saw the message as received (with the forged fields).
    assert "dkim=pass" in fields["Authentication-Results"]
    ours = re.findall(rb"(?m)^Authentication-Results: *(?:\([^)]*\) *)?"
                      rb"localhost;", stored_msg)
    assert len(ours) == 1
    # Byte for byte the rest, without the two forged fields.
    sig_end = msg.index(b"Authentication-Results: localhost")
    assert rest == (msg[:sig_end] +
                    b"Authentication-Results: other.example; spf=pass\r\n"
                    b"X-Kept: yes\r\n" + message("s@pass.test"))
    assert "event=smtp_mailauth_ar_removed" in mx.log()


def test_bdat(mx, keys):
    msg = sign(keys, message("s@pass.test", body=b"chunked\r\nbody\r\n"))
    c = greet(mx.ports["smtp"])
    assert c.cmd("MAIL FROM:<s@pass.test>")[0] == 250
    assert c.cmd("RCPT TO:<alice@example.org>")[0] == 250
    half = len(msg) // 2
    c.send(b"BDAT %d\r\n" % half + msg[:half])
    assert c.reply()[0] == 250
    c.send(b"BDAT %d LAST\r\n" % (len(msg) - half) + msg[half:])
    code, lines = c.reply()
    assert code == 250, lines
    c.close()
    [stored_msg] = stored(mx, "alice@example.org")
    fields, rest = added_fields(stored_msg)
    assert rest == msg
    assert "dkim=pass" in fields["Authentication-Results"]
    assert "dmarc=pass" in fields["Authentication-Results"]


def test_pipelined_transactions(mx, keys):
    # Several transactions in one write: each decision waits for its own
    # checks, the replies stay in order.
    good = sign(keys, message("s@pass.test", subject="one"))
    c = greet(mx.ports["smtp"])
    c.send(b"MAIL FROM:<s@pass.test>\r\nRCPT TO:<alice@example.org>\r\n"
           b"DATA\r\n" + dot_stuff(good) + b".\r\n"
           b"MAIL FROM:<s@nodmarc.test>\r\nRCPT TO:<alice@example.org>\r\n"
           b"DATA\r\n" + message("s@nodmarc.test") + b".\r\n"
           b"RSET\r\nQUIT\r\n")
    codes = [c.reply()[0] for _ in range(10)]
    assert codes == [250, 250, 354, 250, 250, 250, 354, 550, 250, 221]
    c.close()
    assert len(stored(mx, "alice@example.org")) == 1


def test_spf_reject_at_rcpt(posthorn_factory, tmp_path, keys):
    mx = start(posthorn_factory, tmp_path, keys, "spf_reject = rcpt\n")
    c = greet(mx.ports["smtp"])
    # Pipelined: RCPT waits for SPF; the rest waits behind it.
    c.send(b"MAIL FROM:<s@nodmarc.test>\r\nRCPT TO:<alice@example.org>\r\n"
           b"DATA\r\nRSET\r\n")
    assert c.reply()[0] == 250
    code, lines = c.reply()
    assert code == 550 and lines[-1].startswith("550 5.7.23 "), lines
    assert c.reply()[0] == 554  # no valid recipients
    assert c.reply()[0] == 250
    # A passing sender goes through.
    assert c.cmd("MAIL FROM:<s@pass.test>")[0] == 250
    assert c.cmd("RCPT TO:<alice@example.org>")[0] == 250
    assert c.cmd("DATA")[0] == 354
    c.send(dot_stuff(sign(keys, message("s@pass.test"))) + b".\r\n")
    assert c.reply()[0] == 250
    c.close()
    assert len(stored(mx, "alice@example.org")) == 1


def test_monitor_mode_delivers(posthorn_factory, tmp_path, keys):
    mx = start(posthorn_factory, tmp_path, keys, "dmarc_policy = monitor\n")
    assert send(mx, "s@pass.test", message("ceo@reject.test"))[0] == 250
    assert send(mx, "s@quar.test", message("s@quar.test"))[0] == 250
    msgs = stored(mx, "alice@example.org")
    assert len(msgs) == 2
    assert stored(mx, "alice@example.org", "Junk") == []
    assert all("dmarc=fail" in added_fields(m)[0]["Authentication-Results"]
               for m in msgs)


def test_checks_off(posthorn_factory, tmp_path, keys):
    mx = start(posthorn_factory, tmp_path, keys,
               "spf = no\ndkim_verify = no\ndmarc = no\n")
    msg = message("s@nodmarc.test")
    assert send(mx, "s@nodmarc.test", msg)[0] == 250
    [stored_msg] = stored(mx, "alice@example.org")
    fields, rest = added_fields(stored_msg)
    assert fields == {} and rest == msg
    assert "event=smtp_mailauth " not in mx.log()


def test_authserv_id_setting(posthorn_factory, tmp_path, keys):
    mx = start(posthorn_factory, tmp_path, keys,
               "authserv_id = mx.example.org\n")
    forged = b"Authentication-Results: mx.example.org; dmarc=pass\r\n"
    msg = message("s@pass.test", extra=forged)
    assert send(mx, "s@pass.test", msg)[0] == 250
    [stored_msg] = stored(mx, "alice@example.org")
    fields, rest = added_fields(stored_msg)
    assert fields["Authentication-Results"].startswith("mx.example.org;")
    assert rest == message("s@pass.test")


def test_several_from_fields_refused(mx, keys):
    # RFC 7489 section 6.6.1: no single author domain; delivering would
    # let a second From: slip past the first one's policy.
    msg = message("s@pass.test", extra=b"From: ceo@reject.test\r\n")
    code, text = send(mx, "s@pass.test", msg)
    assert code == 550 and text.startswith("550 5.7.1 "), text
    assert stored(mx, "alice@example.org") == []
    # One field with two addresses of one domain is fine.
    msg = message("a@pass.test, b@pass.test")
    assert send(mx, "s@pass.test", msg)[0] == 250


def test_quarantine_without_junk_goes_to_inbox(mx, keys):
    import imaplib
    with imaplib.IMAP4("127.0.0.1", mx.ports["imap"]) as imap:
        if "STARTTLS" in imap.capabilities:
            imap.starttls()
        assert imap.login("alice@example.org", "pw")[0] == "OK"
        assert imap.delete("Junk")[0] == "OK"
    assert send(mx, "s@quar.test", message("s@quar.test"))[0] == 250
    [msg] = stored(mx, "alice@example.org")
    assert "dmarc=fail" in added_fields(msg)[0]["Authentication-Results"]
    assert "action=junk" in mx.log()


def test_pending_checks_dropped(mx, keys):
    # RSET, a new MAIL and the end of the session each come while the SPF
    # lookup started by MAIL is in flight: it is cancelled, never answered
    # into a freed transaction (the ASan build checks that).
    c = greet(mx.ports["smtp"])
    c.send(b"MAIL FROM:<s@nodmarc.test>\r\nRSET\r\n"
           b"MAIL FROM:<s@pass.test>\r\nRCPT TO:<alice@example.org>\r\n"
           b"DATA\r\n" + dot_stuff(sign(keys, message("s@pass.test"))) +
           b".\r\nMAIL FROM:<s@reject.test>\r\nQUIT\r\n")
    codes = [c.reply()[0] for _ in range(8)]
    assert codes == [250, 250, 250, 250, 354, 250, 250, 221]
    c.close()
    c = greet(mx.ports["smtp"])
    c.send(b"MAIL FROM:<s@pass.test>\r\nRCPT TO:<alice@example.org>\r\n"
           b"DATA\r\n" + message("s@pass.test"))
    c.close()  # gone in the middle of the data
    c = greet(mx.ports["smtp"])
    assert c.cmd("NOOP")[0] == 250
    c.close()
    assert len(stored(mx, "alice@example.org")) == 1


def test_ipv6_client(tmp_path, keys):
    import socket
    from conftest import PosthornServer, check_log_clean
    from netutil import ipv6_available
    if not ipv6_available():
        pytest.skip("no IPv6 on this machine")
    require_store()
    with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
        sock.bind(("::1", 0))
        port = sock.getsockname()[1]
    zone = tmp_path / "zone"
    zone.write_text(ZONE.format(key=keys["rsa_txt"], edkey=keys["ed_pub"]))
    data_dir = tmp_path / "data"
    config = tmp_path / "posthorn.conf"
    config.write_text("[server]\nhostname = localhost\ndata_dir = %s\n"
                      "log_level = debug\n[listen]\nsmtp = [::1]:%d\n"
                      "[dns]\nstatic = %s\nresolver = static\n"
                      % (data_dir, port, zone))
    mx = PosthornServer(str(tmp_path), {"smtp": port}, str(config),
                        str(data_dir), "::1")
    mx.cli("domain", "add", "example.org", check=True)
    mx.cli("user", "add", "alice@example.org", "--password-stdin",
           input="pw\n", check=True)
    mx.start()
    try:
        assert send(mx, "s@v6.test", message("s@v6.test"))[0] == 250
        code, text = send(mx, "s@nodmarc.test", message("s@nodmarc.test"))
    finally:
        assert mx.stop() == 0, mx.log()
        check_log_clean(mx.log())
    [msg] = stored(mx, "alice@example.org")
    fields = added_fields(msg)[0]
    # RFC 7208 section 9.1: a value with colons is a quoted-string.
    assert 'client-ip="::1"' in fields["Received-SPF"], fields
    assert "spf=pass" in fields["Authentication-Results"]
    assert "dmarc=pass" in fields["Authentication-Results"]
    # RFC 7208 section 7.3: %{i} of an IPv6 address is its 32 nibbles.
    assert code == 550 and ("0." * 31 + "1 may not send") in text, text
