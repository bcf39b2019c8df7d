package directory

import (
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/socialtreasury/treasury/core/civil"
	"github.com/socialtreasury/treasury/core/fault"
)

// Result counts what a write did.
type Result struct {
	// Created versions, Updated versions (their content changed), Closed
	// versions (an end was set because a newer version starts), Unchanged
	// lines (the directory already held exactly that).
	Created   int `json:"created"`
	Updated   int `json:"updated"`
	Closed    int `json:"closed"`
	Unchanged int `json:"unchanged"`
}

// row is one entry version to write, from a request or a file's line.
type row struct {
	line   int    // a file's line; 0 for a request
	path   string // where it is in the body: "entries[3]", "line[12]"; "" for a request
	fields Fields
}

// lineProblem is one thing wrong with a row; conflict marks a clash with
// the directory's state rather than a malformed value.
type lineProblem struct {
	line     int
	field    string
	msg      string
	value    any
	conflict bool
}

// writer plans changes to one side of one directory against the state it
// loaded, then writes them.
type writer struct {
	dir           Directory
	side          side
	byCode        map[string][]Entry // sorted by start
	platformCodes map[string]bool    // for a region's writes
	now           func() time.Time

	inserts []Entry
	updates []change
	result  Result
	before  map[string][]Entry
}

type change struct {
	version int64 // the version the row had when loaded
	to      Entry
}

func (w *writer) problem(r row, field, msg string, v any, conflict bool) lineProblem {
	if r.path != "" {
		field = r.path + "." + field
	}
	if r.line > 0 {
		msg = fmt.Sprintf("line %d: %s", r.line, msg)
	}
	return lineProblem{line: r.line, field: field, msg: msg, value: v, conflict: conflict}
}

