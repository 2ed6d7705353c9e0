# SPDX-License-Identifier: MIT
"""SPF, DKIM and DMARC end to end between two instances: a.test on
127.0.0.2 and b.test on 127.0.0.3, every record in one static zone both
read (a.test's as `posthorn dns a.test` prints them after `posthorn dkim
keygen`, with p=reject for DMARC; b.test's, and two sender-only domains),
each instance sending from its own address ([outbound] source) so SPF
sees the right client.

- alice@a.test submits on A (587, STARTTLS, AUTH) to bob@b.test: A signs
  (RSA and Ed25519), relays from 127.0.0.2, and B's Authentication-Results
  read back over B's IMAP says spf=pass, dkim=pass (both), dmarc=pass;
- a forged From of bank.test (p=reject) sent straight to B's MX from
  127.0.0.1 is refused at the end of DATA with 550 5.7.1;
- the same for q.test (p=quarantine) lands in bob's Junk, with a forged
  Authentication-Results under B's authserv-id removed;
- `posthorn dmarc report --now` on B closes the period: the aggregate
  report for a.test goes through B's queue to a.test's rua
  (dmarc@a.test on A), and its gzip attachment is valid RFC 7489
  appendix C XML counting that one message."""
import email
import email.policy
import gzip
import imaplib
import re
import smtplib
import ssl
import time
import xml.etree.ElementTree as ET
import zipfile
import io

import pytest

from conftest import free_ports, require_store
from instances import OUTBOUND, add_users, prepare_instance, stop_all

A_HOST, B_HOST = "127.0.0.2", "127.0.0.3"


@pytest.fixture
def two(tmp_path):
    """(A, B), both started, with alice@a.test and dmarc@a.test on A and
    bob@b.test on B."""
    require_store()
    a_ports = dict(zip(("smtp", "submission", "imap"),
                       free_ports(3, A_HOST)))
    b_ports = dict(zip(("smtp", "imap"), free_ports(2, B_HOST)))
    zone = tmp_path / "zone"
    # Both instances' ports are chosen first: each is the other's MX.
    a = prepare_instance(str(tmp_path / "a"), A_HOST, "mx.a.test",
                         ports=a_ports,
                         extra="[dns]\nstatic = %s\n" % zone +
                         OUTBOUND % (b_ports["smtp"], A_HOST))
    b = prepare_instance(str(tmp_path / "b"), B_HOST, "mx.b.test",
                         ports=b_ports,
                         extra="[dns]\nstatic = %s\n" % zone +
                         OUTBOUND % (a_ports["smtp"], B_HOST) +
                         "[auth]\nreport_sender = dmarc-reports@b.test\n"
                         "report_org = B Test\n")
    # A is set up as an administrator would: domain, users and DKIM keys
    # (RSA and Ed25519: dual signing) with the daemon down, then what
    # `posthorn dns a.test` prints goes into the zone, with a stricter
    # DMARC policy than its p=quarantine default.
    add_users(a, "a.test", "alice@a.test", "dmarc@a.test")
    a.cli("dkim", "keygen", "a.test", check=True)
    a.cli("dkim", "keygen", "a.test", "--selector", "ed", "--algorithm",
          "ed25519", check=True)
    published = a.cli("dns", "a.test", check=True).stdout
    for want in (r"^a\.test\.\s.*\bMX\s+10\s+mx\.a\.test\.$",
                 r"^mx\.a\.test\.\s.*\bA\s+127\.0\.0\.2$",
                 r"^a\.test\.\s.*\bTXT\s+\"v=spf1 .*ip4:127\.0\.0\.2 -all\"$",
                 r"^posthorn\._domainkey\.a\.test\.\s.*k=rsa",
                 r"^ed\._domainkey\.a\.test\.\s.*k=ed25519"):
        assert re.search(want, published, re.M), (want, published)
    a_zone = "".join(ln + "\n" for ln in published.splitlines()
                     if not ln.startswith("_dmarc."))
    zone.write_text(
        a_zone +
        "_dmarc.a.test.     TXT \"v=DMARC1; p=reject; "
        "rua=mailto:dmarc@a.test\"\n"
        "b.test.            MX 10 mx.b.test.\n"
        "mx.b.test.         A %s\n"
        "b.test.            TXT \"v=spf1 ip4:%s -all\"\n"
        "_dmarc.b.test.     TXT \"v=DMARC1; p=none\"\n"
        # q.test authorises nobody and signs nothing: p=quarantine
        "q.test.            TXT \"v=spf1 -all\"\n"
        "_dmarc.q.test.     TXT \"v=DMARC1; p=quarantine\"\n"
        # bank.test sends only from 192.0.2.1: p=reject
        "bank.test.         TXT \"v=spf1 ip4:192.0.2.1 -all\"\n"
        "_dmarc.bank.test.  TXT \"v=DMARC1; p=reject\"\n"
        % (B_HOST, B_HOST))
    servers = []
    try:
        b.start()
        servers.append(b)
        a.start()
        servers.append(a)
        for server, names in ((a, ("smtp=", "submission=", "imap=")),
                              (b, ("smtp=", "imap="))):
            for name in names:
                assert re.search(r'event=ready .*listeners="[^"]*' + name,
                                 server.log()), server.log()
        add_users(b, "b.test", "bob@b.test")
        yield a, b
    finally:
        stop_all(servers)


