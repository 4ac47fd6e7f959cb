package deploy

import (
	"bytes"
	"context"
	"flag"
	"io"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/pavilion-live/pavilion/internal/clientip"
	"github.com/pavilion-live/pavilion/internal/config"
	"github.com/pavilion-live/pavilion/internal/testrig/testinfra"
)

// tool returns the path of an external validator. Without it the test skips
// outside CI and fails under CI=true, where every check must run.
func tool(t *testing.T, name, pkg string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	if testinfra.InCI() {
		t.Fatalf("%s is not on PATH: under CI=true the deploy files must be checked with it (Debian package %s)", name, pkg)
	}
	t.Skipf("install %s (Debian package %s) to check the deploy files with it", name, pkg)
	return ""
}

// run runs a validator with a deadline and fails the test with its output.
func run(t *testing.T, env []string, name string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s%s", filepath.Base(name), strings.Join(args, " "), err, out, stderr.Bytes())
	}
	return out
}

// serverEnv is every PAVILION_* variable `pavilion serve` reads, taken from
// the one config loader, so a deploy file cannot set a variable that the
// server would silently ignore.
func serverEnv(t *testing.T) map[string]bool {
	t.Helper()
	var c config.Config
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	c.RegisterServe(fs)
	re := regexp.MustCompile(`\(env (PAVILION_[A-Z0-9_]+)\)`)
	known := map[string]bool{}
	fs.VisitAll(func(f *flag.Flag) {
		if m := re.FindStringSubmatch(f.Usage); m != nil {
			known[m[1]] = true
		}
	})
	if !known["PAVILION_DATABASE_URL"] || !known["PAVILION_MEDIA_PORT"] {
		t.Fatalf("cannot read the variable names from the flag usage: %v", known)
	}
	return known
}

func checkEnvNames(t *testing.T, where string, names []string) {
	t.Helper()
	known := serverEnv(t)
	for _, n := range names {
		if !known[n] {
			t.Errorf("%s sets %s, which pavilion serve does not read", where, n)
		}
	}
}

func readFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// --- compose -----------------------------------------------------------------

type composeFile struct {
	Services map[string]composeService `yaml:"services"`
}

type composeService struct {
	Image       string            `yaml:"image"`
	Environment map[string]string `yaml:"environment"`
	// Ports come in the short form ("8189:8189/udp") in the source and in
	// the long form (target, published, protocol) out of docker-compose config.
	Ports   []yaml.Node `yaml:"ports"`
	Volumes []yaml.Node `yaml:"volumes"`
}

type portMapping struct {
	published, target int
	protocol          string
	hostIP            string // "": every interface
}

func parsePort(t *testing.T, n yaml.Node) portMapping {
	t.Helper()
	if n.Kind == yaml.ScalarNode {
		spec, proto, _ := strings.Cut(n.Value, "/")
		if proto == "" {
			proto = "tcp"
		}
		parts := strings.Split(spec, ":")
		if len(parts) < 2 {
			t.Fatalf("port %q does not name the host port", n.Value)
		}
		pub, err1 := strconv.Atoi(parts[len(parts)-2])
		tgt, err2 := strconv.Atoi(parts[len(parts)-1])
		if err1 != nil || err2 != nil {
			t.Fatalf("port %q: want host:container numbers", n.Value)
		}
		return portMapping{pub, tgt, proto, strings.Join(parts[:len(parts)-2], ":")}
	}
	var long struct {
		Target    int    `yaml:"target"`
		Published string `yaml:"published"`
		Protocol  string `yaml:"protocol"`
		HostIP    string `yaml:"host_ip"`
	}
	if err := n.Decode(&long); err != nil {
		t.Fatalf("port: %v", err)
	}
	pub, err := strconv.Atoi(long.Published)
	if err != nil {
		t.Fatalf("published port %q: %v", long.Published, err)
	}
	if long.Protocol == "" {
		long.Protocol = "tcp"
	}
	return portMapping{pub, long.Target, long.Protocol, long.HostIP}
}

