/*
 * TLS settings that the ESP8266 sketch and the host build share, so that the
 * host build offers the broker exactly what a relay offers.
 */
#ifndef GARAGE_TLS_H
#define GARAGE_TLS_H

#include <stdint.h>

#include <bearssl/bearssl_ssl.h>

/*
 * Initialiser of the uint16_t array of TLS 1.2 cipher suites, most preferred
 * first. They are the TLS 1.2 suites that garagectl's mosquitto.conf allows:
 * ECDHE key exchange and AEAD ciphers only.
 * ECDHE-RSA-AES128-GCM-SHA256 comes first because the broker's default key
 * is RSA-2048, whose signatures BearSSL verifies far faster than ECDSA ones
 * on the ESP8266. The ECDSA suites serve a broker with an ecdsa-p256 key.
 */
#define GARAGE_TLS_SUITES { \
	BR_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, \
	BR_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256, \
	BR_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, \
	BR_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, \
	BR_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, \
	BR_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, \
}

/*
 * Maximum fragment length in bytes that the relay requests (RFC 6066). Every
 * MQTT packet of the relay fits in one 512-byte record, so a broker that
 * accepts the extension lets the ESP8266 shrink its receive buffer from
 * 16 KiB to about 0.8 KiB.
 */
#define GARAGE_TLS_FRAGMENT_LENGTH 512

/*
 * BearSSL's record overhead on top of the fragment length, in bytes, as the
 * ESP8266 core's WiFiClientSecure::setBufferSizes adds it. The core takes
 * both values from BearSSL's ssl_engine.c.
 */
#define GARAGE_TLS_IN_OVERHEAD 325
#define GARAGE_TLS_OUT_OVERHEAD 85

#endif /* GARAGE_TLS_H */
