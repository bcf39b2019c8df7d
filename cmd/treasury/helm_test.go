package main

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"go.yaml.in/yaml/v3"

	"github.com/socialtreasury/treasury/core/app"
)

// The Helm chart (helm/treasury) runs this binary: the commands, flags and
// environment it renders must be ones the binary takes, and the files it
// points the server at must be where its volumes put them. helm renders
// the chart; the binary's own commands parse and validate the result.

const chartDir = "../../helm/treasury"

// kubeVersion is the cluster the chart is rendered for: the oldest it
// supports (Chart.yaml).
const kubeVersion = "1.27.0"

// secretsSet are the two Secrets an operator must name.
var secretsSet = []string{"--set", "database.existingSecret=treasury-database", "--set", "keys.existingSecret=treasury-keys"}

func TestHelmChartDefaults(t *testing.T) {
	helm := helmBinary(t)
	objs, dep, server, serve := renderServer(t, helm, secretsSet...)
	if !slices.Contains(server.Args, "--no-migrate") {
		t.Errorf("the servers migrate on start although a Job migrates: %q", server.Args)
	}
	if serve.PluginMemoryMiB != 4096 || serve.PluginCPUs != 1 || serve.PluginGOGC != 400 {
		t.Errorf("plug-in runtime: %d MiB, %d CPUs, GOGC %d", serve.PluginMemoryMiB, serve.PluginCPUs, serve.PluginGOGC)
	}
	if *dep.Spec.Replicas != 2 {
		t.Errorf("replicas: %d", *dep.Spec.Replicas)
	}

	job := only[deployment](t, objs, "Job")
	if hook := job.Metadata.Annotations["helm.sh/hook"]; hook != "pre-install,pre-upgrade" {
		t.Errorf("the migration Job runs at %q, not before install and upgrade", hook)
	}
	jpod := job.Spec.Template.Spec
	migrate := containerNamed(t, jpod.Containers, "migrate")
	cmd := parseCommand(t, migrate)
	if cmd.CommandPath() != "treasury migrate up" {
		t.Fatalf("the Job runs %q", cmd.CommandPath())
	}
	if env := envNamed(migrate, "TREASURY_MIGRATE_DATABASE_URL"); env == nil || env.ValueFrom == nil {
		t.Errorf("the Job does not migrate as the schema owner: %+v", migrate.Env)
	}
	pwd, _ := cmd.Flags().GetString("app-password-file")
	if m := mountOf(t, jpod, migrate, pwd); m.volume.Secret == nil || !m.hasItem("app-password", path.Base(pwd)) {
		t.Errorf("--app-password-file %s is not the Secret's app-password", pwd)
	}
	checkPodSecurity(t, "the Job", jpod, migrate)

	// The Service and the disruption budget select the servers, never the
	// Job's pod, which does not serve.
	svc := only[service](t, objs, "Service")
	if !selects(svc.Spec.Selector, dep.Spec.Template.Metadata.Labels) || selects(svc.Spec.Selector, job.Spec.Template.Metadata.Labels) {
		t.Errorf("the Service selects %v: servers %v, migration %v", svc.Spec.Selector, dep.Spec.Template.Metadata.Labels, job.Spec.Template.Metadata.Labels)
	}
	if !selects(dep.Spec.Selector.MatchLabels, dep.Spec.Template.Metadata.Labels) || selects(dep.Spec.Selector.MatchLabels, job.Spec.Template.Metadata.Labels) {
		t.Errorf("the Deployment selects %v", dep.Spec.Selector.MatchLabels)
	}
	pdb := only[deployment](t, objs, "PodDisruptionBudget")
	if !selects(pdb.Spec.Selector.MatchLabels, dep.Spec.Template.Metadata.Labels) {
		t.Errorf("the disruption budget selects %v", pdb.Spec.Selector.MatchLabels)
	}
	for _, kind := range []string{"Ingress", "HorizontalPodAutoscaler", "ServiceMonitor", "NetworkPolicy"} {
		if n := count(objs, kind); n != 0 {
			t.Errorf("%d %s by default", n, kind)
		}
	}
}

