// Package hostfs maps host paths under a --root directory, looks up accounts in
// that root's /etc/passwd and /etc/group, and writes files atomically with their
// final owner and mode set before the first byte.
//
// Account lookup reads the files by hand because os/user consults the running
// machine's NSS, not the root being provisioned.
package hostfs
