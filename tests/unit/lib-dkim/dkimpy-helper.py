#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# The other side of the DKIM interoperability test, with Debian's dkimpy:
#   verify RECORD MSGFILE          prints "pass" or "fail"
#   sign ALG CANON MSGFILE PEM     ALG rsa|ed25519, CANON e.g. relaxed/simple;
#                                  prints the TXT record on the first line,
#                                  then the signed message
import base64
import sys

import dkim


def main():
    cmd = sys.argv[1]
    if cmd == 'verify':
        record = sys.argv[2].encode()
        msg = open(sys.argv[3], 'rb').read()
        d = dkim.DKIM(msg)
        try:
            ok = d.verify(dnsfunc=lambda name, timeout=5: record)
        except dkim.DKIMException:
            ok = False
        print('pass' if ok else 'fail')
    elif cmd == 'sign':
        alg, canon, path, pem = sys.argv[2:6]
        msg = open(path, 'rb').read()
        hc, bc = canon.encode().split(b'/')
        if alg == 'ed25519':
            import nacl.signing
            key = nacl.signing.SigningKey.generate()
            priv = base64.b64encode(bytes(key))
            record = 'v=DKIM1; k=ed25519; p=' + base64.b64encode(
                bytes(key.verify_key)).decode()
            sigalg = b'ed25519-sha256'
        else:
            priv = open(pem, 'rb').read()
            record = None
            sigalg = b'rsa-sha256'
        sig = dkim.sign(msg, b'sel', b'example.com', priv,
                        canonicalize=(hc, bc), signature_algorithm=sigalg,
                        include_headers=[b'from', b'to', b'subject', b'date'])
        print(record or '-')
        sys.stdout.flush()
        sys.stdout.buffer.write(sig + msg)
    return 0


sys.exit(main())
