package config

import (
	"errors"
	"math"
	"strconv"
	"strings"
	"time"
)

// ParseDuration parses Go duration syntax ("400ms", "10s", "1h30m") or a whole number
// of days with the suffix "d" ("397d", "3650d").
func ParseDuration(s string) (Duration, error) {
	days, isDays := strings.CutSuffix(s, "d")
	if !isDays {
		d, err := time.ParseDuration(s)
		return Duration(d), err
	}
	n, err := strconv.ParseInt(days, 10, 64)
	if err != nil || n < 0 || n > math.MaxInt64/int64(Day) {
		return 0, errors.New("invalid duration " + strconv.Quote(s))
	}
	return Duration(time.Duration(n) * Day), nil
}

// Std returns d as a time.Duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }

// String formats d with the day suffix when it is a whole number of days ("397d"),
// else like time.Duration ("400ms").
func (d Duration) String() string {
	std := time.Duration(d)
	if std != 0 && std%Day == 0 {
		return strconv.FormatInt(int64(std/Day), 10) + "d"
	}
	return std.String()
}