func TestHelmChartEverything(t *testing.T) {
	helm := helmBinary(t)
	objs, dep, server, serve := renderServer(t, helm, "-f", filepath.Join(chartDir, "ci", "everything-values.yaml"))
	pod := dep.Spec.Template.Spec
	if count(objs, "Job") != 0 || slices.Contains(server.Args, "--no-migrate") {
		t.Error("migrations.enabled=false still renders a Job or --no-migrate")
	}
	if env := envNamed(server, "TREASURY_MIGRATE_DATABASE_URL"); env == nil {
		t.Error("a server that migrates on start has no schema owner's URL")
	}
	if serve.OIDCIssuer != "https://sso.example.ru/realms/treasury" || serve.PolicyPoll.String() != "1s" || serve.ImportPoll.String() != "5s" ||
		serve.PluginMemoryMiB != 6144 || serve.PluginCallTimeout.String() != "45s" || serve.ShutdownTimeout.String() != "40s" || serve.LogFormat != "text" {
		t.Errorf("the values did not reach the server: %+v", serve)
	}
	if dep.Spec.Replicas != nil {
		t.Errorf("an autoscaled Deployment pins %d replicas", *dep.Spec.Replicas)
	}

	// The plug-ins are copied into the server's plug-in directory.
	plugins := containerNamed(t, pod.InitContainers, "plugins")
	if plugins.Image != "registry.example.ru/region-16/plugins:2026.12.1" {
		t.Errorf("plug-ins image %q", plugins.Image)
	}
	data := mountOf(t, pod, server, serve.PluginDir)
	var initData *mount
	for i := range plugins.VolumeMounts {
		if plugins.VolumeMounts[i].Name == data.mount.Name {
			initData = &plugins.VolumeMounts[i]
		}
	}
	if initData == nil {
		t.Fatalf("the plug-ins init container does not mount %s", data.mount.Name)
	}
	dest := path.Join(initData.MountPath, strings.TrimPrefix(serve.PluginDir, data.mount.MountPath))
	if script := strings.Join(plugins.Command, " "); !strings.Contains(script, "chmod 0755 "+dest) || !strings.Contains(script, "cp \"$f\" "+dest+"/") {
		t.Errorf("the plug-ins init container does not fill %s (the server's %s): %s", dest, serve.PluginDir, script)
	}
	for _, kind := range []string{"Ingress", "HorizontalPodAutoscaler", "ServiceMonitor", "NetworkPolicy", "PodDisruptionBudget", "Service"} {
		if n := count(objs, kind); n != 1 {
			t.Errorf("%d %s", n, kind)
		}
	}

	// The ingress publishes the API's port only; Prometheus scrapes the
	// metrics port.
	ing := only[ingress](t, objs, "Ingress")
	for _, rule := range ing.Spec.Rules {
		for _, path := range rule.HTTP.Paths {
			if name := path.Backend.Service.Port.Name; name != "http" {
				t.Errorf("the ingress routes %s to port %q", path.Path, name)
			}
		}
	}
	sm := only[serviceMonitor](t, objs, "ServiceMonitor")
	if len(sm.Spec.Endpoints) != 1 || sm.Spec.Endpoints[0].Port != "metrics" || sm.Spec.Endpoints[0].Path != "/metrics" {
		t.Errorf("the ServiceMonitor scrapes %+v", sm.Spec.Endpoints)
	}
	svc := only[service](t, objs, "Service")
	if !slices.Equal(svc.portNames(), []string{"http", "metrics"}) {
		t.Errorf("the Service's ports: %v", svc.portNames())
	}
}

// Values the chart cannot run with are refused when it is rendered, each
// with what to fix.
func TestHelmChartRefusesBadValues(t *testing.T) {
	helm := helmBinary(t)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--set", "keys.existingSecret=k"}, "database.existingSecret"},
		{[]string{"--set", "database.existingSecret=d"}, "keys.existingSecret"},
		{append([]string{"--set", "plugins.memoryMiB=1024"}, secretsSet...), "memoryMiB"},
		{append([]string{"--set", "log.level=verbose"}, secretsSet...), "level"},
		{append([]string{"--set", "oidc.issuer=https://sso.example.ru"}, secretsSet...), "oidc.audience"},
		{append([]string{"--set", "plugins.image.repository=r/p"}, secretsSet...), "plugins.image.tag"},
		{append([]string{"--set", "extraArgs[0]=serve"}, secretsSet...), "extraArgs"},
	} {
		out, err := helmRun(helm, append([]string{"template", "t", chartDir, "--kube-version", kubeVersion}, c.args...)...)
		if err == nil || !strings.Contains(out, c.want) {
			t.Errorf("%q: %v, want an error naming %s:\n%s", c.args, err, c.want, out)
		}
	}
}

