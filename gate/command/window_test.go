package command

import (
	"os"
	"regexp"
	"strconv"
	"testing"
	"time"
)

// The gate's messages take how long a command without a PUBACK may still
// arrive from ClockWindow, so it must equal the firmware's window.
func TestClockWindowMatchesFirmware(t *testing.T) {
	header, err := os.ReadFile("../../firmware/core/garage_command.h")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^#define GARAGE_CLOCK_WINDOW (\d+)$`).FindSubmatch(header)
	if m == nil {
		t.Fatal("garage_command.h defines no GARAGE_CLOCK_WINDOW")
	}
	seconds, _ := strconv.Atoi(string(m[1]))
	if got := time.Duration(seconds) * time.Second; got != ClockWindow {
		t.Errorf("GARAGE_CLOCK_WINDOW is %s, ClockWindow %s", got, ClockWindow)
	}
}
