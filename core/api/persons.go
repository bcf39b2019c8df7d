package api

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"github.com/socialtreasury/treasury/core/auth"
	"github.com/socialtreasury/treasury/core/civil"
	"github.com/socialtreasury/treasury/core/fault"
	"github.com/socialtreasury/treasury/core/registry"
)

// The registry's resources. A person's SNILS, identity document, contacts
// and bank details are personal data the registry seals: they are returned
// to callers allowed to read the person, and never appear in an error, a log
// line, an audit record or a URL the platform makes.

type addressJSON struct {
	OKTMO string `json:"oktmo,omitempty" example:"65701000" doc:"The municipality's OKTMO code, 8 or 11 digits."`
	Text  string `json:"text,omitempty" example:"г. Екатеринбург, ул. Ленина, д. 1, кв. 1" doc:"The address as text, at most 500 characters."`
}

type documentJSON struct {
	Type     string      `json:"type" example:"21" doc:"A code of the identity_document_types directory (21: passport of a citizen of the Russian Federation)."`
	Series   string      `json:"series,omitempty" example:"6512"`
	Number   string      `json:"number" example:"123456" doc:"1 to 20 letters, digits or dashes."`
	IssuedOn *civil.Date `json:"issued_on,omitempty" format:"date"`
	Issuer   string      `json:"issuer,omitempty"`
}

type contactsJSON struct {
	Phone string `json:"phone,omitempty" example:"+79001234567" doc:"10 to 15 digits, optionally after +."`
	Email string `json:"email,omitempty" example:"ivanova@example.ru"`
}

type bankJSON struct {
	BIK     string `json:"bik" example:"046577674" doc:"Nine digits starting 04."`
	Account string `json:"account" example:"40817810099910004312" doc:"Twenty digits."`
	Card    string `json:"card,omitempty" doc:"A card number of 16 to 19 digits (the MIR card payments go to)."`
}

type personJSON struct {
	ID          string        `json:"id" format:"uuid"`
	SNILS       string        `json:"snils" example:"11223344595" doc:"Eleven digits, without separators."`
	FamilyName  string        `json:"family_name" example:"Иванова"`
	FirstName   string        `json:"first_name" example:"Мария"`
	Patronymic  string        `json:"patronymic,omitempty" example:"Петровна"`
	BirthDate   civil.Date    `json:"birth_date" format:"date"`
	Sex         string        `json:"sex" enum:"male,female"`
	Citizenship string        `json:"citizenship" example:"643" doc:"OKSM country code; 643 is Russia."`
	DeathDate   *civil.Date   `json:"death_date,omitempty" format:"date"`
	Address     *addressJSON  `json:"address,omitempty"`
	Document    *documentJSON `json:"document,omitempty"`
	Contacts    *contactsJSON `json:"contacts,omitempty"`
	Bank        *bankJSON     `json:"bank,omitempty"`
	Origin      string        `json:"origin,omitempty" enum:"manual,import,connector,event" doc:"How the person came into the registry."`
	MergedInto  string        `json:"merged_into,omitempty" format:"uuid" doc:"Present when this person was merged, as a duplicate, into that person."`
	Version     int64         `json:"version" doc:"The version this is; the ETag names it."`
	CreatedAt   time.Time     `json:"created_at,omitzero"`
	UpdatedAt   time.Time     `json:"updated_at,omitzero"`
}

func personOut(p registry.Person) personJSON {
	out := personJSON{
		ID: p.ID.String(), SNILS: p.SNILS, FamilyName: p.FamilyName, FirstName: p.FirstName, Patronymic: p.Patronymic,
		BirthDate: p.BirthDate, Sex: p.Sex, Citizenship: p.Citizenship, DeathDate: p.DeathDate,
		Origin: string(p.Origin), Version: p.Version, CreatedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt,
	}
	if p.Address != (registry.Address{}) {
		out.Address = &addressJSON{OKTMO: p.Address.OKTMO, Text: p.Address.Text}
	}
	if d := p.Document; d != nil {
		out.Document = &documentJSON{Type: d.Type, Series: d.Series, Number: d.Number, IssuedOn: d.IssuedOn, Issuer: d.Issuer}
	}
	if c := p.Contacts; c != nil {
		out.Contacts = &contactsJSON{Phone: c.Phone, Email: c.Email}
	}
	if b := p.Bank; b != nil {
		out.Bank = &bankJSON{BIK: b.BIK, Account: b.Account, Card: b.Card}
	}
	if p.MergedInto != nil {
		out.MergedInto = p.MergedInto.String()
	}
	return out
}

// PersonParts are the optional parts of a person in a request body
// (exported so that Huma flattens it into the bodies embedding it).
type PersonParts struct {
	DeathDate civil.Date    `json:"death_date,omitzero" format:"date"`
	Address   *addressJSON  `json:"address,omitempty"`
	Document  *documentJSON `json:"document,omitempty"`
	Contacts  *contactsJSON `json:"contacts,omitempty"`
	Bank      *bankJSON     `json:"bank,omitempty" doc:"Where the person's payments go."`
}

