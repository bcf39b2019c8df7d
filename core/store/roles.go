package store

import (
	"context"
	"errors"
	"fmt"
	"regexp"

	"github.com/jackc/pgx/v5"
)

var roleName = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// ErrPrivilegedRole means the server would connect as a role that row-level
// security does not bind.
var ErrPrivilegedRole = errors.New("database role bypasses row-level security")

// RoleInfo describes the role a connection runs as.
type RoleInfo struct {
	Name       string
	Superuser  bool
	BypassRLS  bool
	OwnsTables int
}

// CurrentRole inspects the PostgreSQL role of the pool's connections.
func (d *DB) CurrentRole(ctx context.Context) (RoleInfo, error) {
	var r RoleInfo
	if d.Dialect != Postgres {
		return r, nil
	}
	err := d.SQL.QueryRowContext(ctx, `
		SELECT r.rolname, r.rolsuper, r.rolbypassrls,
		       (SELECT count(*) FROM pg_catalog.pg_class c
		         WHERE c.relowner = r.oid AND c.relkind IN ('r', 'p') AND c.relpersistence <> 't')
		  FROM pg_catalog.pg_roles r WHERE r.rolname = current_user`).
		Scan(&r.Name, &r.Superuser, &r.BypassRLS, &r.OwnsTables)
	return r, err
}

// RequireUnprivileged refuses a role for which row-level security would not
// hold: a superuser, a BYPASSRLS role, or the owner of tables.
func (d *DB) RequireUnprivileged(ctx context.Context) error {
	if d.Dialect != Postgres {
		return nil
	}
	r, err := d.CurrentRole(ctx)
	if err != nil {
		return err
	}
	switch {
	case r.Superuser:
		return fmt.Errorf("%w: %q is a superuser; connect the server as the app role (treasury migrate up --app-role NAME)", ErrPrivilegedRole, r.Name)
	case r.BypassRLS:
		return fmt.Errorf("%w: %q has BYPASSRLS; connect the server as the app role (treasury migrate up --app-role NAME)", ErrPrivilegedRole, r.Name)
	case r.OwnsTables > 0:
		return fmt.Errorf("%w: %q owns %d tables; run migrations as the owner and the server as the app role (treasury migrate up --app-role NAME)", ErrPrivilegedRole, r.Name, r.OwnsTables)
	}
	return nil
}

// GrantAppRole creates (when missing) the unprivileged login role the server
// runs as, and grants it data access — but no ownership and no DDL — on the
// current schema, now and for tables later migrations create. It runs as the
// migrating owner. An empty password leaves the role's password unchanged.
func (d *DB) GrantAppRole(ctx context.Context, role, password string) error {
	if d.Dialect != Postgres {
		return errors.New("an app role exists only on PostgreSQL")
	}
	if !roleName.MatchString(role) {
		return fmt.Errorf("app role %q: use lower-case letters, digits and underscores", role)
	}
	q := pgx.Identifier{role}.Sanitize()
	tx, err := d.SQL.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	var exists bool
	if err := tx.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)", role).Scan(&exists); err != nil {
		return err
	}
	stmts := []string{}
	if !exists {
		stmts = append(stmts, "CREATE ROLE "+q+" LOGIN")
	}
	stmts = append(stmts, "ALTER ROLE "+q+" NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOREPLICATION INHERIT")
	if password != "" {
		stmts = append(stmts, "ALTER ROLE "+q+" PASSWORD "+quoteLiteral(password))
	}
	stmts = append(stmts,
		"DO $$ BEGIN EXECUTE format('GRANT CONNECT ON DATABASE %I TO "+q+"', current_database()); END $$",
		"GRANT USAGE ON SCHEMA public TO "+q,
		"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO "+q,
		"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO "+q,
		"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO "+q,
		"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO "+q,
		// The server only reads the migration bookkeeping to report readiness.
		"DO $$ BEGIN IF to_regclass('"+versionTable+"') IS NOT NULL THEN "+
			"REVOKE INSERT, UPDATE, DELETE ON "+versionTable+" FROM "+q+"; END IF; END $$",
	)
	for _, s := range stmts {
		if _, err := tx.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("granting app role %s: %s", role, oneLine(err))
		}
	}
	return tx.Commit()
}

func quoteLiteral(s string) string {
	out := []byte{'\''}
	for i := 0; i < len(s); i++ {
		if s[i] == '\'' {
			out = append(out, '\'')
		}
		out = append(out, s[i])
	}
	return string(append(out, '\''))
}

// TenantTables lists the tables that carry a tenant_id column, read from the
// database catalog so that no hand-kept list can miss one.
func (d *DB) TenantTables(ctx context.Context) ([]string, error) {
	var (
		names []string
		err   error
	)
	if d.Dialect == Postgres {
		err = d.Gorm.WithContext(ctx).Raw(`
			SELECT c.table_name FROM information_schema.columns c
			  JOIN information_schema.tables t
			    ON t.table_schema = c.table_schema AND t.table_name = c.table_name
			 WHERE c.table_schema = current_schema() AND c.column_name = 'tenant_id'
			   AND t.table_type = 'BASE TABLE'
			 ORDER BY 1`).Scan(&names).Error
	} else {
		err = d.Gorm.WithContext(ctx).Raw(`
			SELECT m.name FROM sqlite_master m, pragma_table_info(m.name) p
			 WHERE m.type = 'table' AND p.name = 'tenant_id'
			 ORDER BY 1`).Scan(&names).Error
	}
	return names, err
}