// checkNodeEnv checks the proxy and metrics settings of a node's
// environment: trusted proxies that parse, and metrics on a port of their
// own. It returns the metrics port.
func checkNodeEnv(t *testing.T, where string, env map[string]string) int {
	t.Helper()
	proxies, err := clientip.ParseTrusted(env["PAVILION_TRUSTED_PROXIES"])
	if err != nil || len(proxies) == 0 {
		t.Errorf("%s: PAVILION_TRUSTED_PROXIES %q must name the reverse proxies (%v): behind one, every client would share one rate-limit bucket", where, env["PAVILION_TRUSTED_PROXIES"], err)
	}
	_, port, err := net.SplitHostPort(env["PAVILION_METRICS_ADDR"])
	metrics, err2 := strconv.Atoi(port)
	if err != nil || err2 != nil {
		t.Errorf("%s: PAVILION_METRICS_ADDR %q must be a host:port for Prometheus", where, env["PAVILION_METRICS_ADDR"])
		return 0
	}
	if _, http, _ := net.SplitHostPort(env["PAVILION_HTTP"]); http == port {
		t.Errorf("%s: metrics on the HTTP port %s", where, port)
	}
	return metrics
}

// checkCompose checks what the cluster needs of the compose file: shared
// PostgreSQL and Redis, two nodes whose media ports are published with the
// same number for UDP and TCP, and a proxy.
func checkCompose(t *testing.T, src []byte) {
	t.Helper()
	var f composeFile
	if err := yaml.Unmarshal(src, &f); err != nil {
		t.Fatalf("parse compose file: %v", err)
	}
	for _, name := range []string{"postgres", "redis", "proxy"} {
		if _, ok := f.Services[name]; !ok {
			t.Errorf("no %s service", name)
		}
	}
	var nodes []string
	for name, s := range f.Services {
		if _, ok := s.Environment["PAVILION_MEDIA_PORT"]; ok {
			nodes = append(nodes, name)
		}
	}
	slices.Sort(nodes)
	if len(nodes) < 2 {
		t.Fatalf("want at least two pavilion nodes (services with PAVILION_MEDIA_PORT), got %v", nodes)
	}
	mediaPorts := map[int]string{}
	for _, name := range nodes {
		s := f.Services[name]
		env := slices.Collect(maps.Keys(s.Environment))
		checkEnvNames(t, "compose service "+name, env)
		if metrics := checkNodeEnv(t, "compose service "+name, s.Environment); metrics != 0 {
			for _, p := range s.Ports {
				if m := parsePort(t, p); m.target == metrics && m.hostIP != "127.0.0.1" {
					t.Errorf("%s publishes its metrics port on %q: loopback (127.0.0.1:…) at most", name, m.hostIP)
				}
			}
		}
		for _, v := range []string{"PAVILION_DATABASE_URL", "PAVILION_REDIS_URL", "PAVILION_PUBLIC_IP"} {
			if s.Environment[v] == "" {
				t.Errorf("%s: %s is not set", name, v)
			}
		}
		if !strings.Contains(s.Environment["PAVILION_DATABASE_URL"], "@postgres:") || !strings.Contains(s.Environment["PAVILION_REDIS_URL"], "//redis:") {
			t.Errorf("%s does not use the compose file's PostgreSQL and Redis: %q %q", name, s.Environment["PAVILION_DATABASE_URL"], s.Environment["PAVILION_REDIS_URL"])
		}
		media, err := strconv.Atoi(s.Environment["PAVILION_MEDIA_PORT"])
		if err != nil {
			t.Fatalf("%s: PAVILION_MEDIA_PORT %q", name, s.Environment["PAVILION_MEDIA_PORT"])
		}
		if other, dup := mediaPorts[media]; dup {
			t.Errorf("%s and %s share media port %d on one host", name, other, media)
		}
		mediaPorts[media] = name
		published := map[string]bool{}
		for _, p := range s.Ports {
			m := parsePort(t, p)
			if m.target == media {
				if m.published != media {
					t.Errorf("%s publishes media port %d/%s as %d: ICE candidates carry the port the node listens on, so both must be equal", name, media, m.protocol, m.published)
				}
				published[m.protocol] = true
			}
		}
		if !published["udp"] || !published["tcp"] {
			t.Errorf("%s must publish media port %d for udp and tcp, publishes %v", name, media, published)
		}
	}
}

func TestComposeFile(t *testing.T) {
	checkCompose(t, readFile(t, "docker-compose.yml"))
}