func (b PersonParts) into(f *registry.PersonFields) {
	if !b.DeathDate.IsZero() {
		d := b.DeathDate
		f.DeathDate = &d
	}
	if a := b.Address; a != nil {
		f.Address = &registry.Address{OKTMO: a.OKTMO, Text: a.Text}
	}
	if d := b.Document; d != nil {
		f.Document = &registry.Document{Type: d.Type, Series: d.Series, Number: d.Number, IssuedOn: d.IssuedOn, Issuer: d.Issuer}
	}
	if c := b.Contacts; c != nil {
		f.Contacts = &registry.Contacts{Phone: c.Phone, Email: c.Email}
	}
	if k := b.Bank; k != nil {
		f.Bank = &registry.Bank{BIK: k.BIK, Account: k.Account, Card: k.Card}
	}
}

// A SNILS in a request has no pattern on purpose: the schema's errors echo
// the value sent, the registry's never do.

type personCreate struct {
	TenantPath
	PurposeHeader
	Body struct {
		SNILS       string     `json:"snils" example:"112-233-445 95" doc:"Eleven digits, or XXX-XXX-XXX YY; its check number is verified. An error about it never repeats the value sent."`
		FamilyName  string     `json:"family_name" minLength:"1" maxLength:"100" example:"Иванова"`
		FirstName   string     `json:"first_name" minLength:"1" maxLength:"100" example:"Мария"`
		Patronymic  string     `json:"patronymic,omitempty" maxLength:"100" example:"Петровна"`
		BirthDate   civil.Date `json:"birth_date" format:"date" doc:"Not in the future, not before 1900-01-01."`
		Sex         string     `json:"sex" enum:"male,female"`
		Citizenship string     `json:"citizenship,omitempty" pattern:"^[0-9]{3}$" default:"643" doc:"OKSM country code."`
		PersonParts
	}
}

type personPatch struct {
	PersonPath
	IfMatch string `header:"If-Match" doc:"The ETag of the version being changed."`
	Body    struct {
		SNILS       *string     `json:"snils,omitempty" doc:"Eleven digits, or XXX-XXX-XXX YY; its check number is verified. An error about it never repeats the value sent."`
		FamilyName  *string     `json:"family_name,omitempty" minLength:"1" maxLength:"100"`
		FirstName   *string     `json:"first_name,omitempty" minLength:"1" maxLength:"100"`
		Patronymic  *string     `json:"patronymic,omitempty" maxLength:"100" doc:"An empty string removes it."`
		BirthDate   *civil.Date `json:"birth_date,omitempty" format:"date"`
		Sex         *string     `json:"sex,omitempty" enum:"male,female"`
		Citizenship *string     `json:"citizenship,omitempty" pattern:"^[0-9]{3}$"`
		PersonParts
		Clear []string `json:"clear,omitempty" maxItems:"6" uniqueItems:"true" enum:"patronymic,death_date,address,document,contacts,bank" doc:"Optional fields to remove (a death date recorded in error, old bank details)."`
	}
}

// PurposeHeader documents the header the audit trail takes a request's
// purpose from (the guard reads it for every request).
type PurposeHeader struct {
	Purpose string `header:"X-Purpose" doc:"Why the caller reads or changes this personal data (a case number, an application); it goes into every audit record the request causes, anything like a SNILS masked, at most 500 characters kept."`
}

// PersonPath is the path of one person.
type PersonPath struct {
	TenantPath
	PurposeHeader
	ID string `path:"id" format:"uuid" doc:"The person's id."`
}

type personResponse struct {
	ETag     string `header:"ETag"`
	Location string `header:"Location"`
	Body     personJSON
}

type personList struct {
	Body struct {
		Items []personJSON `json:"items" doc:"At most 100 persons (a name search finding more should be narrowed)."`
	}
}

type personSearch struct {
	TenantPath
	PurposeHeader
	Body struct {
		SNILS      string     `json:"snils,omitempty" doc:"Find the person with this SNILS: eleven digits or XXX-XXX-XXX YY. An error about it never repeats the value sent."`
		FamilyName string     `json:"family_name,omitempty" maxLength:"100" doc:"Find by family name (case-insensitive, exact) and birth date."`
		FirstName  string     `json:"first_name,omitempty" maxLength:"100" doc:"Narrows a search by name."`
		BirthDate  civil.Date `json:"birth_date,omitzero" format:"date"`
	}
}

// Facts. The types are exported so that Huma flattens them into the
// answers embedding them.

// RelationJSON is a relation as the API shows it.
type RelationJSON struct {
	ID           string      `json:"id" format:"uuid"`
	PersonID     string      `json:"person_id" format:"uuid"`
	RelativeID   string      `json:"relative_id" format:"uuid"`
	Kind         string      `json:"kind" example:"child" doc:"A kinship_kinds code: the relative is the person's <kind>."`
	ValidFrom    civil.Date  `json:"valid_from" format:"date"`
	ValidTo      *civil.Date `json:"valid_to,omitempty" format:"date"`
	Origin       string      `json:"origin" enum:"manual,import,connector,event"`
	RecordedAt   time.Time   `json:"recorded_at"`
	SupersededAt *time.Time  `json:"superseded_at,omitempty" doc:"When a correction, a retraction or a merge replaced it."`
}

func relationOut(r registry.Relation) RelationJSON {
	return RelationJSON{ID: r.ID.String(), PersonID: r.PersonID.String(), RelativeID: r.RelativeID.String(), Kind: r.Kind,
		ValidFrom: r.ValidFrom, ValidTo: r.ValidTo, Origin: string(r.Origin), RecordedAt: r.RecordedAt, SupersededAt: r.SupersededAt}
}

