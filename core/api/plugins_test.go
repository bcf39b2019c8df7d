package api_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/socialtreasury/treasury/core/app/apptest"
	"github.com/socialtreasury/treasury/core/internal/plugintest"
	"github.com/socialtreasury/treasury/core/pluginhost"
	"github.com/socialtreasury/treasury/core/store"
	"github.com/socialtreasury/treasury/core/tenancy"
)

// azBinary puts a file in the plug-in directory and returns its name and
// SHA-256 (the catalog checks both; nothing starts it).
func azBinary(t testing.TB, p *apptest.Platform, name string) (string, string) {
	t.Helper()
	body := []byte("#!/bin/sh\n# " + name + "\n")
	if err := os.WriteFile(filepath.Join(p.Plugins.Dir(), name), body, 0o755); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(body)
	return name, hex.EncodeToString(sum[:])
}

// describablePlugin puts the fault-test plug-in (core/internal/testplugin),
// a real measure plug-in that answers Describe, in the plug-in directory
// under a new name, registers it and enables it in the region; it returns
// the name.
func describablePlugin(t testing.TB, p *apptest.Platform, name, region string) string {
	t.Helper()
	describable := plugintest.Binary(t)
	if err := os.WriteFile(filepath.Join(p.Plugins.Dir(), name), describable, 0o755); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(describable)
	if _, err := p.Plugins.Register(context.Background(), pluginhost.NewEntry{Name: name, Version: "1.0.0", Kind: "measure",
		SHA256: hex.EncodeToString(sum[:]), File: name}); err != nil {
		t.Fatal(err)
	}
	tn, err := p.Tenants.ByCode(context.Background(), region)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Catalog.Enable(tenancy.WithTenant(context.Background(), tn.ID), tn, name, "1.0.0", nil); err != nil {
		t.Fatal(err)
	}
	return name
}

func azPluginEntry(e *azEnv) pluginhost.Entry {
	name := fmt.Sprintf("az-plugin-%d", e.next())
	file, sum := azBinary(e.t, e.p, name)
	en, err := e.p.Plugins.Register(context.Background(), pluginhost.NewEntry{Name: name, Version: "1.0.0", Kind: "measure", SHA256: sum, File: file})
	if err != nil {
		e.t.Fatal(err)
	}
	return en
}

func init() {
	for id, b := range map[string]func(e *azEnv, tmpl, region string) azReq{
		"listPlugins":         azPlain,
		"listPluginIncidents": azPlain,
		"listRegionPlugins":   azPlain,
		"describeRegionPlugin": func(e *azEnv, tmpl, region string) azReq {
			name := describablePlugin(e.t, e.p, fmt.Sprintf("az-describe-%d", e.next()), region)
			return azReq{path: strings.NewReplacer("{tenant}", region, "{name}", name).Replace(tmpl)}
		},
		"registerPlugin": func(e *azEnv, tmpl, _ string) azReq {
			name := fmt.Sprintf("az-register-%d", e.next())
			file, sum := azBinary(e.t, e.p, name)
			return azReq{path: tmpl, body: map[string]any{"name": name, "version": "1.0.0", "kind": "datasource", "sha256": sum, "file": file}}
		},
		"enablePlugin": func(e *azEnv, tmpl, region string) azReq {
			en := azPluginEntry(e)
			return azReq{path: strings.NewReplacer("{tenant}", region, "{name}", en.Name).Replace(tmpl),
				body: map[string]any{"version": "1.0.0", "config": map[string]any{"url": "http://register.example/"}}}
		},
	} {
		azBuilders[id] = b
	}
}

