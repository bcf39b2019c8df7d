package api

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/socialtreasury/treasury/core/measure"
	"github.com/socialtreasury/treasury/core/pluginhost"
)

type pluginList struct {
	Body struct {
		Items []pluginhost.Entry `json:"items"`
	}
}

type pluginRegister struct {
	Body struct {
		Name    string   `json:"name" doc:"The plug-in's name: lower-case letters, digits and hyphens." example:"social-contract"`
		Version string   `json:"version" doc:"Its semantic version." example:"1.0.0"`
		Kind    string   `json:"kind" enum:"measure,datasource,eventsource,paymentsink,notifier"`
		SHA256  string   `json:"sha256" doc:"The binary's SHA-256, checked now and before every start." pattern:"^[0-9a-f]{64}$"`
		File    string   `json:"file" doc:"The binary's file name in the plug-in directory." maxLength:"255"`
		Regions []string `json:"regions,omitempty" doc:"Regions that may enable it; empty: every region." maxItems:"100"`
	}
}

type pluginResponse struct {
	Body pluginhost.Entry
}

type incidentList struct {
	Body struct {
		Items []pluginhost.Incident `json:"items"`
	}
}

// PluginPath names a plug-in a region enables.
type PluginPath struct {
	TenantPath
	Name string `path:"name" pattern:"^[a-z][a-z0-9-]{1,62}$" doc:"The plug-in's name."`
}

type pluginEnable struct {
	PluginPath
	Body struct {
		Version string         `json:"version" doc:"The catalog version to use." example:"1.0.0"`
		Config  map[string]any `json:"config,omitempty" doc:"The region's configuration of the plug-in, as the plug-in reads it."`
	}
}

type enablementResponse struct {
	Body pluginhost.Enablement
}

type regionPlugin struct {
	pluginhost.Enablement
	Plugin    pluginhost.Entry    `json:"plugin"`
	Processes []pluginhost.Status `json:"processes"`
}

type regionPluginList struct {
	Body struct {
		Items []regionPlugin `json:"items"`
	}
}

type conditionInfo struct {
	Name  string       `json:"name"`
	Title measure.Text `json:"title"`
}

type pluginDescription struct {
	Body struct {
		Code       string          `json:"code" doc:"The measure's code as the plug-in names it."`
		Name       measure.Text    `json:"name"`
		Conditions []conditionInfo `json:"conditions" doc:"The conditions its outcomes report, in order."`
		Needs      []string        `json:"needs" doc:"The data it reads: registry facts, connectors."`
		Reads      []string        `json:"reads" doc:"The case's fields it reads, by their names in the case schema; a batch carries only these. Empty: every field."`
	}
}