// IncomeJSON is an income as the API shows it.
type IncomeJSON struct {
	ID            string     `json:"id" format:"uuid"`
	PersonID      string     `json:"person_id" format:"uuid"`
	Month         string     `json:"month" example:"2025-03"`
	Kind          string     `json:"kind" example:"salary" doc:"An income_kinds code."`
	AmountKopecks int64      `json:"amount_kopecks"`
	Source        string     `json:"source,omitempty" example:"fns" doc:"Who reported it: the payer or the agency that told the region."`
	Origin        string     `json:"origin" enum:"manual,import,connector,event"`
	RecordedAt    time.Time  `json:"recorded_at"`
	SupersededAt  *time.Time `json:"superseded_at,omitempty" doc:"When a correction, a retraction or a merge replaced it."`
}

func incomeOut(in registry.Income) IncomeJSON {
	return IncomeJSON{ID: in.ID.String(), PersonID: in.PersonID.String(), Month: in.Month, Kind: in.Kind,
		AmountKopecks: in.AmountKopecks, Source: in.Source, Origin: string(in.Origin), RecordedAt: in.RecordedAt, SupersededAt: in.SupersededAt}
}

// DisabilityJSON is a disability as the API shows it.
type DisabilityJSON struct {
	ID           string      `json:"id" format:"uuid"`
	PersonID     string      `json:"person_id" format:"uuid"`
	Group        int         `json:"group" enum:"0,1,2,3,4,7" doc:"1, 2, 3; 4 a disabled child; 0 and 7 as the EGISSO classifier has them."`
	ValidFrom    civil.Date  `json:"valid_from" format:"date"`
	ValidTo      *civil.Date `json:"valid_to,omitempty" format:"date"`
	Origin       string      `json:"origin" enum:"manual,import,connector,event"`
	RecordedAt   time.Time   `json:"recorded_at"`
	SupersededAt *time.Time  `json:"superseded_at,omitempty" doc:"When a correction, a retraction or a merge replaced it."`
}

func disabilityOut(d registry.Disability) DisabilityJSON {
	return DisabilityJSON{ID: d.ID.String(), PersonID: d.PersonID.String(), Group: d.Group, ValidFrom: d.ValidFrom,
		ValidTo: d.ValidTo, Origin: string(d.Origin), RecordedAt: d.RecordedAt, SupersededAt: d.SupersededAt}
}

// CategoryJSON is a person's category as the API shows it.
type CategoryJSON struct {
	ID           string      `json:"id" format:"uuid"`
	PersonID     string      `json:"person_id" format:"uuid"`
	Code         string      `json:"code" example:"large_family" doc:"A recipient_categories code, the platform's or the region's."`
	ValidFrom    civil.Date  `json:"valid_from" format:"date"`
	ValidTo      *civil.Date `json:"valid_to,omitempty" format:"date"`
	Origin       string      `json:"origin" enum:"manual,import,connector,event"`
	RecordedAt   time.Time   `json:"recorded_at"`
	SupersededAt *time.Time  `json:"superseded_at,omitempty" doc:"When a correction, a retraction or a merge replaced it."`
}

func categoryOut(c registry.Category) CategoryJSON {
	return CategoryJSON{ID: c.ID.String(), PersonID: c.PersonID.String(), Code: c.Code, ValidFrom: c.ValidFrom,
		ValidTo: c.ValidTo, Origin: string(c.Origin), RecordedAt: c.RecordedAt, SupersededAt: c.SupersededAt}
}

type factsJSON struct {
	Body struct {
		Relations    []RelationJSON   `json:"relations" doc:"Relations on either side: person_id or relative_id is this person."`
		Incomes      []IncomeJSON     `json:"incomes"`
		Disabilities []DisabilityJSON `json:"disabilities"`
		Categories   []CategoryJSON   `json:"categories"`
	}
}

// A fact's answer: 201 when something was recorded, 200 when it was not.
type relationPut struct {
	Status int
	Body   struct {
		RelationJSON
		Outcome string `json:"outcome" enum:"added,corrected,unchanged" doc:"added: no current fact had its key, it was recorded (201); corrected: the current one said something else, it was superseded by this one (201); unchanged: the current one says the same, nothing was recorded (200)."`
	}
}

type incomePut struct {
	Status int
	Body   struct {
		IncomeJSON
		Outcome string `json:"outcome" enum:"added,corrected,unchanged" doc:"added: no current fact had its key, it was recorded (201); corrected: the current one said something else, it was superseded by this one (201); unchanged: the current one says the same, nothing was recorded (200)."`
	}
}

type disabilityPut struct {
	Status int
	Body   struct {
		DisabilityJSON
		Outcome string `json:"outcome" enum:"added,corrected,unchanged" doc:"added: no current fact had its key, it was recorded (201); corrected: the current one said something else, it was superseded by this one (201); unchanged: the current one says the same, nothing was recorded (200)."`
	}
}

type categoryPut struct {
	Status int
	Body   struct {
		CategoryJSON
		Outcome string `json:"outcome" enum:"added,corrected,unchanged" doc:"added: no current fact had its key, it was recorded (201); corrected: the current one said something else, it was superseded by this one (201); unchanged: the current one says the same, nothing was recorded (200)."`
	}
}

func putStatus(o registry.Outcome) int {
	if o == registry.Unchanged {
		return http.StatusOK
	}
	return http.StatusCreated
}

// Cards.

