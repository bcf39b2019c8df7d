package registry

import (
	"encoding/json"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/socialtreasury/treasury/core/civil"
	"github.com/socialtreasury/treasury/core/fault"
	"github.com/socialtreasury/treasury/core/ident"
)

// Origin is where a row came from.
type Origin string

// Origins of registry rows.
const (
	Manual    Origin = "manual"
	Imported  Origin = "import"
	Connector Origin = "connector"
	Event     Origin = "event"
)

func (o Origin) valid() bool {
	return o == Manual || o == Imported || o == Connector || o == Event
}

// Address is where a person lives: the municipality's OKTMO and free text.
type Address struct {
	OKTMO string `json:"oktmo,omitempty"`
	Text  string `json:"text,omitempty"`
}

// Document is a person's identity document (sealed at rest).
type Document struct {
	Type     string      `json:"type"` // identity_document_types code, "21" passport
	Series   string      `json:"series,omitempty"`
	Number   string      `json:"number"`
	IssuedOn *civil.Date `json:"issued_on,omitempty"`
	Issuer   string      `json:"issuer,omitempty"`
}

// Contacts are how to reach a person (sealed at rest).
type Contacts struct {
	Phone string `json:"phone,omitempty"`
	Email string `json:"email,omitempty"`
}

// Bank is where a person's payments go (sealed at rest).
type Bank struct {
	BIK     string `json:"bik"`
	Account string `json:"account"`
	Card    string `json:"card,omitempty"`
}