func (s *Server) registerPlugins() {
	tags := []string{"Plug-ins"}
	register(s, Permission{Object: "plugins", Action: "list"}, huma.Operation{
		OperationID: "listPlugins", Method: http.MethodGet, Path: "/api/v1/plugins", Tags: tags,
		Summary: "The plug-in catalog",
	}, func(ctx context.Context, _ *struct{}) (*pluginList, error) {
		es, err := s.deps.Catalog.List(ctx)
		if err != nil {
			return nil, s.problem(ctx, err)
		}
		out := &pluginList{}
		out.Body.Items = append([]pluginhost.Entry{}, es...)
		return out, nil
	})
	register(s, Permission{Object: "plugins", Action: "register"}, huma.Operation{
		OperationID: "registerPlugin", Method: http.MethodPost, Path: "/api/v1/plugins", Tags: tags,
		Summary:     "Register a plug-in binary",
		Description: "The binary must already be in the plug-in directory, writable by its owner only, with the SHA-256 given.",
		Errors:      []int{http.StatusConflict},
	}, func(ctx context.Context, in *pluginRegister) (*pluginResponse, error) {
		b := in.Body
		e, err := s.deps.Plugins.Register(ctx, pluginhost.NewEntry{Name: b.Name, Version: b.Version, Kind: b.Kind, SHA256: b.SHA256,
			File: b.File, Regions: b.Regions})
		if err != nil {
			return nil, s.problem(ctx, err)
		}
		return &pluginResponse{Body: e}, nil
	})
	register(s, Permission{Object: "plugins", Action: "list"}, huma.Operation{
		OperationID: "listPluginIncidents", Method: http.MethodGet, Path: "/api/v1/plugin-incidents", Tags: tags,
		Summary: "What went wrong with plug-ins: refused binaries, crashes, hangs (newest first)",
	}, func(ctx context.Context, _ *struct{}) (*incidentList, error) {
		is, err := s.deps.Catalog.Incidents(ctx, 500)
		if err != nil {
			return nil, s.problem(ctx, err)
		}
		out := &incidentList{}
		out.Body.Items = append([]pluginhost.Incident{}, is...)
		return out, nil
	})
	register(s, Permission{Object: "plugin", Action: "read"}, huma.Operation{
		OperationID: "listRegionPlugins", Method: http.MethodGet, Path: "/api/v1/tenants/{tenant}/plugins", Tags: tags,
		Summary: "The plug-ins the region has enabled, with their processes",
		Errors:  []int{http.StatusNotFound},
	}, func(ctx context.Context, in *struct{ TenantPath }) (*regionPluginList, error) {
		ctx, err := s.inTenant(ctx, in.Tenant)
		if err != nil {
			return nil, err
		}
		ens, err := s.deps.Catalog.EnabledAll(ctx)
		if err != nil {
			return nil, s.problem(ctx, err)
		}
		entries, err := s.deps.Catalog.Entries(ctx, ens)
		if err != nil {
			return nil, s.problem(ctx, err)
		}
		out := &regionPluginList{}
		out.Body.Items = []regionPlugin{}
		procs := s.deps.Plugins.Processes()
		for _, en := range ens {
			e := entries[en.PluginID]
			rp := regionPlugin{Enablement: en, Plugin: e, Processes: []pluginhost.Status{}}
			for _, p := range procs {
				if p.Plugin == e.Name && p.Version == e.Version && p.Region == in.Tenant {
					rp.Processes = append(rp.Processes, p)
				}
			}
			out.Body.Items = append(out.Body.Items, rp)
		}
		return out, nil
	})
	register(s, Permission{Object: "plugin", Action: "read"}, huma.Operation{
		OperationID: "describeRegionPlugin", Method: http.MethodGet, Path: "/api/v1/tenants/{tenant}/plugins/{name}/description", Tags: tags,
		Summary: "What a measure plug-in the region has enabled says of itself: its code, name, conditions, the data and the case's fields it reads",
		Description: "Asks the plug-in (Describe), starting its process for the region if it is not running. A plug-in that " +
			"is not a measure, or not enabled in the region, is not found; one that fails to answer is a 502 saying why.",
		Errors: []int{http.StatusNotFound, http.StatusBadGateway},
	}, func(ctx context.Context, in *PluginPath) (*pluginDescription, error) {
		ctx, err := s.inTenant(ctx, in.Tenant)
		if err != nil {
			return nil, err
		}
		d, err := s.deps.Plugins.Describe(ctx, in.Name)
		if err != nil {
			return nil, s.problem(ctx, err)
		}
		out := &pluginDescription{}
		out.Body.Code, out.Body.Name, out.Body.Needs, out.Body.Reads = d.Code, d.Name, d.Needs, d.Reads
		if out.Body.Needs == nil {
			out.Body.Needs = []string{}
		}
		if out.Body.Reads == nil {
			out.Body.Reads = []string{}
		}
		out.Body.Conditions = make([]conditionInfo, len(d.Conditions))
		for i, c := range d.Conditions {
			out.Body.Conditions[i] = conditionInfo{Name: c.Name, Title: c.Title}
		}
		return out, nil
	})
	register(s, Permission{Object: "plugin", Action: "enable"}, huma.Operation{
		OperationID: "enablePlugin", Method: http.MethodPut, Path: "/api/v1/tenants/{tenant}/plugins/{name}", Tags: tags,
		Summary:     "Enable a catalog plug-in in the region, with its configuration",
		Description: "Replaces the version enabled before; the plug-in's running process restarts with the new configuration.",
		Errors:      []int{http.StatusNotFound},
	}, func(ctx context.Context, in *pluginEnable) (*enablementResponse, error) {
		ctx, err := s.inTenant(ctx, in.Tenant)
		if err != nil {
			return nil, err
		}
		region, err := s.deps.Tenants.ByCode(ctx, in.Tenant)
		if err != nil {
			return nil, s.problem(ctx, err)
		}
		config, err := json.Marshal(in.Body.Config)
		if err != nil || in.Body.Config == nil {
			config = []byte("{}")
		}
		en, err := s.deps.Catalog.Enable(ctx, region, in.Name, in.Body.Version, config)
		if err != nil {
			return nil, s.problem(ctx, err)
		}
		return &enablementResponse{Body: en}, nil
	})
}