// TestComposeConfig has docker-compose itself validate and normalize the
// file (no engine needed), then checks the normalized result too, since that
// is what compose will run: interpolation and merge keys applied.
func TestComposeConfig(t *testing.T) {
	bin := tool(t, "docker-compose", "docker-compose")
	out := run(t, nil, bin, "--file", "docker-compose.yml", "--project-directory", ".", "config")
	checkCompose(t, out)
}

// --- Kubernetes --------------------------------------------------------------

type k8sHead struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct {
		Name string `yaml:"name"`
	} `yaml:"metadata"`
}

type k8sDeployment struct {
	Spec struct {
		Selector struct {
			MatchLabels map[string]string `yaml:"matchLabels"`
		} `yaml:"selector"`
		Template struct {
			Metadata struct {
				Labels      map[string]string `yaml:"labels"`
				Annotations map[string]string `yaml:"annotations"`
			} `yaml:"metadata"`
			Spec struct {
				HostNetwork     bool           `yaml:"hostNetwork"`
				SecurityContext k8sSecurity    `yaml:"securityContext"`
				Containers      []k8sContainer `yaml:"containers"`
			} `yaml:"spec"`
		} `yaml:"template"`
	} `yaml:"spec"`
}

type k8sSecurity struct {
	RunAsNonRoot             *bool  `yaml:"runAsNonRoot"`
	RunAsUser                *int64 `yaml:"runAsUser"`
	AllowPrivilegeEscalation *bool  `yaml:"allowPrivilegeEscalation"`
	ReadOnlyRootFilesystem   *bool  `yaml:"readOnlyRootFilesystem"`
}

type k8sContainer struct {
	Name  string `yaml:"name"`
	Image string `yaml:"image"`
	Ports []struct {
		Name          string `yaml:"name"`
		ContainerPort int    `yaml:"containerPort"`
		HostPort      int    `yaml:"hostPort"`
		Protocol      string `yaml:"protocol"`
	} `yaml:"ports"`
	EnvFrom []struct {
		ConfigMapRef *struct {
			Name string `yaml:"name"`
		} `yaml:"configMapRef"`
		SecretRef *struct {
			Name string `yaml:"name"`
		} `yaml:"secretRef"`
	} `yaml:"envFrom"`
	Env []struct {
		Name string `yaml:"name"`
	} `yaml:"env"`
	ReadinessProbe *k8sProbe `yaml:"readinessProbe"`
	LivenessProbe  *k8sProbe `yaml:"livenessProbe"`
	Resources      struct {
		Requests map[string]string `yaml:"requests"`
		Limits   map[string]string `yaml:"limits"`
	} `yaml:"resources"`
	SecurityContext k8sSecurity `yaml:"securityContext"`
}

type k8sProbe struct {
	HTTPGet *struct {
		Path string `yaml:"path"`
		Port string `yaml:"port"`
	} `yaml:"httpGet"`
}

type k8sService struct {
	Spec struct {
		Selector map[string]string `yaml:"selector"`
		Ports    []struct {
			Name       string `yaml:"name"`
			Port       int    `yaml:"port"`
			TargetPort string `yaml:"targetPort"`
			Protocol   string `yaml:"protocol"`
		} `yaml:"ports"`
	} `yaml:"spec"`
}

type k8sData struct {
	Data       map[string]string `yaml:"data"`
	StringData map[string]string `yaml:"stringData"`
}

type k8sObject struct {
	k8sHead
	file string
	node *yaml.Node
}