// plan works out the writes that make the directory hold every row:
// a row whose code and start match a version replaces that version's
// content, any other row is a new version. With createOnly a matching
// version is a conflict instead. A new version that starts while an
// open-ended version of its code (not itself in the rows) is in force ends
// that version the day before. It returns each row's resulting version and
// every problem; with problems nothing is planned.
func (w *writer) plan(rows []row, createOnly bool) ([]Entry, []lineProblem) {
	w.loaded() // the state before this plan, for find
	now := w.now()
	var ps []lineProblem
	out := make([]Entry, len(rows))
	type key struct {
		code string
		from civil.Date
	}
	seen := map[key]int{}
	byCode := map[string][]int{} // code → indexes of valid rows
	for i, r := range rows {
		f, fps := w.dir.checkFields(r.fields)
		for _, p := range fps {
			ps = append(ps, w.problem(r, p.field, p.msg, p.value, false))
		}
		if len(fps) > 0 {
			continue
		}
		rows[i].fields = f
		if w.platformCodes[f.Code] {
			ps = append(ps, w.problem(r, "code", fmt.Sprintf("%s is a code of the platform's directory %s: a region adds codes of its own", f.Code, w.dir.Code), f.Code, true))
			continue
		}
		k := key{f.Code, f.EffectiveFrom}
		if j, dup := seen[k]; dup {
			ps = append(ps, w.problem(r, "effective_from", fmt.Sprintf("repeats code %s from %s (line %d)", f.Code, f.EffectiveFrom, rows[j].line), f.EffectiveFrom.String(), false))
			continue
		}
		seen[k] = i
		byCode[f.Code] = append(byCode[f.Code], i)
	}
	// The valid rows go on to be checked against the directory, so that one
	// pass reports every problem.
	for code, idxs := range byCode {
		state := slices.Clone(w.byCode[code])
		touched := map[uuid.UUID]bool{}
		rowOf := map[uuid.UUID]row{}
		for _, i := range idxs {
			r := rows[i]
			f := r.fields
			j := slices.IndexFunc(state, func(e Entry) bool { return e.EffectiveFrom.Equal(f.EffectiveFrom) })
			if j >= 0 {
				cur := state[j]
				if createOnly {
					ps = append(ps, w.problem(r, "effective_from", fmt.Sprintf("%s exists; change it instead", describe(cur)), f.EffectiveFrom.String(), true))
					continue
				}
				next := cur
				next.Name, next.Attributes, next.EffectiveTo = f.Name, f.Attributes, f.EffectiveTo
				state[j] = next
				touched[cur.ID] = true
				rowOf[cur.ID] = r
				out[i] = next
				continue
			}
			e := Entry{
				ID: uuid.Must(uuid.NewV7()), DirectoryCode: w.dir.Code, Code: f.Code, Name: f.Name, Attributes: f.Attributes,
				EffectiveFrom: f.EffectiveFrom, EffectiveTo: f.EffectiveTo, Version: 1, Origin: w.side.origin(),
				CreatedAt: now, UpdatedAt: now,
			}
			state = append(state, e)
			touched[e.ID] = true
			rowOf[e.ID] = r
			out[i] = e
		}
		slices.SortFunc(state, compareEntries)
		// An untouched open-ended version ends where the next given version starts.
		for j, e := range state {
			if touched[e.ID] || e.EffectiveTo != nil {
				continue
			}
			for _, n := range state[j+1:] {
				if touched[n.ID] && n.EffectiveFrom.After(e.EffectiveFrom) {
					end := n.EffectiveFrom.AddDays(-1)
					state[j].EffectiveTo = &end
					touched[e.ID] = true
					w.result.Closed++
					break
				}
			}
		}
		for j := 1; j < len(state); j++ {
			a, b := state[j-1], state[j]
			if !a.overlaps(b) {
				continue
			}
			r, ok := rowOf[b.ID]
			other := a
			if !ok {
				r, other = rowOf[a.ID], b
			}
			where := "in the directory"
			if o, ok := rowOf[other.ID]; ok && o.line > 0 {
				where = fmt.Sprintf("on line %d", o.line)
			}
			ps = append(ps, w.problem(r, "effective_from", fmt.Sprintf("overlaps %s (%s): a code has one version in force on any day", describe(other), where), r.fields.EffectiveFrom.String(), true))
		}
		if len(ps) > 0 {
			continue
		}
		for _, e := range state {
			if !touched[e.ID] {
				continue
			}
			old, existed := w.find(e.ID)
			switch {
			case !existed:
				w.inserts = append(w.inserts, e)
				w.result.Created++
			case old.Name == e.Name && old.Attributes.equal(e.Attributes) && sameEnd(old.EffectiveTo, e.EffectiveTo):
				w.result.Unchanged++
			default:
				w.updates = append(w.updates, change{version: old.Version, to: e})
				if _, fromRow := rowOf[e.ID]; fromRow {
					w.result.Updated++
				}
			}
		}
		w.byCode[code] = state
	}
	if len(ps) > 0 {
		slices.SortStableFunc(ps, func(a, b lineProblem) int { return a.line - b.line })
		return nil, ps
	}
	for i := range out { // the versions as written
		if old, ok := w.find(out[i].ID); ok {
			out[i] = old
		}
		for _, c := range w.updates {
			if c.to.ID == out[i].ID {
				out[i] = c.to
				out[i].Version, out[i].UpdatedAt = c.version+1, now
			}
		}
	}
	return out, nil
}

func sameEnd(a, b *civil.Date) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.Equal(*b)
}

// find returns a version as it was loaded.
func (w *writer) find(id uuid.UUID) (Entry, bool) {
	for _, versions := range w.loaded() {
		for _, e := range versions {
			if e.ID == id {
				return e, true
			}
		}
	}
	return Entry{}, false
}

// loaded is the state before the plan (byCode as prepare loaded it): the
// planned inserts and changes are not in it.
func (w *writer) loaded() map[string][]Entry {
	if w.before == nil {
		w.before = map[string][]Entry{}
		for c, v := range w.byCode {
			w.before[c] = slices.Clone(v)
		}
	}
	return w.before
}

// execute writes the plan.
func (w *writer) execute(tx *gorm.DB) error {
	now := w.now()
	for _, c := range w.updates {
		res := tx.Table(w.side.table()).Where("id = ? AND version = ?", c.to.ID, c.version).Updates(map[string]any{
			"name": c.to.Name, "attributes": c.to.Attributes, "effective_to": c.to.EffectiveTo,
			"version": c.version + 1, "updated_at": now,
		})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return fault.ErrStale
		}
	}
	const batch = 200
	for i := 0; i < len(w.inserts); i += batch {
		part := w.inserts[i:min(i+batch, len(w.inserts))]
		var err error
		if w.side.overlay {
			rows := make([]overlayEntry, len(part))
			for j, e := range part {
				rows[j] = overlayEntry{Entry: e}
			}
			err = tx.Create(&rows).Error
		} else {
			err = tx.Create(&part).Error
		}
		if err != nil {
			return err
		}
	}
	return nil
}
