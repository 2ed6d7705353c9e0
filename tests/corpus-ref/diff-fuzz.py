#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Differential fuzzing against Dovecot: mutates corpus messages (seeded,
so a run can be repeated), has a throwaway Dovecot and our parser render
BODYSTRUCTURE / ENVELOPE / BODY for each, and reports every difference.
Needs what make-refs.py needs (root, dovecot-imapd) and a build dir with
tests/unit/lib-imap/imap-render.

    tests/corpus-ref/diff-fuzz.py [--seed N] [--count N] [--build DIR] [--keep DIR]

Exit status 1 when anything differs. A difference is either a bug of ours
(fix it, then copy the message into extra-src/ and rerun make-refs.py) or a
case where Dovecot is wrong (document it in README.md). Not run by
`make check`: it needs Dovecot and takes a minute for a thousand messages.
"""
import argparse
import importlib.util
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
spec = importlib.util.spec_from_file_location(
    "make_refs", os.path.join(HERE, "make-refs.py"))
mr = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mr)

TOKENS = [b"\r\n", b"\r\n\r\n", b"--", b"\r\n--", b":", b";", b"=", b'"',
          b"\\", b"(", b")", b"<", b">", b"@", b",", b"=?", b"?=", b"*0*=",
          b"*1=", b"''", b"%", b" ", b"\t", b"\r\n ", b"\xc3\xa9", b"\xff",
          b"\r", b"Content-Type: multipart/mixed; boundary=b\r\n",
          b"Content-Type: message/rfc822\r\n", b"\r\n--b\r\n",
          b"\r\n--b--\r\n", b"MIME-Version: 1.0\r\n",
          b"Content-Disposition: attachment; filename=x\r\n", b"From: ",
          b"To: ", b"Subject: ", b"Content-Type: ", b"text/plain",
          b"multipart/digest; boundary=d", b"\r\n--d\r\n"]


def mutate(rnd, msg):
    m = bytearray(msg)
    for _ in range(rnd.randint(1, 6)):
        pos = rnd.randint(0, len(m))
        r = rnd.random()
        if r < 0.5:
            m[pos:pos] = rnd.choice(TOKENS)
        elif r < 0.7 and m:
            del m[pos:pos + rnd.randint(1, 40)]
        elif r < 0.85:
            m[pos:pos] = m[pos:pos + rnd.randint(1, 200)]
        elif m:
            m[rnd.randrange(len(m))] = rnd.choice(b" :;=\"<>@,()-\r\n\ta")
    # as the store holds it: no NULs (APPEND refuses them), LF made CRLF
    m = bytes(m).replace(b"\0", b"x")
    return re.sub(rb"(?<!\r)\n", b"\r\n", m) or b"x"


def parse_ref(data):
    items, pos = {}, 0
    while pos < len(data):
        nl = data.index(b"\n", pos)
        name, length = data[pos:nl].split(b" ")
        length = int(length)
        items[name.decode()] = data[nl + 1:nl + 1 + length]
        pos = nl + 1 + length + 1
    return items


def fetch_section(imap, seq, sec):
    """The bytes of BODY[sec] as Dovecot sends them, or None."""
    typ, data = imap.fetch(str(seq), "(BODY.PEEK[%s])" % sec)
    if typ != "OK" or not data or data[0] is None:
        return None
    if isinstance(data[0], tuple):
        return data[0][1]
    m = re.search(rb'BODY\[[^\]]*\] (NIL|"(.*)")\)$', data[0])
    if m is None or m.group(1) == b"NIL":
        return None
    return m.group(2)


def parse_sections(data):
    """SECTION lines of imap-render --sections: [(name, offset, size)]."""
    res = []
    for line in data.split(b"\n"):
        if line.startswith(b"SECTION "):
            _, name, off, size = line.split(b" ")
            res.append((name.decode(), int(off), int(size)))
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--count", type=int, default=500)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--keep", help="copy differing messages here")
    ap.add_argument("--max-sections", type=int, default=40,
                    help="BODY[section] fetches compared per message")
    ap.add_argument("--corpus", default=os.path.join(ROOT, "..", "shared", "corpus"))
    args = ap.parse_args()

    render = os.path.join(args.build, "tests", "unit", "lib-imap", "imap-render")
    if not os.access(render, os.X_OK):
        sys.exit("build %s first (ninja -C build)" % render)
    seeds = [m for _, m in mr.corpus_messages(args.corpus) if len(m) < 30000]
    rnd = random.Random(args.seed)
    work = tempfile.mkdtemp(prefix="posthorn-difffuzz-")
    os.chmod(work, 0o755)
    names = []
    for i in range(args.count):
        name = os.path.join(work, "m%05d.eml" % i)
        with open(name, "wb") as f:
            f.write(mutate(rnd, rnd.choice(seeds)))
        names.append(name)

    # our part offsets first, to fetch the same sections from Dovecot
    subprocess.run([render, "--sections"] + names, check=True)
    sections = {}
    for name in names:
        with open(name + ".ours", "rb") as f:
            sections[name] = parse_sections(f.read())

    imaplib = mr.imaplib
    imaplib.MapCRLF = re.compile(br"(?!)")
    port = mr.free_port()
    dtmp = tempfile.mkdtemp(prefix="posthorn-difffuzz-dovecot-")
    os.chmod(dtmp, 0o755)
    proc = mr.start_dovecot(dtmp, port)
    compared = differ = 0
    try:
        imap = imaplib.IMAP4("127.0.0.1", port)
        imap.login("test", "pass")
        imap.select("INBOX")
        seq = 0
        stored = []
        for name in names:
            with open(name, "rb") as f:
                typ, _ = imap.append("INBOX", None, None, f.read())
            if typ != "OK":
                continue
            imap.noop()
            seq += 1
            ref = {}
            for item in ("BODYSTRUCTURE", "ENVELOPE", "BODY"):
                ref[item] = mr.raw_fetch(imap, seq, item)
            with open(name, "rb") as f:
                msg = f.read()
            for sec, off, size in sections[name][:args.max_sections]:
                ref["SECTION " + sec] = (fetch_section(imap, seq, sec),
                                         msg[off:off + size])
            stored.append((name, ref))
        imap.logout()
    finally:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(dtmp, ignore_errors=True)

    for name, ref in stored:
        with open(name + ".ours", "rb") as f:
            data = f.read()
        ours = parse_ref(data[:data.find(b"\nSECTION ") + 1]
                         if b"\nSECTION " in data else data)
        for key, (a, b) in [(k, v) for k, v in ref.items()
                            if k.startswith("SECTION ")]:
            ours[key] = b
            ref[key] = a
        compared += 1
        for item in ["BODYSTRUCTURE", "ENVELOPE", "BODY"] + sorted(
                k for k in ref if k.startswith("SECTION ")):
            a, b = ref[item], ours[item]
            if a == b:
                continue
            differ += 1
            i = 0
            while i < min(len(a), len(b)) and a[i] == b[i]:
                i += 1
            print("%s %s differs at %d\n  dovecot: %r\n  ours:    %r" % (
                os.path.basename(name), item, i, a[max(0, i - 80):i + 80],
                b[max(0, i - 80):i + 80]))
            if args.keep:
                os.makedirs(args.keep, exist_ok=True)
                shutil.copy(name, args.keep)
            break
    shutil.rmtree(work, ignore_errors=True)
    print("%d passed, %d failed" % (compared - differ, differ))
    sys.exit(1 if differ else 0)


if __name__ == "__main__":
    main()
