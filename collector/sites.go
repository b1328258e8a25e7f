package collector

import (
	_ "embed"
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strings"
)

// Site is a prison (or social-protection facility) where questionnaires are collected.
type Site struct {
	Code   string `json:"code"`
	Name   Text   `json:"name"`
	Region string `json:"region"` // brussels, wallonia or flanders
}

// Sites is the set of known sites. Tokens, submissions and reports accept only these codes.
type Sites struct {
	list   []Site
	byCode map[string]Site
}

//go:embed sites.csv
var builtinSites string

// Regions are the Belgian regions a site can belong to.
var Regions = []string{"brussels", "wallonia", "flanders"}

var siteCodePattern = regexp.MustCompile(`^[a-z][a-z0-9-]{1,39}$`)

// LoadSites returns the built-in Belgian prisons, extended (or renamed) by the CSV file
// extra when it is not empty. Both use the header code,name_fr,name_nl,name_en,region.
func LoadSites(extra string) (*Sites, error) {
	s := &Sites{byCode: map[string]Site{}}
	if err := s.read(strings.NewReader(builtinSites), "built-in sites"); err != nil {
		return nil, err
	}
	if extra != "" {
		f, err := os.Open(extra)
		if err != nil {
			return nil, fmt.Errorf("collector: sites file: %w", err)
		}
		defer f.Close()
		if err := s.read(f, extra); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func (s *Sites) read(r io.Reader, name string) error {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = 5
	rows, err := cr.ReadAll()
	if err != nil {
		return fmt.Errorf("collector: %s: %w", name, err)
	}
	if len(rows) > 0 && len(rows[0]) > 0 {
		rows[0][0] = strings.TrimPrefix(rows[0][0], "\ufeff") // Excel writes a BOM
	}
	want := []string{"code", "name_fr", "name_nl", "name_en", "region"}
	if len(rows) == 0 || !slices.Equal(rows[0], want) {
		return fmt.Errorf("collector: %s: header must be %s", name, strings.Join(want, ","))
	}
	for i, row := range rows[1:] {
		site := Site{Code: row[0], Name: Text{FR: row[1], NL: row[2], EN: row[3]}, Region: row[4]}
		switch {
		case !siteCodePattern.MatchString(site.Code):
			return fmt.Errorf("collector: %s line %d: site code %q must be lower-case ASCII letters, digits and hyphens", name, i+2, site.Code)
		case !site.Name.complete():
			return fmt.Errorf("collector: %s line %d: site %s needs names in fr, nl and en", name, i+2, site.Code)
		case !slices.Contains(Regions, site.Region):
			return fmt.Errorf("collector: %s line %d: region %q is not one of %s", name, i+2, site.Region, strings.Join(Regions, ", "))
		}
		if _, ok := s.byCode[site.Code]; ok {
			idx := slices.IndexFunc(s.list, func(x Site) bool { return x.Code == site.Code })
			s.list[idx] = site
		} else {
			s.list = append(s.list, site)
		}
		s.byCode[site.Code] = site
	}
	return nil
}

// Get returns the site with the given code.
func (s *Sites) Get(code string) (Site, bool) {
	site, ok := s.byCode[code]
	return site, ok
}

// All returns every site, in file order.
func (s *Sites) All() []Site { return slices.Clone(s.list) }
