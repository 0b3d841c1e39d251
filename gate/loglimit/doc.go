// Package loglimit bounds what clients can make garage-gate write to its log.
// A [Limiter] lets a few lines per key through in each window and counts the
// rest for a summary line, and [Value] cuts a value that a client sent to a
// short printable prefix. The SOCKS5 front and the web layer both use it, keyed
// by [SourceKey].
package loglimit