// loadManifests reads every document of every YAML file under k8s/ but the
// kustomization.
func loadManifests(t *testing.T) ([]k8sObject, []string) {
	t.Helper()
	files, err := filepath.Glob("k8s/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var objs []k8sObject
	var names []string
	for _, file := range files {
		if filepath.Base(file) == "kustomization.yaml" {
			continue
		}
		names = append(names, filepath.Base(file))
		dec := yaml.NewDecoder(bytes.NewReader(readFile(t, file)))
		for {
			var n yaml.Node
			if err := dec.Decode(&n); err == io.EOF {
				break
			} else if err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			var h k8sHead
			if err := n.Decode(&h); err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			if h.APIVersion == "" || h.Kind == "" || h.Metadata.Name == "" {
				t.Errorf("%s: a document without apiVersion, kind or metadata.name: %+v", file, h)
			}
			objs = append(objs, k8sObject{h, file, &n})
		}
	}
	return objs, names
}

func decodeAs[T any](t *testing.T, o k8sObject) T {
	t.Helper()
	var v T
	if err := o.node.Decode(&v); err != nil {
		t.Fatalf("%s %s/%s: %v", o.file, o.Kind, o.Metadata.Name, err)
	}
	return v
}

func effective(pod, ctr *bool) bool {
	if ctr != nil {
		return *ctr
	}
	return pod != nil && *pod
}

func TestKubernetesManifests(t *testing.T) {
	objs, files := loadManifests(t)
	byKind := map[string][]k8sObject{}
	for _, o := range objs {
		byKind[o.Kind] = append(byKind[o.Kind], o)
	}
	for _, kind := range []string{"Deployment", "Service", "ConfigMap", "Secret"} {
		if len(byKind[kind]) != 1 {
			t.Fatalf("want one %s, got %d", kind, len(byKind[kind]))
		}
	}

	var kust struct {
		Resources []string `yaml:"resources"`
	}
	if err := yaml.Unmarshal(readFile(t, "k8s/kustomization.yaml"), &kust); err != nil {
		t.Fatal(err)
	}
	slices.Sort(kust.Resources)
	if !slices.Equal(kust.Resources, files) {
		t.Errorf("kustomization lists %v, the directory holds %v", kust.Resources, files)
	}

	cm := decodeAs[k8sData](t, byKind["ConfigMap"][0])
	secret := decodeAs[k8sData](t, byKind["Secret"][0])
	secretKeys := slices.Collect(maps.Keys(secret.StringData))
	secretKeys = append(secretKeys, slices.Collect(maps.Keys(secret.Data))...)
	checkEnvNames(t, "the ConfigMap", slices.Collect(maps.Keys(cm.Data)))
	checkEnvNames(t, "the Secret", secretKeys)
	for _, k := range []string{"PAVILION_DATABASE_URL", "PAVILION_REDIS_URL"} {
		if !slices.Contains(secretKeys, k) {
			t.Errorf("the Secret lacks %s", k)
		}
	}
	media, err := strconv.Atoi(cm.Data["PAVILION_MEDIA_PORT"])
	if err != nil {
		t.Fatalf("ConfigMap PAVILION_MEDIA_PORT %q: %v", cm.Data["PAVILION_MEDIA_PORT"], err)
	}
	metrics := checkNodeEnv(t, "the ConfigMap", cm.Data)

	d := decodeAs[k8sDeployment](t, byKind["Deployment"][0])
	pod := d.Spec.Template.Spec
	for k, v := range d.Spec.Selector.MatchLabels {
		if d.Spec.Template.Metadata.Labels[k] != v {
			t.Errorf("selector %s=%s does not match the pod labels %v", k, v, d.Spec.Template.Metadata.Labels)
		}
	}
	if len(pod.Containers) != 1 {
		t.Fatalf("want one container, got %d", len(pod.Containers))
	}
	c := pod.Containers[0]
	portNames := map[string]bool{}
	mediaOn := map[string]bool{}
	for _, p := range c.Ports {
		portNames[p.Name] = true
		if p.ContainerPort == media {
			if !pod.HostNetwork && p.HostPort != media {
				t.Errorf("media port %d/%s has hostPort %d: without hostNetwork it must be published on the node at the same number", media, p.Protocol, p.HostPort)
			}
			mediaOn[p.Protocol] = true
		}
	}
	if !mediaOn["UDP"] || !mediaOn["TCP"] {
		t.Errorf("media port %d must be declared for UDP and TCP, got %v", media, mediaOn)
	}
	// Prometheus finds the metrics port by the pod's annotations; the
	// Service (and so the ingress) never carries it.
	metricsName := ""
	for _, p := range c.Ports {
		if p.ContainerPort == metrics {
			metricsName = p.Name
		}
	}
	if metricsName == "" {
		t.Errorf("the container does not declare the metrics port %d", metrics)
	}
	ann := d.Spec.Template.Metadata.Annotations
	if ann["prometheus.io/scrape"] != "true" || ann["prometheus.io/port"] != strconv.Itoa(metrics) || ann["prometheus.io/path"] != "/metrics" {
		t.Errorf("pod annotations %v: want prometheus.io/scrape true, port %d, path /metrics", ann, metrics)
	}
	for name, want := range map[string]struct {
		probe *k8sProbe
		path  string
	}{"readiness": {c.ReadinessProbe, "/readyz"}, "liveness": {c.LivenessProbe, "/healthz"}} {
		switch {
		case want.probe == nil || want.probe.HTTPGet == nil:
			t.Errorf("no HTTP %s probe", name)
		case want.probe.HTTPGet.Path != want.path:
			t.Errorf("%s probe on %q, want %q", name, want.probe.HTTPGet.Path, want.path)
		case !portNames[want.probe.HTTPGet.Port]:
			t.Errorf("%s probe on port %q, which the container does not name", name, want.probe.HTTPGet.Port)
		}
	}
	refs := map[string]string{}
	for _, e := range c.EnvFrom {
		if e.ConfigMapRef != nil {
			refs["ConfigMap"] = e.ConfigMapRef.Name
		}
		if e.SecretRef != nil {
			refs["Secret"] = e.SecretRef.Name
		}
	}
	for kind, name := range map[string]string{"ConfigMap": byKind["ConfigMap"][0].Metadata.Name, "Secret": byKind["Secret"][0].Metadata.Name} {
		if refs[kind] != name {
			t.Errorf("the container takes its environment from %s %q, want %q", kind, refs[kind], name)
		}
	}
	var env []string
	for _, e := range c.Env {
		env = append(env, e.Name)
	}
	checkEnvNames(t, "the Deployment", env)

	if !effective(pod.SecurityContext.RunAsNonRoot, c.SecurityContext.RunAsNonRoot) {
		t.Error("runAsNonRoot is not set")
	}
	for _, u := range []*int64{pod.SecurityContext.RunAsUser, c.SecurityContext.RunAsUser} {
		if u != nil && *u == 0 {
			t.Error("runAsUser is 0")
		}
	}
	if c.SecurityContext.AllowPrivilegeEscalation == nil || *c.SecurityContext.AllowPrivilegeEscalation {
		t.Error("allowPrivilegeEscalation must be false")
	}
	if c.Resources.Requests["cpu"] == "" || c.Resources.Requests["memory"] == "" || c.Resources.Limits["memory"] == "" {
		t.Errorf("resources must request cpu and memory and limit memory: %+v", c.Resources)
	}

	svc := decodeAs[k8sService](t, byKind["Service"][0])
	for k, v := range svc.Spec.Selector {
		if d.Spec.Template.Metadata.Labels[k] != v {
			t.Errorf("the Service selects %s=%s, which the pods do not carry", k, v)
		}
	}
	if len(svc.Spec.Ports) == 0 {
		t.Fatal("the Service has no ports")
	}
	for _, p := range svc.Spec.Ports {
		if !portNames[p.TargetPort] {
			t.Errorf("the Service targets port %q, which the container does not name", p.TargetPort)
		}
		if p.TargetPort == metricsName || p.TargetPort == strconv.Itoa(metrics) {
			t.Errorf("the Service carries the metrics port %q: it would reach the ingress", p.TargetPort)
		}
	}
}

// --- image, unit, scripts, proxies -----------------------------------------

func TestDockerfile(t *testing.T) {
	src := string(readFile(t, "Dockerfile"))
	var stages, user string
	var from int
	var expose, env []string
	for line := range strings.SplitSeq(src, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		switch strings.ToUpper(f[0]) {
		case "FROM":
			from++
			stages += line + "\n"
			user = "" // USER applies per stage; the last stage's counts.
		case "USER":
			user = f[1]
		case "EXPOSE":
			expose = append(expose, f[1:]...)
		case "ENV":
			for _, kv := range f[1:] {
				if name, _, ok := strings.Cut(kv, "="); ok {
					env = append(env, name)
				}
			}
		}
	}
	if from < 2 {
		t.Errorf("want a multi-stage build, got %d FROM lines", from)
	}
	if !strings.Contains(src, "CGO_ENABLED=0") {
		t.Error("the build must set CGO_ENABLED=0: the runtime image has no libc")
	}
	if uid, _, _ := strings.Cut(user, ":"); uid == "" || uid == "0" || uid == "root" {
		t.Errorf("the runtime stage runs as %q, want a non-root user", user)
	}
	for _, p := range []string{"8080/tcp", "8189/udp", "8189/tcp"} {
		if !slices.Contains(expose, p) {
			t.Errorf("EXPOSE lacks %s (has %v)", p, expose)
		}
	}
	checkEnvNames(t, "the Dockerfile", env)
}

// unitFile reads a systemd unit into section → key → values (keys repeat).
func unitFile(t *testing.T, name string) map[string]map[string][]string {
	t.Helper()
	out := map[string]map[string][]string{}
	section := ""
	for i, line := range strings.Split(string(readFile(t, name)), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = line[1 : len(line)-1]
			out[section] = map[string][]string{}
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || section == "" {
				t.Fatalf("%s:%d: not a key=value line in a section: %q", name, i+1, line)
			}
			out[section][k] = append(out[section][k], v)
		}
	}
	return out
}

