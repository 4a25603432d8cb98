package twiliotest

import "strings"

// The GSM 03.38 alphabets: one septet each in gsmBasic, two (escape +
// character) in gsmExtended.
const (
	gsmBasic = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
		"¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
	gsmExtended = "^{}\\[~]|€\f"
)

// Segments returns how many SMS segments body takes: GSM-7 when every
// character is in the GSM alphabet (160 septets in one segment, 153 per
// segment when concatenated), UCS-2 otherwise (70 UTF-16 units, 67 when
// concatenated). An empty body takes one.
func Segments(body string) int {
	septets, units, gsm := 0, 0, true
	for _, r := range body {
		switch {
		case strings.ContainsRune(gsmBasic, r):
			septets++
		case strings.ContainsRune(gsmExtended, r):
			septets += 2
		default:
			gsm = false
		}
		if r > 0xFFFF {
			units += 2
		} else {
			units++
		}
	}
	if gsm {
		return parts(septets, 160, 153)
	}
	return parts(units, 70, 67)
}

// parts splits n units into segments of single units, or of multi units
// each when more than one segment is needed.
func parts(n, single, multi int) int {
	if n <= single {
		return 1
	}
	return (n + multi - 1) / multi
}
