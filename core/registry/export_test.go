package registry

import (
	"context"
	"fmt"
	"reflect"

	"github.com/google/uuid"
	"github.com/socialtreasury/treasury/core/audit"
	"github.com/socialtreasury/treasury/core/civil"
	"github.com/socialtreasury/treasury/core/tenancy"
	"gorm.io/gorm"
)

// SetAnalyzeEvery lowers the growth after which an import refreshes the
// statistics, for a test; it returns the undo.
func SetAnalyzeEvery(n int64) func() {
	old := analyzeEvery
	analyzeEvery = n
	return func() { analyzeEvery = old }
}

// CardPathsDiffer reads a card's raw material through the PostgreSQL
// pipeline and through the transaction both dialects run, and describes
// where they differ ("" when they agree).
func CardPathsDiffer(ctx context.Context, s *Service, id uuid.UUID, asOf civil.Date) (string, error) {
	piped, err := s.loadCardPG(ctx, id, asOf, audit.Record{Action: "person.card", ObjectType: "person", ObjectID: id.String()})
	if err != nil {
		return "", err
	}
	var plain loaded
	if err := tenancy.Tx(ctx, s.db, func(tx *gorm.DB) error {
		var err error
		plain, err = loadRaw(tx, id, asOf, IncomeWindowMonths)
		return err
	}); err != nil {
		return "", err
	}
	for _, d := range []struct {
		what   string
		pg, tx any
	}{
		{"persons", piped.persons, plain.persons},
		{"relations", piped.relations, plain.relations},
		{"incomes", piped.incomes, plain.incomes},
		{"disabilities", piped.disabilities, plain.disabilities},
		{"categories", piped.categories, plain.categories},
	} {
		if reflect.ValueOf(d.pg).Len() == 0 && reflect.ValueOf(d.tx).Len() == 0 {
			continue
		}
		if !reflect.DeepEqual(d.pg, d.tx) {
			return fmt.Sprintf("%s: pipelined %+v, in a transaction %+v", d.what, d.pg, d.tx), nil
		}
	}
	if len(piped.persons) == 0 {
		return "nothing was read", nil
	}
	return "", nil
}
