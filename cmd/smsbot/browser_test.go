package main

import (
	"context"
	"encoding/json"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// go test ./cmd/smsbot -run TestBrowser -screenshots ../../docs (make
// screenshots) refreshes the README's pictures.
var screenshotDir = flag.String("screenshots", "", "write the browser test's screenshots into this directory")

// chromium finds a Chromium or Chrome binary: $SMSBOT_CHROMIUM, then the
// usual names on PATH.
func chromium() string {
	if p := os.Getenv("SMSBOT_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// startDev runs the program in dev mode on a free loopback port and
// returns its base URL.
func startDevServer(t *testing.T) string {
	t.Helper()
	addr, listenSetting := listenFD(t)
	base := "http://" + addr
	env := map[string]string{
		"SMSBOT_ADDR":       listenSetting,
		"SMSBOT_DB":         filepath.Join(t.TempDir(), "dev.db"),
		"SMSBOT_PUBLIC_URL": base,
	}
	runProgram(t, []string{"serve", "--dev"}, env, base, &syncBuffer{})
	return base
}

// TestBrowser_DevPhoneSubscribe walks the subscription as a person does,
// in headless Chromium: open the Dev Phone, text S, tap the link, log in
// at the Auth0 stand-in, text back the code the page shows, and see
// "subscribed".
func TestBrowser_DevPhoneSubscribe(t *testing.T) {
	bin := browser(t)
	base := startDevServer(t)
	shots := shotsDir(t)

	ctx := headless(t, bin)

	const phone = "+15555550142"
	shot := func(name string, w, h int64) chromedp.Action { return screenshot(shots, name, w, h) }

	// Open /dev as this phone, text S and wait for the link.
	var href string
	err := chromedp.Run(ctx,
		chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile),
		chromedp.Navigate(base+"/dev"),
		chromedp.WaitVisible("#number", chromedp.ByID),
		chromedp.SetValue("#number", phone, chromedp.ByID),
		chromedp.Click(`#number-form button[type="submit"]`, chromedp.ByQuery),
		send("H"),
		chromedp.WaitVisible(`.msg.out .bubble`, chromedp.ByQuery),
		send("S"),
		chromedp.WaitVisible(`.msg.out .bubble a[href*="/l/"]`, chromedp.ByQuery),
		chromedp.AttributeValue(`.msg.out .bubble a[href*="/l/"]`, "href", &href, nil, chromedp.ByQuery),
	)
	if err != nil {
		t.Fatalf("texting S in the Dev Phone: %v", err)
	}
	if !strings.HasPrefix(href, base+"/l/") {
		t.Fatalf("link %q is not on %s", href, base)
	}

	// Tap the link (in this tab: a phone's browser would open one), log in.
	var code, page string
	err = chromedp.Run(ctx,
		chromedp.Evaluate(`document.querySelector('.msg.out .bubble a[href*="/l/"]').removeAttribute('target')`, nil),
		chromedp.Click(`.msg.out .bubble a[href*="/l/"]`, chromedp.ByQuery),
		chromedp.WaitVisible("#email", chromedp.ByID),
		chromedp.SetValue("#email", "person@example.com", chromedp.ByID),
		chromedp.Click(`button[type="submit"]`, chromedp.ByQuery),
		chromedp.WaitVisible("#code", chromedp.ByID),
		chromedp.Text("#code", &code, chromedp.ByID),
		chromedp.Text("body", &page, chromedp.ByQuery),
		shot("code-page.png", 390, 844),
	)
	if err != nil {
		t.Fatalf("logging in through the link: %v", err)
	}
	code = strings.TrimSpace(code)
	if !regexp.MustCompile(`^\d{6}$`).MatchString(code) || !strings.Contains(page, "0142") {
		t.Fatalf("code page: code %q\n%s", code, page)
	}

	// Back in the Dev Phone, text the code and see "subscribed".
	err = chromedp.Run(ctx,
		chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile),
		chromedp.Navigate(base+"/dev"),
		chromedp.WaitVisible(`.msg.out .bubble a[href*="/l/"]`, chromedp.ByQuery), // the same phone's history
		send(code),
		chromedp.Poll(`[...document.querySelectorAll('.msg.out .bubble')].some(b => b.textContent.includes("you're subscribed"))`, nil,
			chromedp.WithPollingTimeout(15*time.Second)),
		send("H"),
		chromedp.Poll(`[...document.querySelectorAll('.msg.out .bubble')].some(b => b.textContent.includes("U = unsubscribe"))`, nil,
			chromedp.WithPollingTimeout(15*time.Second)),
		shot("devphone-phone.png", 390, 844),
		shot("devphone-desktop.png", 1280, 800),
	)
	if err != nil {
		t.Fatalf("texting the code: %v", err)
	}

	// The used link again: an error page.
	var errPage, newLink string
	err = chromedp.Run(ctx,
		chromedp.Navigate(href),
		chromedp.WaitVisible("body", chromedp.ByQuery),
		chromedp.Text("body", &errPage, chromedp.ByQuery),
		chromedp.AttributeValue(`a.button`, "href", &newLink, nil, chromedp.ByQuery),
		shot("error-page.png", 390, 844),
	)
	if err != nil {
		t.Fatalf("opening the used link: %v", err)
	}
	if !strings.Contains(errPage, "already used") || newLink != "sms:+15005550006?&body=S" {
		t.Fatalf("used link page (button %q): %s", newLink, errPage)
	}
}

// headless starts a headless Chromium of its own for the test and returns
// the context of its first tab, bounded to 60 s; both end with the test.
func headless(t *testing.T, bin string, extra ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin),
		chromedp.UserDataDir(profileDir(t)),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.WindowSize(1280, 800),
	)
	opts = append(opts, extra...)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancelCtx := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	t.Cleanup(cancelCtx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 60*time.Second)
	t.Cleanup(cancelTimeout)
	return ctx
}