type relativeJSON struct {
	ID         string      `json:"id" format:"uuid"`
	Kind       string      `json:"kind" example:"child" doc:"What the relative is to the person (a kinship_kinds code): child means the relative is the person's child."`
	FamilyName string      `json:"family_name"`
	FirstName  string      `json:"first_name"`
	Patronymic string      `json:"patronymic,omitempty"`
	BirthDate  civil.Date  `json:"birth_date" format:"date"`
	DeathDate  *civil.Date `json:"death_date,omitempty" format:"date"`
	RelationID string      `json:"relation_id" format:"uuid"`
	ValidFrom  civil.Date  `json:"valid_from" format:"date"`
	ValidTo    *civil.Date `json:"valid_to,omitempty" format:"date"`
}

type perCapitaJSON struct {
	From           string `json:"from" example:"2024-06" doc:"The first month of the income window."`
	To             string `json:"to" example:"2025-05" doc:"The last month of the income window."`
	Members        int    `json:"members" doc:"The household's members as of the card's date."`
	TotalKopecks   int64  `json:"total_kopecks" doc:"The household's counted incomes over the window."`
	MonthlyKopecks int64  `json:"monthly_kopecks" doc:"total_kopecks / months / members, truncated."`
}

type cardJSON struct {
	Body struct {
		Person       personJSON       `json:"person"`
		AsOf         civil.Date       `json:"as_of" format:"date"`
		Age          int              `json:"age" doc:"Whole years on as_of."`
		Alive        bool             `json:"alive"`
		Relatives    []relativeJSON   `json:"relatives" doc:"Relations in force on as_of, seen from this person."`
		Household    []string         `json:"household" doc:"Ids of the household's members on as_of, the person included."`
		Incomes      []IncomeJSON     `json:"incomes" doc:"The person's own current incomes of the window."`
		Disabilities []DisabilityJSON `json:"disabilities" doc:"Disabilities in force on as_of."`
		Categories   []CategoryJSON   `json:"categories" doc:"Categories in force on as_of."`
		PerCapita    perCapitaJSON    `json:"per_capita" doc:"The household's average monthly income per member over the twelve whole months before the month of as_of."`
	}
}

type personVersionJSON struct {
	Version   int64      `json:"version"`
	ChangedAt time.Time  `json:"changed_at" doc:"When this version was replaced."`
	ChangedBy string     `json:"changed_by,omitempty" format:"uuid" doc:"The user who replaced it; absent for the platform itself."`
	Reason    string     `json:"reason" enum:"update,merged" doc:"Why it was replaced."`
	Person    personJSON `json:"person" doc:"The person as this version had it."`
}

type personHistory struct {
	Body struct {
		Items []personVersionJSON `json:"items" doc:"Earlier versions, oldest first; the current one is the person itself."`
	}
}

type mergeResult struct {
	ETag string `header:"ETag" doc:"The ETag of the person merged into."`
	Body struct {
		MergeID    string     `json:"merge_id" format:"uuid"`
		FactsMoved int64      `json:"facts_moved" doc:"Current facts copied to the person merged into (those it already had are not counted)."`
		Into       personJSON `json:"into"`
	}
}

// factKinds maps a retraction's path segment to the registry's kind.
var factKinds = map[string]string{
	"relations": registry.KindRelation, "incomes": registry.KindIncome,
	"disabilities": registry.KindDisability, "categories": registry.KindCategory,
}

