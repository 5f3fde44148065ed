/* c4gh.c — Crypt4GH v1 headers (crypt4gh.readthedocs.io, "Encryption format", header packets).
 *
 * The layout is in crypto.h's design note. kura writes exactly one kind of header: one
 * X25519-ChaCha20-Poly1305 packet holding the data encryption parameters (method 0, the data
 * key). It reads any v1 header, skipping the packets it cannot decrypt (other recipients,
 * unknown public-key methods), as the format requires, and refuses what would change the meaning
 * of the data if ignored: edit lists and unknown packet types inside a packet meant for us.
 *
 * Packet keys: X25519(sk, peer pk), then BLAKE2b with a 64-byte output over (shared secret ||
 * reader pk || writer pk), first 32 bytes. That is libsodium's crypto_kx with the reader as
 * client and the writer as server, which is how the reference implementations derive it. It is
 * spelt out here (scalarmult + generichash) so that the order of the keys is visible; BLAKE2b-512
 * truncated is not BLAKE2b-256 (the output length is hashed into the parameter block).
 *
 * Header packets are small and rare, so libsodium's ChaCha20-Poly1305 does them; the bulk
 * segments go through OpenSSL (c4gh-stream.c).
 *
 * Hostile headers: the header is parsed with a cursor, every length checked against what is left
 * before it is used; at most KURA_C4GH_PACKETS_MAX packets (each costs an X25519 and a
 * decryption attempt) and KURA_C4GH_HEADER_MAX bytes. A writer key whose shared secret is zero
 * (a low-order point) makes crypto_scalarmult fail: that packet cannot be for us and is skipped.
 */
#include "crypto-internal.h"

#include <string.h>

#define C4GH_MAGIC "crypt4gh"
#define C4GH_MAGIC_LEN 8
#define C4GH_VERSION 1u
#define C4GH_PREAMBLE_BYTES (C4GH_MAGIC_LEN + 4 + 4)

#define C4GH_METHOD_X25519_CHACHA 0u /* header packet encryption method */
#define C4GH_PACKET_DATA_KEY 0u      /* packet type: data encryption parameters */
#define C4GH_PACKET_EDIT_LIST 1u     /* packet type: data edit list */
#define C4GH_DATA_CHACHA 0u          /* data encryption method chacha20_ietf_poly1305 */

#define C4GH_NONCE_BYTES crypto_aead_chacha20poly1305_ietf_NPUBBYTES
#define C4GH_TAG_BYTES crypto_aead_chacha20poly1305_ietf_ABYTES
/* length | method | writer pk | nonce, before the encrypted payload */
#define C4GH_PACKET_PREFIX_BYTES (4 + 4 + KURA_C4GH_KEY_BYTES + C4GH_NONCE_BYTES)
/* The smallest X25519 packet: an empty payload and its tag. */
#define C4GH_PACKET_MIN (C4GH_PACKET_PREFIX_BYTES + C4GH_TAG_BYTES)
/* type | data method | data key */
#define C4GH_PAYLOAD_DATA_KEY_BYTES (4 + 4 + KURA_C4GH_DATA_KEY_BYTES)
#define C4GH_PACKET_DATA_KEY_BYTES (C4GH_PACKET_MIN + C4GH_PAYLOAD_DATA_KEY_BYTES)

_Static_assert(C4GH_PREAMBLE_BYTES + C4GH_PACKET_DATA_KEY_BYTES == KURA_C4GH_HEADER_ONE_BYTES,
               "one-packet header size");
_Static_assert(KURA_C4GH_DATA_KEY_BYTES == crypto_aead_chacha20poly1305_ietf_KEYBYTES,
               "data key size");
_Static_assert(C4GH_NONCE_BYTES == 12 && C4GH_TAG_BYTES == 16, "IETF ChaCha20-Poly1305");
_Static_assert(KURA_C4GH_HEADER_MAX <= UINT32_MAX, "packet lengths are u32");

static uint32_t get_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

/* The packet key shared by the writer (sk = writer's, peer = reader's pk) and the reader (sk =
 * reader's, peer = writer's pk). KURA_ECRYPTO when the shared secret is zero. */
