package image

import (
	"bufio"
	"bytes"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// DefaultPath is the PATH a container gets when neither the image nor the
// caller sets one (Docker's choice, so images behave as they do there).
const DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// ProcessOverrides are what the user gave on top of the image's defaults,
// with `docker run`'s meaning.
type ProcessOverrides struct {
	// Args replace the image's Cmd (docker run IMAGE ARGS...).
	Args []string
	// Entrypoint, when non-nil, replaces the image's Entrypoint and drops
	// its Cmd (docker run --entrypoint); an empty non-nil slice clears it.
	Entrypoint []string
	// Env entries (KEY=VALUE) win over the image's and the process's.
	Env []string
	// WorkingDir replaces the image's WorkingDir.
	WorkingDir string
	// User replaces the image's User: "user", "uid", "user:group", "uid:gid",
	// names resolved in the image's /etc/passwd and /etc/group.
	User string
}

// ProcessArgs applies Docker's override rules: args = entrypoint + cmd, where
// an overridden entrypoint drops the image's Cmd and user args replace Cmd.
func ProcessArgs(cfg ocispec.ImageConfig, o ProcessOverrides) ([]string, error) {
	entry, cmd := cfg.Entrypoint, cfg.Cmd
	if o.Entrypoint != nil {
		entry, cmd = o.Entrypoint, nil
	}
	if len(o.Args) > 0 {
		cmd = o.Args
	}
	args := append(slices.Clone(entry), cmd...)
	if len(args) == 0 {
		return nil, ErrNoCommand
	}
	return args, nil
}

// MergeEnv layers environment lists: a later list's KEY wins, the first
// position of a key is kept, entries without '=' are dropped.
func MergeEnv(lists ...[]string) []string {
	var out []string
	pos := map[string]int{}
	for _, l := range lists {
		for _, kv := range l {
			k, _, ok := strings.Cut(kv, "=")
			if !ok || k == "" {
				continue
			}
			if i, seen := pos[k]; seen {
				out[i] = kv
				continue
			}
			pos[k] = len(out)
			out = append(out, kv)
		}
	}
	return out
}

func hasEnv(env []string, key string) bool {
	for _, kv := range env {
		if strings.HasPrefix(kv, key+"=") {
			return true
		}
	}
	return false
}

// ExecUser is a resolved user.
type ExecUser struct {
	UID, GID       uint32
	AdditionalGids []uint32
	Home           string
}

// ResolveUser resolves a user spec ("", "name", "uid", "name:group",
// "uid:gid", ...) against the contents of an image's /etc/passwd and
// /etc/group (nil when the image has none), with runc's rules: a numeric
// user need not exist; a name must (else ErrUnknownUser); without a group the
// user's primary group applies and the groups listing the user are added as
// supplementary; an explicit group gives no supplementary groups. HOME is the
// passwd entry's home, else "/".
func ResolveUser(spec string, passwd, group []byte) (ExecUser, error) {
	u := ExecUser{Home: "/"}
	userPart, groupPart, hasGroup := strings.Cut(spec, ":")
	if userPart == "" {
		userPart = "0"
	}
	users := parseColonFile(passwd, 7)
	var matched []string
	if id, err := parseID(userPart); err == nil {
		u.UID = id
		for _, e := range users {
			if e[2] == userPart {
				matched = e
				break
			}
		}
	} else {
		for _, e := range users {
			if e[0] == userPart {
				matched = e
				break
			}
		}
		if matched == nil {
			return u, fmt.Errorf("%w: user %q is not in the image's /etc/passwd", ErrUnknownUser, userPart)
		}
		if u.UID, err = parseID(matched[2]); err != nil {
			return u, fmt.Errorf("%w: user %q has uid %q in /etc/passwd", ErrUnknownUser, userPart, matched[2])
		}
	}
	if matched != nil {
		if gid, err := parseID(matched[3]); err == nil {
			u.GID = gid
		}
		if matched[5] != "" {
			u.Home = matched[5]
		}
	}
	groups := parseColonFile(group, 4)
	if hasGroup {
		id, err := parseID(groupPart)
		if err != nil {
			found := false
			for _, g := range groups {
				if g[0] == groupPart {
					if id, err = parseID(g[2]); err == nil {
						found = true
					}
					break
				}
			}
			if !found {
				return u, fmt.Errorf("%w: group %q is not in the image's /etc/group", ErrUnknownUser, groupPart)
			}
		}
		u.GID = id
		return u, nil
	}
	if matched != nil {
		for _, g := range groups {
			if !slices.Contains(strings.Split(g[3], ","), matched[0]) {
				continue
			}
			if id, err := parseID(g[2]); err == nil && id != u.GID && !slices.Contains(u.AdditionalGids, id) {
				u.AdditionalGids = append(u.AdditionalGids, id)
			}
		}
	}
	return u, nil
}

func parseID(s string) (uint32, error) {
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil || n > math.MaxInt32 {
		return 0, fmt.Errorf("id %q: not a number in 0..%d", s, math.MaxInt32)
	}
	return uint32(n), nil
}

// parseColonFile splits passwd/group lines into exactly n fields, skipping
// comments, blank, short and NIS ("+"/"-") lines.
func parseColonFile(b []byte, n int) [][]string {
	var out [][]string
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == '+' || line[0] == '-' {
			continue
		}
		f := strings.Split(line, ":")
		if len(f) < n-1 {
			continue
		}
		for len(f) < n {
			f = append(f, "")
		}
		out = append(out, f[:n])
	}
	return out
}
