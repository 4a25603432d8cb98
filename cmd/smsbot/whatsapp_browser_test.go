package main

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowser_DevPhoneWhatsApp subscribes over WhatsApp in headless
// Chromium: the Dev Phone's WhatsApp switch, S, the link, the login (the
// code page offers WhatsApp), the code prompt as a WhatsApp message, the
// code, a thermostat command; every bubble a WhatsApp one. It writes
// docs/devphone-whatsapp.png with -screenshots.
func TestBrowser_DevPhoneWhatsApp(t *testing.T) {
	bin := browser(t)
	base := startDevServer(t)
	shots := shotsDir(t)
	ctx := headless(t, bin)

	const phone = "+15555550177"
	bubble := func(text string) chromedp.Action {
		return chromedp.Poll(`[...document.querySelectorAll('.msg.wa.out .bubble')].some(b => b.textContent.includes(`+"`"+text+"`"+`))`, nil,
			chromedp.WithPollingTimeout(15*time.Second))
	}

	// As this phone, switch to WhatsApp and write S.
	var href, placeholder string
	var waBody bool
	err := chromedp.Run(ctx,
		chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile),
		chromedp.Navigate(base+"/dev"),
		chromedp.WaitVisible("#number", chromedp.ByID),
		chromedp.SetValue("#number", phone, chromedp.ByID),
		chromedp.Click(`#number-form button[type="submit"]`, chromedp.ByQuery),
		chromedp.Click("#whatsapp", chromedp.ByID),
		chromedp.Evaluate(`document.body.classList.contains('wa')`, &waBody),
		chromedp.AttributeValue("#body", "placeholder", &placeholder, nil, chromedp.ByID),
		send("S"),
		chromedp.WaitVisible(`.msg.wa.out .bubble a[href*="/l/"]`, chromedp.ByQuery),
		chromedp.AttributeValue(`.msg.wa.out .bubble a[href*="/l/"]`, "href", &href, nil, chromedp.ByQuery),
	)
	if err != nil {
		t.Fatalf("writing S on WhatsApp in the Dev Phone: %v", err)
	}
	if !waBody || placeholder != "WhatsApp message" || !strings.HasPrefix(href, base+"/l/") {
		t.Fatalf("WhatsApp mode %v, placeholder %q, link %q", waBody, placeholder, href)
	}

	// Tap the link, log in: the code page offers WhatsApp.
	var code, button, buttonHref string
	err = chromedp.Run(ctx,
		chromedp.Evaluate(`document.querySelector('.msg.out .bubble a[href*="/l/"]').removeAttribute('target')`, nil),
		chromedp.Click(`.msg.out .bubble a[href*="/l/"]`, chromedp.ByQuery),
		chromedp.WaitVisible("#email", chromedp.ByID),
		chromedp.SetValue("#email", "whatsapp@example.com", chromedp.ByID),
		chromedp.Click(`button[type="submit"]`, chromedp.ByQuery),
		chromedp.WaitVisible("#code", chromedp.ByID),
		chromedp.Text("#code", &code, chromedp.ByID),
		chromedp.Text("a.button", &button, chromedp.ByQuery),
		chromedp.AttributeValue("a.button", "href", &buttonHref, nil, chromedp.ByQuery),
	)
	if err != nil {
		t.Fatalf("logging in through the link: %v", err)
	}
	code = strings.TrimSpace(code)
	if !regexp.MustCompile(`^\d{6}$`).MatchString(code) || !strings.Contains(button, "WhatsApp") ||
		!strings.HasPrefix(buttonHref, "https://wa.me/15005550006?text="+code) {
		t.Fatalf("code page: code %q, button %q -> %q", code, button, buttonHref)
	}

	// Back in the Dev Phone, still on WhatsApp: the code prompt came as a
	// WhatsApp message; the code, then a thermostat.
	var tags []string
	err = chromedp.Run(ctx,
		chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile),
		chromedp.Navigate(base+"/dev"),
		chromedp.WaitVisible(`body.wa .msg.wa.out .bubble a[href*="/l/"]`, chromedp.ByQuery),
		bubble("reply with the 6-digit code"),
		send(code),
		bubble("you're subscribed"),
		send("GT den"),
		bubble("Den 19.5C"),
		chromedp.Evaluate(`[...document.querySelectorAll('.msg .tag')].map(t => t.textContent)`, &tags),
		chromedp.ActionFunc(func(ctx context.Context) error {
			var buf []byte
			if err := chromedp.Sleep(150 * time.Millisecond).Do(ctx); err != nil {
				return err
			}
			if err := chromedp.CaptureScreenshot(&buf).Do(ctx); err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(shots, "devphone-whatsapp.png"), buf, 0o644)
		}),
	)
	if err != nil {
		t.Fatalf("the code and a command on WhatsApp: %v", err)
	}
	var rest, mine bool
	for _, tag := range tags {
		if !strings.HasPrefix(tag, "WhatsApp") {
			t.Errorf("a bubble tagged %q in a WhatsApp-only conversation", tag)
		}
		rest = rest || tag == "WhatsApp · Bot · REST API"
		mine = mine || tag == "WhatsApp"
	}
	if !rest || !mine {
		t.Errorf("tags %q: want the bot's REST message and the phone's own", tags)
	}
}
