package app

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// DirTaskFiles writes task YAML files into a directory, one folder per cluster, each file
// with mode 0600 and replaced atomically, so sky never reads a half-written task. A file
// serves only the sky run started right after it is written, so it is not synced to disk:
// a launch cut off by a crash is recovered from sky, never from the file. Only a cluster's
// newest file is kept: a cluster runs one operation at a time.
type DirTaskFiles string

// Write saves content as dir/cluster/opID.yaml and removes the cluster's older files.
func (d DirTaskFiles) Write(cluster string, opID uint64, content string) (string, error) {
	// A cluster name is a SkyPilot cluster name (no '/'), so it is one folder.
	dir := filepath.Join(string(d), cluster)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	name := strconv.FormatUint(opID, 10) + ".yaml"
	tmp, err := os.CreateTemp(dir, "."+name+".tmp-*")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.WriteString(content); err != nil {
		tmp.Close()
		return "", err
	}
	if err := tmp.Close(); err != nil {
		return "", err
	}
	path := filepath.Join(dir, name)
	if err := os.Rename(tmp.Name(), path); err != nil {
		return "", fmt.Errorf("saving %s: %w", path, err)
	}
	if old, err := filepath.Glob(filepath.Join(dir, "*.yaml")); err == nil {
		for _, f := range old {
			if f != path {
				os.Remove(f)
			}
		}
	}
	return filepath.Abs(path)
}