// The catalog takes a binary only as it is in the plug-in directory; a
// region enables what the catalog allows it, and sees only its own.
func TestPluginCatalogOverTheAPI(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, d store.Dialect) {
		p := apptest.New(t, d)
		fed := p.Token("federal_admin", "federal")
		admin66, admin16 := p.Token("tenant_admin", "66"), p.Token("tenant_admin", "16")
		file, sum := azBinary(t, p, "social-contract-1.0.0")
		reg := map[string]any{"name": "social-contract", "version": "1.0.0", "kind": "measure", "sha256": strings.Repeat("0", 64), "file": file, "regions": []string{"16"}}
		r := apptest.Expect(t, p.Do(fed, http.MethodPost, "/api/v1/plugins", reg), http.StatusUnprocessableEntity)
		if !strings.Contains(string(r.Body), `"location":"body.sha256"`) || !strings.Contains(string(r.Body), sum) {
			t.Fatalf("a wrong checksum: %s", r.Body)
		}
		reg["sha256"] = sum
		apptest.Expect(t, p.Do(admin16, http.MethodPost, "/api/v1/plugins", reg), http.StatusForbidden)
		apptest.Expect(t, p.Do(fed, http.MethodPost, "/api/v1/plugins", reg), http.StatusCreated)
		apptest.Expect(t, p.Do(fed, http.MethodPost, "/api/v1/plugins", reg), http.StatusConflict)
		reg["file"], reg["version"] = "../etc/passwd", "1.0.1"
		r = apptest.Expect(t, p.Do(fed, http.MethodPost, "/api/v1/plugins", reg), http.StatusUnprocessableEntity)
		if !strings.Contains(string(r.Body), `"location":"body.file"`) {
			t.Fatalf("a path outside the directory: %s", r.Body)
		}

		enable := map[string]any{"version": "1.0.0", "config": map[string]any{"csv": "/srv/register.csv"}}
		apptest.Expect(t, p.Do(admin66, http.MethodPut, "/api/v1/tenants/66/plugins/social-contract", enable), http.StatusForbidden)
		apptest.Expect(t, p.Do(admin66, http.MethodPut, "/api/v1/tenants/16/plugins/social-contract", enable), http.StatusNotFound)
		apptest.Expect(t, p.Do(admin16, http.MethodPut, "/api/v1/tenants/16/plugins/social-contract", enable), http.StatusOK)
		var list struct {
			Items []struct {
				Name   string         `json:"name"`
				Config map[string]any `json:"config"`
				Plugin struct {
					Version string `json:"version"`
				} `json:"plugin"`
			} `json:"items"`
		}
		r = apptest.Expect(t, p.Do(admin16, http.MethodGet, "/api/v1/tenants/16/plugins", nil), http.StatusOK)
		if err := json.Unmarshal(r.Body, &list); err != nil || len(list.Items) != 1 || list.Items[0].Name != "social-contract" ||
			list.Items[0].Config["csv"] != "/srv/register.csv" || list.Items[0].Plugin.Version != "1.0.0" {
			t.Fatalf("region 16's plug-ins: %s", r.Body)
		}
		// A measure version that names the plug-in has no rules to send.
		v := specBody(t)
		delete(v, "conditions")
		delete(v, "amount")
		delete(v, "period")
		v["plugin"] = map[string]any{"name": "social-contract", "version": "1.0.0"}
		apptest.Expect(t, p.Do(admin16, http.MethodPut, "/api/v1/tenants/16/measures/social_contract/versions/1", v), http.StatusOK)
		r = apptest.Expect(t, p.Do(admin66, http.MethodPut, "/api/v1/tenants/66/measures/social_contract/versions/1", v), http.StatusUnprocessableEntity)
		if !strings.Contains(string(r.Body), `"location":"body.plugin"`) {
			t.Fatalf("region 66 named a plug-in it has not enabled: %s", r.Body)
		}
		r = apptest.Expect(t, p.Do(admin66, http.MethodGet, "/api/v1/tenants/66/plugins", nil), http.StatusOK)
		if err := json.Unmarshal(r.Body, &list); err != nil || len(list.Items) != 0 {
			t.Fatalf("region 66 sees %s", r.Body)
		}
	})
}

// maPluginCases are the mass-assignment cases of the plug-ins' bodies.
func maPluginCases(t *testing.T, p *apptest.Platform) map[string]maCase {
	t.Helper()
	fed, admin := p.Token("federal_admin", "federal"), p.Token("tenant_admin", azOwn)
	file, sum := azBinary(t, p, "ma-register")
	enableFile, enableSum := azBinary(t, p, "ma-enable")
	if _, err := p.Plugins.Register(context.Background(), pluginhost.NewEntry{Name: "ma-enable", Version: "1.0.0", Kind: "notifier",
		SHA256: enableSum, File: enableFile}); err != nil {
		t.Fatal(err)
	}
	state := func(token, path string) func() string {
		return func() string {
			r := p.Do(token, http.MethodGet, path, nil)
			return fmt.Sprint(r.Status, " ", string(r.Body))
		}
	}
	return map[string]maCase{
		"registerPlugin": {
			token: fed, path: "/api/v1/plugins", control: 201,
			body: func() map[string]any {
				return map[string]any{"name": "ma-register", "version": "1.0.0", "kind": "measure", "sha256": sum, "file": file}
			},
			state: state(fed, "/api/v1/plugins"),
		},
		"enablePlugin": {
			token: admin, path: "/api/v1/tenants/" + azOwn + "/plugins/ma-enable", control: 200,
			body:  func() map[string]any { return map[string]any{"version": "1.0.0"} },
			state: state(admin, "/api/v1/tenants/"+azOwn+"/plugins"),
		},
	}
}

// A measure plug-in the region has enabled describes itself over the API;
// one it has not is not found, and another region cannot ask.
func TestDescribeRegionPlugin(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, d store.Dialect) {
		p := apptest.New(t, d)
		name := describablePlugin(t, p, "contract", "16")
		admin66, admin16 := p.Token("tenant_admin", "66"), p.Token("tenant_admin", "16")
		r := apptest.Expect(t, p.Do(admin16, http.MethodGet, "/api/v1/tenants/16/plugins/"+name+"/description", nil), http.StatusOK)
		var desc struct {
			Code       string `json:"code"`
			Name       struct{ RU, EN string }
			Conditions []struct {
				Name string `json:"name"`
			} `json:"conditions"`
			Needs []string `json:"needs"`
			Reads []string `json:"reads"`
		}
		if err := json.Unmarshal(r.Body, &desc); err != nil || desc.Code != "contract" || desc.Name.EN != "The contract measure" ||
			len(desc.Conditions) != 4 || desc.Conditions[0].Name != "resident" || desc.Needs == nil || !slices.Contains(desc.Reads, "person.age") {
			t.Fatalf("%s", r.Body)
		}
		apptest.Expect(t, p.Do(admin66, http.MethodGet, "/api/v1/tenants/66/plugins/"+name+"/description", nil), http.StatusNotFound)
		apptest.Expect(t, p.Do(admin66, http.MethodGet, "/api/v1/tenants/16/plugins/"+name+"/description", nil), http.StatusNotFound)
	})
}