func (s *Server) registerPersons() {
	tags := []string{"Registry of recipients"}
	base := "/api/v1/tenants/{tenant}/persons"
	read := Permission{Object: "person", Action: "read"}
	update := Permission{Object: "person", Action: "update"}

	register(s, Permission{Object: "person", Action: "create"}, huma.Operation{
		OperationID: "createPerson", Method: http.MethodPost, Path: base, Tags: tags,
		Summary: "Register a person",
		Description: "The SNILS identifies a person in the region: a second person with the same SNILS is refused " +
			"with 409, whose detail and errors[0].value name the existing person. Persons registered by a service " +
			"account have origin connector, by anyone else manual.",
		Errors: []int{http.StatusNotFound, http.StatusConflict},
	}, func(ctx context.Context, in *personCreate) (*personResponse, error) {
		ctx, err := s.inTenant(ctx, in.Tenant)
		if err != nil {
			return nil, err
		}
		b := &in.Body
		f := registry.PersonFields{SNILS: &b.SNILS, FamilyName: &b.FamilyName, FirstName: &b.FirstName,
			Patronymic: &b.Patronymic, BirthDate: &b.BirthDate, Sex: &b.Sex, Citizenship: &b.Citizenship}
		b.PersonParts.into(&f)
		p, err := s.deps.Persons.Create(ctx, f, originOf(ctx))
		if err != nil {
			return nil, s.personProblem(ctx, err, "body")
		}
		return &personResponse{ETag: etag(p.Version), Location: "/api/v1/tenants/" + in.Tenant + "/persons/" + p.ID.String(), Body: personOut(p)}, nil
	})

	register(s, read, huma.Operation{
		OperationID: "findPersons", Method: http.MethodGet, Path: base, Tags: tags,
		Summary: "Find persons by SNILS or by name and birth date",
		Description: "Either snils (the one person with it; none is an empty list), or family_name and birth_date " +
			"(case-insensitive, exact), narrowed by first_name; at most 100 persons. Every search is audited " +
			"(person.search), naming the persons found, never the SNILS asked for.\n\n" +
			"A query string ends up in proxies' and browsers' logs: prefer POST …/persons/search, which takes the " +
			"same criteria in its body and keeps the SNILS out of URLs and logs.",
		Errors: []int{http.StatusNotFound},
	}, func(ctx context.Context, in *struct {
		TenantPath
		PurposeHeader
		SNILS      string `query:"snils" doc:"Eleven digits or XXX-XXX-XXX YY. Prefer POST …/persons/search, which keeps it out of URLs."`
		FamilyName string `query:"family_name" maxLength:"100"`
		FirstName  string `query:"first_name" maxLength:"100"`
		BirthDate  string `query:"birth_date" format:"date"`
	}) (*personList, error) {
		ctx, err := s.inTenant(ctx, in.Tenant)
		if err != nil {
			return nil, err
		}
		var birth civil.Date
		if in.BirthDate != "" {
			if birth, err = civil.Parse(in.BirthDate); err != nil {
				return nil, huma.Error422UnprocessableEntity("validation failed",
					&huma.ErrorDetail{Location: "query.birth_date", Message: "must be a date YYYY-MM-DD", Value: in.BirthDate})
			}
		}
		return s.findPersons(ctx, "query", in.SNILS, in.FamilyName, in.FirstName, birth)
	})

	register(s, read, huma.Operation{
		OperationID: "searchPersons", Method: http.MethodPost, Path: base + "/search", Tags: tags,
		DefaultStatus: http.StatusOK,
		Summary:       "Find persons, criteria in the body",
		Description: "The same search as GET …/persons with the criteria in the body, so that a SNILS stays out " +
			"of URLs and logs: either snils, or family_name and birth_date, narrowed by first_name.",
		Errors: []int{http.StatusNotFound},
	}, func(ctx context.Context, in *personSearch) (*personList, error) {
		ctx, err := s.inTenant(ctx, in.Tenant)
		if err != nil {
			return nil, err
		}
		b := in.Body
		return s.findPersons(ctx, "body", b.SNILS, b.FamilyName, b.FirstName, b.BirthDate)
	})

	register(s, read, huma.Operation{
		OperationID: "getPerson", Method: http.MethodGet, Path: base + "/{id}", Tags: tags,
		Summary:     "Read a person",
		Description: "Audited as person.read. A duplicate merged into another person is still read, with merged_into.",
		Errors:      []int{http.StatusNotFound},
	}, func(ctx context.Context, in *PersonPath) (*personResponse, error) {
		ctx, id, err := s.personTarget(ctx, in)
		if err != nil {
			return nil, err
		}
		p, err := s.deps.Persons.Get(ctx, id)
		if err != nil {
			return nil, s.personProblem(ctx, err, "body")
		}
		return &personResponse{ETag: etag(p.Version), Body: personOut(p)}, nil
	})

	register(s, update, huma.Operation{
		OperationID: "updatePerson", Method: http.MethodPatch, Path: base + "/{id}", Tags: tags,
		Summary: "Change a person",
		Description: "Needs If-Match with the current ETag. Fields absent are kept; the version replaced is kept " +
			"in the person's history. A person merged into another cannot be changed (409).",
		Errors: []int{http.StatusNotFound, http.StatusConflict, http.StatusPreconditionFailed, http.StatusPreconditionRequired},
	}, func(ctx context.Context, in *personPatch) (*personResponse, error) {
		ctx, id, err := s.personTarget(ctx, &in.PersonPath)
		if err != nil {
			return nil, err
		}
		v, err := ifMatch(in.IfMatch)
		if err != nil {
			return nil, err
		}
		b := &in.Body
		f := registry.PersonFields{SNILS: b.SNILS, FamilyName: b.FamilyName, FirstName: b.FirstName, Patronymic: b.Patronymic,
			BirthDate: b.BirthDate, Sex: b.Sex, Citizenship: b.Citizenship, Clear: b.Clear}
		b.PersonParts.into(&f)
		p, err := s.deps.Persons.Update(ctx, id, v, f, originOf(ctx))
		if err != nil {
			return nil, s.personProblem(ctx, err, "body")
		}
		return &personResponse{ETag: etag(p.Version), Body: personOut(p)}, nil
	})

	register(s, read, huma.Operation{
		OperationID: "getPersonCard", Method: http.MethodGet, Path: base + "/{id}/card", Tags: tags,
		Summary: "A person's card as of a date",
		Description: "What the registry knows of the person on a date: relatives, household, the incomes of the " +
			"window and the household's per-capita income, disabilities and categories in force. Audited as person.card.",
		Errors: []int{http.StatusNotFound},
	}, func(ctx context.Context, in *struct {
		PersonPath
		AsOf string `query:"as_of" format:"date" doc:"The date (default: today, Moscow time)."`
	}) (*cardJSON, error) {
		ctx, id, err := s.personTarget(ctx, &in.PersonPath)
		if err != nil {
			return nil, err
		}
		asOf := civil.Today()
		if in.AsOf != "" {
			if asOf, err = civil.Parse(in.AsOf); err != nil {
				return nil, huma.Error422UnprocessableEntity("validation failed",
					&huma.ErrorDetail{Location: "query.as_of", Message: "must be a date YYYY-MM-DD", Value: in.AsOf})
			}
		}
		c, err := s.deps.Persons.Card(ctx, id, asOf)
		if err != nil {
			return nil, s.personProblem(ctx, err, "query")
		}
		return cardOut(c), nil
	})

	register(s, read, huma.Operation{
		OperationID: "getPersonHistory", Method: http.MethodGet, Path: base + "/{id}/history", Tags: tags,
		Summary:     "A person's earlier versions",
		Description: "Every version a change or a merge replaced, oldest first. Audited as person.history.",
		Errors:      []int{http.StatusNotFound},
	}, func(ctx context.Context, in *PersonPath) (*personHistory, error) {
		ctx, id, err := s.personTarget(ctx, in)
		if err != nil {
			return nil, err
		}
		vs, err := s.deps.Persons.History(ctx, id)
		if err != nil {
			return nil, s.personProblem(ctx, err, "body")
		}
		out := &personHistory{}
		out.Body.Items = make([]personVersionJSON, len(vs))
		for i, v := range vs {
			item := personVersionJSON{Version: v.Version, ChangedAt: v.ChangedAt, Reason: v.Reason, Person: personOut(v.Person)}
			if v.ChangedBy != nil {
				item.ChangedBy = v.ChangedBy.String()
			}
			out.Body.Items[i] = item
		}
		return out, nil
	})

	register(s, read, huma.Operation{
		OperationID: "getPersonFacts", Method: http.MethodGet, Path: base + "/{id}/facts", Tags: tags,
		Summary: "A person's facts",
		Description: "The current relations, incomes, disabilities and categories; with history=true also those " +
			"corrected, retracted or moved by a merge, which carry superseded_at. Audited as person.read.",
		Errors: []int{http.StatusNotFound},
	}, func(ctx context.Context, in *struct {
		PersonPath
		History bool `query:"history" default:"false" doc:"Include superseded facts."`
	}) (*factsJSON, error) {
		ctx, id, err := s.personTarget(ctx, &in.PersonPath)
		if err != nil {
			return nil, err
		}
		f, err := s.deps.Persons.FactsOf(ctx, id, in.History)
		if err != nil {
			return nil, s.personProblem(ctx, err, "query")
		}
		out := &factsJSON{}
		out.Body.Relations = mapSlice(f.Relations, relationOut)
		out.Body.Incomes = mapSlice(f.Incomes, incomeOut)
		out.Body.Disabilities = mapSlice(f.Disabilities, disabilityOut)
		out.Body.Categories = mapSlice(f.Categories, categoryOut)
		return out, nil
	})

	factOp := func(id, path, summary, what string) huma.Operation {
		return huma.Operation{
			OperationID: id, Method: http.MethodPost, Path: base + "/{id}/" + path, Tags: tags,
			Summary: summary,
			Description: what + " A fact is never changed in place: one with the same key that says something else " +
				"supersedes the current one (outcome corrected, 201), one that says the same records nothing " +
				"(outcome unchanged, 200). A person merged into another takes no facts (409).",
			Errors: []int{http.StatusNotFound, http.StatusConflict},
		}
	}
	register(s, update, factOp("recordRelation", "relations", "Record a relation of a person",
		"The relative is the person's kind (child: the relative is the person's child) from valid_from to valid_to. "+
			"The key is (relative_id, kind, valid_from)."),
		func(ctx context.Context, in *struct {
			PersonPath
			Body struct {
				RelativeID string     `json:"relative_id" format:"uuid" doc:"Another person of the region."`
				Kind       string     `json:"kind" example:"child" doc:"A kinship_kinds code."`
				ValidFrom  civil.Date `json:"valid_from" format:"date"`
				ValidTo    civil.Date `json:"valid_to,omitzero" format:"date" doc:"The last day; absent: open-ended."`
			}
		}) (*relationPut, error) {
			ctx, id, err := s.personTarget(ctx, &in.PersonPath)
			if err != nil {
				return nil, err
			}
			rel, err := uuid.Parse(in.Body.RelativeID)
			if err != nil {
				return nil, huma.Error422UnprocessableEntity("validation failed",
					&huma.ErrorDetail{Location: "body.relative_id", Message: "must be a UUID", Value: in.Body.RelativeID})
			}
			r, o, err := s.deps.Persons.PutRelation(ctx, registry.Relation{PersonID: id, RelativeID: rel, Kind: in.Body.Kind,
				ValidFrom: in.Body.ValidFrom, ValidTo: datePtr(in.Body.ValidTo), Origin: originOf(ctx)})
			if err != nil {
				return nil, s.personProblem(ctx, err, "body")
			}
			out := &relationPut{Status: putStatus(o)}
			out.Body.RelationJSON, out.Body.Outcome = relationOut(r), o.String()
			return out, nil
		})
	register(s, update, factOp("recordIncome", "incomes", "Record a month's income of a person",
		"The key is (month, kind, source); amounts are integer kopecks."),
		func(ctx context.Context, in *struct {
			PersonPath
			Body struct {
				Month         string `json:"month" pattern:"^[0-9]{4}-[0-9]{2}$" example:"2025-03" doc:"YYYY-MM, not in the future."`
				Kind          string `json:"kind" example:"salary" doc:"An income_kinds code."`
				AmountKopecks int64  `json:"amount_kopecks" minimum:"0" maximum:"1000000000000"`
				Source        string `json:"source,omitempty" maxLength:"100" example:"fns" doc:"Who reported it: the payer or the agency that told the region."`
			}
		}) (*incomePut, error) {
			ctx, id, err := s.personTarget(ctx, &in.PersonPath)
			if err != nil {
				return nil, err
			}
			b := in.Body
			r, o, err := s.deps.Persons.PutIncome(ctx, registry.Income{PersonID: id, Month: b.Month, Kind: b.Kind,
				AmountKopecks: b.AmountKopecks, Source: b.Source, Origin: originOf(ctx)})
			if err != nil {
				return nil, s.personProblem(ctx, err, "body")
			}
			out := &incomePut{Status: putStatus(o)}
			out.Body.IncomeJSON, out.Body.Outcome = incomeOut(r), o.String()
			return out, nil
		})
	register(s, update, factOp("recordDisability", "disabilities", "Record a disability of a person",
		"A disability group from valid_from to valid_to. The key is valid_from."),
		func(ctx context.Context, in *struct {
			PersonPath
			Body struct {
				Group     int        `json:"group" enum:"0,1,2,3,4,7"`
				ValidFrom civil.Date `json:"valid_from" format:"date"`
				ValidTo   civil.Date `json:"valid_to,omitzero" format:"date" doc:"The last day; absent: open-ended."`
			}
		}) (*disabilityPut, error) {
			ctx, id, err := s.personTarget(ctx, &in.PersonPath)
			if err != nil {
				return nil, err
			}
			b := in.Body
			r, o, err := s.deps.Persons.PutDisability(ctx, registry.Disability{PersonID: id, Group: b.Group,
				ValidFrom: b.ValidFrom, ValidTo: datePtr(b.ValidTo), Origin: originOf(ctx)})
			if err != nil {
				return nil, s.personProblem(ctx, err, "body")
			}
			out := &disabilityPut{Status: putStatus(o)}
			out.Body.DisabilityJSON, out.Body.Outcome = disabilityOut(r), o.String()
			return out, nil
		})
	register(s, update, factOp("recordCategory", "categories", "Record a recipient category of a person",
		"A category from valid_from to valid_to. The key is (code, valid_from)."),
		func(ctx context.Context, in *struct {
			PersonPath
			Body struct {
				Code      string     `json:"code" example:"large_family" doc:"A recipient_categories code, the platform's or the region's."`
				ValidFrom civil.Date `json:"valid_from" format:"date"`
				ValidTo   civil.Date `json:"valid_to,omitzero" format:"date" doc:"The last day; absent: open-ended."`
			}
		}) (*categoryPut, error) {
			ctx, id, err := s.personTarget(ctx, &in.PersonPath)
			if err != nil {
				return nil, err
			}
			b := in.Body
			r, o, err := s.deps.Persons.PutCategory(ctx, registry.Category{PersonID: id, Code: b.Code,
				ValidFrom: b.ValidFrom, ValidTo: datePtr(b.ValidTo), Origin: originOf(ctx)})
			if err != nil {
				return nil, s.personProblem(ctx, err, "body")
			}
			out := &categoryPut{Status: putStatus(o)}
			out.Body.CategoryJSON, out.Body.Outcome = categoryOut(r), o.String()
			return out, nil
		})
	// Each fact operation answers 200 too, when nothing was recorded.
	for _, p := range []string{"relations", "incomes", "disabilities", "categories"} {
		if item := s.api.OpenAPI().Paths[base+"/{id}/"+p]; item != nil && item.Post != nil {
			if created := item.Post.Responses["201"]; created != nil {
				item.Post.Responses["200"] = &huma.Response{
					Description: "Unchanged: the current fact says the same; nothing was recorded.",
					Content:     created.Content,
				}
			}
		}
	}

	register(s, update, huma.Operation{
		OperationID: "retractPersonFact", Method: http.MethodDelete, Path: base + "/{id}/{kind}/{fact_id}", Tags: tags,
		DefaultStatus: http.StatusNoContent,
		Summary:       "Retract a fact recorded in error",
		Description: "The current fact is superseded without a replacement; it stays in the facts' history " +
			"(history=true). A fact already superseded is not found.",
		Errors: []int{http.StatusNotFound},
	}, func(ctx context.Context, in *struct {
		PersonPath
		Kind   string `path:"kind" enum:"relations,incomes,disabilities,categories"`
		FactID string `path:"fact_id" format:"uuid" doc:"The fact's id."`
	}) (*struct{}, error) {
		ctx, id, err := s.personTarget(ctx, &in.PersonPath)
		if err != nil {
			return nil, err
		}
		kind, ok := factKinds[in.Kind]
		fact, perr := uuid.Parse(in.FactID)
		if !ok || perr != nil {
			return nil, huma.Error404NotFound("no such fact")
		}
		if err := s.deps.Persons.Retract(ctx, id, kind, fact); err != nil {
			return nil, s.personProblem(ctx, err, "path")
		}
		return nil, nil
	})

	register(s, Permission{Object: "person", Action: "merge"}, huma.Operation{
		OperationID: "mergePerson", Method: http.MethodPost, Path: base + "/{id}/merge", Tags: tags,
		DefaultStatus: http.StatusOK,
		Summary:       "Merge a duplicate into another person",
		Description: "The person {id} is a duplicate of into: its current facts are copied to into (where into " +
			"has none of the same key; into's own win) and superseded, relations naming it are redirected, and it " +
			"stays, with merged_into, so that its history and anything referring to it still resolve. Both persons " +
			"must not have been merged already (409).",
		Errors: []int{http.StatusNotFound, http.StatusConflict},
	}, func(ctx context.Context, in *struct {
		PersonPath
		Body struct {
			Into string `json:"into" format:"uuid" doc:"The person kept."`
		}
	}) (*mergeResult, error) {
		ctx, id, err := s.personTarget(ctx, &in.PersonPath)
		if err != nil {
			return nil, err
		}
		into, err := uuid.Parse(in.Body.Into)
		if err != nil {
			return nil, huma.Error422UnprocessableEntity("validation failed",
				&huma.ErrorDetail{Location: "body.into", Message: "must be a UUID", Value: in.Body.Into})
		}
		m, err := s.deps.Persons.Merge(ctx, id, into)
		if err != nil {
			return nil, s.personProblem(ctx, err, "body")
		}
		out := &mergeResult{ETag: etag(m.Into.Version)}
		out.Body.MergeID, out.Body.FactsMoved, out.Body.Into = m.ID.String(), m.FactsMoved, personOut(m.Into)
		return out, nil
	})
}

