package app

import (
	"fmt"
	"os"
	"path/filepath"
)

// DirTaskFiles writes task YAML files into a directory, each with mode 0600 and replaced
// atomically, so sky never reads a half-written task. A file serves only the sky child
// started right after it is written, so it is not synced to disk: a launch cut off by a
// crash is recovered from sky, never from the file. Only the newest file is kept: one
// operation runs at a time, so no other file is still in use.
type DirTaskFiles string

// Write saves content as dir/name and removes the task files written before it.
func (d DirTaskFiles) Write(name, content string) (string, error) {
	dir := string(d)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
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
