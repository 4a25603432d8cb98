package magiclink

import (
	"fmt"
	"html/template"
	"strings"

	qrcode "github.com/yeqown/go-qrcode/v2"
)

// qrQuiet is the quiet zone around a QR code, in modules, as the standard
// asks.
const qrQuiet = 4

// qrSVG draws text as a QR code (error correction level M) in an inline
// SVG: one path of dark modules on a white square with its quiet zone,
// dark on light whatever the page's colour scheme, as scanners want. The
// SVG carries no script and no style attribute, so the pages' CSP allows
// it.
func qrSVG(text, label string) (template.HTML, error) {
	q, err := qrcode.NewWith(text, qrcode.WithErrorCorrectionLevel(qrcode.ErrorCorrectionMedium))
	if err != nil {
		return "", fmt.Errorf("qr code: %w", err)
	}
	var w bitmapWriter
	if err := q.Save(&w); err != nil {
		return "", fmt.Errorf("qr code: %w", err)
	}
	n := len(w.bits) + 2*qrQuiet
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" class="qr" viewBox="0 0 %d %d" role="img" aria-label="%s" shape-rendering="crispEdges">`,
		n, n, template.HTMLEscapeString(label))
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="#fff"/><path fill="#000" d="`, n, n)
	for y, row := range w.bits {
		for x, dark := range row {
			if dark {
				fmt.Fprintf(&b, "M%d %dh1v1h-1z", x+qrQuiet, y+qrQuiet)
			}
		}
	}
	b.WriteString(`"/></svg>`)
	return template.HTML(b.String()), nil
}

// bitmapWriter keeps the QR code's modules, row by row, dark as true.
type bitmapWriter struct{ bits [][]bool }

func (w *bitmapWriter) Write(m qrcode.Matrix) error {
	w.bits = m.Bitmap()
	return nil
}

func (w *bitmapWriter) Close() error { return nil }