// findPersons searches by SNILS or by name; where is "query" or "body", the
// part of the request the criteria came in.
func (s *Server) findPersons(ctx context.Context, where, snils, family, first string, birth civil.Date) (*personList, error) {
	out := &personList{}
	out.Body.Items = []personJSON{}
	byName := family != "" || first != "" || !birth.IsZero()
	switch {
	case snils != "" && byName:
		return nil, huma.Error422UnprocessableEntity("validation failed",
			&huma.ErrorDetail{Location: where + ".snils", Message: "search either by snils or by family_name and birth_date, not both"})
	case snils != "":
		p, err := s.deps.Persons.FindBySNILS(ctx, snils)
		if errors.Is(err, fault.ErrNotFound) {
			return out, nil
		}
		if err != nil {
			return nil, s.personProblem(ctx, err, where)
		}
		out.Body.Items = append(out.Body.Items, personOut(p))
		return out, nil
	case byName:
		ps, err := s.deps.Persons.Search(ctx, family, first, birth)
		if err != nil {
			return nil, s.personProblem(ctx, err, where)
		}
		for _, p := range ps {
			out.Body.Items = append(out.Body.Items, personOut(p))
		}
		return out, nil
	}
	return nil, huma.Error422UnprocessableEntity("validation failed",
		&huma.ErrorDetail{Location: where + ".snils", Message: "give snils, or family_name and birth_date"})
}

