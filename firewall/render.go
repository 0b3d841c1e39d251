package firewall

import (
	"fmt"
	"strings"
	"time"
)

// Show returns the ruleset Apply installs for opts, in the text that
// `nft list table inet garagectl` (nftables 1.0.6) prints right after Apply:
// counters at zero, dynamic sets empty, no handles. It changes nothing on the host.
func Show(opts Options) (string, error) {
	o, err := opts.normalize()
	if err != nil {
		return "", err
	}
	return build(o).text(), nil
}

// text renders rs the way nft lists a table: named objects first, then named
// sets, then chains, each in creation order and separated by blank lines.
func (rs *ruleset) text() string {
	var blocks []string
	for _, name := range rs.counters {
		blocks = append(blocks, fmt.Sprintf("\tcounter %s {\n\t\tpackets 0 bytes 0\n\t}\n", name))
	}
	for _, s := range rs.sets {
		blocks = append(blocks, s.text())
	}
	for _, c := range rs.chains {
		blocks = append(blocks, rs.chainText(c.Name))
	}
	return "table inet " + rs.table.Name + " {\n" + strings.Join(blocks, "\n") + "}\n"
}

func (s *setSpec) text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "\tset %s {\n\t\ttype %s\n", s.set.Name, s.set.KeyType.Name)
	if s.set.Size > 0 {
		fmt.Fprintf(&b, "\t\tsize %d\n", s.set.Size)
	}

	var flags []string
	if s.set.Interval {
		flags = append(flags, "interval")
	}
	if s.set.Dynamic {
		flags = append(flags, "dynamic")
	}
	if s.set.HasTimeout {
		flags = append(flags, "timeout")
	}
	fmt.Fprintf(&b, "\t\tflags %s\n", strings.Join(flags, ","))

	if s.set.HasTimeout {
		fmt.Fprintf(&b, "\t\ttimeout %s\n", formatTimeout(s.set.Timeout))
	}
	if len(s.prefixes) > 0 {
		fmt.Fprintf(&b, "\t\t%s\n", formatElements(s.prefixes))
	}
	b.WriteString("\t}\n")
	return b.String()
}

func (rs *ruleset) chainText(name string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "\tchain %s {\n", name)
	for _, c := range rs.chains {
		if c.Name == name && c.Hooknum != nil {
			b.WriteString("\t\ttype filter hook input priority filter; policy drop;\n")
		}
	}
	for _, r := range rs.rules {
		if r.chain.Name == name {
			fmt.Fprintf(&b, "\t\t%s\n", strings.Join(r.words, " "))
		}
	}
	b.WriteString("\t}\n")
	return b.String()
}

// formatTimeout writes d as nft prints a time: days, hours, minutes, seconds
// and milliseconds, leaving out the zero ones ("1d1h", "1m30s").
func formatTimeout(d time.Duration) string {
	units := []struct {
		size time.Duration
		name string
	}{{24 * time.Hour, "d"}, {time.Hour, "h"}, {time.Minute, "m"}, {time.Second, "s"},
		{time.Millisecond, "ms"}}

	var b strings.Builder
	for _, u := range units {
		if n := d / u.size; n > 0 {
			fmt.Fprintf(&b, "%d%s", n, u.name)
			d -= n * u.size
		}
	}
	return b.String()
}
