# SPDX-License-Identifier: MIT
"""DMARC aggregate reports (RFC 7489 section 7.2) end to end: rows are
recorded through a real DMARC check and dmarc_report_record() (the helper
build/tests/unit/dmarc-report/dmarc-record-helper stands in for smtpd),
`posthorn dmarc report --now` closes the period and the report reaches the
rua mailbox, a local account; the test reads it from the store, gunzips the
attachment and parses the XML with xml.etree. External destinations are
verified through the static zone (section 7.1), !size limits honoured, and
a period that ended while posthornd was down is reported when it starts.
When smtpd records rows itself (src/smtpd/smtpd-mailauth.c), a real
message through the MX listener is reported too."""
import email
import gzip
import os
import re
import subprocess
import time
import xml.etree.ElementTree as ET

import pytest

from conftest import BUILD, REPO, require_store
from instances import DUMP, prepare_instance, stored

HELPER = os.path.join(BUILD, "tests", "unit", "dmarc-report",
                      "dmarc-record-helper")

ZONE = """\
a.test._report._dmarc.b.test. TXT "v=DMARC1"
d.test._report._dmarc.b.test. TXT "v=DMARC1; extra"
c.test. MX 10 mx.c.test.
"""

A_RECORD = ("v=DMARC1; p=reject; sp=quarantine; adkim=s; pct=100; "
            "rua=mailto:dmarc@b.test,mailto:nobody@c.test,https://x.test/r")
# The report is bigger than 1k: the only destination refuses it.
D_RECORD = "v=DMARC1; p=none; rua=mailto:dmarc@b.test!1k"
# Only an unverified external destination.
E_RECORD = "v=DMARC1; p=none; rua=mailto:agg@c.test"


def needs_tools():
    require_store()
    for tool in (HELPER, DUMP):
        if not os.path.exists(tool):
            pytest.skip("%s is not built" % tool)
    res = subprocess.run([os.path.join(BUILD, "posthorn"), "--help"],
                         capture_output=True, text=True)
    if "posthorn dmarc report" not in res.stdout + res.stderr:
        pytest.skip("posthorn has no dmarc command in this build")


def make_server(tmp_path, extra=""):
    zone = os.path.join(str(tmp_path), "zone")
    with open(zone, "w") as f:
        f.write(ZONE)
    server = prepare_instance(
        str(tmp_path), "127.0.0.1", "mx.b.test",
        extra="[dns]\nstatic = %s\n"
        "[auth]\nreport_org = Test Org <&>\n"
        "report_sender = reports@b.test\n%s" % (zone, extra))
    server.cli("domain", "add", "b.test", check=True)
    server.cli("user", "add", "dmarc@b.test", "--password-stdin",
               input="pw\n", check=True)
    return server


def record(server, when, txt, from_domain, ip, spf, spf_domain, dkim_d,
           dkim_result, count):
    res = subprocess.run([HELPER, server.data_dir, str(when), txt,
                          from_domain, ip, spf, spf_domain, dkim_d,
                          dkim_result, str(count)],
                         capture_output=True, text=True, timeout=30)
    assert res.returncode == 0, res.stderr
    return res.stdout


def report_of(raw):
    """(message, attachment file name, parsed XML root)."""
    msg = email.message_from_bytes(raw)
    assert msg.get_content_type() == "multipart/mixed"
    parts = [p for p in msg.walk()
             if p.get_content_type() == "application/gzip"]
    assert len(parts) == 1
    data = gzip.decompress(parts[0].get_payload(decode=True))
    return msg, parts[0].get_filename(), ET.fromstring(data)


def records_by_ip(root):
    out = {}
    for rec in root.findall("record"):
        out[rec.findtext("row/source_ip")] = rec
    return out


