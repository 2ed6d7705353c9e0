# SPDX-License-Identifier: MIT
"""DKIM signing of what we send, checked by Debian's dkimpy.

A (mx.a.test, 127.0.0.2) has a.test with an Ed25519 and an RSA key made by
`posthorn dkim keygen`, and c.test without keys; B (mx.b.test, 127.0.0.3)
has bob@b.test. A's [dns] static zone is `posthorn dns a.test` as printed
plus b.test's MX, so relaying to B works only when that output loads as a
zone; dkimpy gets the public keys from the same output (its dnsfunc).
Mail submitted on A carries one signature per key, both verifying at carol
(local) and at bob (relayed); bounces from A's queue are signed too; one
changed byte fails; a domain without keys sends unsigned mail."""
import os
import re
import smtplib
import socket
import ssl
import time

import pytest

from conftest import PosthornServer, free_ports, require_store
from instances import (DUMP, OUTBOUND, add_users, require_tools, stop_all,
                       stored, wait_stored)

dkim = pytest.importorskip("dkim")
pytest.importorskip("nacl")  # dkimpy's Ed25519


def make_server(workdir, host, hostname, names, extra=""):
    """Like instances.start_instance, but not started: A is prepared with
    the daemon down."""
    os.makedirs(workdir)
    data_dir = os.path.join(workdir, "data")
    os.makedirs(data_dir)
    ports = dict(zip(names, free_ports(len(names), host)))
    config_path = os.path.join(workdir, "posthorn.conf")
    with open(config_path, "w") as f:
        f.write("[server]\nhostname = %s\ndata_dir = %s\nlog_level = debug\n"
                "[listen]\n%s\n%s"
                % (hostname, data_dir,
                   "\n".join("%s = %s:%d" % (n, host, p)
                             for n, p in ports.items()), extra))
    return PosthornServer(workdir, ports, config_path, data_dir, host)


def txt_records(zone_text):
    """name (bytes, absolute) -> TXT value (bytes) from zone lines."""
    records = {}
    for m in re.finditer(r"^(\S+)\s+(?:\d+\s+)?IN\s+TXT\s+\(?((?:\s*\"[^\"]*\")+)",
                         zone_text, re.M):
        value = "".join(re.findall(r"\"([^\"]*)\"", m.group(2)))
        records[m.group(1).lower().encode()] = value.encode()
    return records


class Setup:
    pass


@pytest.fixture(scope="module")
def mail(tmp_path_factory):
    require_store()
    require_tools(DUMP)
    tmp = tmp_path_factory.mktemp("dkimsign")
    servers = []
    try:
        b = make_server(str(tmp / "b"), "127.0.0.3", "mx.b.test", ["smtp"])
        b.start()
        servers.append(b)
        add_users(b, "b.test", "bob@b.test")

        zone = tmp / "zone"
        zone.write_text("b.test. MX 10 mx.b.test.\nmx.b.test. A 127.0.0.3\n")
        a = make_server(
            str(tmp / "a"), "127.0.0.2", "mx.a.test",
            ["smtp", "submission", "imaps"],
            "[dns]\nstatic = %s\n" % zone +
            OUTBOUND % (b.ports["smtp"], "127.0.0.2"))
        # Everything is prepared with the daemon down, so it starts with
        # the zone `posthorn dns` printed.
        add_users(a, "a.test", "alice@a.test", "carol@a.test")
        add_users(a, "c.test", "dave@c.test")
        keygen = {}
        for sel, alg in (("ed1", "ed25519"), ("rsa1", "rsa")):
            r = a.cli("dkim", "keygen", "a.test", "--selector", sel,
                      "--algorithm", alg, check=True)
            keygen[sel] = r.stdout
        dns = a.cli("dns", "a.test")
        assert dns.returncode == 0, dns.stderr
        zone.write_text(dns.stdout + "b.test. MX 10 mx.b.test.\n"
                        "mx.b.test. A 127.0.0.3\n")
        a.start()
        servers.append(a)
        if not re.search(r"event=ready .*listeners=\"[^\"]*submission=",
                         a.log()):
            pytest.skip("posthornd has no submission listener")
        s = Setup()
        s.a, s.b, s.dns, s.keygen = a, b, dns.stdout, keygen
        s.records = txt_records(dns.stdout)
        yield s
    finally:
        stop_all(servers)


