package test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// TestKubernetesExample reads examples/kubernetes/deployment.yaml: replicas
// that run `fleetplan state lease` with flags the binary takes, liveness
// and readiness probes on the files the lease command writes, and a
// PodDisruptionBudget over the same pods.
func TestKubernetesExample(t *testing.T) {
	f, err := os.Open(filepath.Join(repoRoot, "examples", "kubernetes", "deployment.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	type probe struct {
		Exec struct{ Command []string } `yaml:"exec"`
	}
	type doc struct {
		Kind string `yaml:"kind"`
		Spec struct {
			Replicas     int `yaml:"replicas"`
			MinAvailable int `yaml:"minAvailable"`
			Selector     struct {
				MatchLabels map[string]string `yaml:"matchLabels"`
			} `yaml:"selector"`
			Template struct {
				Metadata struct {
					Labels map[string]string `yaml:"labels"`
				} `yaml:"metadata"`
				Spec struct {
					Containers []struct {
						Command        []string `yaml:"command"`
						LivenessProbe  *probe   `yaml:"livenessProbe"`
						ReadinessProbe *probe   `yaml:"readinessProbe"`
					} `yaml:"containers"`
				} `yaml:"spec"`
			} `yaml:"template"`
		} `yaml:"spec"`
	}
	byKind := map[string]doc{}
	dec := yaml.NewDecoder(f)
	for {
		var d doc
		if err := dec.Decode(&d); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		byKind[d.Kind] = d
	}
	dep, pdb := byKind["Deployment"], byKind["PodDisruptionBudget"]
	if dep.Spec.Replicas < 2 || pdb.Spec.MinAvailable < 1 {
		t.Fatalf("want at least 2 replicas and a PodDisruptionBudget keeping one: %+v %+v", dep.Spec.Replicas, pdb.Spec.MinAvailable)
	}
	if !reflect.DeepEqual(pdb.Spec.Selector.MatchLabels, dep.Spec.Selector.MatchLabels) {
		t.Errorf("the PodDisruptionBudget selects %v, the Deployment %v", pdb.Spec.Selector.MatchLabels, dep.Spec.Selector.MatchLabels)
	}
	for k, v := range dep.Spec.Selector.MatchLabels {
		if dep.Spec.Template.Metadata.Labels[k] != v {
			t.Errorf("the pods lack the selector's label %s=%s", k, v)
		}
	}
	if len(dep.Spec.Template.Spec.Containers) != 1 {
		t.Fatalf("one container, got %d", len(dep.Spec.Template.Spec.Containers))
	}
	c := dep.Spec.Template.Spec.Containers[0]
	if c.LivenessProbe == nil || c.ReadinessProbe == nil {
		t.Fatal("the container needs liveness and readiness probes")
	}
	if !strings.Contains(strings.Join(c.LivenessProbe.Exec.Command, " "), "/run/fleetplan/heartbeat") ||
		!strings.Contains(strings.Join(c.ReadinessProbe.Exec.Command, " "), "/run/fleetplan/leader") {
		t.Errorf("probes must read the heartbeat and leader files: %v %v", c.LivenessProbe.Exec.Command, c.ReadinessProbe.Exec.Command)
	}
	if len(c.Command) < 4 || strings.Join(c.Command[:3], " ") != "fleetplan state lease" {
		t.Fatalf("the container runs %v, want fleetplan state lease", c.Command)
	}
	// Every flag the manifest passes is one the command takes: the binary
	// answers --help for the same arguments (before --).
	var args []string
	for _, a := range c.Command[1:] {
		if a == "--" {
			break
		}
		args = append(args, a)
	}
	if !strings.Contains(strings.Join(args, " "), "--status-dir /run/fleetplan") {
		t.Errorf("the probes' files are written only with --status-dir /run/fleetplan: %v", args)
	}
	var out, stderr bytes.Buffer
	cmd := exec.Command(fleetplanBin, append(args, "--help")...)
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("fleetplan %s --help: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	if !strings.Contains(out.String(), "--status-dir") {
		t.Errorf("help of the lease command:\n%s", out.String())
	}
	// The command run under the lease takes its flags too.
	leased := c.Command[len(args)+2:]
	if len(leased) < 2 || leased[0] != "fleetplan" {
		t.Fatalf("the leased command is %v, want a fleetplan command", leased)
	}
	cmd = exec.Command(fleetplanBin, append(leased[1:], "--help")...)
	stderr.Reset()
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Errorf("fleetplan %s --help: %v\n%s", strings.Join(leased[1:], " "), err, stderr.String())
	}
}
