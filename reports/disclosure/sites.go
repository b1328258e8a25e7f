package disclosure

import (
	"cmp"
	"slices"
	"strings"
)

// PooledSites returns, sorted, the sites that must not be shown on their own
// but only inside "other sites" (R10): those with fewer than
// Config.SmallSiteMinimum interviewed entrants in the year. When that pools
// a single site with entrants, "other sites" would be that site under
// another name, so the smallest remaining site (ties by name) is pooled with
// it. The caller merges the pooled sites before building its tables.
func (p *Policy) PooledSites(interviewed map[string]int) []string {
	minimum := p.Config().SmallSiteMinimum
	var pooled, shown []string
	populated := 0
	for site, n := range interviewed {
		if n < minimum {
			pooled = append(pooled, site)
			if n > 0 {
				populated++
			}
		} else {
			shown = append(shown, site)
		}
	}
	if populated == 1 && len(shown) > 0 {
		smallest := slices.MinFunc(shown, func(a, b string) int {
			return cmp.Or(cmp.Compare(interviewed[a], interviewed[b]), strings.Compare(a, b))
		})
		pooled = append(pooled, smallest)
	}
	slices.Sort(pooled)
	return pooled
}