def submit(a, user):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    s = smtplib.SMTP("127.0.0.2", a.ports["submission"], timeout=10,
                     source_address=("127.0.0.1", 0))
    s.ehlo("laptop.a.test")
    s.starttls(context=ctx)
    s.ehlo("laptop.a.test")
    s.login(user, "pw")
    return s


def signatures(msg):
    """The DKIM-Signature fields (unfolded) in header order."""
    head = msg.split(b"\r\n\r\n", 1)[0]
    return [re.sub(rb"\r\n[ \t]+", b" ", f) for f in
            re.findall(rb"^DKIM-Signature:.*?(?=\r\n(?![ \t]))", head,
                       re.M | re.S)]


def verify_all(setup, msg):
    """dkimpy's verdict for each signature, in order."""
    def dnsfunc(name, timeout=5):
        return setup.records.get(name.lower())
    d = dkim.DKIM(msg)
    results = []
    for i in range(len(signatures(msg))):
        try:
            results.append(bool(d.verify(idx=i, dnsfunc=dnsfunc)))
        except dkim.DKIMException:
            results.append(False)
    return results


def tag(field, name):
    m = re.search(rb"[; ]" + name + rb"=([^;]*)", field)
    return m.group(1).strip() if m else None


def test_dns_output(mail):
    out = mail.dns
    assert "a.test. 3600 IN MX 10 mx.a.test.\n" in out
    assert "mx.a.test. 3600 IN A 127.0.0.2\n" in out
    # [outbound] source is set: SPF names it besides the MX
    assert 'a.test. 3600 IN TXT "v=spf1 mx ip4:127.0.0.2 -all"\n' in out
    assert set(mail.records) >= {b"ed1._domainkey.a.test.",
                                 b"rsa1._domainkey.a.test.",
                                 b"_dmarc.a.test.", b"a.test."}
    assert mail.records[b"ed1._domainkey.a.test."].startswith(
        b"v=DKIM1; k=ed25519; p=")
    assert mail.records[b"rsa1._domainkey.a.test."].startswith(
        b"v=DKIM1; k=rsa; p=")
    # the record keygen printed is the one dns prints
    for sel in ("ed1", "rsa1"):
        printed = txt_records(mail.keygen[sel])
        assert printed[("%s._domainkey.a.test." % sel).encode()] == \
            mail.records[("%s._domainkey.a.test." % sel).encode()]
    assert mail.records[b"_dmarc.a.test."] == \
        b"v=DMARC1; p=quarantine; rua=mailto:postmaster@a.test"
    assert ("_submission._tcp.a.test. 3600 IN SRV 0 1 %d mx.a.test.\n"
            % mail.a.ports["submission"]) in out
    assert ("_imaps._tcp.a.test. 3600 IN SRV 0 1 %d mx.a.test.\n"
            % mail.a.ports["imaps"]) in out
    # listeners that are off: "decidedly not available" (RFC 6186)
    assert "_imap._tcp.a.test. 3600 IN SRV 0 0 0 .\n" in out
    assert "_pop3s._tcp.a.test. 3600 IN SRV 0 0 0 .\n" in out
    assert "autoconfig.a.test. 3600 IN CNAME mx.a.test.\n" in out

    # c.test has no key: no DKIM record, DMARC only monitors
    c = mail.a.cli("dns", "c.test")
    assert c.returncode == 0, c.stderr
    assert "_domainkey" not in c.stdout
    assert 'p=none; rua=mailto:postmaster@c.test"' in c.stdout
    for bad in ("b.test", "nowhere.test", "../etc"):
        r = mail.a.cli("dns", bad)
        assert r.returncode == 1 and r.stdout == "", (bad, r.stdout)
        assert r.stderr.startswith("posthorn: ")