static int packet_key(const uint8_t sk[KURA_C4GH_KEY_BYTES],
                      const uint8_t peer_pk[KURA_C4GH_KEY_BYTES],
                      const uint8_t reader_pk[KURA_C4GH_KEY_BYTES],
                      const uint8_t writer_pk[KURA_C4GH_KEY_BYTES],
                      uint8_t ret_key[crypto_aead_chacha20poly1305_ietf_KEYBYTES])
{
    uint8_t dh[crypto_scalarmult_BYTES];
    KURA_CLEANUP_WIPE(dh);
    crypto_generichash_state st;
    KURA_CLEANUP_WIPE(st);
    uint8_t h[crypto_generichash_BYTES_MAX];
    KURA_CLEANUP_WIPE(h);
    _Static_assert(crypto_generichash_BYTES_MAX == 64, "BLAKE2b-512");

    if (crypto_scalarmult(dh, sk, peer_pk) != 0) {
        return KURA_ECRYPTO;
    }
    if (crypto_generichash_init(&st, NULL, 0, sizeof(h)) != 0 ||
        crypto_generichash_update(&st, dh, sizeof(dh)) != 0 ||
        crypto_generichash_update(&st, reader_pk, KURA_C4GH_KEY_BYTES) != 0 ||
        crypto_generichash_update(&st, writer_pk, KURA_C4GH_KEY_BYTES) != 0 ||
        crypto_generichash_final(&st, h, sizeof(h)) != 0) {
        return KURA_EINTERNAL;
    }
    memcpy(ret_key, h, crypto_aead_chacha20poly1305_ietf_KEYBYTES);
    return 0;
}

/* ---- building ------------------------------------------------------------------------------ */

int kura_c4gh_header_build(const uint8_t data_key[KURA_C4GH_DATA_KEY_BYTES],
                           const uint8_t recipient_pk[KURA_C4GH_KEY_BYTES],
                           const uint8_t *writer_sk, uint8_t ret_header[KURA_C4GH_HEADER_ONE_BYTES])
{
    uint8_t ephemeral_sk[KURA_C4GH_KEY_BYTES];
    KURA_CLEANUP_WIPE(ephemeral_sk);
    uint8_t writer_pk[KURA_C4GH_KEY_BYTES];
    uint8_t key[crypto_aead_chacha20poly1305_ietf_KEYBYTES];
    KURA_CLEANUP_WIPE(key);
    uint8_t payload[C4GH_PAYLOAD_DATA_KEY_BYTES];
    KURA_CLEANUP_WIPE(payload);
    uint8_t out[KURA_C4GH_HEADER_ONE_BYTES];
    int r;

    if (!writer_sk) {
        r = kura_c4gh_keygen(writer_pk, ephemeral_sk);
        if (r < 0) {
            return r;
        }
        writer_sk = ephemeral_sk;
    } else {
        r = kura_c4gh_public_from_secret(writer_sk, writer_pk);
        if (r < 0) {
            return r;
        }
    }
    r = packet_key(writer_sk, recipient_pk, recipient_pk, writer_pk, key);
    if (r < 0) {
        return r;
    }

    uint8_t *p = out;
    memcpy(p, C4GH_MAGIC, C4GH_MAGIC_LEN);
    put_le32(p + 8, C4GH_VERSION);
    put_le32(p + 12, 1);
    p += C4GH_PREAMBLE_BYTES;
    put_le32(p, C4GH_PACKET_DATA_KEY_BYTES);
    put_le32(p + 4, C4GH_METHOD_X25519_CHACHA);
    memcpy(p + 8, writer_pk, KURA_C4GH_KEY_BYTES);
    uint8_t *nonce = p + 8 + KURA_C4GH_KEY_BYTES;
    r = kura_random(nonce, C4GH_NONCE_BYTES);
    if (r < 0) {
        return r;
    }
    put_le32(payload, C4GH_PACKET_DATA_KEY);
    put_le32(payload + 4, C4GH_DATA_CHACHA);
    memcpy(payload + 8, data_key, KURA_C4GH_DATA_KEY_BYTES);
    unsigned long long clen = 0;
    if (crypto_aead_chacha20poly1305_ietf_encrypt(p + C4GH_PACKET_PREFIX_BYTES, &clen, payload,
                                                  sizeof(payload), NULL, 0, NULL, nonce,
                                                  key) != 0 ||
        clen != sizeof(payload) + C4GH_TAG_BYTES) {
        return KURA_EINTERNAL;
    }
    memcpy(ret_header, out, sizeof(out));
    return 0;
}

/* ---- opening ------------------------------------------------------------------------------- */

static int syntax(struct kura_buf *why, const char *msg, uint32_t packet)
{
    kura_crypto_why(why, "Crypt4GH header packet %u: %s", packet, msg);
    return KURA_ESYNTAX;
}

