package config

import (
	"cmp"
	"errors"
	"slices"
	"strconv"
)

// Error is a problem in the config file or in secrets.yaml, at a position in that file.
// [Load] returns one *Error, or several joined with [errors.Join], for any config that
// it rejects, so callers detect a bad config with errors.As(err, new(*Error)).
type Error struct {
	File   string
	Line   int // 1-based, 0 when unknown
	Column int // 1-based, 0 when unknown
	Msg    string
}

// Error returns "file:line:col: msg", leaving out the line or column when it is unknown.
func (e *Error) Error() string { return position(e.File, e.Line, e.Column) + e.Msg }

// Warning is a setting that [Load] accepts but that is likely a mistake.
type Warning struct {
	File   string
	Line   int
	Column int
	Msg    string
}

// String returns "file:line:col: msg" like [Error.Error].
func (w Warning) String() string { return position(w.File, w.Line, w.Column) + w.Msg }

func position(file string, line, column int) string {
	s := file + ":"
	if line > 0 {
		s += strconv.Itoa(line) + ":"
	}
	if line > 0 && column > 0 {
		s += strconv.Itoa(column) + ":"
	}
	return s + " "
}

// joinErrors returns nil, the single error, or all of them sorted by position and joined.
func joinErrors(errs []*Error) error {
	switch len(errs) {
	case 0:
		return nil
	case 1:
		return errs[0]
	}
	slices.SortStableFunc(errs, func(a, b *Error) int {
		return cmp.Or(cmp.Compare(a.File, b.File), cmp.Compare(a.Line, b.Line),
			cmp.Compare(a.Column, b.Column))
	})
	list := make([]error, len(errs))
	for i, e := range errs {
		list[i] = e
	}
	return errors.Join(list...)
}
