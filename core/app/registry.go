package app

import (
	"context"

	"github.com/socialtreasury/treasury/core/directory"
)

// directoryCodes gives the registry the codes a region sees in a directory.
type directoryCodes struct{ dirs *directory.Service }

func (d directoryCodes) Codes(ctx context.Context, dir string) (map[string]map[string]any, error) {
	es, _, err := d.dirs.RegionEntries(ctx, dir, directory.Query{})
	if err != nil {
		return nil, err
	}
	set := make(map[string]map[string]any, len(es))
	for _, e := range es {
		set[e.Code] = e.Attributes
	}
	return set, nil
}