func (s *Server) personTarget(ctx context.Context, in *PersonPath) (context.Context, uuid.UUID, error) {
	ctx, err := s.inTenant(ctx, in.Tenant)
	if err != nil {
		return ctx, uuid.Nil, err
	}
	id, err := uuid.Parse(in.ID)
	if err != nil {
		return ctx, uuid.Nil, huma.Error404NotFound("person " + in.ID + " not found")
	}
	return ctx, id, nil
}

// personProblem is problem for the registry: its validation errors are
// located in where (body, query, path), and a duplicate SNILS names the
// person that has it.
func (s *Server) personProblem(ctx context.Context, err error, where string) error {
	var inv *fault.Invalid
	if errors.As(err, &inv) {
		details := make([]error, len(inv.Fields))
		for i, f := range inv.Fields {
			details[i] = &huma.ErrorDetail{Location: where + "." + f.Field, Message: f.Message, Value: f.Value}
		}
		return huma.Error422UnprocessableEntity("validation failed", details...)
	}
	if id, ok := registry.DuplicateOf(err); ok {
		var fe *fault.Error
		errors.As(err, &fe)
		return huma.Error409Conflict(fe.Msg, &huma.ErrorDetail{
			Location: "body.snils", Message: "is the SNILS of person " + id.String(), Value: id.String(),
		})
	}
	return s.problem(ctx, err)
}

