//go:build linux

package container

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Record is what a running container leaves in its state directory
// (<state>/containers/<id>/state.json), so that another process can find it:
// `cocoon run --net container:ID` joins its network namespace by it.
type Record struct {
	ID  string `json:"id"`
	Pid int    `json:"pid"`
	// PidStart is the init's start time in clock ticks since boot (field 22
	// of /proc/PID/stat): with Pid it names the process even after its PID
	// is reused.
	PidStart uint64    `json:"pidStart"`
	Created  time.Time `json:"created"`
}

const recordFile = "state.json"

// keptFile marks a writable layer kept after Delete (WithKeepLayer): it is
// the caller's now, and Reclaim leaves it alone.
const keptFile = "kept"

// Lookup finds the running container id under stateDir (DefaultStateDir()
// when empty). It fails with ErrNotRunning when the container has ended.
func Lookup(stateDir, id string) (*Record, error) {
	if stateDir == "" {
		stateDir = DefaultStateDir()
	}
	if id == "" || strings.ContainsAny(id, "/\x00") || id == "." || id == ".." {
		return nil, fmt.Errorf("container id %q: invalid", id)
	}
	raw, err := os.ReadFile(filepath.Join(stateDir, "containers", id, recordFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("container %s: no such container in %s: %w", id, stateDir, err)
	}
	if err != nil {
		return nil, err
	}
	var r Record
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, fmt.Errorf("container %s: state: %w", id, err)
	}
	if start, err := pidStart(r.Pid); err != nil || start != r.PidStart {
		return nil, fmt.Errorf("container %s: %w", id, ErrNotRunning)
	}
	return &r, nil
}

// writeRecord stores the record atomically in dir.
func writeRecord(dir string, r *Record) error {
	raw, err := json.Marshal(r)
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, recordFile+".tmp")
	if err := os.WriteFile(tmp, raw, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, recordFile))
}

// pidStart returns a process's start time in clock ticks since boot.
func pidStart(pid int) (uint64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, errors.New("malformed stat")
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 20 {
		return 0, errors.New("malformed stat")
	}
	return strconv.ParseUint(f[19], 10, 64)
}

// Reclaim removes what containers of crashed processes left under stateDir
// (DefaultStateDir() when empty): the directories of containers that are no
// longer running. A directory without a record younger than a minute is
// kept: its container may be starting. It returns the IDs it removed.
func Reclaim(stateDir string) ([]string, error) {
	if stateDir == "" {
		stateDir = DefaultStateDir()
	}
	root := filepath.Join(stateDir, "containers")
	ents, err := os.ReadDir(root)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var removed []string
	var errs []error
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		id := e.Name()
		if _, err := os.Stat(filepath.Join(root, id, keptFile)); err == nil {
			continue
		}
		_, err := Lookup(stateDir, id)
		switch {
		case err == nil:
			continue // running
		case errors.Is(err, os.ErrNotExist):
			info, ierr := e.Info()
			if ierr != nil || time.Since(info.ModTime()) < time.Minute {
				continue
			}
		}
		if err := os.RemoveAll(filepath.Join(root, id)); err != nil {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, id)
	}
	return removed, errors.Join(errs...)
}