def test_report_now_local_rua(tmp_path):
    needs_tools()
    server = make_server(tmp_path)
    server.start()
    try:
        t0 = int(time.time())
        record(server, 0, A_RECORD, "a.test", "192.0.2.1", "pass", "a.test",
               "a.test", "pass", 3)
        record(server, 0, A_RECORD, "a.test", "192.0.2.9", "fail",
               "evil.test", "", "none", 1)
        record(server, 0, A_RECORD, "a.test", "192.0.2.1", "pass", "a.test",
               "a.test", "pass", 2)
        record(server, 0, D_RECORD, "d.test", "198.51.100.7", "pass",
               "d.test", "", "none", 1)
        record(server, 0, E_RECORD, "e.test", "198.51.100.8", "pass",
               "e.test", "", "none", 1)
        # No record at all: nothing recorded.
        record(server, 0, "not dmarc", "f.test", "198.51.100.9", "pass",
               "f.test", "", "none", 1)

        res = server.cli("dmarc", "list", check=True)
        assert re.search(r"period \d+ open .*rows=4", res.stdout)
        assert re.search(r"a\.test source=192\.0\.2\.1 count=5 "
                         r"disposition=none dkim=pass spf=pass", res.stdout)
        assert re.search(r"a\.test source=192\.0\.2\.9 count=1 "
                         r"disposition=reject dkim=fail spf=fail", res.stdout)
        assert "f.test" not in res.stdout

        res = server.cli("dmarc", "report", "--now", check=True)
        assert ("1 period closed, 1 report queued for 1 destination, "
                "4 destinations skipped, 2 reports dropped, 0 deferred"
                in res.stdout), res.stdout + res.stderr
        assert "warning" not in res.stderr, res.stderr
        # The refused destinations, and why.
        assert re.search(r"dmarc-report-destination-refused domain=a\.test "
                         r"to=nobody@c\.test", res.stderr)
        assert re.search(r"dmarc-report-too-large domain=d\.test "
                         r"to=dmarc@b\.test .*limit=1024", res.stderr)
        assert re.search(r"dmarc-report-dropped domain=e\.test", res.stderr)
        t1 = int(time.time())

        msgs = stored(server, "dmarc@b.test")
        assert len(msgs) == 1
        msg, name, root = report_of(msgs[0])
        assert msg["From"] == "<reports@b.test>"
        assert msg["To"] == "<dmarc@b.test>"
        m = re.fullmatch(r"Report Domain: a\.test Submitter: Test Org <&> "
                         r"Report-ID: <(\S+)>", msg["Subject"])
        assert m, msg["Subject"]
        report_id = m.group(1)
        fm = re.fullmatch(r"mx\.b\.test!a\.test!(\d+)!(\d+)\.xml\.gz", name)
        assert fm, name
        begin, end = int(fm.group(1)), int(fm.group(2))
        assert t0 - 1 <= begin <= end <= t1 + 1

        assert root.tag == "feedback"
        meta = root.find("report_metadata")
        assert meta.findtext("org_name") == "Test Org <&>"
        assert meta.findtext("email") == "reports@b.test"
        assert meta.findtext("report_id") == report_id
        assert int(meta.findtext("date_range/begin")) == begin
        assert int(meta.findtext("date_range/end")) == end
        pol = root.find("policy_published")
        assert pol.findtext("domain") == "a.test"
        assert pol.findtext("p") == "reject"
        assert pol.findtext("sp") == "quarantine"
        assert pol.findtext("adkim") == "s"
        assert pol.findtext("aspf") == "r"
        assert pol.findtext("pct") == "100"

        recs = records_by_ip(root)
        assert set(recs) == {"192.0.2.1", "192.0.2.9"}
        good, bad = recs["192.0.2.1"], recs["192.0.2.9"]
        assert good.findtext("row/count") == "5"
        assert good.findtext("row/policy_evaluated/disposition") == "none"
        assert good.findtext("row/policy_evaluated/dkim") == "pass"
        assert good.findtext("row/policy_evaluated/spf") == "pass"
        assert good.findtext("identifiers/header_from") == "a.test"
        assert good.findtext("identifiers/envelope_from") == "a.test"
        assert good.findtext("auth_results/dkim/domain") == "a.test"
        assert good.findtext("auth_results/dkim/result") == "pass"
        assert good.findtext("auth_results/spf/scope") == "mfrom"
        assert good.findtext("auth_results/spf/result") == "pass"
        assert bad.findtext("row/count") == "1"
        assert bad.findtext("row/policy_evaluated/disposition") == "reject"
        assert bad.findtext("row/policy_evaluated/dkim") == "fail"
        assert bad.findtext("row/policy_evaluated/spf") == "fail"
        assert bad.find("auth_results/dkim") is None
        assert bad.findtext("auth_results/spf/domain") == "evil.test"
        assert bad.findtext("auth_results/spf/result") == "fail"

        # Reported once: the rows are gone, a second pass sends nothing.
        res = server.cli("dmarc", "report", "--now", check=True)
        assert "0 reports queued" in res.stdout
        assert len(stored(server, "dmarc@b.test")) == 1
        res = server.cli("dmarc", "list", check=True)
        assert "a.test" not in res.stdout
        assert "closed" not in res.stdout
    finally:
        server.stop()


