// Package firewall builds and installs the host firewall of a garagectl hub: one
// nftables table, inet garagectl, written over netlink with
// github.com/google/nftables. The product never runs the nft program.
//
// # The ruleset
//
// The input chain (hook input, priority filter, policy drop) accepts loopback
// traffic and packets of established or related connections, and drops packets
// that conntrack marks invalid. It accepts the ICMP and ICMPv6 errors that path
// MTU discovery and failing connections need, IPv6 neighbour discovery,
// router advertisements and multicast listener queries, and DHCPv6 replies to
// a link-local client. It accepts Options.PingRate echo requests per second.
// It accepts SSH from Options.SSHFrom, or from anywhere when that is empty, so that
// a fresh host never locks out its owner. New connections to the broker and gate
// ports go to the chains "broker" and "gate". Everything else is counted and dropped.
//
// The broker and gate chains drop, each step with its own named counter:
//
//   - sources outside Options.MQTTFrom or Options.GateFrom (separate IPv4 and
//     IPv6 interval sets). An empty list admits no source, because a port that no
//     source was allowed to reach must stay shut.
//   - sources in the port's blocked set, a dynamic set whose entries expire after
//     Options.BlockTimeout.
//   - a source that opens new connections faster than Limits.Rate per Limits.Per,
//     measured per address in a meter set. The packet that exceeds the rate
//     also adds the source to the blocked set. This turns a connection flood or
//     a password-guessing script into about Limits.Rate attempts per BlockTimeout.
//   - a source holding more than Limits.Concurrent connections (ct count in a
//     dynamic set), so that one client cannot use up the service's connections.
//   - on the broker port, any connection beyond Options.MaxConnections from all
//     sources together. The cap holds before a flood reaches the broker's
//     sockets, whatever mosquitto's own max_connections lets in.
//
// [Counters] reads the counters for an audit.
//
// # Applying
//
// [Host.Apply] compares the live table with the expected one and sends nothing
// when they match, so counters and blocked sources survive a repeated apply.
// Otherwise it deletes the table and creates it again in a single netlink batch
// that the kernel commits completely or not at all. Other tables, such as those of
// Docker or libvirt, are never changed. A Host with NetNS set works on
// another network namespace, which is how the tests run.
//
// [Host.Snapshot] and [Host.Restore] support a confirm window: the caller
// saves a [TableSnapshot] under /run, applies, and restores unless the new rules
// are confirmed. [WouldDropSSH] lets the caller reject options that would lock
// out the SSH session it runs over.
//
// # What is written by hand
//
// [Show] returns the text that `nft list table inet garagectl` prints after
// Apply (nftables 1.0.6, counters at zero). It is rendered by this package,
// because the product has no nft binary and google/nftables has no text
// output. The renderer cannot drift from the netlink rules: each statement
// method of a rule appends its expressions and the words nft prints for them
// together, and both Apply and Show use the same built ruleset. The tests
// compare Show with the real nft listing in a network namespace.
//
// The expression sequences copy what nft 1.0.6 generates (seen with
// `nft --debug=netlink`), including its dependency matches (meta nfproto,
// meta l4proto) and its interval set encoding. With any other sequence, nft
// would list the rule in a different form.
package firewall
