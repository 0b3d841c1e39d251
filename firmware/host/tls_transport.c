#define _POSIX_C_SOURCE 200809L

#include "tls_transport.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

/* Largest CA file read, in bytes. */
#define CA_FILE_MAX 32768

/* Largest DER certificate in the CA file, in bytes. */
#define CERT_DER_MAX 4096

/* Time in seconds that a connect, handshake step or record may take. */
#define SOCKET_TIMEOUT_S 10

/* Days from 1 January of year 0 to 1 January 1970, as BearSSL counts them. */
#define UNIX_EPOCH_DAYS 719528

static const uint16_t suites[] = GARAGE_TLS_SUITES;

/* Copies n bytes into the anchor store. Returns the copy, or NULL when full. */
static unsigned char *store(tls_transport *t, const void *data, size_t n)
{
	unsigned char *p;

	if (n > sizeof t->anchor_store - t->anchor_store_used)
		return NULL;
	p = t->anchor_store + t->anchor_store_used;
	memcpy(p, data, n);
	t->anchor_store_used += n;
	return p;
}

typedef struct {
	unsigned char data[CERT_DER_MAX];
	size_t len;
	int overflow;
} byte_buffer;

static void append(void *context, const void *data, size_t len)
{
	byte_buffer *b = (byte_buffer *)context;

	if (len > sizeof b->data - b->len) {
		b->overflow = 1;
		return;
	}
	memcpy(b->data + b->len, data, len);
	b->len += len;
}

/* Decodes one DER certificate and adds its name and key as a trust anchor. */
static int add_anchor(tls_transport *t, const unsigned char *der, size_t len)
{
	static byte_buffer dn;
	br_x509_decoder_context decoder;
	br_x509_trust_anchor *ta;
	br_x509_pkey *key;

	if (t->anchor_count == TLS_ANCHORS_MAX) {
		t->log("tls: the CA file has more than %d certificates", TLS_ANCHORS_MAX);
		return -1;
	}
	dn.len = 0;
	dn.overflow = 0;
	br_x509_decoder_init(&decoder, append, &dn);
	br_x509_decoder_push(&decoder, der, len);
	key = br_x509_decoder_get_pkey(&decoder);
	if (key == NULL || dn.overflow) {
		t->log("tls: invalid CA certificate: BearSSL error %d", br_x509_decoder_last_error(&decoder));
		return -1;
	}
	if (!br_x509_decoder_isCA(&decoder)) {
		t->log("tls: certificate %zu of the CA file is not a CA certificate", t->anchor_count + 1);
		return -1;
	}

	ta = &t->anchors[t->anchor_count];
	ta->flags = BR_X509_TA_CA;
	ta->dn.data = store(t, dn.data, dn.len);
	ta->dn.len = dn.len;
	ta->pkey.key_type = key->key_type;
	if (key->key_type == BR_KEYTYPE_RSA) {
		ta->pkey.key.rsa.n = store(t, key->key.rsa.n, key->key.rsa.nlen);
		ta->pkey.key.rsa.nlen = key->key.rsa.nlen;
		ta->pkey.key.rsa.e = store(t, key->key.rsa.e, key->key.rsa.elen);
		ta->pkey.key.rsa.elen = key->key.rsa.elen;
		if (ta->pkey.key.rsa.n == NULL || ta->pkey.key.rsa.e == NULL)
			ta->dn.data = NULL;
	} else {
		ta->pkey.key.ec.curve = key->key.ec.curve;
		ta->pkey.key.ec.q = store(t, key->key.ec.q, key->key.ec.qlen);
		ta->pkey.key.ec.qlen = key->key.ec.qlen;
		if (ta->pkey.key.ec.q == NULL)
			ta->dn.data = NULL;
	}
	if (ta->dn.data == NULL) {
		t->log("tls: the CA certificates are larger than %d bytes", TLS_ANCHOR_STORE);
		return -1;
	}
	t->anchor_count++;
	return 0;
}

/* Reads the whole file into buf. Returns its length, or -1. */
static long read_file(const char *path, unsigned char *buf, size_t size)
{
	FILE *f = fopen(path, "rb");
	size_t n;

	if (f == NULL)
		return -1;
	n = fread(buf, 1, size, f);
	if (ferror(f) || n == size) {
		fclose(f);
		return -1;
	}
	fclose(f);
	return (long)n;
}