// Person is one recipient, personal data opened.
type Person struct {
	ID          uuid.UUID
	SNILS       string // eleven digits
	FamilyName  string
	FirstName   string
	Patronymic  string
	BirthDate   civil.Date
	Sex         string // male | female
	Citizenship string // OKSM, 643 Russia
	DeathDate   *civil.Date
	Address     Address
	Document    *Document
	Contacts    *Contacts
	Bank        *Bank
	Origin      Origin
	MergedInto  *uuid.UUID
	Version     int64
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// PersonFields are a person's editable fields; in an update nil keeps the
// value and Clear names optional fields to remove.
type PersonFields struct {
	SNILS       *string
	FamilyName  *string
	FirstName   *string
	Patronymic  *string
	BirthDate   *civil.Date
	Sex         *string
	Citizenship *string
	DeathDate   *civil.Date
	Address     *Address
	Document    *Document
	Contacts    *Contacts
	Bank        *Bank
	// Clear removes optional fields: any of ClearableFields. A field both
	// set and cleared is refused.
	Clear []string
}

// ClearableFields are the optional fields an update can remove.
var ClearableFields = []string{"patronymic", "death_date", "address", "document", "contacts", "bank"}

var (
	oktmoRe   = regexp.MustCompile(`^[0-9]{8}([0-9]{3})?$`)
	oksmRe    = regexp.MustCompile(`^[0-9]{3}$`)
	bikRe     = regexp.MustCompile(`^04[0-9]{7}$`)
	accountRe = regexp.MustCompile(`^[0-9]{20}$`)
	cardRe    = regexp.MustCompile(`^[0-9]{16,19}$`)
	phoneRe   = regexp.MustCompile(`^\+?[0-9]{10,15}$`)
	docNumRe  = regexp.MustCompile(`^[0-9A-Za-zА-ЯЁа-яё-]{1,20}$`)
)

// earliestBirth bounds birth dates from below: nobody in a registry was
// born before it, and a date that old is a typing error.
var earliestBirth = civil.New(1900, 1, 1)

func trimPtr(p *string) {
	if p != nil {
		*p = strings.TrimSpace(*p)
	}
}

// apply copies the set fields of f into p, normalising text and the SNILS;
// the SNILS check is reported by validate.
func (f PersonFields) apply(p *Person, v *fault.Invalid) {
	for _, s := range []*string{f.FamilyName, f.FirstName, f.Patronymic, f.Sex, f.Citizenship} {
		trimPtr(s)
	}
	if f.SNILS != nil {
		n, err := ident.NormalizeSNILS(*f.SNILS)
		if err != nil {
			// The value is not echoed: a SNILS, even a wrong one, is personal data.
			v.Add("snils", "is not a valid SNILS: "+err.Error(), nil)
		}
		p.SNILS = n
	}
	set := func(dst *string, src *string) {
		if src != nil {
			*dst = *src
		}
	}
	set(&p.FamilyName, f.FamilyName)
	set(&p.FirstName, f.FirstName)
	set(&p.Patronymic, f.Patronymic)
	set(&p.Sex, f.Sex)
	set(&p.Citizenship, f.Citizenship)
	if f.BirthDate != nil {
		p.BirthDate = *f.BirthDate
	}
	if f.DeathDate != nil {
		d := *f.DeathDate
		p.DeathDate = &d
	}
	if f.Address != nil {
		a := *f.Address
		a.OKTMO, a.Text = strings.TrimSpace(a.OKTMO), strings.TrimSpace(a.Text)
		p.Address = a
	}
	if f.Document != nil {
		d := *f.Document
		d.Type, d.Series, d.Number, d.Issuer = strings.TrimSpace(d.Type), strings.TrimSpace(d.Series), strings.TrimSpace(d.Number), strings.TrimSpace(d.Issuer)
		p.Document = &d
	}
	if f.Contacts != nil {
		c := *f.Contacts
		c.Phone, c.Email = strings.TrimSpace(c.Phone), strings.TrimSpace(c.Email)
		p.Contacts = &c
	}
	for _, c := range f.Clear {
		set := map[string]bool{"patronymic": f.Patronymic != nil, "death_date": f.DeathDate != nil, "address": f.Address != nil,
			"document": f.Document != nil, "contacts": f.Contacts != nil, "bank": f.Bank != nil}
		switch {
		case !slices.Contains(ClearableFields, c):
			v.Add("clear", "names "+strconv.Quote(echoed(c))+", not one of "+strings.Join(ClearableFields, ", "), nil)
		case set[c]:
			v.Add("clear", c+" is both set and cleared", nil)
		}
		switch c {
		case "patronymic":
			p.Patronymic = ""
		case "death_date":
			p.DeathDate = nil
		case "address":
			p.Address = Address{}
		case "document":
			p.Document = nil
		case "contacts":
			p.Contacts = nil
		case "bank":
			p.Bank = nil
		}
	}
	if f.Bank != nil {
		b := *f.Bank
		b.BIK, b.Account, b.Card = strings.TrimSpace(b.BIK), strings.TrimSpace(b.Account), strings.TrimSpace(b.Card)
		p.Bank = &b
	}
}

// echoable reports whether a value a caller sent may be repeated in an
// error: a short code without digits cannot be a SNILS, a document number
// or an account.
func echoable(s string) bool {
	return s != "" && len(s) <= 40 && !strings.ContainsAny(s, "0123456789")
}

// echoed is s when it may be repeated, an ellipsis otherwise.
func echoed(s string) string {
	if echoable(s) {
		return s
	}
	return "…"
}

// nameKey is a name as searched: lower case, ё as е.
func nameKey(s string) string {
	return strings.ReplaceAll(strings.ToLower(strings.TrimSpace(s)), "ё", "е")
}

// textOK refuses what PostgreSQL cannot store in text: NUL and bytes that
// are not UTF-8.
func textOK(s string) bool { return utf8.ValidString(s) && !strings.ContainsRune(s, 0) }

func nameOK(s string, required bool) bool {
	n := utf8.RuneCountInString(s)
	if n == 0 {
		return !required
	}
	return n <= 100 && !strings.ContainsAny(s, "\x00\r\n\t") && utf8.ValidString(s)
}

// validate checks a person as it would be stored. today bounds dates from
// above; docTypes are the known identity document codes (nil skips the check).
func validate(v *fault.Invalid, p *Person, today civil.Date, docTypes map[string]bool) {
	if p.SNILS == "" && !v.Has("snils") {
		v.Add("snils", "is required", nil)
	}
	if !nameOK(p.FamilyName, true) {
		v.Add("family_name", "must be 1 to 100 characters on one line", p.FamilyName)
	}
	if !nameOK(p.FirstName, true) {
		v.Add("first_name", "must be 1 to 100 characters on one line", p.FirstName)
	}
	if !nameOK(p.Patronymic, false) {
		v.Add("patronymic", "must be at most 100 characters on one line", p.Patronymic)
	}
	switch {
	case p.BirthDate.IsZero():
		v.Add("birth_date", "is required", nil)
	case p.BirthDate.After(today):
		v.Add("birth_date", "is in the future", p.BirthDate.String())
	case p.BirthDate.Before(earliestBirth):
		v.Add("birth_date", "is before 1900-01-01", p.BirthDate.String())
	}
	if p.Sex != "male" && p.Sex != "female" {
		v.Add("sex", "must be male or female", p.Sex)
	}
	if p.Citizenship == "" {
		p.Citizenship = "643"
	}
	if !oksmRe.MatchString(p.Citizenship) {
		v.Add("citizenship", "must be a three-digit OKSM country code", p.Citizenship)
	}
	if d := p.DeathDate; d != nil {
		if d.After(today) {
			v.Add("death_date", "is in the future", d.String())
		} else if !p.BirthDate.IsZero() && d.Before(p.BirthDate) {
			v.Add("death_date", "is before the birth date", d.String())
		}
	}
	if p.Address.OKTMO != "" && !oktmoRe.MatchString(p.Address.OKTMO) {
		v.Add("address.oktmo", "must be an OKTMO code of 8 or 11 digits", p.Address.OKTMO)
	}
	if utf8.RuneCountInString(p.Address.Text) > 500 || !textOK(p.Address.Text) {
		v.Add("address.text", "must be at most 500 characters of UTF-8 text", nil)
	}
	if d := p.Document; d != nil {
		if docTypes != nil && !docTypes[d.Type] {
			v.Add("document.type", "is not a code of the identity_document_types directory", d.Type)
		}
		if !docNumRe.MatchString(d.Number) {
			v.Add("document.number", "must be 1 to 20 letters, digits or dashes", nil)
		}
		if !textOK(d.Issuer) || utf8.RuneCountInString(d.Issuer) > 500 {
			v.Add("document.issuer", "must be at most 500 characters of UTF-8 text", nil)
		}
		if !textOK(d.Type) {
			v.Add("document.type", "must be UTF-8 text", nil)
		}
		if len(d.Series) > 20 || !textOK(d.Series) {
			v.Add("document.series", "must be at most 20 characters", nil)
		}
		if d.IssuedOn != nil && d.IssuedOn.After(today) {
			v.Add("document.issued_on", "is in the future", d.IssuedOn.String())
		}
	}
	if c := p.Contacts; c != nil {
		if c.Phone != "" && !phoneRe.MatchString(c.Phone) {
			v.Add("contacts.phone", "must be 10 to 15 digits, optionally after +", nil)
		}
		if c.Email != "" && (len(c.Email) > 254 || !strings.Contains(c.Email, "@") || !textOK(c.Email)) {
			v.Add("contacts.email", "is not an e-mail address", nil)
		}
	}
	if b := p.Bank; b != nil {
		if !bikRe.MatchString(b.BIK) {
			v.Add("bank.bik", "must be a nine-digit BIK starting 04", b.BIK)
		}
		if !accountRe.MatchString(b.Account) {
			v.Add("bank.account", "must be a twenty-digit account number", nil)
		}
		if b.Card != "" && !cardRe.MatchString(b.Card) {
			v.Add("bank.card", "must be a card number of 16 to 19 digits", nil)
		}
	}
}

// personRow is a row of persons: what the database holds.
type personRow struct {
	TenantID     uuid.UUID `gorm:"primaryKey"`
	ID           uuid.UUID `gorm:"primaryKey"`
	SNILSIndex   []byte    `gorm:"column:snils_index"`
	SNILSEnc     []byte    `gorm:"column:snils_enc"`
	FamilyName   string
	NameKey      string
	FirstName    string
	Patronymic   string
	BirthDate    civil.Date
	Sex          string
	Citizenship  string
	DeathDate    *civil.Date
	AddressOKTMO string `gorm:"column:address_oktmo"`
	AddressText  string
	DocumentEnc  []byte
	ContactsEnc  []byte
	BankEnc      []byte
	Origin       Origin
	MergedInto   *uuid.UUID
	Version      int64
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

func (personRow) TableName() string { return "persons" }

// changes are the columns an update of the person writes (a map, so that
// NULLs and empty values are written too).
func (r personRow) changes() map[string]any {
	return map[string]any{
		"snils_index": r.SNILSIndex, "snils_enc": r.SNILSEnc, "family_name": r.FamilyName, "name_key": r.NameKey,
		"first_name": r.FirstName, "patronymic": r.Patronymic, "birth_date": r.BirthDate, "sex": r.Sex,
		"citizenship": r.Citizenship, "death_date": r.DeathDate, "address_oktmo": r.AddressOKTMO,
		"address_text": r.AddressText, "document_enc": r.DocumentEnc, "contacts_enc": r.ContactsEnc,
		"bank_enc": r.BankEnc, "version": r.Version, "updated_at": r.UpdatedAt,
	}
}

// The additional data a sealed column is bound to: its column and row, so
// a ciphertext copied into another row or column does not open.
func aad(column string, id uuid.UUID) []byte {
	return append([]byte("persons."+column+":"), id[:]...)
}

// snilsIndexInput is what the blind index of a SNILS is computed over; the
// prefix keeps other kinds of value from sharing its index space.
func snilsIndexInput(snils string) string { return "snils:" + snils }

// sealer is what rows need of a region's keyring.
type sealer interface {
	Seal(plaintext, aad []byte) ([]byte, error)
	Open(ciphertext, aad []byte) ([]byte, error)
	BlindIndex(normalized string) []byte
}

func sealJSON(k sealer, v any, column string, id uuid.UUID) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return k.Seal(b, aad(column, id))
}

func openJSON(k sealer, ct []byte, column string, id uuid.UUID, v any) error {
	b, err := k.Open(ct, aad(column, id))
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// toRow seals a person for tid.
func toRow(k sealer, tid uuid.UUID, p *Person) (personRow, error) {
	r := personRow{
		TenantID: tid, ID: p.ID, FamilyName: p.FamilyName, NameKey: nameKey(p.FamilyName), FirstName: p.FirstName, Patronymic: p.Patronymic,
		BirthDate: p.BirthDate, Sex: p.Sex, Citizenship: p.Citizenship, DeathDate: p.DeathDate,
		AddressOKTMO: p.Address.OKTMO, AddressText: p.Address.Text, Origin: p.Origin, MergedInto: p.MergedInto,
		Version: p.Version, CreatedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt,
	}
	var err error
	r.SNILSIndex = k.BlindIndex(snilsIndexInput(p.SNILS))
	if r.SNILSEnc, err = k.Seal([]byte(p.SNILS), aad("snils", p.ID)); err != nil {
		return r, err
	}
	if p.Document != nil {
		if r.DocumentEnc, err = sealJSON(k, p.Document, "document", p.ID); err != nil {
			return r, err
		}
	}
	if p.Contacts != nil {
		if r.ContactsEnc, err = sealJSON(k, p.Contacts, "contacts", p.ID); err != nil {
			return r, err
		}
	}
	if p.Bank != nil {
		if r.BankEnc, err = sealJSON(k, p.Bank, "bank", p.ID); err != nil {
			return r, err
		}
	}
	return r, nil
}

// fromRow opens a row.
func fromRow(k sealer, r personRow) (Person, error) {
	p := Person{
		ID: r.ID, FamilyName: r.FamilyName, FirstName: r.FirstName, Patronymic: r.Patronymic,
		BirthDate: r.BirthDate, Sex: r.Sex, Citizenship: r.Citizenship, DeathDate: r.DeathDate,
		Address: Address{OKTMO: r.AddressOKTMO, Text: r.AddressText}, Origin: r.Origin, MergedInto: r.MergedInto,
		Version: r.Version, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt,
	}
	s, err := k.Open(r.SNILSEnc, aad("snils", r.ID))
	if err != nil {
		return p, err
	}
	p.SNILS = string(s)
	if r.DocumentEnc != nil {
		p.Document = &Document{}
		if err := openJSON(k, r.DocumentEnc, "document", r.ID, p.Document); err != nil {
			return p, err
		}
	}
	if r.ContactsEnc != nil {
		p.Contacts = &Contacts{}
		if err := openJSON(k, r.ContactsEnc, "contacts", r.ID, p.Contacts); err != nil {
			return p, err
		}
	}
	if r.BankEnc != nil {
		p.Bank = &Bank{}
		if err := openJSON(k, r.BankEnc, "bank", r.ID, p.Bank); err != nil {
			return p, err
		}
	}
	return p, nil
}
