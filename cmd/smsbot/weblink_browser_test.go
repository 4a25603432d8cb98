package main

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

// colorScheme emulates the reader's light or dark preference.
func colorScheme(scheme string) chromedp.Action {
	return emulation.SetEmulatedMedia().WithFeatures([]*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}})
}

// TestBrowser_DevPhoneWebLink walks the web-first path as a person on a
// computer does, in headless Chromium: follow the Dev Phone's link to
// /link, log in at the Auth0 stand-in, read the code off the page, text it
// from the Dev Phone in another tab, and see the page say "Linked" without
// being reloaded.
func TestBrowser_DevPhoneWebLink(t *testing.T) {
	bin := browser(t)
	base := startDevServer(t)
	shots := shotsDir(t)
	page := headless(t, bin)
	const phone = "+15555550143"

	// The Dev Phone's way in.
	var href string
	err := chromedp.Run(page,
		chromedp.EmulateViewport(1280, 800),
		chromedp.Navigate(base+"/dev"),
		chromedp.WaitVisible("#web-link", chromedp.ByID),
		chromedp.AttributeValue("#web-link", "href", &href, nil, chromedp.ByID),
	)
	if err != nil {
		t.Fatalf("the Dev Phone's link to /link: %v", err)
	}
	if href != base+"/link" {
		t.Fatalf("the Dev Phone links to %q", href)
	}

	// Log in first, with no phone known; the page shows the code.
	var code, text, sms string
	var qr bool
	err = chromedp.Run(page,
		chromedp.Navigate(href),
		chromedp.WaitVisible("#email", chromedp.ByID),
		chromedp.SetValue("#email", "desk@example.com", chromedp.ByID),
		chromedp.Click(`button[type="submit"]`, chromedp.ByQuery),
		chromedp.WaitVisible("#code", chromedp.ByID),
		chromedp.Text("#code", &code, chromedp.ByID),
		chromedp.Text("body", &text, chromedp.ByQuery),
		chromedp.AttributeValue("#sms", "href", &sms, nil, chromedp.ByID),
		chromedp.Evaluate(`(() => { const r = document.querySelector('svg.qr').getBoundingClientRect(); return r.width > 100 && r.height > 100; })()`, &qr),
		chromedp.Evaluate(`window.smsbotNotReloaded = true`, nil),
	)
	if err != nil {
		t.Fatalf("logging in at /link: %v", err)
	}
	m := regexp.MustCompile(`^LINK ([2-9A-HJ-NP-Z]{4}-[2-9A-HJ-NP-Z]{4})$`).FindStringSubmatch(strings.TrimSpace(code))
	if m == nil || !strings.Contains(text, "desk@example.com") || !strings.Contains(text, "+1 500 555 0006") || !strings.Contains(text, "Only text this code from your own phone") {
		t.Fatalf("the page: code %q\n%s", code, text)
	}
	if sms != "sms:+15005550006?&body=LINK%20"+m[1] || !qr {
		t.Fatalf("sms: button %q, QR code drawn %v", sms, qr)
	}
	for _, s := range []struct {
		name, scheme string
		w, h         int64
	}{
		{"weblink-desktop-light.png", "light", 1280, 1100},
		{"weblink-desktop-dark.png", "dark", 1280, 1100},
		{"weblink-phone-light.png", "light", 390, 1100},
		{"weblink-phone-dark.png", "dark", 390, 1100},
	} {
		if err := chromedp.Run(page, colorScheme(s.scheme), screenshot(shots, s.name, s.w, s.h)); err != nil {
			t.Fatalf("screenshot %s: %v", s.name, err)
		}
	}

	// The Dev Phone, in a tab of its own, texts the code.
	phoneTab, cancel := chromedp.NewContext(page)
	defer cancel()
	err = chromedp.Run(phoneTab,
		chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile),
		chromedp.Navigate(base+"/dev"),
		chromedp.WaitVisible("#number", chromedp.ByID),
		chromedp.SetValue("#number", phone, chromedp.ByID),
		chromedp.Click(`#number-form button[type="submit"]`, chromedp.ByQuery),
		send(strings.TrimSpace(code)),
		chromedp.Poll(`[...document.querySelectorAll('.msg.out .bubble')].some(b => b.textContent.includes("d***@example.com"))`, nil,
			chromedp.WithPollingTimeout(15*time.Second), chromedp.WithPollingInterval(100*time.Millisecond)), // rAF stops in a background tab
	)
	if err != nil {
		t.Fatalf("texting the code from the Dev Phone: %v", err)
	}

	// The page, never reloaded, says "Linked" and names the phone.
	var last4 string
	var kept bool
	err = chromedp.Run(page,
		colorScheme("light"),
		chromedp.Poll(`!document.getElementById('linked').hidden && document.getElementById('waiting').hidden`, nil,
			chromedp.WithPollingTimeout(15*time.Second), chromedp.WithPollingInterval(100*time.Millisecond)), // rAF stops in a background tab
		chromedp.Text("#last4", &last4, chromedp.ByID),
		chromedp.Evaluate(`window.smsbotNotReloaded === true`, &kept),
		screenshot(shots, "weblink-linked.png", 390, 560),
	)
	if err != nil {
		t.Fatalf("waiting for the page to say linked: %v", err)
	}
	if last4 != "0143" || !kept {
		t.Fatalf("linked page: last4 %q, not reloaded %v", last4, kept)
	}
}