/* What a packet meant for us says, once decrypted and authenticated. */
static int read_payload(const uint8_t *plain, size_t len, uint32_t packet,
                        uint8_t ret_key[KURA_C4GH_DATA_KEY_BYTES], struct kura_buf *why)
{
    if (len < 4) {
        return syntax(why, "payload shorter than its type", packet);
    }
    uint32_t type = get_le32(plain);
    if (type == C4GH_PACKET_EDIT_LIST) {
        /* kura never writes edit lists; ignoring one would hand out bytes the writer meant to
         * hide, so a file with one is refused, not decrypted whole. */
        kura_crypto_why(why, "Crypt4GH data edit lists are not supported");
        return KURA_EUNSUPPORTED;
    }
    if (type != C4GH_PACKET_DATA_KEY) {
        kura_crypto_why(why, "Crypt4GH header packet %u: unknown packet type %u", packet, type);
        return KURA_ESYNTAX;
    }
    if (len < 8) {
        return syntax(why, "truncated data encryption parameters", packet);
    }
    uint32_t method = get_le32(plain + 4);
    if (method != C4GH_DATA_CHACHA) {
        kura_crypto_why(why, "Crypt4GH data encryption method %u is not supported", method);
        return KURA_EUNSUPPORTED;
    }
    if (len != C4GH_PAYLOAD_DATA_KEY_BYTES) {
        return syntax(why, "data encryption parameters of the wrong length", packet);
    }
    memcpy(ret_key, plain + 8, KURA_C4GH_DATA_KEY_BYTES);
    return 0;
}

/* Tries one X25519 packet (pkt, len: the whole packet, len >= C4GH_PACKET_MIN). Returns 1 with
 * the data key when it is ours, 0 when it does not decrypt with our key, or an error. */
static int try_packet(const uint8_t *pkt, size_t len, uint32_t packet,
                      const uint8_t reader_sk[KURA_C4GH_KEY_BYTES],
                      const uint8_t reader_pk[KURA_C4GH_KEY_BYTES],
                      uint8_t ret_key[KURA_C4GH_DATA_KEY_BYTES], struct kura_buf *why)
{
    const uint8_t *writer_pk = pkt + 8;
    const uint8_t *nonce = writer_pk + KURA_C4GH_KEY_BYTES;
    const uint8_t *sealed = pkt + C4GH_PACKET_PREFIX_BYTES;
    size_t sealed_len = len - C4GH_PACKET_PREFIX_BYTES;
    size_t plain_len = sealed_len - C4GH_TAG_BYTES;
    uint8_t key[crypto_aead_chacha20poly1305_ietf_KEYBYTES];
    KURA_CLEANUP_WIPE(key);

    if (packet_key(reader_sk, writer_pk, reader_pk, writer_pk, key) < 0) {
        return 0; /* low-order writer key: no shared secret, not for us */
    }
    /* The payload of a packet for us is 40 bytes; others (edit lists, foreign types) may be
     * longer, and must be decrypted to be told apart from packets for someone else. */
    uint8_t *plain = kura_malloc(plain_len > 0 ? plain_len : 1);
    if (!plain) {
        return -ENOMEM;
    }
    int r = 0;
    if (crypto_aead_chacha20poly1305_ietf_decrypt_detached(
            plain, NULL, sealed, plain_len, sealed + plain_len, NULL, 0, nonce, key) == 0) {
        r = read_payload(plain, plain_len, packet, ret_key, why);
        if (r == 0) {
            r = 1;
        }
    }
    sodium_memzero(plain, plain_len);
    kura_free(plain);
    return r;
}

