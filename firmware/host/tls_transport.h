/*
 * A garage_transport over TCP and BearSSL's TLS client, for the host build
 * of the relay. It offers what the ESP8266 sketch offers: TLS 1.2 only, the
 * cipher suites of garage_tls.h, a reduced maximum fragment length, session
 * resumption, and a server certificate checked against the CA file alone,
 * for the broker's host name.
 */
#ifndef GARAGE_TLS_TRANSPORT_H
#define GARAGE_TLS_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>

#include <bearssl/bearssl.h>

#include "../core/garage_mqtt.h"
#include "../core/garage_tls.h"

/* Maximum number of CA certificates in the CA file. */
#define TLS_ANCHORS_MAX 4

/* Bytes for the names and public keys of all trust anchors. */
#define TLS_ANCHOR_STORE 8192

typedef struct {
	/* Settings, filled in by the caller before tls_transport_init. */
	const char *server_name; /* name sent as SNI and checked in the certificate */
	const char *address;     /* host or address to connect to; NULL means server_name */
	const char *port;
	int64_t clock_offset;    /* seconds added to the system clock for certificate checks */
	unsigned fragment_length; /* 512, 1024, 2048, 4096 or 16384 */
	void (*log)(const char *format, ...);

	/* Private state. */
	br_x509_trust_anchor anchors[TLS_ANCHORS_MAX];
	size_t anchor_count;
	unsigned char anchor_store[TLS_ANCHOR_STORE];
	size_t anchor_store_used;
	br_ssl_client_context client;
	br_x509_minimal_context x509;
	br_sslio_context io;
	br_ssl_session_parameters session;
	int have_session;
	int fd;
	unsigned char in_buf[16384 + GARAGE_TLS_IN_OVERHEAD];
	unsigned char out_buf[16384 + GARAGE_TLS_OUT_OVERHEAD];
} tls_transport;

/*
 * Loads the CA certificates of the PEM file ca_file as the only trust
 * anchors and fills in transport, whose context is t. Returns 0, or -1
 * after logging why.
 */
int tls_transport_init(tls_transport *t, const char *ca_file, garage_transport *transport);

/* Returns the socket of the open connection, or -1. */
int tls_transport_fd(const tls_transport *t);

#endif /* GARAGE_TLS_TRANSPORT_H */
