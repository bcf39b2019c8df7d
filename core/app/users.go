package app

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/socialtreasury/treasury/core/access"
	"github.com/socialtreasury/treasury/core/auth"
	"github.com/socialtreasury/treasury/core/fault"
	"github.com/socialtreasury/treasury/core/tenancy"
)

// FederalUser is what `treasury users add-federal` takes.
type FederalUser struct {
	Username, DisplayName, Password string
	Roles                           []string
}

// AddFederalUser gives the federal operator a user of its own with
// federal roles: the way into a platform that trusts no OIDC issuer (yet),
// where no one could otherwise sign in to create users. A federal user of
// that name that exists already gets the password and exactly these roles
// anew, which is how a lost password is reset.
func AddFederalUser(ctx context.Context, cfg Config, n FederalUser, out io.Writer) error {
	if len(n.Roles) == 0 {
		return configErrorf("--role is required: %s", strings.Join(access.FederalRoles, " or "))
	}
	for _, r := range n.Roles {
		if !access.IsFederalRole(r) {
			return configErrorf("--role: %q is not a federal role (%s)", r, strings.Join(access.FederalRoles, ", "))
		}
	}
	if l := len([]rune(n.Password)); l < auth.MinPasswordLen || l > auth.MaxPasswordLen {
		return configErrorf("--password-file: the password must be %d to %d characters", auth.MinPasswordLen, auth.MaxPasswordLen)
	}
	db, err := openOperatorDB(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	authz, err := access.New(ctx, db.Gorm, nil)
	if err != nil {
		return err
	}
	// Users only: no token is signed with this throwaway key.
	_, key, err := ed25519.GenerateKey(nil)
	if err != nil {
		return err
	}
	users := auth.NewService(db.Gorm, tenancy.NewCache(tenancy.NewService(db.Gorm), time.Second), authz, key, auth.Options{Argon2: cfg.PasswordCost})
	u, err := users.UserByName(ctx, n.Username)
	verb := "added"
	switch {
	case errors.Is(err, fault.ErrNotFound):
		u, err = users.CreateUser(ctx, auth.NewUser{Username: n.Username, DisplayName: n.DisplayName, Password: n.Password})
		if err != nil {
			return err
		}
	case err != nil:
		return err
	case u.HomeTenant != nil:
		return configErrorf("%s is a user of a region, not a federal one", u.Username)
	case u.Kind != auth.KindHuman:
		return configErrorf("%s is a service account, which signs in with API keys", u.Username)
	case u.ExternalSubject != nil:
		return configErrorf("%s signs in through the OIDC issuer, which gives its roles", u.Username)
	default:
		change := auth.UserChange{Password: &n.Password}
		if n.DisplayName != "" {
			change.DisplayName = &n.DisplayName
		}
		if u, err = users.UpdateUser(ctx, uuid.Nil, u.ID, u.Version, change); err != nil {
			return err
		}
		verb = "updated (password set anew, its logins ended)"
	}
	roles := slices.Clone(n.Roles)
	slices.Sort(roles)
	roles = slices.Compact(roles)
	if err := authz.SetFederalRoles(ctx, u.ID, roles); err != nil {
		return err
	}
	fmt.Fprintf(out, "federal user %s %s: %s; status %s\n", u.Username, verb, strings.Join(roles, ", "), u.Status)
	return nil
}
