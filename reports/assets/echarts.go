// Package assets holds the third-party JavaScript that report.html inlines, so that the
// binary is self-contained and a report never makes a network request.
//
// The library is not committed: it is fetched at build time, at the exact version pinned
// by package.json and package-lock.json (ECharts 5.4.3, the version go-echarts v2.6.7
// expects), by running in this directory:
//
//	npm ci --ignore-scripts --no-audit --no-fund
//
// (the Makefile's deps target runs it). node_modules is git-ignored.
package assets

import _ "embed"

// EChartsJS is the minified ECharts library (node_modules/echarts/dist/echarts.min.js).
//
//go:embed node_modules/echarts/dist/echarts.min.js
var EChartsJS []byte