def test_submission_signed_local_and_remote(mail):
    msg = (b"From: Alice <alice@a.test>\r\nTo: bob@b.test, carol@a.test\r\n"
           b"Subject: signed\r\n\r\nHello Bob.\r\n")
    with submit(mail.a, "alice@a.test") as s:
        s.sendmail("alice@a.test", ["bob@b.test", "carol@a.test"], msg)

    local = wait_stored(mail.a, "carol@a.test", 1)[-1]
    remote = wait_stored(mail.b, "bob@b.test", 1)[-1]
    for got in (local, remote):
        sigs = signatures(got)
        assert len(sigs) == 2, got[:2000]
        # Ed25519 first, then RSA; both for a.test, over From & co
        assert tag(sigs[0], b"a") == b"ed25519-sha256"
        assert tag(sigs[1], b"a") == b"rsa-sha256"
        assert [tag(f, b"s") for f in sigs] == [b"ed1", b"rsa1"]
        for f in sigs:
            assert tag(f, b"d") == b"a.test"
            h = tag(f, b"h").replace(b" ", b"").split(b":")
            # oversigned: one more than present
            assert h.count(b"from") == 2 and h.count(b"subject") == 2
            assert b"message-id" in h and b"date" in h
        assert verify_all(mail, got) == [True, True]

    # The signatures sit above A's Received field (after Return-Path
    # locally), so what A relayed is exactly what was signed.
    head = local.split(b"\r\n\r\n", 1)[0]
    assert head.startswith(b"Return-Path: <alice@a.test>\r\nDKIM-Signature:")
    assert head.index(b"DKIM-Signature") < head.index(b"Received:")

    # one changed byte, in the body or a signed header, fails both
    body_changed = remote.replace(b"Hello Bob.", b"Hello Bob!")
    assert verify_all(mail, body_changed) == [False, False]
    subject_changed = remote.replace(b"Subject: signed",
                                     b"Subject: Signed")
    assert verify_all(mail, subject_changed) == [False, False]


def test_bounce_signed(mail):
    """B refuses the recipient: A's queue bounces to alice, From
    MAILER-DAEMON@mx.a.test, signed for a.test (the host name's
    domain)."""
    before = len(stored(mail.a, "alice@a.test"))
    msg = (b"From: alice@a.test\r\nTo: nobody@b.test\r\n"
           b"Subject: to nobody\r\n\r\nHello?\r\n")
    with submit(mail.a, "alice@a.test") as s:
        s.sendmail("alice@a.test", ["nobody@b.test"], msg)
    dsn = wait_stored(mail.a, "alice@a.test", before + 1)[-1]
    assert b"From: Mail Delivery System <MAILER-DAEMON@mx.a.test>" in dsn
    sigs = signatures(dsn)
    assert len(sigs) == 2
    assert [tag(f, b"d") for f in sigs] == [b"a.test", b"a.test"]
    assert verify_all(mail, dsn) == [True, True]
    assert verify_all(mail, dsn.replace(b"nobody@b.test",
                                        b"nobodx@b.test")) == [False, False]


def test_no_keys_unsigned(mail):
    msg = (b"From: dave@c.test\r\nTo: carol@a.test\r\n"
           b"Subject: from c\r\n\r\nNo key here.\r\n")
    before = len(stored(mail.a, "carol@a.test"))
    with submit(mail.a, "dave@c.test") as s:
        s.sendmail("dave@c.test", ["carol@a.test"], msg)
    got = wait_stored(mail.a, "carol@a.test", before + 1)[-1]
    assert b"Subject: from c" in got
    assert signatures(got) == []


def test_mail_from_domain_signs(mail):
    """From: in c.test (no keys), MAIL FROM dave@a.test (an alias of
    dave's, so his own): the envelope domain a.test signs."""
    mail.a.cli("alias", "add", "dave@a.test", "dave@c.test", check=True)
    before = len(stored(mail.a, "carol@a.test"))
    msg = (b"From: dave@c.test\r\nTo: carol@a.test\r\n"
           b"Subject: envelope domain\r\n\r\nSigned by a.test.\r\n")
    with submit(mail.a, "dave@c.test") as s:
        s.sendmail("dave@a.test", ["carol@a.test"], msg)
    got = wait_stored(mail.a, "carol@a.test", before + 1)[-1]
    assert [tag(f, b"d") for f in signatures(got)] == [b"a.test", b"a.test"]
    assert verify_all(mail, got) == [True, True]


