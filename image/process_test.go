package image

import (
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestProcessArgsDockerRules(t *testing.T) {
	both := ocispec.ImageConfig{Entrypoint: []string{"/entry", "-x"}, Cmd: []string{"default", "cmd"}}
	cmdOnly := ocispec.ImageConfig{Cmd: []string{"sh"}}
	for _, tc := range []struct {
		name string
		cfg  ocispec.ImageConfig
		o    ProcessOverrides
		want []string
	}{
		{"image entrypoint and cmd", both, ProcessOverrides{}, []string{"/entry", "-x", "default", "cmd"}},
		{"args replace cmd, keep entrypoint", both, ProcessOverrides{Args: []string{"a"}}, []string{"/entry", "-x", "a"}},
		{"entrypoint override drops image cmd", both, ProcessOverrides{Entrypoint: []string{"/bin/sh"}}, []string{"/bin/sh"}},
		{"entrypoint override with args", both, ProcessOverrides{Entrypoint: []string{"/bin/sh"}, Args: []string{"-c", "x"}}, []string{"/bin/sh", "-c", "x"}},
		{"cleared entrypoint runs args", both, ProcessOverrides{Entrypoint: []string{}, Args: []string{"ls"}}, []string{"ls"}},
		{"cmd only", cmdOnly, ProcessOverrides{}, []string{"sh"}},
		{"cmd replaced", cmdOnly, ProcessOverrides{Args: []string{"ls", "/"}}, []string{"ls", "/"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ProcessArgs(tc.cfg, tc.o)
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
	_, err := ProcessArgs(ocispec.ImageConfig{}, ProcessOverrides{})
	assert.ErrorIs(t, err, ErrNoCommand)
	_, err = ProcessArgs(both, ProcessOverrides{Entrypoint: []string{}})
	assert.ErrorIs(t, err, ErrNoCommand, "a cleared entrypoint also drops the image's cmd")
	assert.Equal(t, []string{"/entry", "-x"}, both.Entrypoint, "the config is not modified")
}

func TestMergeEnv(t *testing.T) {
	got := MergeEnv([]string{"PATH=/bin", "A=1", "B=2"}, []string{"A=one", "junk"}, []string{"C=3", "PATH=/usr/bin"})
	assert.Equal(t, []string{"PATH=/usr/bin", "A=one", "B=2", "C=3"}, got)
}

const testPasswd = `root:x:0:0:root:/root:/bin/sh
# comment
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
app:x:1000:1000::/home/app:/bin/sh
+nis
short:x
`

const testGroup = `root:x:0:
wheel:x:10:app,other
audio:x:29:app
app:x:1000:
staff:x:50:
`

func TestResolveUser(t *testing.T) {
	for _, tc := range []struct {
		spec string
		want ExecUser
	}{
		{"", ExecUser{UID: 0, GID: 0, Home: "/root"}},
		{"root", ExecUser{UID: 0, GID: 0, Home: "/root"}},
		{"app", ExecUser{UID: 1000, GID: 1000, AdditionalGids: []uint32{10, 29}, Home: "/home/app"}},
		{"1000", ExecUser{UID: 1000, GID: 1000, AdditionalGids: []uint32{10, 29}, Home: "/home/app"}},
		{"app:staff", ExecUser{UID: 1000, GID: 50, Home: "/home/app"}},
		{"app:77", ExecUser{UID: 1000, GID: 77, Home: "/home/app"}},
		{"4242", ExecUser{UID: 4242, GID: 0, Home: "/"}},
		{"4242:4343", ExecUser{UID: 4242, GID: 4343, Home: "/"}},
		{"daemon", ExecUser{UID: 1, GID: 1, Home: "/usr/sbin"}},
	} {
		t.Run(tc.spec, func(t *testing.T) {
			got, err := ResolveUser(tc.spec, []byte(testPasswd), []byte(testGroup))
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
	for _, bad := range []string{"nobody", "app:nogroup", "short", "-1", "99999999999"} {
		_, err := ResolveUser(bad, []byte(testPasswd), []byte(testGroup))
		assert.ErrorIs(t, err, ErrUnknownUser, bad)
	}
	got, err := ResolveUser("123:45", nil, nil)
	require.NoError(t, err)
	assert.Equal(t, ExecUser{UID: 123, GID: 45, Home: "/"}, got, "numeric users need no passwd file")
	_, err = ResolveUser("app", nil, nil)
	assert.ErrorIs(t, err, ErrUnknownUser)
}
