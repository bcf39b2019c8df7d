package pluginhost

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/socialtreasury/treasury/core/audit"
	"github.com/socialtreasury/treasury/core/fault"
	"github.com/socialtreasury/treasury/core/tenancy"
	"github.com/socialtreasury/treasury/sdk/grpcplugin"
)

// Entry is a catalog entry: one version of a plug-in binary, pinned by its
// SHA-256, and the regions that may enable it (none listed: every region).
type Entry struct {
	ID              uuid.UUID  `json:"id"`
	Name            string     `json:"name"`
	Version         string     `json:"version"`
	Kind            string     `json:"kind"`
	SHA256          string     `gorm:"column:sha256" json:"sha256"`
	ProtocolVersion int        `json:"protocol_version"`
	File            string     `json:"file"` // in the plug-in directory
	Tenants         string     `json:"-"`    // JSON array of region codes
	Regions         []string   `gorm:"-" json:"regions"`
	RegisteredBy    *uuid.UUID `json:"registered_by,omitempty"`
	RegisteredAt    time.Time  `json:"registered_at"`
}

func (Entry) TableName() string { return "plugins" }

// allows says whether a region may enable the entry.
func (e Entry) allows(region string) bool {
	return len(e.Regions) == 0 || slices.Contains(e.Regions, region)
}

func (e *Entry) decode() error {
	e.Regions = []string{}
	return json.Unmarshal([]byte(e.Tenants), &e.Regions)
}

// Enablement is a region's use of a catalog entry, with its configuration
// (the JSON the plug-in reads with sdk.Config).
type Enablement struct {
	TenantID  uuid.UUID       `gorm:"primaryKey" json:"-"`
	Name      string          `gorm:"primaryKey" json:"name"`
	PluginID  uuid.UUID       `json:"plugin_id"`
	Config    string          `json:"-"`
	Settings  json.RawMessage `gorm:"-" json:"config"`
	EnabledBy *uuid.UUID      `json:"enabled_by,omitempty"`
	EnabledAt time.Time       `json:"enabled_at"`
}

func (Enablement) TableName() string { return "plugin_enablements" }

// Incident is something that went wrong with a plug-in process.
type Incident struct {
	ID       uuid.UUID `json:"id"`
	PluginID uuid.UUID `json:"plugin_id"`
	Region   string    `json:"region"`
	Kind     string    `json:"kind"` // checksum, refused, crash, hang, start
	Detail   string    `json:"detail"`
	At       time.Time `json:"at"`
}

func (Incident) TableName() string { return "plugin_incidents" }

// Catalog is the plug-in catalog in the database.
type Catalog struct {
	db *gorm.DB
}

// NewCatalog returns the catalog of db.
func NewCatalog(db *gorm.DB) *Catalog { return &Catalog{db: db} }

var (
	namePattern    = regexp.MustCompile(`^[a-z][a-z0-9-]{1,62}$`)
	versionPattern = regexp.MustCompile(`^[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.-]+)?$`)
	regionPattern  = regexp.MustCompile(`^[0-9]{2}$`)
	sha256Pattern  = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

// NewEntry is what registering a binary takes.
type NewEntry struct {
	Name, Version, Kind, SHA256, File string
	Regions                           []string
}

func (n NewEntry) validate() error {
	v := &fault.Invalid{}
	if !namePattern.MatchString(n.Name) {
		v.Add("name", "2 to 63 lower-case letters, digits and hyphens, starting with a letter", n.Name)
	}
	if !versionPattern.MatchString(n.Version) {
		v.Add("version", "a semantic version such as 1.2.0", n.Version)
	}
	if !slices.Contains(grpcplugin.Kinds, n.Kind) {
		v.Add("kind", "one of "+strings.Join(grpcplugin.Kinds, ", "), n.Kind)
	}
	if !sha256Pattern.MatchString(n.SHA256) {
		v.Add("sha256", "64 lower-case hexadecimal digits", n.SHA256)
	}
	if n.File == "" || n.File != baseName(n.File) {
		v.Add("file", "a file name in the plug-in directory, without a path", n.File)
	}
	for i, r := range n.Regions {
		if !regionPattern.MatchString(r) {
			v.Add(fmt.Sprintf("regions[%d]", i), "a two-digit region code", r)
		}
	}
	return v.Err()
}

// Register adds a catalog entry. A name and version registered already is
// a conflict: an entry is never changed, a new binary is a new version.
func (c *Catalog) Register(ctx context.Context, n NewEntry) (Entry, error) {
	if err := n.validate(); err != nil {
		return Entry{}, err
	}
	regions, _ := json.Marshal(nonNil(n.Regions))
	e := Entry{ID: uuid.New(), Name: n.Name, Version: n.Version, Kind: n.Kind, SHA256: n.SHA256,
		ProtocolVersion: grpcplugin.ProtocolVersion, File: n.File, Tenants: string(regions), Regions: nonNil(n.Regions),
		RegisteredBy: audit.ActorRef(ctx), RegisteredAt: time.Now().UTC()}
	err := c.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var n int64
		if err := tx.Model(&Entry{}).Where("name = ? AND version = ?", e.Name, e.Version).Count(&n).Error; err != nil {
			return err
		}
		if n > 0 {
			return fault.Conflictf("plug-in %s %s is registered already", e.Name, e.Version)
		}
		return tx.Create(&e).Error
	})
	return e, err
}

