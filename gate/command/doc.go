// Package command encodes, signs, parses and verifies the one-line commands that
// the gate publishes to garage/<device>/cmd and the relay firmware checks.
//
// The format is "v1 <device> <action> <seq> <ts> <mac>": fields separated by one
// space, no trailing newline, at most [MaxPayload] bytes, and mac the lowercase hex
// HMAC-SHA256 of everything before the last space under the device's 32-byte
// command key. docs/protocol.md in the repository defines it, with a test vector.
package command
