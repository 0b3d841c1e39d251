// Package change is the one path by which garagectl alters a host. Every
// command builds a list of Change values, Plan compares them with the host, and
// Apply makes only the differing ones, so plan, --dry-run and apply share the
// same code and a second apply changes nothing.
package change
