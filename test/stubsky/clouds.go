package main

import (
	"fmt"
	"strings"
)

// cloudInfo describes one infra provider as `sky check` and the launch
// output present it.
type cloudInfo struct {
	key     string // canonical lower-case name used in YAML and `sky check aws`
	display string // repr() of the cloud class: AWS, GCP, Kubernetes...
	// capabilities this provider can offer (compute and/or storage).
	capabilities []string
	// reason printed under a disabled provider; continuation lines are
	// already indented like the real hints.
	reason string
	// storageOnly providers cannot run clusters.
	storageOnly   bool
	defaultRegion string
	defaultType   string
}

// checkedClouds is the fixed set `sky check` reports, in the order of
// SkyPilot's cloud registry (storage-only providers last). The disabled
// reasons are the real credential hints of upstream sky/clouds/*.py.
var checkedClouds = []cloudInfo{
	{key: "aws", display: "AWS", capabilities: []string{"compute", "storage"},
		defaultRegion: "us-east-1", defaultType: "m6i.large",
		reason: "AWS credentials are not set. Run the following commands:\n" +
			"      $ aws configure\n" +
			"      $ aws configure list  # Ensure that this shows identity is set.\n" +
			"    For more info: https://docs.aws.amazon.com/cli/latest/userguide/cli-configure-quickstart.html\n" +
			"    Details: `aws sts get-caller-identity` failed with error: [botocore.exceptions.NoCredentialsError] Unable to locate credentials."},
	{key: "azure", display: "Azure", capabilities: []string{"compute", "storage"},
		defaultRegion: "eastus", defaultType: "Standard_D2s_v5",
		reason: "~/.azure/msal_token_cache.json does not exist. Run the following commands:\n" +
			"      $ az login\n" +
			"      $ az account set -s <subscription_id>\n" +
			"    For more info: https://docs.microsoft.com/en-us/cli/azure/get-started-with-azure-cli"},
	{key: "gcp", display: "GCP", capabilities: []string{"compute", "storage"},
		defaultRegion: "us-central1", defaultType: "n2-standard-2",
		reason: "Credentials are not set. Run the following commands:\n" +
			"      $ gcloud init\n" +
			"      $ gcloud auth application-default login\n" +
			"    For more info: https://docs.skypilot.co/en/latest/getting-started/installation.html#google-cloud-platform-gcp\n" +
			"    Details: [FileNotFoundError] ~/.config/gcloud/access_tokens.db"},
	{key: "kubernetes", display: "Kubernetes", capabilities: []string{"compute"},
		defaultRegion: "kind-skypilot", defaultType: "2CPU--8GB",
		reason: "No available context found in kubeconfig. Check if you have a valid kubeconfig file"},
	{key: "lambda", display: "Lambda", capabilities: []string{"compute"},
		defaultRegion: "us-east-1", defaultType: "gpu_1x_a10",
		reason: "Failed to access Lambda Cloud with credentials. To configure credentials, go to:\n" +
			"      https://cloud.lambdalabs.com/api-keys\n" +
			"    to generate API key and add the line\n" +
			"      api_key = [YOUR API KEY]\n" +
			"    to ~/.lambda_cloud/lambda_keys"},
	{key: "cloudflare", display: "Cloudflare", capabilities: []string{"storage"}, storageOnly: true,
		reason: "[r2] profile is not set in ~/.cloudflare/r2.credentials. Additionally, Account ID from R2 dashboard is not set. Run the following commands:\n" +
			"      $ pip install boto3\n" +
			"      $ AWS_SHARED_CREDENTIALS_FILE=~/.cloudflare/r2.credentials aws configure --profile r2\n" +
			"      $ mkdir -p ~/.cloudflare\n" +
			"      $ echo <YOUR_ACCOUNT_ID_HERE> > ~/.cloudflare/accountid\n" +
			"    For more info: https://docs.skypilot.co/en/latest/getting-started/installation.html#cloudflare-r2"},
}

// canonicalCloud maps user spellings (AWS, k8s, ...) to the canonical key,
// or returns "" for an empty string.
func canonicalCloud(name string) string {
	name = strings.ToLower(name)
	if name == "k8s" {
		return "kubernetes"
	}
	return name
}

func lookupCloud(key string) (cloudInfo, bool) {
	for _, c := range checkedClouds {
		if c.key == key {
			return c, true
		}
	}
	return cloudInfo{}, false
}

// displayName is the repr() of the cloud, falling back to upper case for
// providers outside the fixed list.
func displayName(key string) string {
	if c, ok := lookupCloud(key); ok {
		return c.display
	}
	return strings.ToUpper(key)
}

// instanceSpec is the catalog data the optimizer table and RESOURCES cells
// need. Prices are on-demand $/hour.
type instanceSpec struct {
	vcpus, memGB float64
	accName      string
	accCount     int
	price        float64
}

var instanceCatalog = map[string]instanceSpec{
	"m6i.large":       {vcpus: 2, memGB: 8, price: 0.096},
	"m6i.2xlarge":     {vcpus: 8, memGB: 32, price: 0.384},
	"m5.xlarge":       {vcpus: 4, memGB: 16, price: 0.192},
	"g5.xlarge":       {vcpus: 4, memGB: 16, accName: "A10G", accCount: 1, price: 1.006},
	"p3.2xlarge":      {vcpus: 8, memGB: 61, accName: "V100", accCount: 1, price: 3.06},
	"p4d.24xlarge":    {vcpus: 96, memGB: 1152, accName: "A100", accCount: 8, price: 32.77},
	"n2-standard-2":   {vcpus: 2, memGB: 8, price: 0.097},
	"n2-standard-4":   {vcpus: 4, memGB: 16, price: 0.194},
	"Standard_D2s_v5": {vcpus: 2, memGB: 8, price: 0.096},
	"2CPU--8GB":       {vcpus: 2, memGB: 8, price: 0},
	"gpu_1x_a10":      {vcpus: 30, memGB: 200, accName: "A10", accCount: 1, price: 0.75},
}

// specFor returns catalog data, with a generic 2 vCPU / 8 GB entry for
// instance types the table does not know.
func specFor(instanceType string) instanceSpec {
	if s, ok := instanceCatalog[instanceType]; ok {
		return s
	}
	return instanceSpec{vcpus: 2, memGB: 8, price: 0.1}
}

// zonesFor lists the zones the launch line prints for a region.
func zonesFor(cloud, region string) []string {
	switch cloud {
	case "aws":
		return []string{region + "a", region + "b", region + "c", region + "d", region + "f"}
	case "gcp":
		return []string{region + "-a", region + "-b", region + "-c", region + "-f"}
	case "azure":
		return []string{region + "-1", region + "-2", region + "-3"}
	}
	return nil
}

// formatFloat mirrors common_utils.format_float: no decimals for whole numbers.
func formatFloat(f float64) string {
	if f == float64(int64(f)) {
		return fmt.Sprintf("%d", int64(f))
	}
	return fmt.Sprintf("%.1f", f)
}

// acceleratorRepr is Python's repr() of the accelerators dict: {'A100': 8}.
func (s instanceSpec) acceleratorRepr() string {
	if s.accName == "" {
		return ""
	}
	return fmt.Sprintf("{'%s': %d}", s.accName, s.accCount)
}