func TestSystemdUnit(t *testing.T) {
	u := unitFile(t, "systemd/pavilion.service")
	svc := u["Service"]
	if svc == nil || u["Unit"] == nil || u["Install"] == nil {
		t.Fatalf("want Unit, Service and Install sections, got %v", slices.Collect(maps.Keys(u)))
	}
	one := func(k string) string {
		if v := svc[k]; len(v) > 0 {
			return v[len(v)-1]
		}
		return ""
	}
	if f := strings.Fields(one("ExecStart")); len(f) < 2 || filepath.Base(f[0]) != "pavilion" || f[1] != "serve" {
		t.Errorf("ExecStart = %q, want pavilion serve", one("ExecStart"))
	}
	if one("EnvironmentFile") == "" {
		t.Error("no EnvironmentFile")
	}
	if one("DynamicUser") != "yes" && (one("User") == "" || one("User") == "root") {
		t.Error("the service runs as root: set DynamicUser=yes or User=")
	}
	for k, want := range map[string]string{"NoNewPrivileges": "yes", "ProtectSystem": "strict", "PrivateTmp": "yes"} {
		if one(k) != want {
			t.Errorf("%s=%q, want %q", k, one(k), want)
		}
	}
	// pion lists interfaces over netlink to gather ICE candidates.
	if fam := one("RestrictAddressFamilies"); !strings.Contains(fam, "AF_NETLINK") || !strings.Contains(fam, "AF_INET") {
		t.Errorf("RestrictAddressFamilies=%q must allow AF_INET, AF_INET6 and AF_NETLINK", fam)
	}

	var names []string
	env := map[string]string{}
	for line := range strings.SplitSeq(string(readFile(t, "systemd/pavilion.env")), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, value, ok := strings.Cut(line, "=")
		if !ok {
			t.Errorf("pavilion.env: not NAME=value: %q", line)
		}
		names = append(names, name)
		env[name] = value
	}
	checkNodeEnv(t, "pavilion.env", env)
	if host, _, _ := net.SplitHostPort(env["PAVILION_METRICS_ADDR"]); host != "127.0.0.1" && host != "::1" {
		t.Errorf("pavilion.env: metrics on %q: keep them on loopback in the example", env["PAVILION_METRICS_ADDR"])
	}
	for _, e := range svc["Environment"] {
		name, _, _ := strings.Cut(e, "=")
		names = append(names, name)
	}
	checkEnvNames(t, "the systemd unit", names)
}