def test_daemon_reports_period_ended_while_down(tmp_path):
    needs_tools()
    server = make_server(tmp_path)
    # Three days ago: the period's day is long over when posthornd starts.
    when = int(time.time()) - 3 * 86400
    record(server, when, A_RECORD, "a.test", "192.0.2.1", "pass", "a.test",
           "a.test", "pass", 4)
    # The daemon signs its reports too when the sender's domain has a key.
    signed = server.cli("dkim", "keygen", "b.test").returncode == 0
    server.start()
    try:
        server.wait_log(r"event=dmarc-report-queued domain=a\.test .*local=1",
                        timeout=20)
        server.wait_log(r"event=dmarc-report-pass closed=1 reports=1 ",
                        timeout=20)
        msgs = stored(server, "dmarc@b.test")
        assert len(msgs) == 1
        _, name, root = report_of(msgs[0])
        if signed:
            assert re.search(rb"^DKIM-Signature:.*\bd=b\.test;", msgs[0],
                             re.M | re.S)
        assert int(root.findtext("report_metadata/date_range/begin")) == when
        assert name.startswith("mx.b.test!a.test!%d!" % when)
        assert records_by_ip(root)["192.0.2.1"].findtext("row/count") == "4"
        # The CLI finds nothing left to send.
        res = server.cli("dmarc", "report", check=True)
        assert "0 reports queued" in res.stdout
    finally:
        server.stop()


def test_report_without_daemon_and_bad_usage(tmp_path):
    needs_tools()
    server = make_server(tmp_path)
    res = server.cli("dmarc", "report", "--later")
    assert res.returncode == 1
    assert "usage" in res.stderr
    res = server.cli("dmarc", "list", check=True)
    assert "no DMARC report rows" in res.stdout
    record(server, 0, A_RECORD, "a.test", "192.0.2.1", "pass", "a.test",
           "a.test", "pass", 1)
    # Without --now the open period is not due yet: nothing is sent.
    res = server.cli("dmarc", "report", check=True)
    assert "0 periods closed, 0 reports queued" in res.stdout
    res = server.cli("dmarc", "report", "--now", check=True)
    assert "1 report queued" in res.stdout
    assert len(stored(server, "dmarc@b.test")) == 1


def smtpd_records_reports():
    path = os.path.join(REPO, "src", "smtpd", "smtpd-mailauth.c")
    if not os.path.exists(path):
        return False
    with open(path) as f:
        return "dmarc_report_record" in f.read()