// renderServer lints and renders the chart with values, and checks its
// server (checkServer).
func renderServer(t *testing.T, helm string, values ...string) ([]object, deployment, container, app.Config) {
	t.Helper()
	lint(t, helm, values...)
	objs := render(t, helm, values...)
	dep := only[deployment](t, objs, "Deployment")
	server := containerNamed(t, dep.Spec.Template.Spec.Containers, "treasury")
	return objs, dep, server, checkServer(t, dep.Spec.Template.Spec, server)
}

// checkServer checks the server container against `treasury serve` and
// the pod's volumes, and returns its configuration as the server reads it.
func checkServer(t *testing.T, pod podSpec, c container) app.Config {
	t.Helper()
	cmd := parseCommand(t, c)
	if cmd.Name() != "serve" {
		t.Fatalf("the server container runs %q", cmd.CommandPath())
	}
	checkPodSecurity(t, "the server", pod, c)

	// The key files are the keys init container's copies of the Secret,
	// in a memory volume.
	keys := containerNamed(t, pod.InitContainers, "keys")
	for _, flag := range []string{"encryption-key-file", "token-key-file", "previous-encryption-key-file"} {
		file, _ := cmd.Flags().GetString(flag)
		if file == "" {
			continue
		}
		m := mountOf(t, pod, c, file)
		if m.volume.EmptyDir == nil || m.volume.EmptyDir.Medium != "Memory" {
			t.Errorf("--%s %s is not in a memory volume", flag, file)
		}
		secret := mountOfVolumeKind(t, pod, keys, func(v volume) bool { return v.Secret != nil })
		copied := mountOfVolumeKind(t, pod, keys, func(v volume) bool { return v.Name == m.volume.Name })
		if !secret.hasItem("", path.Base(file)) || copied.volume.Name != m.volume.Name {
			t.Errorf("--%s %s is not copied from the keys Secret (items %+v)", flag, file, secret.volume.Secret)
		}
	}
	if script := strings.Join(keys.Command, " "); !strings.Contains(script, "umask 077") {
		t.Errorf("the keys are copied readable by others: %s", script)
	}

	// What the server reads, with the Secrets' values stood in for and the
	// key files made where the volumes would put them, passes its own
	// validation.
	var cfg app.Config
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	cfg.ServeFlags(fs)
	root := t.TempDir()
	args := slices.Clone(c.Args[1:])
	for i, a := range args {
		if name, file, ok := strings.Cut(a, "="); ok && strings.HasSuffix(name, "-key-file") {
			args[i] = name + "=" + keyFile(t, root, strings.TrimPrefix(name, "--"), file)
		}
	}
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	for _, e := range c.Env {
		v := envValue(e)
		if strings.HasSuffix(e.Name, "_KEY_FILE") {
			v = keyFile(t, root, strings.ToLower(strings.ReplaceAll(strings.TrimPrefix(e.Name, app.EnvPrefix), "_", "-")), v)
		}
		t.Setenv(e.Name, v)
	}
	if err := app.BindEnv(fs); err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("the server refuses the chart's configuration: %v", err)
	}
	if cfg.DatabaseURL == "" {
		t.Error("the server would run on embedded SQLite")
	}
	if m := mountOf(t, pod, c, cfg.Plugins()); m.volume.EmptyDir == nil || m.mount.ReadOnly {
		t.Errorf("the plug-in directory %s is not in a writable pod volume", cfg.Plugins())
	}
	if m := mountOf(t, pod, c, cfg.DataDir); m.volume.EmptyDir == nil || m.mount.ReadOnly {
		t.Errorf("the data dir %s is not in a writable pod volume", cfg.DataDir)
	}

	// Kubernetes kills the pod when its grace period ends: the server's
	// whole shutdown must fit.
	if g := pod.TerminationGracePeriodSeconds; g == nil {
		t.Error("no grace period")
	} else if time.Duration(*g)*time.Second <= cfg.ShutdownDelay+cfg.ShutdownTimeout {
		t.Errorf("grace period %d s is not longer than the server's shutdown (%s, then %s)", *g, cfg.ShutdownDelay, cfg.ShutdownTimeout)
	}
	if cfg.ShutdownDelay == 0 {
		t.Error("the server stops taking requests as soon as it is told to stop, before the Service stops sending them")
	}

	// The probes ask the server's health endpoints on the port it listens
	// on; the metrics have a port of their own.
	_, port, _ := strings.Cut(cfg.Listen, ":")
	_, metricsPort, _ := strings.Cut(cfg.MetricsListen, ":")
	if len(c.Ports) != 2 || c.Ports[0].Name != "http" || c.Ports[0].ContainerPort != port ||
		c.Ports[1].Name != "metrics" || c.Ports[1].ContainerPort != metricsPort || metricsPort == port {
		t.Errorf("ports %+v, listening on %s and %s", c.Ports, cfg.Listen, cfg.MetricsListen)
	}
	for name, p := range map[string]*probe{"/healthz": c.LivenessProbe, "/readyz": c.ReadinessProbe} {
		if p == nil || p.HTTPGet.Path != name || p.HTTPGet.Port != "http" {
			t.Errorf("probe %s: %+v", name, p)
		}
	}
	return cfg
}

