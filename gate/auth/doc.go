// Package auth decides which phone a request comes from: by its SOCKS5 username
// and password, by its bearer token, or by a session cookie that the page sets
// after a login with the token. It also makes and checks the CSRF tokens of the
// page's forms.
//
// Secrets are held only as SHA-256 digests and compared in constant time. The
// generated passwords and tokens are 256-bit random values, so a fast hash is
// enough: there is no low-entropy password for a slow hash to protect.
package auth
