package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/garagectl/garagectl/internal/testutil"
)

// chromiumTimeout bounds the whole browser session of a test.
const chromiumTimeout = 90 * time.Second

// newChromium starts headless Chromium with the gate as its SOCKS5 proxy and
// returns a browser context. Chromium cannot send SOCKS5 credentials, so the
// gate must allow clients without them.
func newChromium(t *testing.T, proxy string) context.Context {
	t.Helper()
	chromium := testutil.RequireTool(t, "chromium", "chromium")
	ctx, cancel := context.WithTimeout(t.Context(), chromiumTimeout)
	t.Cleanup(cancel)
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.ProxyServer("socks5://" + proxy),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		// Chromium passes host names to a SOCKS5 proxy. This rule makes any
		// other lookup fail, so the browser reaches nothing but the gate.
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND , EXCLUDE 127.0.0.1"),
		chromedp.WindowSize(412, 915),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(cancelAlloc)
	browserCtx, cancelBrowser := chromedp.NewContext(allocCtx)
	t.Cleanup(cancelBrowser)
	return browserCtx
}

// TestGatePageInChromium signs in on the gate's page with the phone's token,
// presses the button and checks that the relay gets one command and the page
// shows that it was sent. The screenshot after the press goes to the test's artifact
// directory (kept with go test -artifacts).
func TestGatePageInChromium(t *testing.T) {
	testutil.RequireTool(t, "chromium", "chromium")
	h := newHub(t)
	b := startBroker(t, h)
	relay := subscribeCommands(t, h, b, "relay1", false)
	relay.report(t, "avail", "online")
	relay.report(t, "state", "v1 idle 0 boot")
	configPath, listen := writeGateConfig(t, h, b, gateSettings{cooldown: "10s", allowNoAuth: true})
	g := startGate(t, h, configPath, listen)
	phone := readPhone(t, h, "phone1")
	browser := newChromium(t, g.addr)

	err := chromedp.Do(browser, chromedp.Navigate("http://"+gateHost+"/"), chromedp.WaitVisible("#token"))
	if err != nil {
		t.Fatalf("load the page: %v", err)
	}
	before, err := chromedp.Run(browser, chromedp.Text("main"))
	if err != nil {
		t.Fatalf("read the page: %v", err)
	}
	if strings.Contains(before, "relay1") {
		t.Errorf("page before signing in shows a device:\n%s", before)
	}

	resp, err := chromedp.RunResponse(browser,
		chromedp.SendKeys("#token", phone.token), chromedp.Submit("#token"))
	if err != nil {
		t.Fatalf("sign in with the token: %v", err)
	}
	if resp.Status != 200 {
		t.Errorf("page after signing in: status %d, want 200", resp.Status)
	}
	if err := chromedp.Do(browser, chromedp.WaitVisible("#press-relay1")); err != nil {
		t.Fatalf("find the button after signing in: %v", err)
	}
	cookies, err := chromedp.Call(browser, network.GetCookies, network.GetCookiesParams{})
	if err != nil {
		t.Fatalf("read the browser's cookies: %v", err)
	}
	checkSessionCookie(t, cookies.Cookies)

	notice, page, png := pressButton(t, browser, "relay1")
	if err := os.WriteFile(filepath.Join(t.ArtifactDir(), "page.png"), png, 0o644); err != nil {
		t.Fatalf("save screenshot: %v", err)
	}
	t.Logf("screenshot: %s", filepath.Join(t.ArtifactDir(), "page.png"))
	if cmd := relay.next(t); cmd.Seq != 1 {
		t.Errorf("relay received seq %d, want 1", cmd.Seq)
	}
	if notice != "Sent to relay1: command 1." {
		t.Errorf("notice after the press = %q, want %q", notice, "Sent to relay1: command 1.")
	}
	for _, want := range []string{"Broker: connected", "online since just now",
		"idle, restarted (last command 0)", "Signed in as phone1.", "Open / close relay1"} {
		if !strings.Contains(page, want) {
			t.Errorf("page after the press lacks %q:\n%s", want, page)
		}
	}

	notice, _, _ = pressButton(t, browser, "relay1")
	if !strings.HasPrefix(notice, "relay1 is cooling down: try again in ") {
		t.Errorf("notice after a second press = %q, want the cooldown", notice)
	}
	relay.expectNone(t, time.Second)
}

// pressButton presses the device's button and returns the notice and the text
// of the page that follows, and a screenshot of it.
func pressButton(t *testing.T, browser context.Context, device string) (notice, page string, png []byte) {
	t.Helper()
	// RunResponse returns once the page after the redirect has loaded, so the
	// notice read next is the new one.
	resp, err := chromedp.RunResponse(browser, chromedp.Click("#press-"+device))
	if err != nil {
		t.Fatalf("press the button of %s: %v", device, err)
	}
	if resp.Status != 200 {
		t.Errorf("page after the press: status %d, want 200", resp.Status)
	}
	if notice, err = chromedp.Run(browser, chromedp.Text("#notice")); err != nil {
		t.Fatalf("read the notice: %v", err)
	}
	if page, err = chromedp.Run(browser, chromedp.Text("main")); err != nil {
		t.Fatalf("read the page: %v", err)
	}
	if png, err = chromedp.Run(browser, chromedp.FullScreenshot(100)); err != nil {
		t.Fatalf("take a screenshot: %v", err)
	}
	return strings.TrimSpace(notice), page, png
}

// checkSessionCookie fails the test unless the token login set one session
// cookie that scripts cannot read and other sites cannot send.
func checkSessionCookie(t *testing.T, cookies []*network.Cookie) {
	t.Helper()
	if len(cookies) != 1 {
		t.Fatalf("browser holds %d cookies after signing in, want 1: %+v", len(cookies), cookies)
	}
	c := cookies[0]
	if !c.HTTPOnly || c.SameSite != network.CookieSameSiteStrict || c.Domain != gateHost {
		t.Errorf("session cookie: HttpOnly %v, SameSite %q, domain %q, want true, Strict, %s",
			c.HTTPOnly, c.SameSite, c.Domain, gateHost)
	}
}