func checkPodSecurity(t *testing.T, what string, pod podSpec, c container) {
	t.Helper()
	sc := c.SecurityContext
	switch {
	case pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken:
		t.Errorf("%s mounts a service account token, which plug-ins could read", what)
	case pod.SecurityContext.RunAsNonRoot == nil || !*pod.SecurityContext.RunAsNonRoot:
		t.Errorf("%s may run as root", what)
	case sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation:
		t.Errorf("%s: container security %+v", what, sc)
	}
}

// parseCommand finds the container's command in the binary's command tree
// and parses its flags; every TREASURY_ variable must name one of them.
func parseCommand(t *testing.T, c container) *cobra.Command {
	t.Helper()
	cmd, rest, err := newRoot().Find(c.Args)
	if err != nil {
		t.Fatalf("%q: %v", c.Args, err)
	}
	if err := cmd.ParseFlags(rest); err != nil {
		t.Fatalf("%s: %q: %v", cmd.CommandPath(), c.Args, err)
	}
	if extra := cmd.Flags().Args(); len(extra) > 0 {
		t.Fatalf("%s: stray arguments %q", cmd.CommandPath(), extra)
	}
	for _, e := range c.Env {
		name, ok := strings.CutPrefix(e.Name, app.EnvPrefix)
		if !ok {
			continue
		}
		if cmd.Flags().Lookup(strings.ToLower(strings.ReplaceAll(name, "_", "-"))) == nil {
			t.Errorf("%s: %s names no flag of %s", c.Name, e.Name, cmd.CommandPath())
		}
		t.Setenv(e.Name, envValue(e))
	}
	if err := app.BindEnv(cmd.Flags()); err != nil {
		t.Fatalf("%s: %v", cmd.CommandPath(), err)
	}
	return cmd
}

// envValue is a variable's value, with a stand-in for a Secret's.
func envValue(e envVar) string {
	if e.ValueFrom == nil {
		return e.Value
	}
	return "postgres://treasury_app@db.example.ru:5432/treasury?sslmode=verify-full"
}

