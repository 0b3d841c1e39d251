// Package pki creates and loads the garage CA and issues the broker's server
// certificate and device or client certificates, and renders the CA as a C
// header for the ESP8266 relay firmware.
//
// The CA certificate carries critical name constraints that permit only the
// broker's DNS names and IP addresses, and IssueServer and IssueClient reject
// any other name with a *ConstraintError before they sign. OpenSSL and
// crypto/x509 enforce the constraints when they verify a chain, but BearSSL's
// minimal X.509 engine on the relay does not. The CA key leaves a CA only
// encrypted (EncryptCAKey), and LoadCA reads it back.
//
// RSA-2048 is the default key type because the relay's BearSSL verifies RSA
// signatures in milliseconds and ECDSA signatures in seconds.
//
// The package neither writes files nor prints: every function returns bytes,
// values and errors, and the caller writes them with the modes it chooses.
package pki
