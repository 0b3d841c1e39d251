package firewall

import "net/netip"

// WouldDropSSH reports whether the ruleset for opts drops a new SSH connection
// from remote, the client end of the session: the first two fields of
// $SSH_CONNECTION. Only the address counts. The running session itself survives
// an Apply, because the rules accept its packets as established. But once it
// ends, its owner could not log in again from the same address.
//
// It assumes that sshd listens on opts.SSHPort. Connections from a loopback
// address arrive on lo, which the ruleset always accepts.
func WouldDropSSH(opts Options, remote netip.AddrPort) bool {
	addr := remote.Addr().Unmap().WithZone("")
	if addr.IsLoopback() || len(opts.SSHFrom) == 0 {
		return false
	}
	for _, p := range opts.SSHFrom {
		if p.Contains(addr) {
			return false
		}
	}
	return true
}