func TestScriptsParse(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Fatal("bash is not on PATH")
	}
	scripts, err := filepath.Glob("*.sh")
	if err != nil || len(scripts) == 0 {
		t.Fatalf("no scripts found: %v", err)
	}
	for _, s := range scripts {
		run(t, nil, bash, "-n", s)
		if fi, err := os.Stat(s); err != nil || fi.Mode()&0o111 == 0 {
			t.Errorf("%s is not executable", s)
		}
	}
}

func TestCaddyfile(t *testing.T) {
	src := string(readFile(t, "Caddyfile"))
	for _, want := range []string{"reverse_proxy", "health_uri /readyz", "lb_policy ip_hash"} {
		if !strings.Contains(src, want) {
			t.Errorf("Caddyfile lacks %q", want)
		}
	}
	if strings.Contains(src, "handle /metrics") {
		t.Error("the Caddyfile routes /metrics: the nodes serve it on their own listener only")
	}
	caddy := tool(t, "caddy", "caddy")
	run(t, []string{"PAVILION_UPSTREAMS=127.0.0.1:8081 127.0.0.1:8082", "XDG_DATA_HOME=" + t.TempDir(), "XDG_CONFIG_HOME=" + t.TempDir()},
		caddy, "adapt", "--config", "Caddyfile", "--adapter", "caddyfile")
}