// originOf is where a row a request records comes from: a service account
// is a connector, anyone else enters it by hand.
func originOf(ctx context.Context) registry.Origin {
	if p, ok := principalFrom(ctx); ok && p.Kind == auth.KindService {
		return registry.Connector
	}
	return registry.Manual
}

func datePtr(d civil.Date) *civil.Date {
	if d.IsZero() {
		return nil
	}
	return &d
}

func mapSlice[T, U any](in []T, f func(T) U) []U {
	out := make([]U, len(in))
	for i, v := range in {
		out[i] = f(v)
	}
	return out
}

func cardOut(c registry.Card) *cardJSON {
	out := &cardJSON{}
	b := &out.Body
	b.Person, b.AsOf, b.Age, b.Alive = personOut(c.Person), c.AsOf, c.Age, c.Alive
	b.Relatives = make([]relativeJSON, len(c.Relatives))
	for i, r := range c.Relatives {
		b.Relatives[i] = relativeJSON{ID: r.ID.String(), Kind: r.Kind, FamilyName: r.FamilyName, FirstName: r.FirstName,
			Patronymic: r.Patronymic, BirthDate: r.BirthDate, DeathDate: r.DeathDate, RelationID: r.Relation.ID.String(),
			ValidFrom: r.Relation.ValidFrom, ValidTo: r.Relation.ValidTo}
	}
	b.Household = mapSlice(c.Household, uuid.UUID.String)
	b.Incomes = mapSlice(c.Incomes, incomeOut)
	b.Disabilities = mapSlice(c.Disabilities, disabilityOut)
	b.Categories = mapSlice(c.Categories, categoryOut)
	pc := c.PerCapita
	b.PerCapita = perCapitaJSON{From: pc.From.String(), To: pc.To.String(), Members: pc.Members,
		TotalKopecks: pc.TotalKopecks, MonthlyKopecks: pc.MonthlyKopecks}
	return out
}
