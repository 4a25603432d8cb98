package nest

import (
	"math"
	"strings"
	"testing"
)

// FuzzParseSetting reads the value of ST ("19", "68F", "19.5", "19-23",
// "20,5 °C") from anything a phone can send.
func FuzzParseSetting(f *testing.F) {
	for _, s := range []string{"19", "68F", "19.5", "19-23", "20,5°C", "-5", "999999", "1e3", "NaN", "19-", "°", "٣٣"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		st, ok := parseSetting(s)
		if !ok {
			return
		}
		for _, v := range []float64{st.lo, st.hi} {
			if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 || v >= 1000 {
				t.Fatalf("parseSetting(%q) = %+v", s, st)
			}
		}
		if st.unit != 0 && st.unit != 'C' && st.unit != 'F' {
			t.Fatalf("parseSetting(%q) unit %q", s, st.unit)
		}
		if st.isRange != strings.Contains(s, "-") {
			t.Fatalf("parseSetting(%q) range = %v", s, st.isRange)
		}
	})
}
