package bot

import "testing"

// TestLanguageOf_Known: the tags LanguageOf answers from knownTags (every
// language's code, every country's tag, "") give the language the
// matcher gives, and so do tags it does not know, which go to the
// matcher.
func TestLanguageOf_Known(t *testing.T) {
	tags := []string{"", "es-MX", "pt-PT", "fr-CA", "de-CH", "en-GB", "es-419", "zh-Hant", "xx", "EN", "pt", "nonsense!!", "es_MX"}
	for _, l := range Languages {
		tags = append(tags, l.Code)
	}
	for _, tag := range countryLanguages {
		if _, ok := knownTags[tag]; !ok {
			t.Errorf("country tag %q is not known", tag)
		}
		tags = append(tags, tag)
	}
	for _, l := range Languages {
		if _, ok := knownTags[l.Code]; !ok {
			t.Errorf("%s's code %q is not known", l.Name, l.Code)
		}
	}
	for _, tag := range tags {
		if got, want := LanguageOf(tag), matchTag(tag); got.Code != want.Code {
			t.Errorf("LanguageOf(%q) = %s, the matcher says %s", tag, got.Code, want.Code)
		}
	}
	if got := LanguageOf("es-MX").Code; got != "es" {
		t.Errorf("LanguageOf(es-MX) = %s", got)
	}
}

func BenchmarkLanguageOf(b *testing.B) {
	b.Run("known", func(b *testing.B) {
		for b.Loop() {
			LanguageOf("es-MX")
		}
	})
	b.Run("matcher", func(b *testing.B) {
		for b.Loop() {
			matchTag("es-MX")
		}
	})
}