static int load_anchors(tls_transport *t, const char *path)
{
	static unsigned char pem[CA_FILE_MAX + 1];
	static byte_buffer der;
	br_pem_decoder_context decoder;
	long len = read_file(path, pem, CA_FILE_MAX);
	size_t pos = 0;
	int in_certificate = 0;

	if (len < 0) {
		t->log("tls: read CA file %s: %s", path, errno ? strerror(errno) : "larger than 32 KiB");
		return -1;
	}
	/* BearSSL's PEM decoder needs a newline after the last END line. */
	pem[len++] = '\n';

	br_pem_decoder_init(&decoder);
	while (pos < (size_t)len) {
		pos += br_pem_decoder_push(&decoder, pem + pos, (size_t)len - pos);
		switch (br_pem_decoder_event(&decoder)) {
		case BR_PEM_BEGIN_OBJ:
			in_certificate = strcmp(br_pem_decoder_name(&decoder), "CERTIFICATE") == 0;
			der.len = 0;
			der.overflow = 0;
			br_pem_decoder_setdest(&decoder, in_certificate ? append : NULL, &der);
			break;
		case BR_PEM_END_OBJ:
			if (in_certificate && (der.overflow || add_anchor(t, der.data, der.len) != 0))
				return -1;
			in_certificate = 0;
			break;
		case BR_PEM_ERROR:
			t->log("tls: CA file %s: invalid PEM", path);
			return -1;
		}
	}
	if (t->anchor_count == 0) {
		t->log("tls: CA file %s contains no certificate", path);
		return -1;
	}
	return 0;
}

static int socket_read(void *context, unsigned char *buf, size_t len)
{
	int fd = *(int *)context;

	for (;;) {
		ssize_t n = recv(fd, buf, len, 0);
		if (n > 0)
			return (int)n;
		if (n < 0 && errno == EINTR)
			continue;
		return -1;
	}
}

static int socket_write(void *context, const unsigned char *buf, size_t len)
{
	int fd = *(int *)context;

	for (;;) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
		if (n > 0)
			return (int)n;
		if (n < 0 && errno == EINTR)
			continue;
		return -1;
	}
}