def imap_messages(server, user, mailbox="INBOX"):
    """Every message in user's mailbox, read over IMAP, as bytes."""
    c = imaplib.IMAP4(server.host, server.ports["imap"], timeout=10)
    try:
        assert c.login(user, "pw")[0] == "OK"
        typ, data = c.select(mailbox, readonly=True)
        assert typ == "OK", data
        msgs = []
        if int(data[0]) > 0:
            typ, data = c.fetch("1:*", "(BODY.PEEK[])")
            assert typ == "OK", data
            msgs = [item[1] for item in data if isinstance(item, tuple)]
        c.logout()
        return msgs
    finally:
        try:
            c.shutdown()
        except OSError:
            pass


def wait_messages(server, user, count, mailbox="INBOX", timeout=20.0):
    deadline = time.monotonic() + timeout
    while True:
        msgs = imap_messages(server, user, mailbox)
        if len(msgs) >= count:
            return msgs
        if time.monotonic() > deadline:
            pytest.fail("%s %s has %d messages, expected %d; log:\n%s"
                        % (user, mailbox, len(msgs), count, server.log()))
        time.sleep(0.1)


def header_fields(msg, name):
    """The unfolded values of every name field in msg's header."""
    head = msg.split(b"\r\n\r\n", 1)[0].decode("utf-8", "replace")
    head = re.sub(r"\r\n[ \t]+", " ", head)
    prefix = name.lower() + ":"
    return [ln[len(prefix):].strip() for ln in head.split("\r\n")
            if ln.lower().startswith(prefix)]


def our_auth_results(msg, authserv_id="mx.b.test"):
    fields = [v for v in header_fields(msg, "Authentication-Results")
              if v.split(";", 1)[0].strip().lower() == authserv_id]
    assert len(fields) == 1, msg.split(b"\r\n\r\n", 1)[0]
    return fields[0]


def submit_to_bob(a, subject):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    msg = ("From: Alice <alice@a.test>\r\nTo: Bob <bob@b.test>\r\n"
           "Subject: %s\r\n\r\nHello Bob, signed and sent from A.\r\n"
           % subject).encode()
    with smtplib.SMTP(A_HOST, a.ports["submission"], timeout=10,
                      source_address=("127.0.0.1", 0)) as s:
        s.ehlo("laptop.a.test")
        s.starttls(context=ctx)
        s.ehlo("laptop.a.test")
        s.login("alice@a.test", "pw")
        assert s.sendmail("alice@a.test", ["bob@b.test"], msg) == {}


def send_to_b_mx(b, mail_from, body):
    """One message straight to B's MX from 127.0.0.1; returns (code,
    text) of the reply to the end of DATA."""
    with smtplib.SMTP(B_HOST, b.ports["smtp"], timeout=20,
                      source_address=("127.0.0.1", 0)) as s:
        s.ehlo("client.example")
        code, text = s.mail(mail_from)
        assert code == 250, text
        code, text = s.rcpt("bob@b.test")
        assert code == 250, text
        code, text = s.data(body)
        return code, text.decode("utf-8", "replace")


def test_a_to_b_passes_spf_dkim_dmarc(two):
    a, b = two
    submit_to_bob(a, "across, authenticated")
    got = wait_messages(b, "bob@b.test", 1)[0]
    assert b"\r\nSubject: across, authenticated\r\n" in got
    # A signed with both of its keys
    sigs = header_fields(got, "DKIM-Signature")
    assert len(sigs) == 2, sigs
    assert {re.search(r"\bs=([^;\s]+)", v).group(1) for v in sigs} == \
        {"posthorn", "ed"}
    ar = our_auth_results(got)
    assert re.search(r"\bspf=pass\b[^;]*smtp\.mailfrom=a\.test", ar), ar
    dkim = re.findall(r"\bdkim=(\w+)[^;]*header\.d=a\.test", ar)
    assert dkim == ["pass", "pass"], ar
    assert re.search(r"header\.s=posthorn\b", ar), ar
    assert re.search(r"header\.s=ed\b", ar), ar
    assert re.search(r"\bdmarc=pass\b[^;]*header\.from=a\.test", ar), ar
    spf = header_fields(got, "Received-SPF")
    assert len(spf) == 1 and spf[0].startswith("pass"), spf
    assert "client-ip=127.0.0.2" in spf[0], spf
    assert imap_messages(b, "bob@b.test", "Junk") == []


def test_forged_from_of_reject_domain_refused(two):
    a, b = two
    code, text = send_to_b_mx(
        b, "ceo@bank.test",
        b"From: The Bank <ceo@bank.test>\r\nTo: bob@b.test\r\n"
        b"Subject: urgent: confirm your account\r\n\r\nClick here.\r\n")
    assert code == 550 and text.startswith("5.7.1"), (code, text)
    # refused means stored nowhere
    assert imap_messages(b, "bob@b.test") == []
    assert imap_messages(b, "bob@b.test", "Junk") == []