def test_client_gone_while_signing(mail):
    """The client hangs up right after the final dot, while a 4 MB
    message is being signed: nothing breaks, later sessions work (the
    fixture then checks the log for sanitizer reports)."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    # A big body keeps the worker busy hashing (~13 ms here), so the
    # hang-up lands before, during or after signing; the test holds
    # either way.
    body = (b"y" * 998 + b"\r\n") * 4000
    for pause in (0.0, 0.005, 0.01, 0.015, 0.02, 0.03):
        s = smtplib.SMTP("127.0.0.2", mail.a.ports["submission"], timeout=10,
                         source_address=("127.0.0.1", 0))
        s.ehlo("laptop.a.test")
        s.starttls(context=ctx)
        s.ehlo("laptop.a.test")
        s.login("alice@a.test", "pw")
        assert s.docmd("MAIL", "FROM:<alice@a.test>")[0] == 250
        assert s.docmd("RCPT", "TO:<carol@a.test>")[0] == 250
        assert s.docmd("DATA")[0] == 354
        s.send(b"From: alice@a.test\r\nSubject: gone\r\n\r\n" + body +
               b".\r\n")
        time.sleep(pause)
        s.sock.shutdown(socket.SHUT_RDWR)
        s.sock.close()
    test_no_keys_unsigned(mail)



def test_bdat_bare_lf_signed(mail):
    """BDAT content may use bare LF (RFC 3030); the store turns it into
    CRLF and the signature covers that stored form."""
    before = len(stored(mail.a, "carol@a.test"))
    chunk = (b"From: alice@a.test\nTo: carol@a.test\nSubject: bdat\n\n"
             b"line one\nline two\n")
    with submit(mail.a, "alice@a.test") as s:
        assert s.docmd("MAIL", "FROM:<alice@a.test>")[0] == 250
        assert s.docmd("RCPT", "TO:<carol@a.test>")[0] == 250
        s.send(b"BDAT %d LAST\r\n" % len(chunk) + chunk)
        code, _ = s.getreply()
        assert code == 250
    got = wait_stored(mail.a, "carol@a.test", before + 1)[-1]
    assert b"line one\r\nline two\r\n" in got
    assert verify_all(mail, got) == [True, True]


def test_zz_signing_off(mail):
    """[auth] dkim_sign = no, on reload: submitted mail goes unsigned.
    (Last in this module: it changes the shared instance.)"""
    with open(mail.a.config_path, "a") as f:
        f.write("[auth]\ndkim_sign = no\n")
    start = mail.a.reload()
    mail.a.wait_log(r"event=reloaded", start=start)
    before = len(stored(mail.a, "carol@a.test"))
    msg = (b"From: alice@a.test\r\nTo: carol@a.test\r\n"
           b"Subject: unsigned\r\n\r\nNo signature wanted.\r\n")
    with submit(mail.a, "alice@a.test") as s:
        s.sendmail("alice@a.test", ["carol@a.test"], msg)
    got = wait_stored(mail.a, "carol@a.test", before + 1)[-1]
    assert b"Subject: unsigned" in got
    assert signatures(got) == []


def test_dns_without_source(tmp_path):
    """No [outbound] source: SPF names the MX only and the host's address
    is left to the admin; an IPv6 source gives ip6: and AAAA; a relay
    host is pointed out."""
    require_store()
    server = make_server(str(tmp_path / "s"), "127.0.0.1", "mail.d.test",
                         ["submissions"])
    server.cli("domain", "add", "d.test", check=True)
    out = server.cli("dns", "D.test.", check=True).stdout
    assert 'd.test. 3600 IN TXT "v=spf1 mx -all"\n' in out
    assert "; mail.d.test needs an A and/or AAAA record" in out
    assert ("_submissions._tcp.d.test. 3600 IN SRV 0 1 %d mail.d.test.\n"
            % server.ports["submissions"]) in out
    assert "_submission._tcp.d.test. 3600 IN SRV 0 0 0 .\n" in out

    with open(server.config_path, "a") as f:
        f.write("[outbound]\nsource = 2001:db8::25\n"
                "relayhost = smart.example:587\n")
    out = server.cli("dns", "d.test", check=True).stdout
    assert "mail.d.test. 3600 IN AAAA 2001:db8::25\n" in out
    assert 'd.test. 3600 IN TXT "v=spf1 mx ip6:2001:db8::25 -all"\n' in out
    assert "; mail leaves through smart.example:587" in out
