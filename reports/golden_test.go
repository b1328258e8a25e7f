package reports

import "flag"

// update rewrites the golden files of the package's tests (testdata/*.golden) instead
// of comparing with them: go test ./reports -run Golden -update. The one flag of every
// golden test of the package.
var update = flag.Bool("update", false, "rewrite the golden files in testdata")
