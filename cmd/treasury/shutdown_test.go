package main

import (
	"io"
	"net/http"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// After SIGTERM a server with --shutdown-delay goes on serving while its
// /readyz says it is not ready (a load balancer's cue to stop sending it
// requests), then stops.
func TestShutdownDelay(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil, "serve", "--data-dir", t.TempDir(), "--listen", "127.0.0.1:0", "--shutdown-delay", "3s")
	if code := getJSON(t, s.url+"/readyz", nil); code != http.StatusOK {
		t.Fatalf("GET /readyz: %d", code)
	}
	signalled := time.Now()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Second)
	for getJSON(t, s.url+"/readyz", nil) != http.StatusServiceUnavailable {
		if time.Now().After(deadline) {
			t.Fatal("/readyz still ready after SIGTERM")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if code := getJSON(t, s.url+"/healthz", nil); code != http.StatusOK {
		t.Errorf("GET /healthz while shutting down: %d, want 200 (still serving)", code)
	}
	select {
	case <-s.done:
	case <-time.After(15 * time.Second):
		t.Fatal("serve did not stop")
	}
	if took := time.Since(signalled); took < 3*time.Second {
		t.Errorf("serve stopped %s after SIGTERM, before its 3 s delay", took)
	}
	if code := s.cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("exit %d\n%s", code, s.stderr)
	}
}

var metricsLineRE = regexp.MustCompile(`(?m)^  Metrics:\s+(http://\S+)/metrics$`)

// With --metrics-listen the metrics are on a port of their own and no
// longer on the API's, which an ingress publishes.
func TestMetricsOnTheirOwnPort(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil, "serve", "--data-dir", t.TempDir(), "--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0")
	var m []string
	for deadline := time.Now().Add(5 * time.Second); m == nil && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		m = metricsLineRE.FindStringSubmatch(s.stdout.String())
	}
	if m == nil || m[1] == s.url {
		t.Fatalf("no metrics address of its own:\n%s", s.stdout)
	}
	resp, err := httpClient.Get(m[1] + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "go_goroutines") {
		t.Errorf("GET %s/metrics: %d\n%.300s", m[1], resp.StatusCode, body)
	}
	if code := getJSON(t, s.url+"/metrics", nil); code != http.StatusNotFound {
		t.Errorf("GET /metrics on the API's port: %d, want 404", code)
	}
	s.stop(t)
}