/* Opens a TCP connection with SOCKET_TIMEOUT_S on connect, reads and writes. */
static int tcp_connect(tls_transport *t)
{
	struct addrinfo hints, *list, *ai;
	struct timeval timeout = { SOCKET_TIMEOUT_S, 0 };
	const char *host = t->address != NULL ? t->address : t->server_name;
	int fd = -1, err;

	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	err = getaddrinfo(host, t->port, &hints, &list);
	if (err != 0) {
		t->log("tcp: resolve %s: %s", host, gai_strerror(err));
		return -1;
	}
	for (ai = list; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
		if (fd < 0)
			continue;
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		err = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(list);
	if (fd < 0)
		t->log("tcp: connect to %s port %s: %s", host, t->port, strerror(err));
	return fd;
}

static void set_clock(tls_transport *t)
{
	int64_t now = (int64_t)time(NULL) + t->clock_offset;

	/* BearSSL takes days since 1 January of year 0 and seconds into the day. */
	br_x509_minimal_set_time(&t->x509, (uint32_t)(now / 86400 + UNIX_EPOCH_DAYS),
		(uint32_t)(now % 86400));
}

static int tls_connect(void *context)
{
	tls_transport *t = (tls_transport *)context;
	br_ssl_engine_context *engine = &t->client.eng;
	unsigned char old_id[32];
	size_t old_id_len = 0;
	int err, resumed;

	t->fd = tcp_connect(t);
	if (t->fd < 0)
		return -1;

	br_ssl_client_init_full(&t->client, &t->x509, t->anchors, t->anchor_count);
	br_ssl_engine_set_versions(engine, BR_TLS12, BR_TLS12);
	br_ssl_engine_set_suites(engine, suites, sizeof suites / sizeof suites[0]);
	br_ssl_engine_set_buffers_bidi(engine, t->in_buf, t->fragment_length + GARAGE_TLS_IN_OVERHEAD,
		t->out_buf, t->fragment_length + GARAGE_TLS_OUT_OVERHEAD);
	set_clock(t);
	if (t->have_session) {
		br_ssl_engine_set_session_parameters(engine, &t->session);
		old_id_len = t->session.session_id_len;
		memcpy(old_id, t->session.session_id, old_id_len);
	}
	br_ssl_client_reset(&t->client, t->server_name, t->have_session);
	br_sslio_init(&t->io, engine, socket_read, &t->fd, socket_write, &t->fd);

	/* A flush with no data runs the handshake to its end. */
	br_sslio_flush(&t->io);
	err = br_ssl_engine_last_error(engine);
	if (err != BR_ERR_OK || br_ssl_engine_current_state(engine) == BR_SSL_CLOSED) {
		/*
		 * Common codes: 62 BR_ERR_X509_NOT_TRUSTED, 54 BR_ERR_X509_EXPIRED
		 * (expired or not yet valid), 56 BR_ERR_X509_BAD_SERVER_NAME.
		 */
		t->log("tls: handshake with %s failed: BearSSL error %d", t->server_name, err);
		close(t->fd);
		t->fd = -1;
		t->have_session = 0;
		return -1;
	}
	br_ssl_engine_get_session_parameters(engine, &t->session);
	resumed = old_id_len > 0 && old_id_len == t->session.session_id_len &&
		memcmp(old_id, t->session.session_id, old_id_len) == 0;
	/*
	 * The fragment length logged is the one requested. A broker that does
	 * not accept it sends records of up to 16 KiB, and the handshake fails
	 * with BR_ERR_TOO_LARGE (6) once one of them does not fit the buffer.
	 */
	t->log("tls: connected to %s with cipher suite 0x%04x, %s, maximum fragment length %u",
		t->server_name, t->session.cipher_suite, resumed ? "session resumed" : "full handshake",
		t->fragment_length);
	t->have_session = 1;
	return 0;
}

/*
 * Sends a close_notify alert without waiting for the broker's, then closes
 * the socket. The alert keeps the session resumable, because OpenSSL 3 (as
 * in Debian 12) drops a session from its cache when the connection ends
 * without one.
 */
static void tls_close(void *context)
{
	tls_transport *t = (tls_transport *)context;
	br_ssl_engine_context *engine = &t->client.eng;

	if (br_ssl_engine_current_state(engine) != BR_SSL_CLOSED) {
		br_ssl_engine_get_session_parameters(engine, &t->session);
		br_ssl_engine_close(engine);
		while (br_ssl_engine_current_state(engine) & BR_SSL_SENDREC) {
			size_t len;
			unsigned char *rec = br_ssl_engine_sendrec_buf(engine, &len);
			int n = socket_write(&t->fd, rec, len);
			if (n < 0)
				break;
			br_ssl_engine_sendrec_ack(engine, (size_t)n);
		}
	}
	close(t->fd);
	t->fd = -1;
}

static int tls_read(void *context, uint8_t *buf, size_t len)
{
	tls_transport *t = (tls_transport *)context;
	unsigned state = br_ssl_engine_current_state(&t->client.eng);
	int n;

	if (state == BR_SSL_CLOSED)
		return -1;
	if (!(state & BR_SSL_RECVAPP)) {
		/* Nothing decrypted yet: read from the socket only if it has bytes. */
		struct pollfd p = { t->fd, POLLIN, 0 };
		int ready = poll(&p, 1, 0);
		if (ready == 0 || (ready < 0 && errno == EINTR))
			return 0;
		if (ready < 0)
			return -1;
	}
	/* This may wait for the rest of a record that has begun to arrive. */
	n = br_sslio_read(&t->io, buf, len);
	return n < 0 ? -1 : n;
}

static int tls_write(void *context, const uint8_t *buf, size_t len)
{
	tls_transport *t = (tls_transport *)context;

	if (br_sslio_write_all(&t->io, buf, len) != 0 || br_sslio_flush(&t->io) != 0)
		return -1;
	return (int)len;
}

int tls_transport_init(tls_transport *t, const char *ca_file, garage_transport *transport)
{
	unsigned f = t->fragment_length;

	t->fd = -1;
	t->anchor_count = 0;
	t->anchor_store_used = 0;
	t->have_session = 0;
	if (f != 512 && f != 1024 && f != 2048 && f != 4096 && f != 16384) {
		t->log("tls: invalid fragment length %u: use 512, 1024, 2048, 4096 or 16384", f);
		return -1;
	}
	if (load_anchors(t, ca_file) != 0)
		return -1;
	transport->context = t;
	transport->connect = tls_connect;
	transport->close = tls_close;
	transport->read = tls_read;
	transport->write = tls_write;
	return 0;
}

int tls_transport_fd(const tls_transport *t)
{
	return t->fd;
}