// List is the catalog, by name and version.
func (c *Catalog) List(ctx context.Context) ([]Entry, error) {
	var es []Entry
	if err := c.db.WithContext(ctx).Order("name, version").Find(&es).Error; err != nil {
		return nil, err
	}
	for i := range es {
		if err := es[i].decode(); err != nil {
			return nil, err
		}
	}
	return es, nil
}

// Entry is the catalog's entry of a name and version.
func (c *Catalog) Entry(ctx context.Context, name, version string) (Entry, error) {
	return c.entryWhere(ctx, "name = ? AND version = ?", name, version)
}

func (c *Catalog) entryByID(ctx context.Context, id uuid.UUID) (Entry, error) {
	return c.entryWhere(ctx, "id = ?", id)
}

func (c *Catalog) entryWhere(ctx context.Context, q string, args ...any) (Entry, error) {
	var e Entry
	err := c.db.WithContext(ctx).Where(q, args...).Take(&e).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return e, fault.NotFoundf("no such plug-in in the catalog")
	}
	if err != nil {
		return e, err
	}
	return e, e.decode()
}

// Enable makes the context's region use a catalog entry, with its
// configuration (a JSON object): another version of the same plug-in is
// replaced. The entry must allow the region.
func (c *Catalog) Enable(ctx context.Context, region tenancy.Tenant, name, version string, config json.RawMessage) (Enablement, error) {
	e, err := c.Entry(ctx, name, version)
	if err != nil {
		return Enablement{}, err
	}
	if !e.allows(region.Code) {
		return Enablement{}, fault.Forbiddenf("plug-in %s %s is not registered for region %s", name, version, region.Code)
	}
	if len(config) == 0 {
		config = json.RawMessage("{}")
	}
	var obj map[string]any
	if err := json.Unmarshal(config, &obj); err != nil {
		v := &fault.Invalid{}
		v.Add("config", "a JSON object", string(config))
		return Enablement{}, v.Err()
	}
	en := Enablement{TenantID: region.ID, Name: name, PluginID: e.ID, Config: string(config), Settings: config,
		EnabledBy: audit.ActorRef(ctx), EnabledAt: time.Now().UTC()}
	err = tenancy.Tx(ctx, c.db, func(tx *gorm.DB) error {
		if err := tx.Where("name = ?", name).Delete(&Enablement{}).Error; err != nil {
			return err
		}
		if err := tx.Create(&en).Error; err != nil {
			return err
		}
		return audit.Append(ctx, tx, audit.Record{Action: "plugin.enable", ObjectType: "plugin", ObjectID: name,
			Detail: fmt.Sprintf("version=%s sha256=%s", version, e.SHA256)})
	})
	return en, err
}

// Enabled is the context's region's enablement of a plug-in, with its entry.
func (c *Catalog) Enabled(ctx context.Context, name string) (Enablement, Entry, error) {
	var en Enablement
	err := tenancy.Tx(ctx, c.db, func(tx *gorm.DB) error { return tx.Where("name = ?", name).Take(&en).Error })
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return en, Entry{}, fault.NotFoundf("plug-in %s is not enabled in the region", name)
	}
	if err != nil {
		return en, Entry{}, err
	}
	en.Settings = json.RawMessage(en.Config)
	e, err := c.entryByID(ctx, en.PluginID)
	return en, e, err
}

// EnabledAll are the context's region's enablements.
func (c *Catalog) EnabledAll(ctx context.Context) ([]Enablement, error) {
	var ens []Enablement
	err := tenancy.Tx(ctx, c.db, func(tx *gorm.DB) error { return tx.Order("name").Find(&ens).Error })
	for i := range ens {
		ens[i].Settings = json.RawMessage(ens[i].Config)
	}
	return ens, err
}

// Entries are the catalog entries of enablements, by id, in one query.
func (c *Catalog) Entries(ctx context.Context, ens []Enablement) (map[uuid.UUID]Entry, error) {
	out := make(map[uuid.UUID]Entry, len(ens))
	if len(ens) == 0 {
		return out, nil
	}
	ids := make([]uuid.UUID, len(ens))
	for i, en := range ens {
		ids[i] = en.PluginID
	}
	var es []Entry
	if err := c.db.WithContext(ctx).Where("id IN ?", ids).Find(&es).Error; err != nil {
		return nil, err
	}
	for _, e := range es {
		if err := e.decode(); err != nil {
			return nil, err
		}
		out[e.ID] = e
	}
	return out, nil
}

// Record keeps an incident. It never fails the caller: the incident is
// logged by the host as well.
func (c *Catalog) Record(ctx context.Context, in Incident) error {
	in.ID, in.At = uuid.New(), time.Now().UTC()
	return c.db.WithContext(context.WithoutCancel(ctx)).Create(&in).Error
}

// Incidents are the latest incidents, newest first.
func (c *Catalog) Incidents(ctx context.Context, limit int) ([]Incident, error) {
	var out []Incident
	err := c.db.WithContext(ctx).Order("at DESC").Limit(limit).Find(&out).Error
	return out, err
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
