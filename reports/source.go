package reports

import (
	"context"
	"time"

	"github.com/tamtam-ngo/tamtam/collector"
)

// IndicatorCell is the numerator and denominator of one indicator among the records of
// one finest breakdown cell, as stored: gender, age band and nationality group may be
// "", "8" or "9" (not asked, refused, don't know).
type IndicatorCell struct {
	Indicator        string
	Site             string
	Gender           string
	AgeBand          string
	NationalityGroup string
	Num, Den         int
}

// Source gives the counts a report is built from. It is implemented by package queries.
type Source interface {
	// DataCutOff returns when the last record of year was received (zero if none).
	DataCutOff(ctx context.Context, year int) (time.Time, error)
	// IndicatorCells returns the counts of every indicator of inds in every finest cell,
	// for the records of year and sites received up to cutOff.
	IndicatorCells(ctx context.Context, year int, sites []string, cutOff time.Time, inds []collector.Indicator) ([]IndicatorCell, error)
	// Arrivals returns the number of questionnaires (entry and follow-up alike) of
	// year and sites received up to cutOff, by site and month.
	Arrivals(ctx context.Context, year int, sites []string, cutOff time.Time) ([]ArrivalCell, error)
}

// ArrivalCell is the number of questionnaires of one site and month ("2025-03").
type ArrivalCell struct {
	Site, Month string
	N           int
}