// screenshot sizes the viewport to w by h and writes a screenshot of it to
// dir/name.
func screenshot(dir, name string, w, h int64) chromedp.Action {
	return chromedp.ActionFunc(func(ctx context.Context) error {
		var buf []byte
		if err := chromedp.EmulateViewport(w, h).Do(ctx); err != nil {
			return err
		}
		if err := chromedp.Sleep(150 * time.Millisecond).Do(ctx); err != nil { // layout after the resize
			return err
		}
		if err := chromedp.CaptureScreenshot(&buf).Do(ctx); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, name), buf, 0o644)
	})
}

// send texts the bot from the Dev Phone open in the tab.
func send(text string) chromedp.Action {
	return chromedp.Tasks{
		chromedp.WaitVisible("#body", chromedp.ByID),
		chromedp.SetValue("#body", text, chromedp.ByID),
		chromedp.Click("#send", chromedp.ByID),
	}
}

// browser returns the Chromium binary, skipping the test in -short runs
// and where there is none.
func browser(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("drives a browser")
	}
	bin := chromium()
	if bin == "" {
		t.Skip("no Chromium binary found (apt-get install chromium, or set SMSBOT_CHROMIUM): the browser test cannot run")
	}
	return bin
}

// shotsDir is where a browser test writes its screenshots: -screenshots,
// else a directory of the test's own.
func shotsDir(t *testing.T) string {
	t.Helper()
	if *screenshotDir == "" {
		return t.TempDir()
	}
	if err := os.MkdirAll(*screenshotDir, 0o755); err != nil {
		t.Fatal(err)
	}
	return *screenshotDir
}

// profileDir is a fresh Chromium profile directory. Chromium's helper
// processes can still write into it for a moment after the browser is
// gone, so it is removed with a few bounded retries rather than by
// t.TempDir, whose cleanup fails the test on a non-empty directory.
func profileDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "smsbot-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for i := 0; i < 50; i++ {
			if err := os.RemoveAll(dir); err == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Logf("chromium profile %s left behind", dir)
	})
	return dir
}

// TestBrowser_DevPhoneSpanish walks the subscription in headless Chromium
// from a Mexican number: every text and the code page come in Spanish.
// With -screenshots it refreshes docs/devphone-es.png and
// docs/code-page-es.png.
func TestBrowser_DevPhoneSpanish(t *testing.T) {
	bin := browser(t)
	base := startDevServer(t)
	shots := shotsDir(t)
	ctx := headless(t, bin, chromedp.Flag("lang", "en-US")) // the pages follow the phone, not the browser

	const phone = "+5215512340142"
	shot := func(name string, w, h int64) chromedp.Action { return screenshot(shots, name, w, h) }
	said := func(text string) chromedp.Action {
		return chromedp.Poll(`[...document.querySelectorAll('.msg.out .bubble')].some(b => b.textContent.includes(`+strconvQuote(text)+`))`, nil,
			chromedp.WithPollingTimeout(15*time.Second))
	}
	var code, page string
	err := chromedp.Run(ctx,
		chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile),
		chromedp.Navigate(base+"/dev"),
		chromedp.WaitVisible("#number", chromedp.ByID),
		chromedp.SetValue("#number", phone, chromedp.ByID),
		chromedp.Click(`#number-form button[type="submit"]`, chromedp.ByQuery),
		send("hola"),
		said("escribe S para suscribirte"),
		send("S"),
		chromedp.WaitVisible(`.msg.out .bubble a[href*="/l/"]`, chromedp.ByQuery),
		chromedp.Evaluate(`document.querySelector('.msg.out .bubble a[href*="/l/"]').removeAttribute('target')`, nil),
		chromedp.Click(`.msg.out .bubble a[href*="/l/"]`, chromedp.ByQuery),
		chromedp.WaitVisible("#email", chromedp.ByID),
		chromedp.SetValue("#email", "persona@example.com", chromedp.ByID),
		chromedp.Click(`button[type="submit"]`, chromedp.ByQuery),
		chromedp.WaitVisible("#code", chromedp.ByID),
		chromedp.Text("#code", &code, chromedp.ByID),
		chromedp.Text("body", &page, chromedp.ByQuery),
		shot("code-page-es.png", 390, 844),
	)
	if err != nil {
		t.Fatalf("subscribing in Spanish: %v", err)
	}
	code = strings.TrimSpace(code)
	if !regexp.MustCompile(`^\d{6}$`).MatchString(code) || !strings.Contains(page, "¿Vincular el teléfono terminado en 0142") || !strings.Contains(page, "No compartas este código.") {
		t.Fatalf("code page: code %q\n%s", code, page)
	}
	err = chromedp.Run(ctx,
		chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile),
		chromedp.Navigate(base+"/dev"),
		chromedp.WaitVisible(`.msg.out .bubble a[href*="/l/"]`, chromedp.ByQuery),
		said("responde con el código de la página"),
		send(code),
		said("¡listo! Este teléfono queda vinculado"),
		send("H"),
		said("U = desvincular"),
		shot("devphone-es.png", 390, 844),
	)
	if err != nil {
		t.Fatalf("texting the code in Spanish: %v", err)
	}
}

// strconvQuote quotes s as a JavaScript string.
func strconvQuote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
