package queries

// Hooks for the tests of backups (package queries_test).

// SmallChunks makes backups write table files of about n bytes, until the test ends.
func SmallChunks(t interface{ Cleanup(func()) }, n int) {
	old := chunkBytes
	chunkBytes = n
	t.Cleanup(func() { chunkBytes = old })
}

// AfterBackupRead calls fn once a backup has read a table, until the test ends.
func AfterBackupRead(t interface{ Cleanup(func()) }, fn func(table string)) {
	afterRead = fn
	t.Cleanup(func() { afterRead = nil })
}