def test_report_from_real_mail(tmp_path):
    """A message through the MX listener, checked by smtpd, recorded and
    reported. Runs only once smtpd records rows itself."""
    needs_tools()
    if not smtpd_records_reports():
        pytest.skip("smtpd does not call dmarc_report_record() yet")
    import smtplib
    server = make_server(tmp_path)
    zone = os.path.join(str(tmp_path), "zone")
    with open(zone, "a") as f:
        f.write('_dmarc.a.test. TXT "v=DMARC1; p=none; '
                'rua=mailto:dmarc@b.test"\n'
                'a.test. TXT "v=spf1 ip4:127.0.0.1 -all"\n')
    server.start()
    try:
        with smtplib.SMTP("127.0.0.1", server.ports["smtp"],
                          timeout=30) as s:
            s.sendmail("alice@a.test", ["dmarc@b.test"],
                       b"From: alice@a.test\r\nTo: dmarc@b.test\r\n"
                       b"Subject: hello\r\n\r\nhi\r\n")
        deadline = time.monotonic() + 15
        while True:
            res = server.cli("dmarc", "list", check=True)
            if "a.test source=127.0.0.1" in res.stdout:
                break
            assert time.monotonic() < deadline, res.stdout
            time.sleep(0.1)
        res = server.cli("dmarc", "report", "--now", check=True)
        assert "1 report queued" in res.stdout, res.stdout + res.stderr
        msgs = [m for m in stored(server, "dmarc@b.test")
                if b"Report Domain: a.test" in m]
        assert len(msgs) == 1
        _, _, root = report_of(msgs[0])
        rec = records_by_ip(root)["127.0.0.1"]
        assert rec.findtext("row/count") == "1"
        assert rec.findtext("row/policy_evaluated/spf") == "pass"
        assert rec.findtext("identifiers/header_from") == "a.test"
    finally:
        server.stop()


def zone_txt(zone_text):
    """name (bytes, absolute) -> TXT value (bytes) from zone lines."""
    records = {}
    for m in re.finditer(r"^(\S+)\s+(?:\d+\s+)?IN\s+TXT\s+\(?((?:\s*\"[^\"]*\")+)",
                         zone_text, re.M):
        value = "".join(re.findall(r"\"([^\"]*)\"", m.group(2)))
        records[m.group(1).lower().encode()] = value.encode()
    return records


def test_report_dkim_signed(tmp_path):
    """With a key for the sender's domain ([auth] dkim_sign, the default)
    the report is DKIM-signed, and dkimpy verifies it."""
    needs_tools()
    dkim = pytest.importorskip("dkim")
    server = make_server(tmp_path)
    res = server.cli("dkim", "keygen", "b.test")
    if res.returncode != 0:
        pytest.skip("posthorn dkim keygen is not available: " + res.stderr)
    records = zone_txt(res.stdout)
    assert records, res.stdout
    record(server, 0, A_RECORD, "a.test", "192.0.2.1", "pass", "a.test",
           "a.test", "pass", 1)
    res = server.cli("dmarc", "report", "--now", check=True)
    assert "1 report queued" in res.stdout, res.stdout + res.stderr
    msgs = stored(server, "dmarc@b.test")
    assert len(msgs) == 1
    raw = msgs[0]
    assert re.search(rb"^DKIM-Signature:.*\bd=b\.test;", raw, re.M | re.S)

    def dnsfunc(name, timeout=5):
        return records.get(name.lower())
    assert dkim.DKIM(raw).verify(dnsfunc=dnsfunc)
    # One byte of the attachment changed: the signature fails.
    tampered = raw.replace(b"H4sI", b"H4sJ", 1)
    assert tampered != raw
    try:
        ok = dkim.DKIM(tampered).verify(dnsfunc=dnsfunc)
    except dkim.DKIMException:
        ok = False
    assert not ok


def test_report_hostile_values_stay_valid_xml(tmp_path):
    """Values from the internet with markup, control characters and bytes
    that are not UTF-8 still give a well-formed report."""
    needs_tools()
    server = make_server(tmp_path)
    hostile = b"1.2.3.4<x a=\"&amp;\">'\x01\x7f\xff\xc3\xa9</feedback>"
    res = subprocess.run([HELPER.encode(), server.data_dir.encode(), b"0",
                          A_RECORD.encode(), b"a.test", hostile, b"pass",
                          b"a.test", b"a.test", b"pass", b"1"],
                         capture_output=True, timeout=30)
    assert res.returncode == 0, res.stderr
    res = server.cli("dmarc", "report", "--now", check=True)
    assert "1 report queued" in res.stdout
    msgs = stored(server, "dmarc@b.test")
    assert len(msgs) == 1
    _, _, root = report_of(msgs[0])
    ips = [r.findtext("row/source_ip") for r in root.findall("record")]
    assert ips == ["1.2.3.4<x a=\"&amp;\">'???\u00e9</feedback>"]
