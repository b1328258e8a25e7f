//go:build unix

package spool

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// lockFile takes an exclusive advisory lock on path, so that a second process (or a
// second Open in this one) cannot interleave writes with ours. The kernel drops the
// lock when the process dies, so a crash never leaves the spool locked.
func lockFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, &lockedError{path}
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return f, nil
}

// lockedError says that another process holds the spool; it matches [ErrLocked].
type lockedError struct{ path string }

func (e *lockedError) Error() string {
	return fmt.Sprintf("%s is locked: the spool is open elsewhere", e.path)
}

func (e *lockedError) Is(target error) bool { return target == ErrLocked }

// isNoSpace reports whether err means the file system has no room for our bytes.
func isNoSpace(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}
