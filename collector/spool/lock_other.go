//go:build !unix

package spool

import (
	"errors"
	"os"
	"syscall"
)

// lockFile only creates path: tamtam runs on Unix, where the lock is real.
func lockFile(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
}

func isNoSpace(err error) bool { return errors.Is(err, syscall.ENOSPC) }
