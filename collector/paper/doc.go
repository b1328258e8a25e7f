// Package paper is the paper-form workflow of intake workers: a data-entry workbook built
// from a questionnaire definition, filled in offline from paper forms, and imported back
// through the same validation and anonymisation as the API.
//
// # The template
//
// [Template] builds the workbook of one questionnaire version in French, Dutch or
// English. Its first sheet (named [DataSheetNames] in the chosen language) is the data:
//
//   - row 1 holds the machine headers: [IDColumn] then every item code, in definition
//     order. They are the contract: a CSV file with the same header row imports alike;
//   - row 2 holds the questions in the chosen language (" *" marks a required item);
//   - rows 3 and below hold one questionnaire each.
//
// Each column carries Excel data validation with an input message: choice items a
// dropdown of "code — label" entries read from the Codes sheet (a range, since an inline
// list is limited to 255 characters: the country list is far longer), integer items a
// whole-number check with the item's bounds, month items a text of seven characters
// (YYYY-MM; the column is formatted as text so a spreadsheet does not turn it into a
// date), identifier items text. Multi items hold codes separated by ";", and "-" for an
// empty answer ("none of these"), since an empty cell means "not asked". An instructions
// sheet says how to fill the form, what must never be written (names, register and
// prisoner numbers, birth dates, free text) and when each item applies ("only if
// meta.consent = 1 (Yes)", from the definition's conditions). A hidden sheet names the
// questionnaire and version, so rows are checked against the version the form was
// printed from.
//
// # The import
//
// [Importer.Check] reads a workbook (the data sheet by name, else the first sheet) or a
// CSV file (comma, semicolon or tab separated; the optional row of labels under the
// header is recognised and skipped), converts each non-empty row to an [collector.Envelope]
// (the text before " — " of a choice, codes split on ";", whole numbers as numbers,
// months typed as dates in a spreadsheet turned back into YYYY-MM), and hands it to
// [collector.API.Prepare] with an intake principal for the import's site: there is no
// second validation here. Every problem is kept with its row, column, item, code and
// message; [WriteReport] writes the workbook back with those cells filled and commented.
//
// [Importer.Store] stores all rows or none: a batch with any problem is refused. With a
// [Stager] (tamtam import) the records of a clean file were staged in ClickHouse while
// it was checked, and are committed in one step (a rename), then attached; a crash is
// rolled forward or dropped at the next start. Without one (the web page's small uploads)
// they go to the ingester in one call, made durable together.
//
// # Submission ids, and importing twice
//
// The submission_id column is normally left empty. A row without one gets
// [DerivedID] of its record's fingerprint: the hash of what the record stores (the
// questionnaire, version, site, month, coarsened answers and link id; no key).
// Re-importing the same file gives the same ids, and the ingester stores nothing twice;
// rows without a follow-up code get the same ids after a rotation of the linkage key
// too, while a row with one has another link then, and is refused as a conflict: a file
// with follow-up codes imported before a rotation must not be imported again after it. Identical rows of one file without a linkage
// identifier are different forms (two refusals of the same month are two people): the
// n-th copy gets an id of its own, derived from the fingerprint and n, the same on every
// import of the file; with the same identifier, they are one person's form typed twice,
// counted once (the importer reports the repeated row). Two
// consequences are deliberate: the same form imported again in another file, beside
// fewer copies of itself, is recognised as its first copies only; and a row corrected
// after it was imported is a new submission beside the old one. A team that needs
// corrections to replace, rather than add, or that splits forms across files, fills the
// submission_id column with its own UUIDs; a changed row under a stored id is then
// refused as a conflict.
package paper