func TestNginxConf(t *testing.T) {
	src := string(readFile(t, "nginx.conf"))
	// The websocket handshake needs Upgrade passed on; the origin check
	// needs the Host with its port ($host drops it).
	// The nodes find the client in X-Forwarded-For (--trusted-proxies).
	for _, want := range []string{"proxy_set_header Upgrade $http_upgrade", "proxy_set_header Connection $connection_upgrade", "proxy_set_header Host $http_host", "proxy_http_version 1.1",
		"proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for"} {
		if !strings.Contains(src, want) {
			t.Errorf("nginx.conf lacks %q", want)
		}
	}
	nginx := tool(t, "nginx", "nginx-light")
	abs, err := filepath.Abs("nginx.conf")
	if err != nil {
		t.Fatal(err)
	}
	run(t, nil, nginx, "-q", "-t", "-c", abs)
}

// TestPrometheusConfig: the example scrape configuration reaches the
// metrics port of every deployment, never the HTTP port or the proxy.
func TestPrometheusConfig(t *testing.T) {
	var cfg struct {
		ScrapeConfigs []struct {
			JobName       string `yaml:"job_name"`
			StaticConfigs []struct {
				Targets []string `yaml:"targets"`
			} `yaml:"static_configs"`
			KubernetesSD   []map[string]any `yaml:"kubernetes_sd_configs"`
			RelabelConfigs []struct {
				SourceLabels []string `yaml:"source_labels"`
				Action       string   `yaml:"action"`
				Regex        string   `yaml:"regex"`
			} `yaml:"relabel_configs"`
		} `yaml:"scrape_configs"`
	}
	if err := yaml.Unmarshal(readFile(t, "prometheus.yml"), &cfg); err != nil {
		t.Fatalf("prometheus.yml: %v", err)
	}
	targets := map[string][]string{}
	relabels := map[string]string{}
	for _, j := range cfg.ScrapeConfigs {
		for _, s := range j.StaticConfigs {
			targets[j.JobName] = append(targets[j.JobName], s.Targets...)
		}
		for _, r := range j.RelabelConfigs {
			relabels[j.JobName] += strings.Join(r.SourceLabels, ",") + " " + r.Action + "\n"
		}
	}

	var compose composeFile
	if err := yaml.Unmarshal(readFile(t, "docker-compose.yml"), &compose); err != nil {
		t.Fatal(err)
	}
	var want []string
	for name, s := range compose.Services {
		if addr, ok := s.Environment["PAVILION_METRICS_ADDR"]; ok {
			_, port, _ := net.SplitHostPort(addr)
			want = append(want, name+":"+port)
		}
	}
	slices.Sort(want)
	got := slices.Sorted(slices.Values(targets["compose"]))
	if len(want) == 0 || !slices.Equal(got, want) {
		t.Errorf("compose job scrapes %v, the compose nodes serve metrics on %v", got, want)
	}

	m := regexp.MustCompile(`PAVILION_CLUSTER_METRICS_BASE:-(\d+)`).FindSubmatch(readFile(t, "local-cluster.sh"))
	script := string(readFile(t, "local-cluster.sh"))
	if m == nil || !strings.Contains(script, "--metrics-addr") || !strings.Contains(script, "--trusted-proxies") {
		t.Fatal("local-cluster.sh must give each node --metrics-addr (from PAVILION_CLUSTER_METRICS_BASE) and --trusted-proxies")
	}
	base, _ := strconv.Atoi(string(m[1]))
	want = nil
	for i := range 3 {
		want = append(want, "127.0.0.1:"+strconv.Itoa(base+i))
	}
	if got := targets["local-cluster"]; !slices.Equal(got, want) {
		t.Errorf("local-cluster job scrapes %v, the script's nodes serve metrics on %v", got, want)
	}

	k := relabels["kubernetes"]
	for _, want := range []string{"__meta_kubernetes_pod_annotation_prometheus_io_scrape keep", "__meta_kubernetes_pod_annotation_prometheus_io_port replace"} {
		if !strings.Contains(k, want) {
			t.Errorf("the kubernetes job does not relabel %q:\n%s", want, k)
		}
	}
}