int kura_c4gh_header_open_with(const void *buf, size_t len,
                               const uint8_t reader_sk[KURA_C4GH_KEY_BYTES],
                               const uint8_t reader_pk[KURA_C4GH_KEY_BYTES],
                               uint8_t ret_data_key[KURA_C4GH_DATA_KEY_BYTES],
                               size_t *ret_header_len, struct kura_buf *reterr_why)
{
    const uint8_t *p = buf;
    uint8_t found[KURA_C4GH_DATA_KEY_BYTES];
    KURA_CLEANUP_WIPE(found);
    uint8_t key[KURA_C4GH_DATA_KEY_BYTES];
    KURA_CLEANUP_WIPE(key);
    bool have = false;

    if (len < C4GH_PREAMBLE_BYTES) {
        if (len >= C4GH_MAGIC_LEN && memcmp(p, C4GH_MAGIC, C4GH_MAGIC_LEN) != 0) {
            kura_crypto_why(reterr_why, "not a Crypt4GH file (no 'crypt4gh' magic)");
        } else {
            kura_crypto_why(reterr_why, "truncated Crypt4GH header");
        }
        return KURA_ESYNTAX;
    }
    if (memcmp(p, C4GH_MAGIC, C4GH_MAGIC_LEN) != 0) {
        kura_crypto_why(reterr_why, "not a Crypt4GH file (no 'crypt4gh' magic)");
        return KURA_ESYNTAX;
    }
    uint32_t version = get_le32(p + 8);
    if (version != C4GH_VERSION) {
        kura_crypto_why(reterr_why, "Crypt4GH version %u is not supported", version);
        return KURA_EUNSUPPORTED;
    }
    uint32_t count = get_le32(p + 12);
    if (count > KURA_C4GH_PACKETS_MAX) {
        kura_crypto_why(reterr_why, "Crypt4GH header of %u packets; at most %u are accepted", count,
                        KURA_C4GH_PACKETS_MAX);
        return KURA_ETOOBIG;
    }
    int r = 0;
    size_t off = C4GH_PREAMBLE_BYTES;
    for (uint32_t i = 0; i < count; i++) {
        if (len - off < 4) {
            return syntax(reterr_why, "truncated", i);
        }
        uint32_t plen = get_le32(p + off);
        if (plen < 8) {
            return syntax(reterr_why, "length shorter than the length and method", i);
        }
        if (plen > KURA_C4GH_HEADER_MAX - off) {
            kura_crypto_why(reterr_why, "Crypt4GH header longer than %u bytes",
                            KURA_C4GH_HEADER_MAX);
            return KURA_ETOOBIG;
        }
        if (plen > len - off) {
            return syntax(reterr_why, "truncated", i);
        }
        const uint8_t *pkt = p + off;
        off += plen;
        if (get_le32(pkt + 4) != C4GH_METHOD_X25519_CHACHA) {
            continue; /* a public-key method we do not know: for someone else */
        }
        if (plen < C4GH_PACKET_MIN) {
            return syntax(reterr_why, "X25519 packet too short", i);
        }
        r = try_packet(pkt, plen, i, reader_sk, reader_pk, key, reterr_why);
        if (r < 0) {
            return r;
        }
        if (r == 0) {
            continue;
        }
        if (have && sodium_memcmp(found, key, sizeof(key)) != 0) {
            /* The format allows it (a reader tries every key on every segment); kura's files
             * never have it, and trying keys per segment would hide a mixed-up file. */
            kura_crypto_why(reterr_why, "Crypt4GH header with several data keys");
            return KURA_EUNSUPPORTED;
        }
        memcpy(found, key, sizeof(key));
        have = true;
    }
    if (!have) {
        kura_crypto_why(reterr_why, "no Crypt4GH header packet opens with this key");
        return KURA_ECRYPTO;
    }
    memcpy(ret_data_key, found, sizeof(found));
    *ret_header_len = off;
    return 0;
}

int kura_c4gh_header_open(const void *buf, size_t len, const uint8_t reader_sk[KURA_C4GH_KEY_BYTES],
                          uint8_t ret_data_key[KURA_C4GH_DATA_KEY_BYTES], size_t *ret_header_len,
                          struct kura_buf *reterr_why)
{
    uint8_t reader_pk[KURA_C4GH_KEY_BYTES];
    int r = kura_c4gh_public_from_secret(reader_sk, reader_pk);
    return r < 0 ? r
                 : kura_c4gh_header_open_with(buf, len, reader_sk, reader_pk, ret_data_key,
                                              ret_header_len, reterr_why);
}

int kura_c4gh_header_reencrypt(const void *header, size_t len,
                               const uint8_t reader_sk[KURA_C4GH_KEY_BYTES],
                               const uint8_t recipient_pk[KURA_C4GH_KEY_BYTES],
                               const uint8_t *writer_sk,
                               uint8_t ret_header[KURA_C4GH_HEADER_ONE_BYTES],
                               struct kura_buf *reterr_why)
{
    uint8_t key[KURA_C4GH_DATA_KEY_BYTES];
    KURA_CLEANUP_WIPE(key);
    size_t hlen = 0;
    int r = kura_c4gh_header_open(header, len, reader_sk, key, &hlen, reterr_why);
    if (r < 0) {
        return r;
    }
    if (hlen != len) {
        kura_crypto_why(reterr_why, "%zu bytes after the Crypt4GH header", len - hlen);
        return KURA_ESYNTAX;
    }
    return kura_c4gh_header_build(key, recipient_pk, writer_sk, ret_header);
}
