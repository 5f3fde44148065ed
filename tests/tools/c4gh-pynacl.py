#!/usr/bin/python3
"""An independent Crypt4GH v1 decryptor, for kura's tests only (src/crypto/test-c4gh.c).

It shares no code with kura's C: PyNaCl (libsodium) and hashlib, written from the GA4GH
specification (crypt4gh.readthedocs.io), so a file it decrypts is a standard file. It follows the
format, not kura's extras: segment nonces are opaque, and any packet that fails to decrypt is
skipped.

    c4gh-pynacl.py --sk-hex HEX IN OUT
    c4gh-pynacl.py --sk-file FILE [--passphrase P] IN OUT     (c4gh-v1 key, kdf none or scrypt)

Exit status 0 when OUT holds the plaintext, 1 with a message otherwise.
"""
import argparse, base64, hashlib, struct, sys

from nacl.bindings import (crypto_aead_chacha20poly1305_ietf_decrypt as aead_decrypt,
                           crypto_scalarmult, crypto_scalarmult_base)
from nacl.encoding import RawEncoder
from nacl.exceptions import CryptoError
from nacl.hash import blake2b

CIPHER_SEGMENT = 12 + 65536 + 16


def strings(blob, pos):
    """Yields the c4gh-v1 key strings (2-byte big-endian length + bytes) from pos."""
    while pos < len(blob):
        (n,) = struct.unpack('>H', blob[pos:pos + 2])
        yield blob[pos + 2:pos + 2 + n]
        pos += 2 + n


def read_secret_key(path, passphrase):
    lines = open(path).read().strip().splitlines()
    blob = base64.b64decode(''.join(lines[1:-1]))
    assert blob[:7] == b'c4gh-v1', 'not a c4gh-v1 key'
    s = strings(blob, 7)
    kdf = next(s)
    if kdf == b'none':
        next(s)  # cipher "none"
        return next(s)
    assert kdf == b'scrypt', 'unsupported kdf %r' % kdf
    salt = next(s)[4:]  # rounds (ignored for scrypt) || salt
    assert next(s) == b'chacha20_poly1305'
    data = next(s)
    key = hashlib.scrypt(passphrase.encode(), salt=salt, n=1 << 14, r=8, p=1, dklen=32)
    return aead_decrypt(data[12:], None, data[:12], key)


def decrypt(sk, data):
    assert data[:8] == b'crypt4gh', 'no magic'
    version, count = struct.unpack('<II', data[8:16])
    assert version == 1, 'version %d' % version
    pk, pos, keys = crypto_scalarmult_base(sk), 16, []
    for _ in range(count):
        length, method = struct.unpack('<II', data[pos:pos + 8])
        packet, pos = data[pos:pos + length], pos + length
        if method != 0:
            continue
        writer_pk, nonce = packet[8:40], packet[40:52]
        # Shared key: BLAKE2b-512(X25519 || reader pk || writer pk), first 32 bytes.
        dh = crypto_scalarmult(sk, writer_pk)
        shared = blake2b(dh + pk + writer_pk, digest_size=64, encoder=RawEncoder)[:32]
        try:
            payload = aead_decrypt(packet[52:], None, nonce, shared)
        except CryptoError:
            continue
        ptype, dmethod = struct.unpack('<II', payload[:8])
        assert ptype == 0 and dmethod == 0 and len(payload) == 40, 'unsupported packet'
        keys.append(payload[8:])
    assert keys, 'no header packet for this key'
    out = bytearray()
    for off in range(pos, len(data), CIPHER_SEGMENT):
        seg = data[off:off + CIPHER_SEGMENT]
        for key in keys:
            try:
                out += aead_decrypt(seg[12:], None, seg[:12], key)
                break
            except CryptoError:
                pass
        else:
            raise AssertionError('segment at %d does not decrypt' % off)
    return bytes(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--sk-hex')
    ap.add_argument('--sk-file')
    ap.add_argument('--passphrase', default='')
    ap.add_argument('input')
    ap.add_argument('output')
    a = ap.parse_args()
    try:
        sk = bytes.fromhex(a.sk_hex) if a.sk_hex else read_secret_key(a.sk_file, a.passphrase)
        plain = decrypt(sk, open(a.input, 'rb').read())
    except (AssertionError, CryptoError, ValueError, struct.error) as e:
        sys.exit('c4gh-pynacl: %s' % e)
    with open(a.output, 'wb') as f:
        f.write(plain)


if __name__ == '__main__':
    main()