def test_quarantine_domain_lands_in_junk(two):
    a, b = two
    code, text = send_to_b_mx(
        b, "news@q.test",
        b"Authentication-Results: mx.b.test; dmarc=pass header.from=q.test\r\n"
        b"From: News <news@q.test>\r\nTo: bob@b.test\r\n"
        b"Subject: weekly offers\r\n\r\nBuy now.\r\n")
    assert code == 250, (code, text)
    junk = wait_messages(b, "bob@b.test", 1, "Junk")
    assert len(junk) == 1 and b"\r\nSubject: weekly offers\r\n" in junk[0]
    assert imap_messages(b, "bob@b.test") == []
    # the forged field is gone; ours tells the truth
    ar = our_auth_results(junk[0])
    assert re.search(r"\bspf=fail\b", ar), ar
    assert re.search(r"\bdkim=none\b", ar), ar
    assert re.search(r"\bdmarc=fail\b[^;]*header\.from=q\.test", ar), ar


def report_xml(msg):
    """The XML of an aggregate report message (gzip, or zip as RFC 7489
    section 7.2.1.1 also allows)."""
    m = email.message_from_bytes(msg, policy=email.policy.default)
    for part in m.walk():
        if part.is_multipart():
            continue
        ctype = part.get_content_type()
        name = part.get_filename() or ""
        data = part.get_payload(decode=True)
        if ctype in ("application/gzip", "application/x-gzip") or \
                name.endswith(".gz"):
            return gzip.decompress(data)
        if ctype in ("application/zip", "application/x-zip-compressed") or \
                name.endswith(".zip"):
            with zipfile.ZipFile(io.BytesIO(data)) as z:
                return z.read(z.namelist()[0])
    pytest.fail("no gzip or zip part in the report:\n%r" % msg[:2000])


def test_aggregate_report_for_a_test(two):
    a, b = two
    submit_to_bob(a, "to be reported")
    wait_messages(b, "bob@b.test", 1)
    # the forgery from bank.test asks for no report: not in any
    send_to_b_mx(b, "ceo@bank.test",
                 b"From: ceo@bank.test\r\nSubject: x\r\n\r\nx\r\n")

    # smtpd hands the result to the store's writer without waiting: the
    # row is there once `dmarc list` shows it
    deadline = time.monotonic() + 10
    while not re.search(r"^\s+a\.test\b.*\b127\.0\.0\.2\b",
                        b.cli("dmarc", "list", check=True).stdout, re.M):
        if time.monotonic() > deadline:
            pytest.fail("no DMARC row for a.test on B:\n%s\n%s" % (
                b.cli("dmarc", "list").stdout, b.log()))
        time.sleep(0.1)
    res = b.cli("dmarc", "report", "--now", check=True)
    b.control("queue-wake")
    reports = wait_messages(a, "dmarc@a.test", 1, timeout=30)
    assert len(reports) == 1, res.stdout
    rep = reports[0]
    subject = header_fields(rep, "Subject")[0]
    assert re.match(r"Report Domain: a\.test Submitter: ", subject), subject
    assert header_fields(rep, "From")[0].endswith("dmarc-reports@b.test>") \
        or header_fields(rep, "From")[0] == "dmarc-reports@b.test"

    root = ET.fromstring(report_xml(rep))
    assert root.tag.split("}")[-1] == "feedback"

    def find(node, path):
        # with or without the appendix C namespace
        for el in node.iter():
            if el.tag.split("}")[-1] == path:
                return el
        return None

    meta = find(root, "report_metadata")
    assert find(meta, "org_name").text == "B Test"
    assert find(meta, "report_id").text
    rng = find(meta, "date_range")
    assert int(find(rng, "begin").text) <= int(find(rng, "end").text)
    pol = find(root, "policy_published")
    assert find(pol, "domain").text == "a.test"
    assert find(pol, "p").text == "reject"
    records = [el for el in root if el.tag.split("}")[-1] == "record"]
    assert len(records) == 1, ET.tostring(root)
    rec = records[0]
    row = find(rec, "row")
    assert find(row, "source_ip").text == A_HOST
    assert int(find(row, "count").text) == 1
    ev = find(row, "policy_evaluated")
    assert find(ev, "disposition").text == "none"
    assert find(ev, "dkim").text == "pass"
    assert find(ev, "spf").text == "pass"
    assert find(find(rec, "identifiers"), "header_from").text == "a.test"
    auth = find(rec, "auth_results")
    dkims = [el for el in auth if el.tag.split("}")[-1] == "dkim"]
    assert {find(d, "result").text for d in dkims} == {"pass"}
    assert {find(d, "domain").text for d in dkims} == {"a.test"}
    spf = find(auth, "spf")
    assert find(spf, "domain").text == "a.test"
    assert find(spf, "result").text == "pass"
