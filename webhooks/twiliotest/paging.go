package twiliotest

import (
	"net/url"
	"strconv"
	"strings"
)

// Page sizes of Twilio's list endpoints.
const (
	defaultPageSize = 50
	maxPageSize     = 1000
)

// paging is the PageSize, Page and PageToken of a list request.
type paging struct {
	size  int
	page  int
	token string
}

// parsePaging reads the paging parameters of q.
func parsePaging(q url.Values) (paging, bool) {
	p := paging{size: defaultPageSize, token: q.Get("PageToken")}
	if v := q.Get("PageSize"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return paging{}, false
		}
		p.size = min(n, maxPageSize)
	}
	if v := q.Get("Page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return paging{}, false
		}
		p.page = n
	}
	return p, true
}

// start returns the index of the first item of the page. A PageToken
// ("PA" + the SID of the previous page's last item) wins over Page, so
// that pages stay put while newer items arrive; index finds a SID in the
// filtered list (-1 when absent).
func (p paging) start(index func(sid string) int) int {
	if sid, ok := strings.CutPrefix(p.token, "PA"); ok && sid != "" {
		if i := index(sid); i >= 0 {
			return i + 1
		}
	}
	return p.page * p.size
}

// pageJSON is the paging envelope of Twilio's 2010-04-01 list responses.
type pageJSON struct {
	FirstPageURI    string  `json:"first_page_uri"`
	End             int     `json:"end"`
	PreviousPageURI *string `json:"previous_page_uri"`
	URI             string  `json:"uri"`
	PageSize        int     `json:"page_size"`
	Start           int     `json:"start"`
	NextPageURI     *string `json:"next_page_uri"`
	Page            int     `json:"page"`
}

// envelope describes the page holding items [start, end) of total items;
// base is the list's path, keys the filters of q to repeat in the URIs and
// lastSID the SID of the page's last item.
func (p paging) envelope(base string, q url.Values, keys []string, start, end, total int, lastSID string) pageJSON {
	uri := func(page int, token string) string {
		v := url.Values{}
		for _, k := range keys {
			if x := q.Get(k); x != "" {
				v.Set(k, x)
			}
		}
		v.Set("PageSize", strconv.Itoa(p.size))
		v.Set("Page", strconv.Itoa(page))
		if token != "" {
			v.Set("PageToken", token)
		}
		return base + "?" + v.Encode()
	}
	env := pageJSON{
		FirstPageURI: uri(0, ""),
		URI:          uri(p.page, p.token),
		PageSize:     p.size,
		Start:        start,
		End:          max(start, end-1),
		Page:         p.page,
	}
	if end < total && lastSID != "" {
		next := uri(p.page+1, "PA"+lastSID)
		env.NextPageURI = &next
	}
	if p.page > 0 {
		prev := uri(p.page-1, "")
		env.PreviousPageURI = &prev
	}
	return env
}
