// cniclient calls CNI plugins through libcni, the library containerd,
// CRI-O (through ocicni) and Podman's CNI backend use, so weft's tests and
// benchmarks exercise a plugin exactly as a container runtime does: the
// network list loaded from a directory, name and cniVersion injected,
// prevResult chained, capability args filtered into runtimeConfig, results
// cached for CHECK, DEL and GC.
//
//	cniclient [flags] add|check|del NETWORK NETNS [IFNAME] [CONTAINERID]
//	cniclient [flags] status|validate NETWORK
//	cniclient [flags] gc NETWORK [CONTAINERID/IFNAME ...]
//	cniclient [flags] version PLUGIN
//
// add prints the result as JSON; validate prints the capabilities libcni's
// ValidateNetworkList reports; version prints the plugin's supported
// versions. gc keeps the attachments named and deletes every other cached
// one. Any failure is libcni's error on stderr and exit status 1; a usage
// error exits 2.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/containernetworking/cni/libcni"
	"github.com/containernetworking/cni/pkg/types"
)

const usage = `usage: cniclient [flags] add|check|del NETWORK NETNS [IFNAME] [CONTAINERID]
       cniclient [flags] status|validate NETWORK
       cniclient [flags] gc NETWORK [CONTAINERID/IFNAME ...]
       cniclient [flags] version PLUGIN`

func main() {
	confDir := flag.String("conf-dir", envOr("NETCONFPATH", "/etc/cni/net.d"), "directory holding *.conflist / *.conf")
	cacheDir := flag.String("cache-dir", "/var/lib/cni", "libcni's result cache")
	path := flag.String("path", envOr("CNI_PATH", "/opt/cni/bin"), "plugin search path, colon-separated")
	args := flag.String("args", "", "CNI_ARGS, e.g. K8S_POD_NAME=a;K8S_POD_NAMESPACE=b")
	caps := flag.String("cap-json", "", `capability args as JSON, e.g. {"portMappings":[...]}`)
	flag.Usage = func() { fmt.Fprintln(os.Stderr, usage); flag.PrintDefaults() }
	flag.Parse()
	a := flag.Args()
	if len(a) < 2 {
		usageError("missing verb or name")
	}
	cni := libcni.NewCNIConfigWithCacheDir(strings.Split(*path, ":"), *cacheDir, nil)
	ctx := context.Background()
	verb, name := a[0], a[1]

	if verb == "version" {
		info, err := cni.GetVersionInfo(ctx, name)
		fail(err)
		printJSON(map[string]any{"supportedVersions": info.SupportedVersions()})
		return
	}
	list, err := libcni.LoadNetworkConf(*confDir, name)
	fail(err)

	switch verb {
	case "validate":
		capabilities, err := cni.ValidateNetworkList(ctx, list)
		fail(err)
		sort.Strings(capabilities)
		printJSON(map[string]any{"cniVersion": list.CNIVersion, "capabilities": capabilities})
	case "status":
		fail(cni.GetStatusNetworkList(ctx, list))
	case "gc":
		valid := []types.GCAttachment{}
		for _, s := range a[2:] {
			id, ifName, ok := strings.Cut(s, "/")
			if !ok {
				usageError(fmt.Sprintf("gc attachment %q is not CONTAINERID/IFNAME", s))
			}
			valid = append(valid, types.GCAttachment{ContainerID: id, IfName: ifName})
		}
		fail(cni.GCNetworkList(ctx, list, &libcni.GCArgs{ValidAttachments: valid}))
	case "add", "check", "del":
		if len(a) < 3 {
			usageError("missing NETNS")
		}
		rt := &libcni.RuntimeConf{ContainerID: "cniclient-0", NetNS: a[2], IfName: "eth0", Args: pluginArgs(*args)}
		if len(a) > 3 {
			rt.IfName = a[3]
		}
		if len(a) > 4 {
			rt.ContainerID = a[4]
		}
		if *caps != "" {
			fail(json.Unmarshal([]byte(*caps), &rt.CapabilityArgs))
		}
		switch verb {
		case "add":
			result, err := cni.AddNetworkList(ctx, list, rt)
			fail(err)
			printJSON(result)
		case "check":
			fail(cni.CheckNetworkList(ctx, list, rt))
		case "del":
			fail(cni.DelNetworkList(ctx, list, rt))
		}
	default:
		usageError("unknown verb " + verb)
	}
}

// pluginArgs splits CNI_ARGS text into the pairs libcni passes on.
func pluginArgs(text string) [][2]string {
	var out [][2]string
	for _, kv := range strings.Split(text, ";") {
		if k, v, ok := strings.Cut(kv, "="); ok {
			out = append(out, [2]string{k, v})
		}
	}
	return out
}

func envOr(key, fallback string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return fallback
}

func usageError(msg string) {
	fmt.Fprintf(os.Stderr, "cniclient: %s\n%s\n", msg, usage)
	os.Exit(2)
}

func fail(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func printJSON(v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	fail(err)
	fmt.Println(string(b))
}