// keyFile writes a valid key under root for a key-file flag and returns
// its path.
func keyFile(t *testing.T, root, flag, file string) string {
	t.Helper()
	p := filepath.Join(root, filepath.FromSlash(file))
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		t.Fatal(err)
	}
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	body := []byte(hex.EncodeToString(key))
	if flag == "token-key-file" {
		der, err := x509.MarshalPKCS8PrivateKey(ed25519.NewKeyFromSeed(key))
		if err != nil {
			t.Fatal(err)
		}
		body = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	}
	if err := os.WriteFile(p, body, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// The parts of the rendered objects the tests read.
type (
	meta struct {
		Name        string            `yaml:"name"`
		Labels      map[string]string `yaml:"labels"`
		Annotations map[string]string `yaml:"annotations"`
	}
	deployment struct { // a Deployment, a Job, a PodDisruptionBudget
		Metadata meta `yaml:"metadata"`
		Spec     struct {
			Replicas *int `yaml:"replicas"`
			Selector struct {
				MatchLabels map[string]string `yaml:"matchLabels"`
			} `yaml:"selector"`
			Template struct {
				Metadata meta    `yaml:"metadata"`
				Spec     podSpec `yaml:"spec"`
			} `yaml:"template"`
		} `yaml:"spec"`
	}
	service struct {
		Spec struct {
			Selector map[string]string `yaml:"selector"`
			Ports    []struct {
				Name string `yaml:"name"`
			} `yaml:"ports"`
		} `yaml:"spec"`
	}
	ingress struct {
		Spec struct {
			Rules []struct {
				HTTP struct {
					Paths []struct {
						Path    string `yaml:"path"`
						Backend struct {
							Service struct {
								Port struct {
									Name string `yaml:"name"`
								} `yaml:"port"`
							} `yaml:"service"`
						} `yaml:"backend"`
					} `yaml:"paths"`
				} `yaml:"http"`
			} `yaml:"rules"`
		} `yaml:"spec"`
	}
	serviceMonitor struct {
		Spec struct {
			Endpoints []struct {
				Port string `yaml:"port"`
				Path string `yaml:"path"`
			} `yaml:"endpoints"`
		} `yaml:"spec"`
	}
	podSpec struct {
		AutomountServiceAccountToken  *bool `yaml:"automountServiceAccountToken"`
		TerminationGracePeriodSeconds *int  `yaml:"terminationGracePeriodSeconds"`
		SecurityContext               struct {
			RunAsNonRoot *bool `yaml:"runAsNonRoot"`
		} `yaml:"securityContext"`
		InitContainers []container `yaml:"initContainers"`
		Containers     []container `yaml:"containers"`
		Volumes        []volume    `yaml:"volumes"`
	}
	container struct {
		Name         string   `yaml:"name"`
		Image        string   `yaml:"image"`
		Command      []string `yaml:"command"`
		Args         []string `yaml:"args"`
		Env          []envVar `yaml:"env"`
		VolumeMounts []mount  `yaml:"volumeMounts"`
		Ports        []struct {
			Name          string `yaml:"name"`
			ContainerPort string `yaml:"containerPort"`
		} `yaml:"ports"`
		LivenessProbe   *probe `yaml:"livenessProbe"`
		ReadinessProbe  *probe `yaml:"readinessProbe"`
		SecurityContext struct {
			ReadOnlyRootFilesystem   *bool `yaml:"readOnlyRootFilesystem"`
			AllowPrivilegeEscalation *bool `yaml:"allowPrivilegeEscalation"`
		} `yaml:"securityContext"`
	}
	envVar struct {
		Name      string    `yaml:"name"`
		Value     string    `yaml:"value"`
		ValueFrom *struct{} `yaml:"valueFrom"`
	}
	mount struct {
		Name      string `yaml:"name"`
		MountPath string `yaml:"mountPath"`
		ReadOnly  bool   `yaml:"readOnly"`
	}
	volume struct {
		Name     string `yaml:"name"`
		EmptyDir *struct {
			Medium string `yaml:"medium"`
		} `yaml:"emptyDir"`
		Secret *struct {
			SecretName string `yaml:"secretName"`
			Items      []struct {
				Key  string `yaml:"key"`
				Path string `yaml:"path"`
			} `yaml:"items"`
		} `yaml:"secret"`
	}
	probe struct {
		HTTPGet struct {
			Path string `yaml:"path"`
			Port string `yaml:"port"`
		} `yaml:"httpGet"`
	}
	object struct {
		kind string
		doc  []byte
	}
)

func (s service) portNames() []string {
	var out []string
	for _, p := range s.Spec.Ports {
		out = append(out, p.Name)
	}
	return out
}

// mounted is a file's volume in a container.
type mounted struct {
	mount  mount
	volume volume
}

// hasItem: the Secret volume projects a key (any, when "") at file.
func (m mounted) hasItem(key, file string) bool {
	if m.volume.Secret == nil {
		return false
	}
	return slices.ContainsFunc(m.volume.Secret.Items, func(i struct {
		Key  string `yaml:"key"`
		Path string `yaml:"path"`
	}) bool {
		return (key == "" || i.Key == key) && i.Path == file
	})
}

// mountOf is the volume the container sees file in.
func mountOf(t *testing.T, pod podSpec, c container, file string) mounted {
	t.Helper()
	for _, m := range c.VolumeMounts {
		if dir := strings.TrimSuffix(m.MountPath, "/"); file == dir || strings.HasPrefix(file, dir+"/") {
			for _, v := range pod.Volumes {
				if v.Name == m.Name {
					return mounted{m, v}
				}
			}
			t.Fatalf("%s mounts %s, which the pod does not have", c.Name, m.Name)
		}
	}
	t.Fatalf("%s: no volume holds %s", c.Name, file)
	return mounted{}
}

func mountOfVolumeKind(t *testing.T, pod podSpec, c container, is func(volume) bool) mounted {
	t.Helper()
	for _, m := range c.VolumeMounts {
		for _, v := range pod.Volumes {
			if v.Name == m.Name && is(v) {
				return mounted{m, v}
			}
		}
	}
	t.Fatalf("%s mounts no such volume", c.Name)
	return mounted{}
}

func containerNamed(t *testing.T, cs []container, name string) container {
	t.Helper()
	for _, c := range cs {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no container %s", name)
	return container{}
}

func envNamed(c container, name string) *envVar {
	for i := range c.Env {
		if c.Env[i].Name == name {
			return &c.Env[i]
		}
	}
	return nil
}

// selects: a selector matches a pod's labels.
func selects(selector, labels map[string]string) bool {
	if len(selector) == 0 {
		return false
	}
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

func count(objs []object, kind string) int {
	n := 0
	for _, o := range objs {
		if o.kind == kind {
			n++
		}
	}
	return n
}

// only decodes the one object of a kind.
func only[T any](t *testing.T, objs []object, kind string) T {
	t.Helper()
	var v T
	if n := count(objs, kind); n != 1 {
		t.Fatalf("%d objects of kind %s", n, kind)
	}
	for _, o := range objs {
		if o.kind == kind {
			if err := yaml.Unmarshal(o.doc, &v); err != nil {
				t.Fatalf("%s: %v", kind, err)
			}
		}
	}
	return v
}

func render(t *testing.T, helm string, args ...string) []object {
	t.Helper()
	out, err := helmRun(helm, append([]string{"template", "t", chartDir, "--kube-version", kubeVersion}, args...)...)
	if err != nil {
		t.Fatalf("helm template: %v\n%s", err, out)
	}
	var objs []object
	dec := yaml.NewDecoder(strings.NewReader(out))
	for {
		var n yaml.Node
		if err := dec.Decode(&n); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("helm template printed what is not YAML: %v", err)
		}
		var head struct {
			Kind string `yaml:"kind"`
		}
		if err := n.Decode(&head); err != nil || head.Kind == "" {
			continue // an empty document
		}
		var b bytes.Buffer
		if err := yaml.NewEncoder(&b).Encode(&n); err != nil {
			t.Fatal(err)
		}
		objs = append(objs, object{kind: head.Kind, doc: b.Bytes()})
	}
	return objs
}

func lint(t *testing.T, helm string, args ...string) {
	t.Helper()
	if out, err := helmRun(helm, append([]string{"lint", "--strict", chartDir, "--kube-version", kubeVersion}, args...)...); err != nil {
		t.Fatalf("helm lint: %v\n%s", err, out)
	}
}

func helmRun(helm string, args ...string) (string, error) {
	cmd := exec.Command(helm, args...)
	// No cluster, no repositories: helm's own files go to a scratch place.
	cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+os.TempDir()+"/helm-cache", "HELM_CONFIG_HOME="+os.TempDir()+"/helm-config",
		"HELM_DATA_HOME="+os.TempDir()+"/helm-data", "KUBECONFIG=/dev/null")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// helmBinary is helm, which .ci/run installs; without it the chart is not
// checked here.
func helmBinary(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("helm")
	if err != nil {
		if os.Getenv("TREASURY_TEST_REQUIRE_HELM") != "" {
			t.Fatal("helm is not installed, and TREASURY_TEST_REQUIRE_HELM is set")
		}
		t.Skip("helm is not installed (.ci/run installs it): the chart in helm/ is not checked")
	}
	return p
}
